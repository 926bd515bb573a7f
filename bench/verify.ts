// Verifications per second on one core: plain numbers (the fast path every synthetic reward takes),
// LaTeX numbers that need normalisation, and symbolic cases that reach the CAS. Goal: ≥ 5,000/s numeric.
import { verify, scoreCompletion, extractAnswer } from '../src/verify/index.js';
import { generateArithmetic } from '../src/data/index.js';

function rate(name: string, pairs: Array<[string, string]>, minMs = 1500): number {
  for (const [g, p] of pairs.slice(0, 50)) verify(g, p); // warm-up (JIT, CAS start)
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    for (const [g, p] of pairs) verify(g, p);
    n += pairs.length;
  }
  const perSec = (n / (performance.now() - t0)) * 1000;
  console.log(`${name.padEnd(34)} ${Math.round(perSec).toLocaleString('en-US').padStart(10)} verifications/s`);
  return perSec;
}

const numeric: Array<[string, string]> = [];
for (let i = 0; i < 1000; i++) {
  numeric.push([String(i), String(i)], [String(i), `${i}.0`], [String(i * 1000), (i * 1000).toLocaleString('en-US')], [String(i), String(i + 1)]);
}
// Distinct strings so the CAS memo does not turn the symbolic rate into a cache benchmark.
const latexNumeric: Array<[string, string]> = Array.from({ length: 400 }, (_, i) => [`\\frac{${i + 1}}{${i + 2}}`, `${((i + 1) / (i + 2)).toFixed(9)}`]);
const symbolic: Array<[string, string]> = Array.from({ length: 200 }, (_, i) => [`(x+${i})^2`, `x^2+${2 * i}x+${i * i}`]);
const structured: Array<[string, string]> = Array.from({ length: 400 }, (_, i) => [`(${i}, ${i + 1})`, `\\left(${i},${i + 1}\\right)`]);

console.log('igrpo verify benchmark (one core)');
const num = rate('numeric (plain numbers)', numeric);
rate('structured (tuples of numbers)', structured);
rate('LaTeX numeric (\\frac vs decimal)', latexNumeric, 1000);
rate('symbolic (CAS, distinct inputs)', symbolic, 1000);

const items = generateArithmetic({ count: 2000, seed: 0 });
const completions = items.map((p, i) => (i % 3 === 0 ? p.solution! : p.solution!.replace(/<answer>\d+/, '<answer>7')));
let n = 0;
const t0 = performance.now();
while (performance.now() - t0 < 1000) {
  items.forEach((p, i) => scoreCompletion(completions[i], p));
  n += items.length;
}
console.log(`${'reward scoring (synthetic)'.padEnd(34)} ${Math.round((n / (performance.now() - t0)) * 1000).toLocaleString('en-US').padStart(10)} completions/s`);
const big = '\\boxed{1} '.repeat(1000) + 'x'.repeat(1 << 20);
const t1 = performance.now();
extractAnswer(big);
console.log(`${'extract from a 1 MB completion'.padEnd(34)} ${(performance.now() - t1).toFixed(1).padStart(10)} ms`);
console.log(`numeric goal ≥ 5,000/s: ${num >= 5000 ? 'met' : 'NOT met'} (${(num / 5000).toFixed(1)}× the goal)`);
