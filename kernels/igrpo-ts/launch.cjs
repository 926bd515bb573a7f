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
// First of all, before the seconds spent loading TypeScript and tslab: Kernel → Interrupt during start-up must not
// kill the kernel (Node's default SIGINT action). See interrupt.cjs.
if (require.main === module) require('./interrupt.cjs').installInterrupts();
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(process.env.IGRPO_ROOT || path.join(__dirname, '..', '..'));
const tslabMain = path.join(root, 'node_modules', 'tslab', 'dist', 'main.js');
if (!fs.existsSync(tslabMain)) {
  console.error(`igrpo-ts kernel: ${tslabMain} is missing; run 'npm ci' in ${root} (or set IGRPO_ROOT)`);
  process.exit(1);
}
const connectionFile = process.argv[2];
// Required (not run) by tests: the patches below apply, the kernel does not start.
const asLibrary = require.main !== module;
if (!connectionFile && !asLibrary) {
  console.error('igrpo-ts kernel: usage: node launch.cjs CONNECTION_FILE');
  process.exit(2);
}

process.chdir(root);
process.env.IGRPO_ROOT = root; // src/paths.ts finds the package from here, whatever the cwd becomes later
// IGRPO_BACKEND (cpu | wasm | webgpu | native | tensorflow) passes through untouched; src/ reads it.

// tslab watches every compiled source file; when one changes on disk while the kernel runs (you edit src/), its
// watch callback leaves a TypeScript rebuild timer pending and the next cell dies with "Unexpected pending
// rebuildTimer". We switch the watchers off: after editing src/, restart the kernel (as with Python modules).
// IGRPO_KERNEL_WATCH=1 keeps tslab's watching (live reload, with that failure mode).
const tsPath = require.resolve('@tslab/typescript-for-tslab', { paths: [path.dirname(tslabMain)] });
const ts = require(tsPath);
if (process.env.IGRPO_KERNEL_WATCH !== '1') {
  const noWatch = () => ({ close() {} });
  ts.sys.watchFile = noWatch;
  ts.sys.watchDirectory = noWatch;
}

// tslab type-checks a cell together with every local file it imports, with its own TypeScript 5.0, and refuses to
// run the cell on any error. src/ is already type-checked by the project's TypeScript (npm run typecheck); 5.0
// disagrees with it on a few library typings (e.g. tfjs customGrad's save callback), which would make a whole
// module unusable from notebooks for no runtime reason. So imported files get only their *syntax* checked here
// (what the emit depends on); the cell itself is fully checked. IGRPO_KERNEL_CHECK_SRC=1 checks src/ fully too.
const checkSrc = process.env.IGRPO_KERNEL_CHECK_SRC === '1';
const preEmitOfFiles = ts.getPreEmitDiagnosticsOfFiles;
const cellChecked = function (program, files, ...rest) {
  const [cell, ...deps] = files;
  return [...preEmitOfFiles.call(ts, program, [cell], ...rest), ...deps.flatMap((f) => program.getSyntacticDiagnostics(f))];
};

// tslab compiles with TypeScript's defaults, i.e. not strict. src/ is written for `strict` (tsconfig.json), and
// zod's inferred types need strictNullChecks: without it every defaulted field turns optional and src/ stops
// type-checking in the kernel. So we compile cells and src/ strictly, like `npm run typecheck` does.
// IGRPO_KERNEL_STRICT=0 restores tslab's loose mode (cells then may not import src/ modules that use zod types).
const strict = process.env.IGRPO_KERNEL_STRICT !== '0';

// tslab emits every imported file through its type-checked program with declaration output on. Declaration emit
// type-resolves each file (through tfjs's typings): ~30 s for the trainer's 55 files on 2 cores, before the first
// cell runs. Imported files need only JavaScript (tslab uses the cell's own declarations, and the cell is still
// fully type-checked), so we transpile them file by file instead: the same JavaScript in about a second.
// IGRPO_KERNEL_FULL_EMIT=1 keeps tslab's program emit.
const fastEmit = process.env.IGRPO_KERNEL_FULL_EMIT !== '1';
const CELL_FILE = /(^|\/)__tslab__(\.d)?\.[tj]s$/;
// esbuild (installed with tsx) strips types in about a millisecond a file; TypeScript's transpileModule, the
// fallback, builds a program per file. Both keep ES module syntax, which tslab then turns into CommonJS.
let esbuild = null;
try {
  esbuild = require(require.resolve('esbuild', { paths: [root] }));
} catch {
  esbuild = null;
}
function stripTypes(sourceFile, options) {
  const file = sourceFile.fileName;
  if (esbuild) {
    // The inline map lets error stacks name src/*.ts lines (stack.cjs composes it with the CommonJS pass's map).
    return esbuild.transformSync(sourceFile.text, { loader: /\.tsx$/.test(file) ? 'tsx' : /\.[cm]?js$/.test(file) ? 'js' : 'ts', format: 'esm', target: 'es2022', sourcefile: file, sourcemap: 'inline' }).code;
  }
  return ts.transpileModule(sourceFile.text, {
    fileName: file,
    compilerOptions: { module: options.module, target: options.target, esModuleInterop: true, jsx: options.jsx, experimentalDecorators: true, inlineSourceMap: true },
  }).outputText;
}

