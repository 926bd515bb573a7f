// Notebooks import src/ through tslab, which compiles it as CommonJS with TypeScript 5.0. Under CommonJS
// the compute engine's package entry exports nothing, so this checks that symbolic verification still
// works there (it once silently answered "not equal" for every symbolic pair).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';

const require = createRequire(path.resolve('package.json'));

test('src/verify and src/data compile as CommonJS with tslab TypeScript and verify symbolically', () => {
  const ts = require('@tslab/typescript-for-tslab');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-cjs-'));
  const program = ts.createProgram([path.resolve('src/verify/index.ts'), path.resolve('src/data/index.ts')], {
    module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, esModuleInterop: true, skipLibCheck: true, strict: true,
    moduleResolution: ts.ModuleResolutionKind.NodeJs, types: ['node'], outDir: out, rootDir: path.resolve('.'),
  });
  const diagnostics = ts.getPreEmitDiagnostics(program)
    .filter((d: { file?: { fileName: string } }) => d.file && /src\/(verify|data)\//.test(d.file.fileName))
    .map((d: { messageText: unknown }) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  assert.deepEqual(diagnostics, []);
  program.emit();
  fs.writeFileSync(path.join(out, 'package.json'), '{"type":"commonjs"}');
  fs.symlinkSync(path.resolve('node_modules'), path.join(out, 'node_modules'));
  const script = `const v = require(${JSON.stringify(path.join(out, 'src/verify/index.js'))});
    console.log(JSON.stringify([v.verify('\\\\frac{\\\\sqrt2}{2}', '\\\\frac{1}{\\\\sqrt{2}}'), v.verify('x^2-1', '(x-1)(x+1)'), v.verify('x+1', 'x')]));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: out });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [true, true, false]);
  fs.rmSync(out, { recursive: true, force: true });
});
