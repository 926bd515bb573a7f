// The page: iGRPO step by step on the shipped policy, live GRPO-vs-iGRPO training, and a run viewer — all in
// the browser, on the same src/ modules Node runs (site/build.ts bundles them).
//
// URL: ?seed=S&run=1 runs one iGRPO step on load, then sets document.body.dataset.igrpo = "step-done" (or
// "error", the message on the page); ?backend=webgpu|webgl|wasm|cpu forces a backend; the controls' names
// (drafts, refinements, template, temperature, steps, prompts, lr, maxNewTokens) set them. window.igrpo holds
// the latest step's numbers (stepFingerprint) for tests and the curious.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { Problem } from '../src/data/schema.js';
import { parseGPTConfig } from '../src/model/config.js';
import { GPT } from '../src/model/gpt.js';
import { decodeSafetensors } from '../src/model/safetensors.js';
import { templateNames } from '../src/rl/templates.js';
import { trainProblems } from '../src/train/task.js';
import { CharTokenizer } from '../src/tokenizer/char.js';
import { createLiveRun, liveStep, stepFingerprint, type LiveStep } from '../src/train/walkthrough.js';
import { controlsFromQuery, pageConfig, type PageControls } from './config.js';
import { $, escapeHtml } from './dom.js';
import { train, type TrainingState } from './training.js';
import { readRunFiles, showRun } from './viewer.js';
import { renderWalkthrough } from './walkthrough-panels.js';

interface PageState {
  backend?: string;
  /** ms from navigation start until the controls were usable. */
  interactiveMs?: number;
  step?: ReturnType<typeof stepFingerprint>;
  training?: { steps: number; metrics: number };
  viewer?: { files: string[]; metrics: number; rollouts: number; evals: number };
  error?: string;
}
const state: PageState = {};
(window as unknown as { igrpo: PageState }).igrpo = state;
const setStatus = (s: string) => (document.body.dataset.igrpo = s);

function fail(e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  state.error = msg;
  const el = $('error');
  el.textContent = `Error: ${msg}`;
  el.hidden = false;
  console.error(e);
  setStatus('error');
}

/** WebGPU where the browser has it, else WebGL, else WASM (cpu last); ?backend= forces one. */
async function pickBackend(forced: string | null): Promise<string> {
  setWasmPaths(new URL('./', document.baseURI).href);
  const order = forced ? [forced] : ['webgpu', 'webgl', 'wasm', 'cpu'];
  for (const b of order) {
    try {
      if (await tf.setBackend(b)) {
        await tf.ready();
        return b;
      }
    } catch {
      // not available here: try the next
    }
  }
  throw new Error(`no tfjs backend could start (tried ${order.join(', ')})`);
}

/** The shipped policy (data/policy, copied beside the page) as the same GPT Node loads. */
async function loadPolicy(): Promise<GPT> {
  const get = async (f: string) => {
    const r = await fetch(`policy/${f}`);
    if (!r.ok) throw new Error(`policy/${f}: HTTP ${r.status}`);
    return r;
  };
  const config = parseGPTConfig(await (await get('config.json')).json(), 'policy/config.json');
  const tokenizer = CharTokenizer.fromJSON(await (await get('tokenizer.json')).json(), 'policy/tokenizer.json');
  const weights = decodeSafetensors(new Uint8Array(await (await get('model.safetensors')).arrayBuffer()), 'policy/model.safetensors');
  return new GPT(config, tokenizer, weights);
}

const CONTROL_IDS: (keyof PageControls)[] = ['drafts', 'refinements', 'template', 'temperature', 'seed', 'steps', 'prompts', 'lr'];

function readControls(): PageControls {
  const c = controlsFromQuery(new URLSearchParams(location.search));
  for (const k of CONTROL_IDS) {
    const v = $<HTMLInputElement>(`c-${k}`).value;
    if (k === 'template') c.template = v;
    else (c[k] as number) = Number(v);
  }
  return c;
}

function writeControls(c: PageControls): void {
  $<HTMLSelectElement>('c-template').innerHTML = templateNames().map((t) => `<option${t === c.template ? ' selected' : ''}>${escapeHtml(t)}</option>`).join('');
  for (const k of CONTROL_IDS) $<HTMLInputElement>(`c-${k}`).value = String(c[k]);
}

