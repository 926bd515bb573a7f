// Figure builders produce valid plotly specs: every trace's data lengths agree, axes and titles are set, and the
// plotted values are the statistics they claim to be.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  accuracyCurve,
  comparisonFigure,
  draftVsRefinementCurve,
  entropyCurve,
  evalCurve,
  figureBundle,
  heldOutCurve,
  figureHtml,
  finalBySeed,
  lengthHistogram,
  lengthVsReward,
  metricCurve,
  plotlyAssetName,
  plotlyLoaderHtml,
  plotlySources,
  UNIT_INTERVAL,
  rewardCurve,
  stageTimeFigure,
  syntheticRun,
  transitionHeatmap,
  transitions,
  type PlotlyFigure,
} from '../src/analysis/index.js';

const runs = [1, 2, 3].flatMap((seed) => [syntheticRun({ algo: 'grpo', seed, steps: 5 }), syntheticRun({ algo: 'igrpo', seed, steps: 5 })]);
const metrics = runs.flatMap((r) => r.metrics);
const rollouts = runs.flatMap((r) => r.rollouts);

function assertValid(fig: PlotlyFigure): void {
  assert.ok(fig.layout.title.text.length > 0, 'figure title');
  assert.ok(fig.layout.xaxis.title.text.length > 0, 'x axis title');
  assert.ok(fig.layout.yaxis.title.text.length > 0, 'y axis title');
  assert.ok(fig.data.length > 0, 'at least one trace');
  for (const t of fig.data) {
    assert.equal(typeof t.type, 'string');
    if (t.type === 'heatmap') {
      assert.equal(t.z!.length, t.y!.length, 'heatmap rows');
      for (const row of t.z!) assert.equal(row.length, t.x!.length, 'heatmap columns');
    } else if (t.type !== 'histogram') {
      assert.equal(t.x!.length, t.y!.length, `trace '${t.name}' x/y lengths`);
    }
    for (const v of [...(t.x ?? []), ...(t.y ?? [])]) if (typeof v === 'number') assert.ok(Number.isFinite(v), `finite values in '${t.name}'`);
  }
  JSON.parse(JSON.stringify(fig)); // plain JSON, nothing lost
}

test('metric curves: one mean line per algorithm plus a closed 95% band polygon', () => {
  for (const make of [rewardCurve, accuracyCurve, entropyCurve]) {
    const fig = make(metrics);
    assertValid(fig);
    const lines = fig.data.filter((t) => t.fill === undefined);
    assert.deepEqual(lines.map((t) => t.name), make === accuracyCurve ? ['GRPO (under q)', 'iGRPO (refinements, under q′)'] : ['GRPO', 'iGRPO']);
    for (const t of lines) assert.equal(t.x!.length, 5);
    for (const band of fig.data.filter((t) => t.fill === 'toself')) assert.equal(band.x!.length, 10);
  }
  const acc = accuracyCurve(metrics);
  const grpoMean = acc.data.find((t) => t.name === 'GRPO (under q)')!;
  const step2 = metrics.filter((m) => m.algo === 'grpo' && m.step === 2).map((m) => m.accuracy);
  assert.ok(Math.abs((grpoMean.y![2] as number) - step2.reduce((a, b) => a + b) / 3) < 1e-12);
  assertValid(evalCurve(metrics));
  assert.throws(() => evalCurve(metrics.map(({ eval: _e, ...m }) => m)), /no metrics records carry 'eval.passAt1'/);
});

test('iGRPO stage figures: draft vs refinement curves and the transition heatmap', () => {
  const dvr = draftVsRefinementCurve(metrics);
  assertValid(dvr);
  assert.deepEqual(dvr.data.filter((t) => !t.fill).map((t) => t.name), ['drafts', 'best draft d̂', 'refinements']);
  const heat = transitionHeatmap(rollouts);
  assertValid(heat);
  assert.deepEqual(heat.data[0].z, transitions(rollouts).counts);
  assert.equal((heat.layout.annotations as unknown[]).length, 4);
  assert.throws(() => transitionHeatmap(rollouts.filter((r) => r.algo === 'grpo')), /iGRPO logs needed/);
});

test('length figures and the GRPO-vs-iGRPO comparison', () => {
  const hist = lengthHistogram(rollouts);
  assertValid(hist);
  assert.deepEqual(hist.data.map((t) => t.name), ['GRPO', 'drafts', 'refinements']);
  assert.equal(hist.data.reduce((n, t) => n + t.x!.length, 0), rollouts.length);
  // each stage in its own panel (own axes), not overlaid
  assert.deepEqual(hist.data.map((t) => [t.xaxis, t.yaxis]), [['x', 'y'], ['x2', 'y2'], ['x3', 'y3']]);
  assert.deepEqual(hist.layout.grid, { rows: 3, columns: 1, pattern: 'independent', roworder: 'top to bottom' });
  for (const t of hist.data) assert.ok(t.x!.length > 0);
  assertValid(lengthVsReward(rollouts));
  const cmp = comparisonFigure(metrics, 'eval.passAt1', 'held-out pass@1');
  assertValid(cmp);
  const finals = finalBySeed(metrics, 'eval.passAt1');
  assert.deepEqual(cmp.data[0].y, [finals.get('grpo')!.ci.mean, finals.get('igrpo')!.ci.mean]);
  assert.deepEqual((cmp.data[0].error_y as { array: number[] }).array, [finals.get('grpo')!.ci.half, finals.get('igrpo')!.ci.half]);
  assert.equal(cmp.data[1].y!.length, 6); // one dot per seed and method
  const time = stageTimeFigure(metrics);
  assertValid(time);
  assert.ok(time.data.some((t) => t.name === 'draft'));
});

