// `npm run site`: the static page in dist/site — index.html, the bundle (site/main.ts and the src/ modules it
// imports, for the browser), plotly.js (loaded when a plot is first drawn), tfjs's WASM binaries, and the
// shipped policy (data/policy). Any static server can serve the folder (`npm run site:serve` does locally).
//
// The bundle must import nothing Node-only: esbuild builds for the browser platform, so a static import of a
// Node builtin anywhere in the graph fails the build, naming the file. Node-only work that sits on a module the
// page imports is loaded lazily with `await import()` (GPT.save's checkpoint writer); such imports are replaced
// by a stub that throws, so the page never fetches or runs them.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SITE_DIR = path.join(root, 'dist', 'site');

const nodeOnlyLazy: esbuild.Plugin = {
  name: 'node-only-lazy',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind !== 'dynamic-import' || !args.importer.startsWith(path.join(root, 'src'))) return undefined;
      return { path: `${path.relative(root, args.importer)} → ${args.path}`, namespace: 'node-only' };
    });
    build.onLoad({ filter: /.*/, namespace: 'node-only' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path}: Node-only (files on disk); not available in the browser page`)});`,
      loader: 'js',
    }));
  },
};

export interface SiteBuild {
  dir: string;
  /** Bytes of each file written, by name relative to dir. */
  files: Record<string, number>;
  ms: number;
}

export async function buildSite(opts: { minify?: boolean; dir?: string } = {}): Promise<SiteBuild> {
  const t0 = performance.now();
  const dir = opts.dir ?? SITE_DIR;
  fs.mkdirSync(dir, { recursive: true });
  await esbuild.build({
    entryPoints: [path.join(root, 'site', 'main.ts')],
    outfile: path.join(dir, 'main.js'),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: opts.minify ?? true,
    sourcemap: false,
    legalComments: 'none',
    alias: { '@tensorflow/tfjs': path.join(root, 'site', 'tf.ts') },
    define: { 'process.env.NODE_ENV': '"production"' },
    plugins: [nodeOnlyLazy],
    logLevel: 'warning',
  });
  const copy = (from: string, to: string) => fs.copyFileSync(from, path.join(dir, to));
  copy(path.join(root, 'site', 'index.html'), 'index.html');
  copy(path.join(root, 'node_modules', 'plotly.js-dist-min', 'plotly.min.js'), 'plotly.min.js');
  const wasmDir = path.join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  for (const f of fs.readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) copy(path.join(wasmDir, f), f);
  fs.mkdirSync(path.join(dir, 'policy'), { recursive: true });
  for (const f of ['config.json', 'tokenizer.json', 'model.safetensors']) copy(path.join(root, 'data', 'policy', f), path.join('policy', f));
  const files: Record<string, number> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files[path.relative(dir, p)] = fs.statSync(p).size;
    }
  };
  walk(dir);
  return { dir, files, ms: performance.now() - t0 };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const b = await buildSite();
  const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  for (const [f, n] of Object.entries(b.files).sort()) console.log(`${f.padEnd(40)} ${kb(n).padStart(10)}`);
  console.log(`built ${b.dir} in ${(b.ms / 1000).toFixed(1)} s`);
}
