// The browser page (site/): built by `npm run site`'s builder, served on 127.0.0.1, driven in headless Chromium.
// It loads without console errors, a fixed-seed step on the page gives the numbers the same step gives in Node on
// the same backend (cpu: the same JavaScript kernels), and that step is Trainer.step()'s; training updates the
// plots; the viewer renders a run folder. Prints the bundle's weight and the time to first interaction.
// IGRPO_UPDATE_SCREENSHOTS=1 writes the page's screenshots to docs/ (the README shows them).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Browser, Page } from 'playwright-core';
import { buildSite, type SiteBuild } from '../site/build.js';
import { controlsFromQuery, pageConfig } from '../site/config.js';
import { serveSite } from '../site/serve.js';
import { CHROMIUM_FLAGS, findChromium } from '../src/analysis/export.js';
import { loadGPT } from '../src/model/load.js';
import { dataPath } from '../src/paths.js';
import { trainProblems } from '../src/train/task.js';
import { Trainer } from '../src/train/trainer.js';
import { createLiveRun, liveStep, stepFingerprint, type LiveStep } from '../src/train/walkthrough.js';

let chromium: string | undefined;
try {
  chromium = findChromium();
} catch {
  chromium = undefined;
}
const skip = chromium ? false : 'Chromium is not installed';
const SEED = 0;
/** The page's globals as the callbacks of page.evaluate see them (this file compiles without the DOM library). */
type Win = { igrpo: Record<string, any>; document: { body: { dataset: Record<string, string | undefined> } } };
const shots = process.env.IGRPO_UPDATE_SCREENSHOTS === '1';
const docs = path.join(import.meta.dirname, '..', 'docs');

let site: SiteBuild;
let server: { url: string; close(): Promise<void> };
let browser: Browser;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-site-'));