test('notebook bundle: plotly JSON, a small HTML fallback that waits for one shared plotly loader', () => {
  const fig = accuracyCurve(metrics);
  const bundle = figureBundle(fig);
  assert.deepEqual((bundle['application/vnd.plotly.v1+json'] as PlotlyFigure).data, fig.data);
  const html = bundle['text/html'] as string;
  assert.ok(html.length < 20_000, 'the fallback does not embed plotly.js');
  assert.ok(html.includes('window.Plotly'));
  // by default plotly.js comes from the Jupyter server (the kernel spec folder: this version, then the unversioned copy
  // the installer keeps current, so figures saved under an older plotly.js still draw), then the CDN; never embedded
  assert.deepEqual(plotlySources('server'), [`{base}kernelspecs/igrpo-ts/${plotlyAssetName()}`, '{base}kernelspecs/igrpo-ts/plotly.min.js', plotlySources('cdn')[0]]);
  assert.ok(html.includes(JSON.stringify(plotlySources('server'))));
  assert.match(plotlyAssetName(), /^plotly-\d+\.\d+\.\d+\.min\.js$/);
  assert.ok(!/<\/script/i.test(figureHtml({ ...fig, layout: { ...fig.layout, title: { text: '</script><b>' } } }).replace(/<\/script>$/, '')));
  const loader = plotlyLoaderHtml('inline');
  assert.ok(loader.length > 1_000_000 && loader.startsWith('<script'));
  assert.equal(loader.match(/<\/script/gi)!.length, 1, 'only the closing tag ends the loader script');
  assert.ok(!loader.includes('<!--'));
  assert.match(plotlyLoaderHtml('cdn'), /^<script src="https:\/\/cdn\.plot\.ly\/plotly-[\d.]+\.min\.js"/);
});

test('smoothing is a trailing mean per seed before the band', () => {
  const m = syntheticRun({ algo: 'grpo', seed: 1, steps: 5 }).metrics;
  const fig = accuracyCurve(m, { smooth: 3 });
  assertValid(fig);
  const acc = m.map((r) => r.accuracy);
  const want = acc.map((_, i) => acc.slice(Math.max(0, i - 2), i + 1).reduce((a, b) => a + b) / Math.min(i + 1, 3));
  const got = fig.data.find((t) => t.name === 'GRPO')!.y as number[];
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-12, `step ${i}`));
  assert.match(fig.layout.title.text, /3-step mean/);
});

test('held-out curve from evals.jsonl starts before any update and plots the mean over seeds', () => {
  const evals = [0.2, 0.3, 0.4].flatMap((base, seed) => [
    { algo: 'grpo' as const, seed, updates: 0, passAt1: base, k: 4, n: 64 },
    { algo: 'grpo' as const, seed, updates: 20, passAt1: base + 0.1, k: 4, n: 64 },
    { algo: 'igrpo' as const, seed, updates: 0, passAt1: base, k: 4, n: 64 },
    { algo: 'igrpo' as const, seed, updates: 20, passAt1: base - 0.1, k: 4, n: 64 },
  ]);
  const fig = heldOutCurve(evals);
  assertValid(fig);
  assert.equal(fig.layout.xaxis.title.text, 'updates');
  const grpo = fig.data.find((t) => t.name === 'GRPO')!;
  assert.deepEqual(grpo.x, [0, 20]);
  assert.ok(Math.abs((grpo.y![0] as number) - 0.3) < 1e-12 && Math.abs((grpo.y![1] as number) - 0.4) < 1e-12);
  const igrpo = fig.data.find((t) => t.name === 'iGRPO')!;
  assert.ok(Math.abs((igrpo.y![1] as number) - 0.2) < 1e-12);
  assert.throws(() => heldOutCurve([]), /no evaluation records/);
});

// Issue 13: ablations group by run label and seed; bands only where there are ≥ 2 seeds; fractions stay in [0, 1].
const labelled = (label: string, runs: ReturnType<typeof syntheticRun>[]) => runs.flatMap((r) => r.metrics.map((m) => ({ ...m, label })));

