// The igrpo-ts kernel live in the classic Jupyter Notebook (Debian's jupyter-notebook), driven by headless Chromium:
// Kernel → Interrupt stops a training loop within a step and says so in the cell, the trainer stays usable;
// figures draw, and draw again after re-running their cell and after saving and reloading the page (plotly.js comes
// from the kernel spec folder the server serves, offline); runtime errors name cell lines, not evalmachine.
// Skipped (with the reason) where jupyter-notebook or Chromium is missing.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { CHROMIUM_FLAGS, findChromium } from '../src/analysis/export.js';
import { prepareRunner, type NotebookRunner } from '../scripts/run-notebooks.js';

const NOTEBOOK_APP = ['/usr/bin/jupyter-notebook'].find((f) => fs.existsSync(f));
let chromium: string | undefined;
try {
  chromium = findChromium();
} catch {
  chromium = undefined;
}
const skip = !NOTEBOOK_APP ? 'jupyter-notebook is not installed (scripts/setup-system.sh)' : !chromium ? 'Chromium is not installed' : false;

const CELLS = [
  // 0: a figure
  'import { showFigure } from "./src/analysis/display.js";\n' +
    'showFigure({ data: [{ type: "scatter", x: [1, 2, 3], y: [1, 3, 2] }], layout: { title: { text: "live" }, xaxis: { title: { text: "x" } }, yaxis: { title: { text: "y" } } } });',
  // 1: a long training loop
  'import { Trainer } from "./src/train/trainer.js";\nimport { lengthScore, tinyConfig, tinyPolicy } from "./src/train/tiny.js";\n' +
    'const trainer = await Trainer.create(tinyConfig({ algo: "igrpo", steps: 100000 }), { policy: tinyPolicy(5), score: lengthScore });\n' +
    'let done = 0;\nawait trainer.run({ onStep: () => { done++; console.log(`step ${done}`); } });',
  // 2: the trainer after the interrupt
  'const before = trainer.stepIndex;\nawait trainer.step();\nconsole.log(`usable: ${before} -> ${trainer.stepIndex}`);',
  // 3: a runtime error
  'function inner() {\n  throw new Error("boom 7");\n}\ninner();',
];

/** The page's globals that the test touches (the project compiles without DOM typings). */
interface Browser {
  Jupyter: {
    notebook: {
      kernel: { is_connected(): boolean; interrupt(): void };
      kernel_busy: boolean;
      execute_cells(cells: number[]): void;
      save_notebook(): Promise<unknown>;
    };
  };
  document: { querySelectorAll(sel: string): ArrayLike<{ querySelector(sel: string): { innerText: string } | null }> };
}