before(async () => {
  if (skip) return;
  site = await buildSite({ dir: path.join(tmp, 'site') });
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  const f = site.files;
  const wasm = Object.entries(f).filter(([k]) => k.endsWith('.wasm')).reduce((a, [, n]) => a + n, 0);
  console.log(
    `site bundle: main.js ${kib(f['main.js'])}, plotly.min.js ${kib(f['plotly.min.js'])} (loaded at the first plot), ` +
      `policy ${kib(f['policy/model.safetensors'])}, WASM binaries ${kib(wasm)} (fetched only on the wasm backend); built in ${(site.ms / 1000).toFixed(1)} s`,
  );
  server = await serveSite(site.dir);
  const { chromium: pw } = await import('playwright-core');
  browser = await pw.launch({ executablePath: chromium, args: CHROMIUM_FLAGS, headless: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A page whose console errors and uncaught exceptions are collected. */
async function open(query: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
  page.on('pageerror', (e) => void errors.push(e.message));
  await page.goto(`${server.url}index.html${query}`);
  return { page, errors };
}

const waitStatus = (page: Page, done: string, timeout = 120_000) =>
  page.waitForFunction((d) => [d, 'error'].includes((globalThis as unknown as Win).document.body.dataset.igrpo ?? ''), done, { timeout, polling: 100 });

async function status(page: Page): Promise<{ state: string; error?: string }> {
  return page.evaluate(() => ({ state: (globalThis as unknown as Win).document.body.dataset.igrpo ?? '', error: (globalThis as unknown as Win).igrpo.error }));
}

/** A screenshot of the element's top (at most 760 px: small PNGs for the README). */
async function shoot(page: Page, selector: string, name: string): Promise<void> {
  await page.addStyleTag({ content: 'header{position:static!important}' }); // the sticky header would cover the clip
  const el = page.locator(selector).first();
  await el.scrollIntoViewIfNeeded();
  const box = (await el.boundingBox())!;
  const png = await page.screenshot({ fullPage: true, clip: { x: box.x, y: box.y + (await page.evaluate(() => (globalThis as unknown as { scrollY: number }).scrollY)), width: box.width, height: Math.min(box.height, 760) } });
  assert.ok(png.length > 1000, `${name}: an empty screenshot`);
  if (shots) fs.writeFileSync(path.join(docs, name), png);
}

test('the page loads without console errors, shows its backend and becomes interactive', { skip, timeout: 120_000 }, async () => {
  const { page, errors } = await open('');
  await waitStatus(page, 'ready');
  assert.deepEqual(await status(page), { state: 'ready', error: undefined });
  const s = await page.evaluate(() => (globalThis as unknown as Win).igrpo);
  assert.ok(['webgpu', 'webgl', 'wasm', 'cpu'].includes(s.backend), s.backend);
  assert.match(await page.textContent('#backend') ?? '', new RegExp(`^${s.backend}`));
  console.log(`time to first interaction: ${s.interactiveMs.toFixed(0)} ms (navigation start to controls ready, policy loaded, backend ${s.backend}; local server, loaded 2-core machine)`);
  assert.deepEqual(errors, []);
  await page.close();
});

let browserStep: ReturnType<typeof stepFingerprint>;

test('?seed=S&run=1 runs one iGRPO step: drafts, rewards, advantages and loss as the same step in Node (cpu)', { skip, timeout: 180_000 }, async () => {
  const { page, errors } = await open(`?seed=${SEED}&run=1&backend=cpu`);
  await waitStatus(page, 'step-done');
  assert.deepEqual(await status(page), { state: 'step-done', error: undefined });
  browserStep = await page.evaluate(() => (globalThis as unknown as Win).igrpo.step);

  // The same step in Node: the page's config for this URL, the shipped policy, the cpu backend.
  const prev = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    const config = pageConfig({ ...controlsFromQuery(new URLSearchParams(`seed=${SEED}`)), prompts: 1 }, 'igrpo');
    const policy = loadGPT(dataPath('policy'));
    const run = createLiveRun(config, policy, trainProblems(config.data));
    const node: LiveStep = await liveStep(run, 0, { detail: true });
    const want = stepFingerprint(node);
    assert.deepEqual(browserStep, want);
    // a step that teaches something: rewards differ within the group, so some advantage is non-zero
    assert.ok(want.advantages.flat().some((a) => a !== 0), `seed ${SEED}: every advantage is 0; pick a seed whose step has a learning signal`);
    assert.ok(want.gradNorm > 0);
    run.optimizer.dispose();
    policy.dispose();

    // …and it is the Trainer's step 0 for that config (same prompts, samples, advantages, loss).
    const trainer = await Trainer.create(config, { policy: loadGPT(dataPath('policy')) });
    const s = await trainer.step();
    assert.deepEqual(
      { drafts: s.draftGroups!.map((g) => g.completions.map((c) => c.text)), chosen: s.chosen, completions: s.groups!.map((g) => g.completions.map((c) => c.text)), advantages: s.advantages, loss: s.update!.loss, gradNorm: s.update!.gradNorm },
      { drafts: want.drafts, chosen: want.chosen, completions: want.completions, advantages: want.advantages, loss: want.loss, gradNorm: want.gradNorm },
    );
    trainer.dispose();
  } finally {
    if (prev) await tf.setBackend(prev);
  }

  // the panels show those numbers
  const drafts = (await page.textContent('#p-drafts')) ?? '';
  for (const d of browserStep.drafts![0]) assert.ok(drafts.includes(d), `drafts panel lacks ${d}`);
  const adv = await page.locator('#p-adv td:nth-child(4)').allTextContents();
  assert.deepEqual(adv, browserStep.advantages[0].map((a) => (Number.isInteger(a) ? String(a) : Math.abs(a) < 1e-3 ? a.toExponential(2) : a.toFixed(3))));
  assert.ok(((await page.textContent('#p-update')) ?? '').includes(`gradient norm ${browserStep.gradNorm.toFixed(4)}`));
  assert.ok((await page.locator('#p-loss table.tokens tr').count()) > 2, 'the per-token loss table is empty');
  await shoot(page, 'body', 'site-walkthrough.png');
  assert.deepEqual(errors, []);
  await page.close();
});

test('training a few steps (GRPO beside iGRPO) updates the plots', { skip, timeout: 180_000 }, async () => {
  const { page, errors } = await open('?backend=cpu&drafts=2&refinements=2&prompts=1&steps=2&maxNewTokens=24');
  await waitStatus(page, 'ready');
  await page.click('#b-train');
  await waitStatus(page, 'train-done');
  assert.deepEqual(await status(page), { state: 'train-done', error: undefined });
  const t = await page.evaluate(() => (globalThis as unknown as Win).igrpo.training);
  assert.deepEqual(t, { steps: 2, metrics: 4 });
  for (const id of ['f-accuracy', 'f-reward', 'f-drafts', 'f-time']) {
    const draws = await page.getAttribute(`#${id}`, 'data-draws');
    assert.equal(draws, '2', `#${id} drawn ${draws} times, once per step expected`);
    assert.ok((await page.locator(`#${id} .main-svg`).count()) > 0, `#${id}: no plot`);
  }
  // the accuracy curve carries one point per algorithm and step (GRPO and iGRPO, 2 steps each)
  assert.equal(await page.getAttribute('#f-accuracy', 'data-points'), '4');
  assert.equal(await page.locator('#train-table tbody tr').count(), 4);
  await shoot(page, 'section:has(#b-train)', 'site-training.png');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the viewer renders a run folder (metrics, rollouts, evals) and a TRL completions table', { skip, timeout: 120_000 }, async () => {
  assert.ok(browserStep, 'needs the step test first (its rollouts make the folder)');
  // a run folder: the v3 experiment's committed metrics and evals, and rollouts.jsonl from a step of the page's config
  const runDir = path.join(tmp, 'run');
  fs.mkdirSync(runDir);
  const logs = path.join(import.meta.dirname, '..', 'results', 'grpo-vs-igrpo-v3-always-step', 'logs', 'igrpo-s0');
  for (const f of ['metrics.jsonl', 'evals.jsonl']) fs.copyFileSync(path.join(logs, f), path.join(runDir, f));
  const metricsLines = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').length;
  const evalLines = fs.readFileSync(path.join(runDir, 'evals.jsonl'), 'utf8').trim().split('\n').length;
  const prev = tf.getBackend();
  await tf.setBackend('cpu');
  let rollouts: LiveStep['rollouts'];
  try {
    const config = pageConfig({ ...controlsFromQuery(new URLSearchParams(`seed=${SEED}`)), prompts: 2, drafts: 2, refinements: 2, maxNewTokens: 24 }, 'igrpo');
    const run = createLiveRun(config, loadGPT(dataPath('policy')), trainProblems(config.data));
    rollouts = (await liveStep(run, 0)).rollouts;
    run.optimizer.dispose();
    run.policy.dispose();
  } finally {
    if (prev) await tf.setBackend(prev);
  }
  fs.writeFileSync(path.join(runDir, 'rollouts.jsonl'), rollouts.map((r) => JSON.stringify(r)).join('\n') + '\n');

  const { page, errors } = await open('?backend=cpu');
  await waitStatus(page, 'ready');
  await page.setInputFiles('#v-files', ['metrics.jsonl', 'rollouts.jsonl', 'evals.jsonl'].map((f) => path.join(runDir, f)));
  await waitStatus(page, 'viewer-done');
  assert.deepEqual(await status(page), { state: 'viewer-done', error: undefined });
  const v = await page.evaluate(() => (globalThis as unknown as Win).igrpo.viewer);
  assert.deepEqual(v, { files: ['metrics.jsonl', 'rollouts.jsonl', 'evals.jsonl'], metrics: metricsLines, rollouts: rollouts.length, evals: evalLines });
  // the rollout viewer shows the first prompt's drafts and refinements; the figures are drawn
  const shown = (await page.textContent('#v-rollout')) ?? '';
  // (refinements are shown as a word diff against d̂, so only the drafts appear verbatim)
  for (const r of rollouts.filter((x) => x.group === 0 && x.stage === 'draft')) assert.ok(shown.includes(r.text), `viewer lacks draft ${r.index}`);
  assert.ok(shown.includes('stage 1: 2 drafts') && shown.includes('stage 2: 2 refinements'), shown.slice(0, 300));
  assert.equal(await page.locator('#v-pick option').count(), 2);
  for (const id of ['vf-accuracy', 'vf-reward', 'vf-drafts', 'vf-eval', 'vf-transitions']) {
    assert.equal(await page.getAttribute(`#${id}`, 'data-draws'), '1', `#${id} not drawn (${await page.getAttribute(`#${id}`, 'data-skipped')})`);
  }
  await shoot(page, 'section:has(#dropzone)', 'site-viewer.png');

  // TRL's completions table (the shape analysis/trl.ts maps: step, prompt, completion, reward columns)
  const trl = [
    { step: 3, prompt: 'Q:1+2', completion: '<answer>3</answer>', accuracy_reward: 1, format_reward: 1, advantage: 0.7 },
    { step: 3, prompt: 'Q:1+2', completion: '<answer>4</answer>', accuracy_reward: 0, format_reward: 1, advantage: -0.7 },
  ];
  const trlFile = path.join(tmp, 'completions.jsonl');
  fs.writeFileSync(trlFile, trl.map((r) => JSON.stringify(r)).join('\n') + '\n');
  await page.setInputFiles('#v-files', [trlFile]);
  await page.waitForFunction(() => (globalThis as unknown as Win).igrpo.viewer.files[0] === 'completions.jsonl');
  assert.equal(await status(page).then((s) => s.state), 'viewer-done');
  const trlShown = (await page.textContent('#v-rollout')) ?? '';
  assert.ok(trlShown.includes('GRPO group: 2 completions') && trlShown.includes('<answer>4</answer>'), trlShown.slice(0, 300));

  // a file that is not a log is an error naming it, on the page
  const bad = path.join(tmp, 'rollouts.jsonl');
  fs.writeFileSync(bad, '{"step": 0}\nnot json\n');
  await page.setInputFiles('#v-files', [bad]);
  await waitStatus(page, 'viewer-done-never');
  assert.match((await status(page)).error ?? '', /rollouts\.jsonl:2: not JSON/);
  assert.deepEqual(errors.filter((e) => !/rollouts\.jsonl:2/.test(e)), []);
  await page.close();
});
