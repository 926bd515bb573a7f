// Where the package's own files (data/, the shipped policy) live.
// src/ must run both as ESM (tsx, the CLI) and as CommonJS (tslab compiles notebooks' imports that way),
// so `import.meta` is off limits here; we find the root by walking up to our package.json instead.
import * as fs from 'node:fs';
import * as path from 'node:path';

const PACKAGE_NAME = 'igrpo-ts';

function findRootFrom(start: string): string | undefined {
  let dir = path.resolve(start);
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        if (JSON.parse(fs.readFileSync(manifest, 'utf8')).name === PACKAGE_NAME) return dir;
      } catch {
        // an unreadable package.json on the way up is not ours; keep walking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

let cached: string | undefined;

/** The igrpo-ts package root: $IGRPO_ROOT, else found above the running script, the cwd, or this module. */
export function packageRoot(): string {
  if (cached) return cached;
  const candidates = [
    process.env.IGRPO_ROOT,
    process.argv[1] ? path.dirname(fs.realpathSync(process.argv[1])) : undefined,
    process.cwd(),
    typeof __dirname === 'string' ? __dirname : undefined,
  ];
  for (const c of candidates) {
    if (!c) continue;
    const root = findRootFrom(c);
    if (root) return (cached = root);
  }
  throw new Error(`cannot find the ${PACKAGE_NAME} package root; set IGRPO_ROOT to the folder holding its package.json`);
}

/** A path inside the package, e.g. dataPath('policy') for the shipped policy. */
export function dataPath(...parts: string[]): string {
  return path.join(packageRoot(), 'data', ...parts);
}
