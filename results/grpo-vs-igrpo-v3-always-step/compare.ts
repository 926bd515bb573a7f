// v3 (zero-advantage steps step AdamW, as TRL) against v2 (they were skipped), paired by seed:
//   node --import tsx results/grpo-vs-igrpo-v3-always-step/compare.ts
// Prints each method's final held-out pass@1 change v3 − v2 per seed with a 95% t-interval, the change of the
// paired difference iGRPO − GRPO, and how many iGRPO steps had every advantage 0 (the steps the change touches).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ci95, meanCI } from '../../src/util/stats.js';
import { readMetrics } from '../../src/train/records.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const load = (name: string) => JSON.parse(fs.readFileSync(path.join(here, '..', name, 'summary.json'), 'utf8'));
const v2 = load('grpo-vs-igrpo-v2');
const v3 = load('grpo-vs-igrpo-v3-always-step');
const pct = (x: number) => (100 * x).toFixed(1);
const ci = (xs: number[]) => {
  const c = meanCI(xs);
  const [lo, hi] = ci95(c);
  return `${pct(c.mean)} points, 95% CI [${pct(lo)}, ${pct(hi)}] (per seed: ${xs.map(pct).join(', ')})`;
};
const finals = (s: any, algo: string): number[] => s.methods[algo].finalAccuracies;
for (const algo of ['grpo', 'igrpo']) {
  console.log(`${algo} v3 − v2 final pass@1: ${ci(finals(v3, algo).map((x, i) => x - finals(v2, algo)[i]))}`);
}
const diff = (s: any) => finals(s, 'igrpo').map((x, i) => x - finals(s, 'grpo')[i]);
console.log(`iGRPO − GRPO: v2 ${ci(diff(v2))}`);
console.log(`iGRPO − GRPO: v3 ${ci(diff(v3))}`);
console.log(`change of iGRPO − GRPO (v3 − v2): ${ci(diff(v3).map((x, i) => x - diff(v2)[i]))}`);
for (const algo of ['grpo', 'igrpo']) {
  const counts = v3.methods[algo].seeds.map((seed: number) =>
    readMetrics(path.join(here, 'logs', `${algo}-s${seed}`, 'metrics.jsonl')).filter((m) => m.zeroStdFraction === 1).length);
  console.log(`${algo}: steps with every advantage 0 (of 100), per seed: ${counts.join(', ')}`);
}