test('runs group by label and seed: one curve per variant, a band only where ≥ 2 seeds, and the title says so', () => {
  const twoSeeds = labelled('igrpo igrpo.template=paper', [1, 2].map((seed) => syntheticRun({ algo: 'igrpo', seed, steps: 4 })));
  const oneSeed = labelled('igrpo igrpo.tieBreak=random', [syntheticRun({ algo: 'igrpo', seed: 1, steps: 4 })]);
  const fig = rewardCurve([...twoSeeds, ...oneSeed]);
  assertValid(fig);
  const lines = fig.data.filter((t) => t.fill === undefined);
  assert.deepEqual(lines.map((t) => t.name), ['iGRPO igrpo.template=paper', 'iGRPO igrpo.tieBreak=random']);
  const bands = fig.data.filter((t) => t.fill === 'toself');
  assert.equal(bands.length, 1, 'no band for the single-seed variant');
  assert.equal(bands[0].name, 'iGRPO igrpo.template=paper 95% CI');
  assert.match(fig.layout.title.text, /no band for iGRPO igrpo\.tieBreak=random \(1 seed\)/);
  // the mean of the two-seed variant is the mean of its own two seeds only
  const want = (twoSeeds[0].reward + twoSeeds[4].reward) / 2;
  assert.ok(Math.abs((lines[0].y![0] as number) - want) < 1e-12);
  // one seed everywhere: no band at all and the title says there is no CI
  const solo = rewardCurve(oneSeed);
  assert.equal(solo.data.filter((t) => t.fill === 'toself').length, 0);
  assert.match(solo.layout.title.text, /1 seed: no CI/);
  assert.doesNotMatch(solo.layout.title.text, /95% CI/);
  // the comparison groups by label too, and draws no whisker for one seed
  const cmp = comparisonFigure([...twoSeeds, ...oneSeed], 'accuracy');
  assert.deepEqual(cmp.data[0].x, ['iGRPO igrpo.template=paper', 'iGRPO igrpo.tieBreak=random']);
  assert.ok(Number.isNaN((cmp.data[0].error_y as { array: number[] }).array[1]));
  assert.match(cmp.layout.title.text, /^iGRPO igrpo\.template=paper vs iGRPO igrpo\.tieBreak=random: final accuracy \(95% CI; none for iGRPO igrpo\.tieBreak=random \(1 seed\)\)/);
});

test('fraction bands are clipped to [0, 1] whatever the case of the key (refinementAccuracy, clipFraction)', () => {
  // two seeds far apart: the t interval (12.7 × sd/√2) leaves [0, 1] on both sides
  const base = syntheticRun({ algo: 'igrpo', seed: 1, steps: 3 }).metrics;
  const spread = [0, 1].flatMap((seed) => base.map((m) => ({ ...m, seed, refinementAccuracy: seed ? 0.95 : 0.05, draftAccuracy: 0.5, clipFraction: seed ? 0.9 : 0.1 })));
  for (const fig of [draftVsRefinementCurve(spread), metricCurve(spread, 'clipFraction', 'clip fraction')]) {
    const bands = fig.data.filter((t) => t.fill === 'toself');
    assert.ok(bands.length > 0);
    for (const b of bands) for (const y of b.y as number[]) assert.ok(y >= 0 && y <= 1, `${fig.layout.title.text}: ${y} outside [0, 1]`);
  }
  assert.ok(UNIT_INTERVAL.test('refinementAccuracy') && UNIT_INTERVAL.test('bestDraftAccuracy') && UNIT_INTERVAL.test('zeroStdFraction'));
  assert.ok(!UNIT_INTERVAL.test('reward') && !UNIT_INTERVAL.test('entropy'));
});

test("training accuracy: iGRPO's (under q′) beside GRPO's (under q) says it is not like for like", () => {
  const fig = accuracyCurve(metrics);
  assert.match(fig.layout.title.text, /not like for like: iGRPO under q′ \(q \+ best draft\), GRPO under q/);
  const only = accuracyCurve(metrics.filter((m) => m.algo === 'grpo'));
  assert.doesNotMatch(only.layout.title.text, /q′/);
});

test('lengthHistogram over a results folder\'s worth of completions (400k) and a middle round: no stack overflow, stages in round order', async () => {
  const { lengthHistogram: hist } = await import('../src/analysis/figures.js');
  const base = { step: 0, algo: 'igrpo' as const, seed: 0, promptId: 'p', group: 0, index: 0, prompt: 'q', text: 'x', finishReason: 'stop' as const, reward: 0, rewards: {}, correct: false, advantage: null };
  const stages = ['refinement', 'intermediate', 'draft'] as const;
  const rs = Array.from({ length: 400_000 }, (_, i) => ({ ...base, stage: stages[i % 3], tokens: i % 50 }));
  const fig = hist(rs);
  assert.deepEqual(fig.data.map((t) => t.name), ['drafts', 'intermediates', 'refinements']);
  assert.equal((fig.layout as unknown as { xaxis: { range: number[] } }).xaxis.range[1], 49.5);
});
