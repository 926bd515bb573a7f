// Live training: GRPO beside iGRPO from the same starting policy at a matched budget (GRPO's group = N + G,
// iGRPO's N drafts + G refinements), alternating one step each, with the notebook's plots (06) redrawn
// after every pair of steps from the metrics records src/train/records.ts builds.
import { accuracyCurve, draftVsRefinementCurve, rewardCurve, stageTimeFigure } from '../src/analysis/figures.js';
import type { Policy } from '../src/model/policy.js';
import type { Problem } from '../src/data/schema.js';
import type { MetricsRecord } from '../src/train/records.js';
import { createLiveRun, liveStep, type LiveRun } from '../src/train/walkthrough.js';
import { pageConfig, type PageControls } from './config.js';
import { $, fmt, table } from './dom.js';
import { drawFigure } from './plot.js';

export interface TrainingState {
  metrics: MetricsRecord[];
  stop: boolean;
}

export async function train(start: Policy, pool: readonly Problem[], c: PageControls, state: TrainingState, onStep?: (m: MetricsRecord) => void): Promise<void> {
  const runs: LiveRun[] = (['grpo', 'igrpo'] as const).map((algo) => createLiveRun(pageConfig(c, algo), start.clone(), pool));
  const status = $('train-status');
  try {
    for (let step = 0; step < c.steps && !state.stop; step++) {
      for (const run of runs) {
        const s = await liveStep(run, step);
        state.metrics.push(s.metrics);
        onStep?.(s.metrics);
      }
      const last = state.metrics.slice(-2);
      status.textContent = `step ${step + 1} / ${c.steps}: ` + last.map((m) => `${m.algo} accuracy ${fmt(m.accuracy, 2)} reward ${fmt(m.reward, 2)} (${fmt(m.wallMs.total / 1000, 1)} s)`).join(' · ');
      await drawTraining(state.metrics);
    }
    status.textContent += state.stop ? ' — stopped' : ' — done';
  } finally {
    for (const r of runs) {
      r.optimizer.dispose();
      r.policy.dispose();
    }
  }
}

export async function drawTraining(metrics: MetricsRecord[]): Promise<void> {
  await drawFigure($('f-accuracy'), accuracyCurve(metrics));
  await drawFigure($('f-reward'), rewardCurve(metrics));
  await drawFigure($('f-drafts'), draftVsRefinementCurve(metrics));
  await drawFigure($('f-time'), stageTimeFigure(metrics));
  const rows = metrics.slice(-8).map((m) => [m.step, m.algo, m.accuracy, m.reward, m.zeroStdFraction, m.loss, m.gradNorm, m.draftAccuracy, m.bestDraftAccuracy, m.wallMs.total / 1000]);
  $('train-table').innerHTML = table(['step', 'algo', 'accuracy', 'reward', 'zero-std groups', 'loss', 'grad norm', 'draft acc.', 'd̂ acc.', 's'], rows);
}
