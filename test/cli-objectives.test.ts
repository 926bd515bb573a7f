// `igrpo train --algo igrpo --steps 1` with each of TRL's newer objectives (and the options beside them) on a
// tiny saved policy: it runs, logs TRL's metric names, and a synced reference lands in the checkpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readMetrics } from '../src/train/records-file.js';
import { tinyPolicy } from '../src/train/tiny.js';

await tf.setBackend('cpu');
const root = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'igrpo-cli-obj-'));
const policyDir = path.join(tmp, 'policy');
await tinyPolicy(2).save(policyDir);

const base = {
  promptsPerStep: 2, completionsPerPrompt: 4, igrpo: { drafts: 2, refinements: 2, template: 'plain', maxDraftTokens: 8 },
  data: { trainSize: 8, evalSize: 2 }, sampling: { maxNewTokens: 8 }, eval: { every: 0, size: 2, k: 1, atStart: false },
  // a reward that differs between completions, so advantages (and gradients) are not all zero
  rewards: [{ name: 'length', weight: 1, options: { maxChars: 4, perChar: 0.1 } }],
};

/** Each objective with some of the options, and the TRL metric names its metrics line must hold. */
const RUNS: { name: string; objective: Record<string, unknown>; metrics: string[] }[] = [
  { name: 'cispo', objective: { lossType: 'cispo', epsilonHigh: 5, topEntropyQuantile: 0.2, offPolicyMaskThreshold: 0.5 }, metrics: ['cispo_clip_ratio', 'entropy'] },
  { name: 'sapo', objective: { lossType: 'sapo', entropyCoef: 0.01 }, metrics: ['entropy', 'entropy_coef', 'policy_loss'] },
  { name: 'luspo', objective: { lossType: 'luspo', importanceSampling: 'sequence', beta: 0.04, useBiasCorrectionKl: true, syncRefModel: true, refModelSyncSteps: 1 }, metrics: ['clip_ratio/region_mean', 'clip_ratio/low_min'] },
  { name: 'vespo', objective: { lossType: 'vespo', useAdaptiveEntropy: true }, metrics: ['vespo/phi_seq_mean', 'entropy_coef'] },
  { name: 'dapo', objective: { lossType: 'dapo', delta: 1.5, epsilonHigh: 0.28 }, metrics: ['clip_ratio/high_max'] },
];

function train(run: (typeof RUNS)[number]): Promise<{ status: number | null; stderr: string; out: string }> {
  const config = path.join(tmp, `${run.name}.json`);
  fs.writeFileSync(config, JSON.stringify({ ...base, objective: run.objective }));
  const out = path.join(tmp, run.name);
  const args = [path.join(root, 'bin', 'igrpo.js'), 'train', '--algo', 'igrpo', '--steps', '1', '--out', out, '--config', config, '--policy', policyDir, '--quiet'];
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { env: { ...process.env, IGRPO_BACKEND: 'cpu' } });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill(), 180_000);
    p.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr, out });
    });
  });
}

test('igrpo train runs a step under cispo, sapo, luspo, vespo and dapo+delta with their options, logging TRL’s metric names', async () => {
  const results = await Promise.all(RUNS.map(train)); // in parallel: each is mostly process start-up
  results.forEach((r, i) => {
    const run = RUNS[i];
    assert.equal(r.status, 0, `${run.name}: ${r.stderr}`);
    const [m] = readMetrics(path.join(r.out, 'metrics.jsonl'));
    for (const k of run.metrics) assert.ok(m.trl && Number.isFinite(m.trl[k]), `${run.name}: metrics.trl['${k}'] in ${JSON.stringify(m.trl)}`);
    assert.ok(Number.isFinite(m.loss) && Number.isFinite(m.gradNorm), run.name);
  });
  assert.ok(results.some((r) => readMetrics(path.join(r.out, 'metrics.jsonl'))[0].gradNorm > 0), 'some run had a gradient');
  // the luspo run synced its reference after step 1 and checkpointed it
  assert.ok(fs.existsSync(path.join(tmp, 'luspo', 'checkpoints', 'step-000001', 'reference', 'model.safetensors')));
  assert.ok(fs.existsSync(path.join(tmp, 'vespo', 'checkpoints', 'step-000001', 'entropy-control.json')));
});
