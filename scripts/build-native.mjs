// Builds the native CPU backend (native/ → native/build/Release/igrpo_native.node) with node-gyp.
// `node scripts/build-native.mjs` fails loudly (scripts/test.sh, `npm run build:native`);
// `--optional` (the package's install script) reports a failure and exits 0, so `npm ci` never breaks
// before scripts/setup-system.sh has installed libopenblas-dev.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const optional = process.argv.includes('--optional');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(root, 'native');

/** node-gyp: the one npm hands its scripts, the one bundled with npm next to node, or one on PATH. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  const found = candidates.find((c) => c && existsSync(c));
  return found ? [process.execPath, found] : ['node-gyp'];
}

function fail(message) {
  const hint =
    'The native backend needs g++, Node headers and OpenBLAS (Debian: apt-get install g++ libopenblas-dev libopenblas0-pthread; ' +
    'or run scripts/setup-system.sh), then `npm run build:native`.';
  if (optional) {
    console.warn(`igrpo-ts: native backend not built (${message}). ${hint} The wasm/cpu backends still work.`);
    process.exit(0);
  }
  console.error(`build-native: ${message}\n${hint}`);
  process.exit(1);
}

if (!existsSync('/usr/include/x86_64-linux-gnu/cblas.h') && !existsSync('/usr/include/cblas.h') && !existsSync('/usr/include/openblas/cblas.h')) {
  fail('cblas.h not found (libopenblas-dev missing)');
}
const [cmd, ...pre] = nodeGyp();
const nodedir = process.env.npm_config_nodedir || (existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
const args = [...pre, 'rebuild', '--release', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const r = spawnSync(cmd, args, { cwd: nativeDir, stdio: optional ? 'pipe' : 'inherit', encoding: 'utf8' });
if (r.error) fail(`could not run node-gyp: ${r.error.message}`);
if (r.status !== 0) {
  if (optional) console.warn((r.stdout ?? '') + (r.stderr ?? ''));
  fail(`node-gyp exited with status ${r.status}`);
}
console.log('build-native: built native/build/Release/igrpo_native.node');
