// Starts tslab as the igrpo-ts Jupyter kernel.
//
// Why a launcher: tslab compiles every cell, and every local .ts file a cell imports, with its own TypeScript
// (5.0, CommonJS) and a rootDir equal to the kernel's working directory. Jupyter starts a kernel in the
// notebook's folder (notebooks/), so `import … from "../src/x"` lands outside rootDir and fails. We move the
// kernel to the package root first: notebooks then import "./src/…" (with or without the .js suffix), tslab
// compiles src/ on demand, and files are read relative to the repo root wherever the notebook lives.
//
// Plain CommonJS so that it runs under bare `node` with no loader. Usage (written into kernel.json by
// scripts/install-kernel.ts): node [--max-old-space-size=N] launch.cjs {connection_file}
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(process.env.IGRPO_ROOT || path.join(__dirname, '..', '..'));
const tslabMain = path.join(root, 'node_modules', 'tslab', 'dist', 'main.js');
if (!fs.existsSync(tslabMain)) {
  console.error(`igrpo-ts kernel: ${tslabMain} is missing; run 'npm ci' in ${root} (or set IGRPO_ROOT)`);
  process.exit(1);
}
const connectionFile = process.argv[2];
if (!connectionFile) {
  console.error('igrpo-ts kernel: usage: node launch.cjs CONNECTION_FILE');
  process.exit(2);
}

process.chdir(root);
process.env.IGRPO_ROOT = root; // src/paths.ts finds the package from here, whatever the cwd becomes later
// IGRPO_BACKEND (cpu | wasm | webgpu | native | tensorflow) passes through untouched; src/ reads it.
const { startKernel } = require(tslabMain);
// enableFindLocal=false: we already picked the repo's own tslab (1.0.22), whose compiler settings src/ targets.
startKernel({ configPath: connectionFile, enableFindLocal: false, jsKernel: false, globalVersion: '1.0.22' });