// tslab makes a cell's names visible to later cells by rewriting each use of an earlier cell's name `x` to
// `exports.x` (in its `after` transformer). A shorthand property `{ policy }` has no expression to rewrite, so it
// stays `{ policy }` and throws "policy is not defined" at run time although it type-checked. This transformer runs
// just before tslab's and spells such shorthands out as `{ policy: exports.policy }`.
const PREV_DECLS = /(^|\/)__prev__\.d\.ts$/;
function shorthandToExports(program) {
  const checker = program.getTypeChecker();
  return (context) => {
    const f = context.factory;
    const visit = (node) => {
      const original = ts.getOriginalNode(node);
      if (ts.isShorthandPropertyAssignment(node) && ts.isShorthandPropertyAssignment(original) && !node.objectAssignmentInitializer) {
        const value = checker.getShorthandAssignmentValueSymbol(original);
        if ((value?.declarations ?? []).some((d) => PREV_DECLS.test(d.getSourceFile().fileName))) {
          const name = node.name.text;
          return f.createPropertyAssignment(f.createIdentifier(name), f.createPropertyAccessExpression(f.createIdentifier('exports'), f.createIdentifier(name)));
        }
      }
      return ts.visitEachChild(node, visit, context);
    };
    return (sourceFile) => ts.visitNode(sourceFile, visit);
  };
}

function withFastEmit(builder, options) {
  const emit = builder.emit.bind(builder);
  builder.emit = function (sourceFile, writeFile, cancellationToken, emitOnlyDts, transformers) {
    if (sourceFile && CELL_FILE.test(sourceFile.fileName) && transformers) {
      transformers = { ...transformers, after: [shorthandToExports(builder.getProgram()), ...(transformers.after ?? [])] };
    }
    if (!fastEmit || !sourceFile || CELL_FILE.test(sourceFile.fileName) || !writeFile) return emit(sourceFile, writeFile, cancellationToken, emitOnlyDts, transformers);
    const rel = path.relative(options.rootDir, sourceFile.fileName).replace(/\.(ts|tsx|js|mts|cts)$/, '.js');
    writeFile(path.join(path.resolve(options.rootDir, options.outDir), rel), stripTypes(sourceFile, options), false);
    return { emitSkipped: false, diagnostics: [] };
  };
  return builder;
}

const createHost = ts.createWatchCompilerHost;
const strictHost = function (rootFiles, options, ...rest) {
  // inlineSourceMap: the cell's JavaScript carries its map to the CommonJS pass, so stacks can name cell lines.
  const opts = Array.isArray(rootFiles) ? { ...options, ...(strict ? { strict: true } : {}), inlineSourceMap: true, sourceMap: false } : options;
  const host = createHost.call(ts, rootFiles, opts, ...rest);
  if (Array.isArray(rootFiles)) {
    // tslab assigns host.afterProgramCreate = (builder) => … after this returns; hand it a builder with our emit.
    let after;
    Object.defineProperty(host, 'afterProgramCreate', {
      configurable: true,
      get: () => after,
      set: (fn) => {
        after = (builder) => fn(withFastEmit(builder, opts));
      },
    });
  }
  return host;
};
// The module's exports are getters that cannot be reassigned, so tslab gets a proxy of it from the require cache.
const stack = require('./stack.cjs');
const overrides = {
  createWatchCompilerHost: strictHost,
  transpileModule: stack.wrapTranspile(ts.transpileModule),
  ...(checkSrc ? {} : { getPreEmitDiagnosticsOfFiles: cellChecked }),
};
require.cache[tsPath].exports = new Proxy(ts, {
  get: (target, key, receiver) => (Object.prototype.hasOwnProperty.call(overrides, key) ? overrides[key] : Reflect.get(target, key, receiver)),
});

// tslab runs cells and src/ as CommonJS, so packages load through their "require" entry. Some packages are
// "type": "module" yet point "require" at a UMD .js file, which Node then parses as ESM: the require() returns an
// empty namespace and the code using it fails quietly (the verifier's CAS would answer "cannot read" for every
// LaTeX answer). For those we load their ESM build instead (Node ≥ 20.19 can require() ES modules).
const ESM_ENTRIES = { '@cortex-js/compute-engine': 'dist/compute-engine.min.esm.js' };
const Module = require('node:module');
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const entry = Object.prototype.hasOwnProperty.call(ESM_ENTRIES, request) ? path.join(root, 'node_modules', request, ESM_ENTRIES[request]) : null;
  if (entry && fs.existsSync(entry)) return entry;
  return resolveFilename.call(this, request, ...rest);
};

// tslab's startKernel, with the protocol fixes of protocol.cjs (execution counts, error replies with mapped stacks,
// --allow-errors, cooperative interrupt). We use the repo's own tslab (1.0.22), whose compiler settings src/ targets.
if (!asLibrary) require('./protocol.cjs').startKernel({ root, tslabDir: path.dirname(path.dirname(tslabMain)), configPath: connectionFile });
module.exports = { root, tslabMain };
