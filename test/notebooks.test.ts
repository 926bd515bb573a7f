// Every notebook in notebooks/ executes cleanly with the igrpo-ts kernel (installed into a temporary Jupyter prefix),
// headless through `jupyter nbconvert --execute`, in the fast configuration (IGRPO_NOTEBOOK_FAST=1). Also: the
// kernel's own behaviour (working directory, src/ imports, ESM packages, strict types, real error messages), and
// that the stored notebooks carry no outputs.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { executeNotebook, failureText, listNotebooks, prepareRunner, type NotebookRunner } from '../scripts/run-notebooks.js';

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
}
interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
}
const readNotebook = (file: string): { cells: Cell[]; metadata: { kernelspec?: { name: string } } } => JSON.parse(fs.readFileSync(file, 'utf8'));
const joined = (t: string | string[] | undefined) => (Array.isArray(t) ? t.join('') : (t ?? ''));

const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-nbtest-'));
let runner: NotebookRunner;
before(() => {
  runner = prepareRunner();
});
after(() => runner?.cleanup());

function writeNotebook(name: string, sources: string[]): string {
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'igrpo-ts', display_name: 'iGRPO (TypeScript)', language: 'typescript' } },
    cells: sources.map((source, i) => ({ cell_type: 'code', id: `t${i}`, metadata: {}, execution_count: null, outputs: [], source })),
  };
  const file = path.join(outDir, name);
  fs.writeFileSync(file, JSON.stringify(nb));
  return file;
}

test('the kernel runs from the repo root: ./src imports (with .js), ESM packages, the CAS, strict zod types', { timeout: 300_000 }, () => {
  const nb = writeNotebook('kernel-smoke.ipynb', [
    'import { packageRoot } from "./src/paths.js";\nimport { explain } from "./src/verify/index.js";\nimport { parquetReadObjects } from "hyparquet";\nimport { notebookConfig } from "./src/analysis/notebook.js";',
    'if (process.cwd() !== packageRoot()) throw new Error(`cwd ${process.cwd()} is not the package root ${packageRoot()}`);',
    // compute-engine is "type": "module" with a UMD "require" entry: without the kernel's fix the CAS is silently empty
    'const r = explain("\\\\frac{1}{2}", "0.5");\nif (!r.equivalent) throw new Error(`CAS not loaded: ${r.reason}`);',
    'if (typeof parquetReadObjects !== "function") throw new Error("hyparquet (ESM) did not load");',
    // under strict mode the zod-inferred field is a number, not number | undefined
    'const n: number = notebookConfig().sampling.maxNewTokens;\nconsole.log("maxNewTokens", n);',
  ]);
  const r = executeNotebook(runner, nb, { outDir });
  assert.ok(r.ok, failureText(r.log));
  const outputs = readNotebook(r.output).cells.flatMap((c) => c.outputs ?? []);
  assert.ok(outputs.some((o) => joined(o.text).includes('maxNewTokens')));
});

test('a failing cell fails the run and its real error is reported', { timeout: 300_000 }, () => {
  const nb = writeNotebook('kernel-fail.ipynb', ['const x = 1;', 'if (x === 1) throw new Error("deliberate failure 42");', 'console.log("never")']);
  const r = executeNotebook(runner, nb, { outDir });
  assert.equal(r.ok, false);
  const text = failureText(r.log);
  assert.match(text, /notebook cell 1 failed/);
  assert.match(text, /deliberate failure 42/);
});

test('stored notebooks use the igrpo-ts kernel and carry no outputs', () => {
  const notebooks = listNotebooks();
  assert.ok(notebooks.length >= 8, `expected the 8 walkthrough notebooks, found ${notebooks.length}`);
  for (const file of notebooks) {
    const nb = readNotebook(file);
    assert.equal(nb.metadata.kernelspec?.name, 'igrpo-ts', file);
    for (const c of nb.cells) assert.equal((c.outputs ?? []).length, 0, `${path.basename(file)} is stored with outputs`);
  }
});

for (const file of listNotebooks()) {
  test(`notebook ${path.basename(file)} executes cleanly`, { timeout: 600_000 }, () => {
    const r = executeNotebook(runner, file, { outDir });
    assert.ok(r.ok, `${path.basename(file)} failed after ${r.seconds.toFixed(0)} s:\n${failureText(r.log)}`);
    const outputs = readNotebook(r.output).cells.flatMap((c) => c.outputs ?? []);
    assert.ok(!outputs.some((o) => o.output_type === 'error'), 'an error output');
    // Figures: plotly JSON plus an HTML fallback, and plotly.js itself embedded at most once per notebook.
    const figures = outputs.filter((o) => o.data?.['application/vnd.plotly.v1+json']);
    for (const f of figures) assert.ok(typeof joined(f.data!['text/html'] as string | string[]) === 'string' && joined(f.data!['text/html'] as string[]).includes('window.Plotly'));
    const loaders = outputs.filter((o) => joined(o.data?.['text/html'] as string[] | undefined).length > 1_000_000);
    assert.ok(loaders.length <= 1, `plotly.js embedded ${loaders.length} times`);
    if (figures.length) assert.equal(loaders.length, 1, 'figures shown without the plotly.js loader');
    console.log(`# ${path.basename(file)}: ${r.seconds.toFixed(1)} s, ${figures.length} figures`);
  });
}
