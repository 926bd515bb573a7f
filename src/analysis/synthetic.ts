// Synthetic run logs with the real record shapes: for trying figures and the viewer without training, and as
// test fixtures. Accuracy rises along a logistic curve per seed; iGRPO refinements are conditioned on the best
// draft and beat it with a set probability, so transitions and stage accuracies have known expected values.
import type { MetricsRecord, RolloutRecord } from '../train/records.js';
import { Rng } from '../util/rng.js';

export interface SyntheticOptions {
  algo: 'grpo' | 'igrpo';
  seed: number;
  steps: number;
  prompts?: number;
  /** GRPO group size, or iGRPO refinements G. */
  group?: number;
  /** iGRPO drafts N. */
  drafts?: number;
  /** P(correct) at step 0 and at the last step. */
  startAccuracy?: number;
  endAccuracy?: number;
}

export interface SyntheticRun {
  metrics: MetricsRecord[];
  rollouts: RolloutRecord[];
}

export function syntheticRun(o: SyntheticOptions): SyntheticRun {
  const rng = new Rng(o.seed * 7919 + (o.algo === 'igrpo' ? 1 : 0));
  const prompts = o.prompts ?? 4;
  const group = o.group ?? 4;
  const drafts = o.algo === 'igrpo' ? (o.drafts ?? 4) : 0;
  const p0 = o.startAccuracy ?? 0.3;
  const p1 = o.endAccuracy ?? 0.6;
  const metrics: MetricsRecord[] = [];
  const rollouts: RolloutRecord[] = [];
  for (let step = 0; step < o.steps; step++) {
    const p = p0 + (p1 - p0) * (step / Math.max(1, o.steps - 1)) + 0.03 * rng.normal();
    const stepRecords: RolloutRecord[] = [];
    for (let g = 0; g < prompts; g++) {
      const a = 1 + rng.int(9);
      const b = 1 + rng.int(9);
      const gold = String(a + b);
      const question = `What is ${a} + ${b}?`;
      const complete = (stage: RolloutRecord['stage'], index: number, prompt: string, pc: number): RolloutRecord => {
        const correct = rng.uniform() < Math.min(1, Math.max(0, pc));
        const answer = correct ? gold : String(a + b + 1 + rng.int(3));
        const tokens = 8 + rng.int(24);
        const text = `${a} + ${b} = ${answer}. The answer is \\boxed{${answer}}`;
        const reward = correct ? 1 : 0;
        return { step, algo: o.algo, seed: o.seed, promptId: `p${step}-${g}`, stage, group: g, index, prompt, text, tokens,
          finishReason: tokens > 30 ? 'length' : 'stop', reward, rewards: { accuracy: reward, format: 0 }, correct,
          advantage: stage === 'draft' ? null : 0, answer, gold };
      };
      let prompt = question;
      let pRefine = p;
      if (drafts > 0) {
        const ds = Array.from({ length: drafts }, (_, i) => complete('draft', i, question, p * 0.9));
        const best = ds.reduce((bi, d, i) => (d.reward > ds[bi].reward ? i : bi), 0);
        ds[best].chosen = true;
        ds.forEach((d, i) => { if (i !== best) d.chosen = false; });
        prompt = `${question}\nPrevious attempt:\n${ds[best].text}\nImprove on it.`;
        pRefine = ds[best].correct ? Math.min(1, p + 0.25) : p * 0.8;
        stepRecords.push(...ds);
      }
      const stage = o.algo === 'igrpo' ? 'refinement' : 'grpo';
      const rs = Array.from({ length: group }, (_, i) => complete(stage, i, prompt, pRefine));
      const mean = rs.reduce((s, r) => s + r.reward, 0) / group;
      const std = Math.sqrt(rs.reduce((s, r) => s + (r.reward - mean) ** 2, 0) / group);
      for (const r of rs) r.advantage = std > 0 ? (r.reward - mean) / (std + 1e-4) : 0;
      stepRecords.push(...rs);
    }
    rollouts.push(...stepRecords);
    const trained = stepRecords.filter((r) => r.stage !== 'draft');
    const draftRs = stepRecords.filter((r) => r.stage === 'draft');
    const acc = (rs: RolloutRecord[]) => rs.filter((r) => r.correct).length / Math.max(1, rs.length);
    const tokens = stepRecords.reduce((s, r) => s + r.tokens, 0);
    const draftMs = drafts > 0 ? 80 + 10 * rng.uniform() : undefined;
    const refineMs = 100 + 10 * rng.uniform();
    const updateMs = 60 + 5 * rng.uniform();
    metrics.push({
      step, algo: o.algo, seed: o.seed,
      reward: trained.reduce((s, r) => s + r.reward, 0) / trained.length,
      accuracy: acc(trained),
      ...(drafts > 0 ? { draftAccuracy: acc(draftRs), bestDraftAccuracy: acc(draftRs.filter((d) => d.chosen)), refinementAccuracy: acc(trained) } : {}),
      entropy: 1.5 - step / Math.max(1, o.steps) + 0.05 * rng.normal(),
      kl: 0, clipFraction: 0.05 * rng.uniform(), loss: 0.1 * rng.normal(), gradNorm: 1 + rng.uniform(), lr: 1e-5,
      zeroStdFraction: 0.2 * rng.uniform(),
      completionTokens: tokens, sampledCompletions: stepRecords.length,
      meanLength: tokens / stepRecords.length, tokensPerSecond: tokens / 0.3,
      wallMs: { ...(draftMs !== undefined ? { draft: draftMs } : {}), refine: refineMs, update: updateMs, total: (draftMs ?? 0) + refineMs + updateMs },
      ...(step === o.steps - 1 ? { eval: { passAt1: Math.min(1, Math.max(0, p + 0.02 * rng.normal())), k: 4, n: 50 } } : {}),
    });
  }
  return { metrics, rollouts };
}

export function toJsonl(records: object[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + '\n';
}