/** Arithmetic typed by the reader ("12+7*3"): its gold answer with the task's precedence (* first, then + and −). */
function customProblem(text: string): Problem {
  const expr = text.replace(/^Q:/, '').replace(/\s+/g, '');
  if (!/^\d+([+\-*]\d+)*$/.test(expr)) throw new Error(`problem "${text}": write integers joined by + - * (e.g. 12+7*3)`);
  const answer = expr
    .split(/(?=[+-])/)
    .reduce((a, t) => a + (t.startsWith('-') ? -1 : 1) * t.replace(/^[+-]/, '').split('*').reduce((p, f) => p * Number(f), 1), 0);
  return { id: 'your-problem', problem: `Q:${expr}`, answer: String(answer), task: 'arithmetic' };
}

async function main(): Promise<void> {
  const q = new URLSearchParams(location.search);
  const controls = controlsFromQuery(q);
  writeControls(controls);
  state.backend = await pickBackend(q.get('backend'));
  const why = q.get('backend') ? ' (set by ?backend=)' : state.backend === 'webgpu' ? '' : state.backend === 'webgl' ? ' (no WebGPU here)' : ' (no WebGPU or WebGL here)';
  $('backend').textContent = state.backend + why;
  const start = await loadPolicy();
  const pool = trainProblems(pageConfig(controls, 'igrpo').data);
  const problemInput = $<HTMLInputElement>('c-problem');
  $('b-random').onclick = () => {
    const p = pool[Math.floor(Math.random() * pool.length)];
    problemInput.value = p.problem.replace(/^Q:/, '');
  };

  let busy = false;
  const exclusive = async (what: string, f: () => Promise<void>) => {
    if (busy) return;
    busy = true;
    for (const b of document.querySelectorAll<HTMLButtonElement>('button.run')) b.disabled = true;
    setStatus(`${what}-running`);
    try {
      await f();
      setStatus(`${what}-done`);
    } catch (e) {
      fail(e);
    } finally {
      busy = false;
      for (const b of document.querySelectorAll<HTMLButtonElement>('button.run')) b.disabled = false;
    }
  };

  const runStep = () =>
    exclusive('step', async () => {
      const c = { ...readControls(), prompts: 1 };
      const problem = problemInput.value.trim() ? customProblem(problemInput.value.trim()) : undefined;
      const run = createLiveRun(pageConfig(c, 'igrpo'), start.clone(), pool);
      try {
        $('step-status').textContent = 'sampling drafts, refinements, updating…';
        const t0 = performance.now();
        const s: LiveStep = await liveStep(run, 0, { detail: true, problems: problem ? [problem] : undefined });
        state.step = stepFingerprint(s);
        renderWalkthrough(s);
        $('step-status').textContent = `one iGRPO step in ${((performance.now() - t0) / 1000).toFixed(1)} s on ${state.backend}`;
      } finally {
        run.optimizer.dispose();
        run.policy.dispose();
      }
    });
  $('b-step').onclick = runStep;

  const training: TrainingState = { metrics: [], stop: false };
  $('b-train').onclick = () =>
    exclusive('train', async () => {
      training.metrics = [];
      training.stop = false;
      await train(start, pool, readControls(), training, () => (state.training = { steps: Math.ceil(training.metrics.length / 2), metrics: training.metrics.length }));
    });
  $('b-stop').onclick = () => void (training.stop = true);

  const viewFiles = (files: File[]) =>
    exclusive('viewer', async () => {
      const logs = await readRunFiles(files);
      await showRun(logs);
      state.viewer = { files: logs.files, metrics: logs.metrics.length, rollouts: logs.rollouts.length, evals: logs.evals.length };
    });
  const drop = $('dropzone');
  drop.ondragover = (e) => {
    e.preventDefault();
    drop.classList.add('over');
  };
  drop.ondragleave = () => drop.classList.remove('over');
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    void viewFiles([...(e.dataTransfer?.files ?? [])]);
  };
  for (const id of ['v-files', 'v-folder']) $<HTMLInputElement>(id).onchange = (e) => void viewFiles([...((e.target as HTMLInputElement).files ?? [])]);

  state.interactiveMs = performance.now();
  $('ready').textContent = `ready in ${(state.interactiveMs / 1000).toFixed(1)} s`;
  setStatus('ready');
  if (q.get('run') === '1') await runStep();
}

main().catch(fail);