let runner: NotebookRunner | undefined;
let server: ChildProcess | undefined;
let context: BrowserContext | undefined;
let page: Page;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-live-'));
const token = Math.random().toString(36).slice(2);
let url = '';
const consoleLines: string[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

before(async () => {
  if (skip) return;
  runner = prepareRunner();
  const nbDir = path.join(dir, 'nb');
  fs.mkdirSync(nbDir);
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'igrpo-ts', display_name: 'iGRPO (TypeScript)', language: 'typescript' } },
    cells: CELLS.map((source, i) => ({ cell_type: 'code', id: `live${i}`, metadata: {}, execution_count: null, outputs: [], source })),
  };
  fs.writeFileSync(path.join(nbDir, 'live.ipynb'), JSON.stringify(nb));
  const port = await freePort();
  const env = {
    ...process.env,
    JUPYTER_PATH: path.join(runner.prefix, 'share', 'jupyter'),
    JUPYTER_CONFIG_DIR: path.join(dir, 'config'),
    JUPYTER_DATA_DIR: path.join(dir, 'data'),
    JUPYTER_RUNTIME_DIR: path.join(dir, 'runtime'),
    IGRPO_KERNEL_INTERRUPT_GRACE_MS: '20000',
  };
  server = spawn(NOTEBOOK_APP!, [...(process.getuid?.() === 0 ? ['--allow-root'] : []), '--no-browser', '--ip=127.0.0.1', `--port=${port}`, `--NotebookApp.token=${token}`, `--notebook-dir=${nbDir}`, '--NotebookApp.open_browser=False'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let log = '';
  server.stderr!.on('data', (d) => (log += d));
  const deadline = Date.now() + 60_000;
  while (!log.includes(`127.0.0.1:${port}`)) {
    if (Date.now() > deadline || server.exitCode !== null) throw new Error(`jupyter-notebook did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  url = `http://127.0.0.1:${port}/notebooks/live.ipynb?token=${token}`;
  const { chromium: pw } = await import('playwright-core');
  context = await pw.launchPersistentContext(path.join(dir, 'chromium-profile'), { executablePath: chromium, args: CHROMIUM_FLAGS, headless: true });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
});

after(async () => {
  await context?.close().catch(() => {});
  if (server?.pid) {
    try {
      process.kill(-server.pid, 'SIGTERM'); // its own process group: the server and the kernels it started
    } catch {
      // already gone
    }
  }
  runner?.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The notebook page with its kernel connected and idle. */
async function openNotebook(): Promise<void> {
  await page.goto(url);
  await page.waitForFunction(
    () => {
      const J = (globalThis as unknown as Browser).Jupyter;
      return !!J?.notebook?.kernel?.is_connected() && !J.notebook.kernel_busy;
    },
    undefined,
    { timeout: 120_000 },
  );
}

const execute = (i: number) => page.evaluate((i) => (globalThis as unknown as Browser).Jupyter.notebook.execute_cells([i]), i);
const outputText = (i: number) =>
  page.evaluate((i) => {
    const cells = (globalThis as unknown as Browser).document.querySelectorAll('.cell');
    return cells[i]?.querySelector('.output_wrapper')?.innerText ?? '';
  }, i);
async function waitForText(i: number, re: RegExp, timeout = 120_000): Promise<string> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const t = await outputText(i);
    if (re.test(t)) return t;
    if (Date.now() > deadline) throw new Error(`cell ${i}: no ${re} within ${timeout} ms; output:\n${t}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
async function figureDrawn(i: number): Promise<void> {
  try {
    await page.waitForFunction((i) => !!(globalThis as unknown as Browser).document.querySelectorAll('.cell')[i]?.querySelector('.igrpo-figure .main-svg'), i, { timeout: 60_000 });
  } catch (err) {
    throw new Error(`cell ${i}: no figure drawn; output:\n${await outputText(i)}\nbrowser console:\n${consoleLines.slice(-20).join('\n')}\n${(err as Error).message}`);
  }
}

test('live notebook: figures survive re-run and reload, interrupt stops training, errors name cell lines', { skip, timeout: 600_000 }, async () => {
  await openNotebook();

  // TypeScript highlighting from the kernel's codemirror_mode: CodeMirror 5 resolves it to its javascript mode with
  // typescript on (a mode it could not resolve would be plain text, "null")
  // the Notebook applies the mode after kernel_info and a require.js load of the mode: wait for it
  await page.waitForFunction(() => (globalThis as unknown as { Jupyter: { notebook: { get_cell(i: number): { code_mirror: { getMode(): { name: string } } } } } }).Jupyter.notebook.get_cell(0).code_mirror.getMode().name !== 'null', undefined, { timeout: 30_000 }).catch(() => undefined);
  const mode = await page.evaluate(() => {
    const cm = (globalThis as unknown as { Jupyter: { notebook: { get_cell(i: number): { code_mirror: { getMode(): { name: string }; getOption(o: string): unknown } } } } }).Jupyter.notebook.get_cell(0).code_mirror;
    return { name: cm.getMode().name, option: cm.getOption('mode') };
  });
  assert.equal(mode.name, 'javascript', JSON.stringify(mode));
  assert.deepEqual(mode.option, { name: 'application/typescript', mime: 'application/typescript' });

  // figures: drawn, drawn again after re-running the cell, and after saving and reloading the page
  execute(0);
  await figureDrawn(0);
  execute(0);
  await page.waitForFunction(() => !(globalThis as unknown as Browser).Jupyter.notebook.kernel_busy);
  await figureDrawn(0);
  await page.evaluate(() => (globalThis as unknown as Browser).Jupyter.notebook.save_notebook());
  await page.waitForTimeout(500);
  const saved = JSON.parse(fs.readFileSync(path.join(dir, 'nb', 'live.ipynb'), 'utf8'));
  const savedSize = JSON.stringify(saved.cells[0].outputs).length;
  assert.ok(savedSize < 50_000, `the figure's stored outputs are ${savedSize} bytes (plotly.js is not stored)`);
  await openNotebook();
  await figureDrawn(0);

  // interrupt: the loop stops within a step and the cell says so; nothing prints afterwards; the trainer is usable
  execute(1);
  await waitForText(1, /step 3\b/, 180_000);
  const t0 = Date.now();
  await page.evaluate(() => (globalThis as unknown as Browser).Jupyter.notebook.kernel.interrupt());
  const stopped = await waitForText(1, /KeyboardInterrupt/, 30_000);
  const seconds = (Date.now() - t0) / 1000;
  assert.match(stopped, /interrupted \(Kernel → Interrupt\)/);
  assert.match(stopped, /made no update/);
  const steps = (stopped.match(/step \d+/g) ?? []).length;
  await page.waitForTimeout(1500);
  assert.equal(((await outputText(1)).match(/step \d+/g) ?? []).length, steps, 'the loop went on printing after the interrupt');
  console.log(`# interrupt took ${seconds.toFixed(1)} s after ${steps} steps`);
  execute(2);
  const usable = await waitForText(2, /usable: (\d+) -> (\d+)/);
  const [, a, b] = usable.match(/usable: (\d+) -> (\d+)/)!;
  assert.equal(Number(b), Number(a) + 1);

  // errors: the traceback names the cell's lines, not evalmachine or the kernel's own files
  execute(3);
  const err = await waitForText(3, /boom 7/);
  assert.match(err, /Cell In\[\d+\], line 2, in inner/);
  assert.match(err, /Cell In\[\d+\], line 4/);
  assert.doesNotMatch(err, /evalmachine|tslab|kernels\/igrpo-ts/);
});
