// Every notebook in notebooks/ executes cleanly with the igrpo-ts kernel (installed into a temporary Jupyter prefix),
// headless through `jupyter nbconvert --execute`, in the fast configuration (IGRPO_NOTEBOOK_FAST=1). Also: the
// kernel's own behaviour (working directory, src/ imports, ESM packages, strict types, real error messages), and
// that the stored notebooks carry no outputs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { executeNotebook, failureText, listNotebooks, prepareRunner, type NotebookRunner } from '../scripts/run-notebooks.js';

interface Output {
  output_type: string;
  name?: string;
  ename?: string;
  evalue?: string;
  traceback?: string[];
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

test('nbconvert: execution counts, --allow-errors runs on, errors mapped to cell and src/*.ts lines, { x } over an earlier cell', { timeout: 300_000 }, () => {
  const nb = writeNotebook('kernel-protocol.ipynb', [
    'const policy = { a: 1 };',
    // shorthand and a closure over a name from an earlier cell (tslab rewrote neither)
    'const o = { policy };\nconst f = () => ({ policy });\nconsole.log("shorthand", o.policy.a, f().policy.a);',
    'function inner() {\n  throw new Error("boom 42");\n}\ninner();',
    'import { parseTrainConfig } from "./src/train/config.js";\nparseTrainConfig({ steps: -1 });',
    'console.log("after errors");',
  ]);
  const r = executeNotebook(runner, nb, { outDir, allowErrors: true });
  assert.ok(r.ok, failureText(r.log));
  const cells = readNotebook(r.output).cells as (Cell & { execution_count: number | null; outputs: Output[] })[];
  assert.deepEqual(cells.map((c) => c.execution_count), [1, 2, 3, 4, 5]);
  assert.match(joined(cells[1].outputs[0].text), /shorthand 1 1/);
  const boom = cells[2].outputs.find((o) => o.output_type === 'error')!;
  assert.equal(boom.ename, 'Error');
  assert.equal(boom.evalue, 'boom 42');
  // cell frames in IPython 8's form (VS Code links it to the cell line), colours stripped here
  const plain = (l: string) => l.replace(/\u001b\[[0-9;]*m/g, '');
  assert.deepEqual(boom.traceback!.map(plain), ['Error: boom 42', 'Cell In[3], line 2, in inner\n----> 2   throw new Error("boom 42");\n', 'Cell In[3], line 4\n----> 4 inner();\n']);
  const cfg = cells[3].outputs.find((o) => o.output_type === 'error')!;
  assert.equal(cfg.ename, 'ConfigError');
  const src = fs.readFileSync(path.join(process.cwd(), 'src/train/config.ts'), 'utf8').split('\n');
  const at = cfg.traceback![1].match(/at parseTrainConfig \(src\/train\/config\.ts:(\d+):\d+\)$/);
  assert.ok(at, cfg.traceback!.join('\n'));
  assert.match(src[Number(at[1]) - 1], /throw new ConfigError/);
  assert.equal(plain(cfg.traceback![2]), 'Cell In[4], line 2\n----> 2 parseTrainConfig({ steps: -1 });\n');
  assert.ok(!cfg.traceback!.some((l) => /evalmachine|tslab|node:|kernels\/igrpo-ts|\.js:/.test(l)), cfg.traceback!.join('\n'));
  assert.match(joined(cells[4].outputs[0].text), /after errors/);
});

// Driven through jupyter_client directly: the replies a frontend sees.
const PROTOCOL_PY = String.raw`
import json
from jupyter_client.manager import start_new_kernel
km, kc = start_new_kernel(kernel_name='igrpo-ts', startup_timeout=180)
def reply(mid):
    while True:
        r = kc.get_shell_msg(timeout=180)
        if r['parent_header'].get('msg_id') == mid: return r['content']
out = {}
try:
    reply(kc.execute('const policy = { abcdef: 1, other: 2 };'))
    out['complete'] = reply(kc.complete('policy.abc', 10))['matches']
    out['inspect'] = reply(kc.inspect('policy', 3)).get('data', {}).get('text/plain', '')
    # two requests at once: the first fails, so the second (already queued) is aborted; the first waits a
    # moment before failing so that the second has surely arrived (else it is a request sent later, which runs)
    ids = [kc.execute(c) for c in ['const later = { xyz: 3 };\nawait new Promise((r) => setTimeout(r, 1500));\nthrow new Error("fail");', 'console.log("queued")']]
    out['queued'] = [reply(i)['status'] for i in ids]
    # a request sent after the failure runs, and the failed cell's declaration is still there
    out['afterwards'] = reply(kc.execute('if (later.xyz !== 3) throw new Error("lost");'))['status']
    out['completeAfter'] = reply(kc.complete('later.x', 7))['matches']
finally:
    kc.stop_channels(); km.shutdown_kernel(now=True)
print(json.dumps(out))
`;

test('kernel protocol: completion and inspection, queued cells aborted after an error, a failed cell keeps its declarations', { timeout: 300_000 }, () => {
  const r = spawnSync(runner.python, ['-c', PROTOCOL_PY], { env: { ...process.env, JUPYTER_PATH: path.join(runner.prefix, 'share', 'jupyter') }, encoding: 'utf8', timeout: 280_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  assert.ok(line.startsWith('{'), `${r.stdout}\n${r.stderr}`);
  const out = JSON.parse(line);
  assert.deepEqual(out.complete, ['abcdef']);
  assert.match(out.inspect, /abcdef: number/);
  assert.deepEqual(out.queued, ['error', 'aborted']);
  assert.equal(out.afterwards, 'ok');
  assert.deepEqual(out.completeAfter, ['xyz']);
});

test('stored notebooks use the igrpo-ts kernel and carry no outputs', () => {
  const notebooks = listNotebooks();
  assert.ok(notebooks.length >= 8, `expected the 8 walkthrough notebooks, found ${notebooks.length}`);
  for (const file of notebooks) {
    const nb = readNotebook(file);
    assert.equal(nb.metadata.kernelspec?.name, 'igrpo-ts', file);
    for (const c of nb.cells) assert.equal((c.outputs ?? []).length, 0, `${path.basename(file)} is stored with outputs`);
    // nbformat 4.5: every cell has a unique id (else nbformat warns MissingIDFieldWarning and invents them)
    const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as { nbformat: number; nbformat_minor: number; cells: { id?: string }[] };
    assert.ok(raw.nbformat === 4 && raw.nbformat_minor >= 5, `${path.basename(file)}: nbformat ${raw.nbformat}.${raw.nbformat_minor}`);
    const ids = raw.cells.map((c) => c.id);
    assert.ok(ids.every((id) => typeof id === 'string' && /^[a-zA-Z0-9-_]{1,64}$/.test(id)), `${path.basename(file)}: a cell without a valid id`);
    assert.equal(new Set(ids).size, ids.length, `${path.basename(file)}: duplicate cell ids`);
  }
});

// IGRPO_NOTEBOOKS=02,05 executes only the notebooks whose names start so ('none': only the kernel tests above).
const picked = process.env.IGRPO_NOTEBOOKS?.split(',').map((p) => p.trim()).filter(Boolean);
for (const file of listNotebooks().filter((f) => !picked || picked.some((p) => path.basename(f).startsWith(p)))) {
  test(`notebook ${path.basename(file)} executes cleanly`, { timeout: 600_000 }, () => {
    const r = executeNotebook(runner, file, { outDir });
    assert.ok(r.ok, `${path.basename(file)} failed after ${r.seconds.toFixed(0)} s:\n${failureText(r.log)}`);
    const outputs = readNotebook(r.output).cells.flatMap((c) => c.outputs ?? []);
    assert.ok(!outputs.some((o) => o.output_type === 'error'), 'an error output');
    // Figures: plotly JSON plus an HTML fallback that loads plotly.js from the Jupyter server (kernel spec folder);
    // plotly.js itself is never stored in the notebook.
    const figures = outputs.filter((o) => o.data?.['application/vnd.plotly.v1+json']);
    for (const f of figures) {
      const html = joined(f.data!['text/html'] as string[]);
      assert.ok(html.includes('kernelspecs/igrpo-ts/plotly-'));
      assert.ok(html.includes('<img class="igrpo-static"'), 'a static preview for untrusted notebooks');
    }
    const big = outputs.filter((o) => joined(o.data?.['text/html'] as string[] | undefined).length > 1_000_000);
    assert.equal(big.length, 0, `plotly.js embedded ${big.length} times`);
    console.log(`# ${path.basename(file)}: ${r.seconds.toFixed(1)} s, ${figures.length} figures`);
  });
}
