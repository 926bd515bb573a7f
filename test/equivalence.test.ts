// Property tests: normalisation is idempotent, every answer equals itself (however it is dressed),
// and distinct numbers never verify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normalise, verify, explain } from '../src/verify/index.js';

const int = fc.integer({ min: -999, max: 999 });
const pos = fc.integer({ min: 1, max: 99 });
const scalar: fc.Arbitrary<string> = fc.oneof(
  int.map(String),
  fc.tuple(int, pos).map(([a, b]) => `\\frac{${a}}{${b}}`),
  fc.tuple(int, pos).map(([a, b]) => `${a}/${b}`),
  pos.map((n) => `\\sqrt{${n}}`),
  fc.tuple(pos, pos).map(([a, n]) => `${a}\\sqrt{${n}}`),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((x) => x.toFixed(3)),
  fc.constantFrom('\\pi', '2\\pi', 'x+1', 'x^2-3x', '\\frac{x}{2}', 'e', '\\infty', 'a+b', '\\text{odd}'),
);
const answer: fc.Arbitrary<string> = fc.oneof(
  scalar,
  fc.array(scalar, { minLength: 2, maxLength: 4 }).map((xs) => `(${xs.join(', ')})`),
  fc.array(scalar, { minLength: 1, maxLength: 4 }).map((xs) => `\\{${xs.join(', ')}\\}`),
  fc.tuple(scalar, scalar, fc.constantFrom('[', '('), fc.constantFrom(']', ')')).map(([a, b, o, c]) => `${o}${a}, ${b}${c}`),
  scalar.map((s) => `x = ${s}`),
  scalar.map((s) => `y \\le ${s}`),
  fc.tuple(scalar, scalar).map(([a, b]) => `\\begin{pmatrix}${a} & ${b}\\\\ ${b} & ${a}\\end{pmatrix}`),
  int.map((n) => `${n}\\%`),
  pos.map((n) => `\\$${n}`),
  pos.map((n) => `${n}^\\circ`),
);
/** The same answer in different clothes: delimiters, \left/\right, spacing, dfrac. */
const dressed = answer.chain((a) =>
  fc.constantFrom(a, `$${a}$`, `\\(${a}\\)`, `\\boxed{${a}}`, ` ${a} `, a.replace(/\\frac/g, '\\dfrac'), a.replace(/\(/g, '\\left(').replace(/\)/g, '\\right)')).map((d) => [a, d] as const),
);

test('normalisation is idempotent on generated answers', () => {
  fc.assert(
    fc.property(answer, (a) => {
      const once = normalise(a).text;
      assert.equal(normalise(once).text, once);
    }),
    { numRuns: 400 },
  );
});

test('normalisation is idempotent on arbitrary LaTeX-ish strings', () => {
  const chars = fc.constantFrom(...'0123456789+-*/^_{}()[],.=<> \\$%xyabcfrtqdlgpiemn'.split(''), '\\frac', '\\left', '\\right', '\\text{', '\\!', '\\{', '\\}', '\\\\');
  fc.assert(
    fc.property(fc.array(chars, { maxLength: 30 }).map((xs) => xs.join('')), (s) => {
      const once = normalise(s).text;
      assert.equal(normalise(once).text, once, `input ${JSON.stringify(s)}`);
    }),
    { numRuns: 1000 },
  );
});

test('verify(x, x) is true, dressed or not', () => {
  fc.assert(
    fc.property(dressed, ([a, d]) => {
      const r = explain(a, d);
      assert.ok(r.equivalent, `${JSON.stringify(a)} vs ${JSON.stringify(d)}: ${r.reason}`);
      assert.ok(verify(a, a));
    }),
    { numRuns: 300 },
  );
});

test('distinct integers never verify', () => {
  fc.assert(
    fc.property(int, int, (a, b) => {
      fc.pre(a !== b);
      assert.equal(verify(String(a), String(b)), false);
      assert.equal(verify(`\\boxed{${a}}`, `$${b}$`), false);
    }),
    { numRuns: 500 },
  );
});

// Cases found by measuring against Math-Verify on held-out model outputs (docs/verify-agreement.md);
// each input here is written for the test, not copied from that data.
test('the CAS reads glued commands, subscripted names, a/b, brackets and \\exp{…} as meant', () => {
  const same: [string, string][] = [
    ['\\tan y', '\\tany'], // whitespace-stripped \tan y
    ['3\\sin(\\theta t)', '3\\sin(\\thetat)'],
    ['k\\pi+\\frac{\\pi}{4}', '\\frac{\\pi}{4}+\\pik'],
    ['Y_{a}=7-2Q', 'Y_a=7-2Q'],
    ['A_1e^{x}+A_2e^{2x}', 'A_{2}e^{2x}+A_{1}e^{x}'],
    ['\\frac{u_{1}}{\\beta_{k}^{2}+1}', '\\frac{u_1}{1+\\beta_k^2}'],
    ['\\frac{y}{3}+1', 'y/3+1'],
    ['\\frac{q}{2}[\\sin(t)-\\cos(t)]', '\\frac{q\\sin(t)-q\\cos(t)}{2}'],
    ['\\exp{3y}', 'e^{3y}'],
    ['352_6', '352'],
    ['\\dot{q}_{1}/\\lambda+q_1', 'q_1+\\frac{\\dot{q}_1}{\\lambda}'],
    ['V(1)e^{-2s}', 'V(s)=V(1)\\cdote^{-2s}'], // \cdote is \cdot e
    ['3\\frac{2}{7}', '\\frac{23}{7}'], // a whole answer n\frac{a}{b} is a mixed number
    ['-3\\frac{2}{7}', '-\\frac{23}{7}'],
    ['23', '23rd'],
    ['23', '23^{\\text{rd}}'],
  ];
  for (const [g, p] of same) assert.ok(verify(g, p), `${g} vs ${p}: ${explain(g, p).reason}`);
  const different: [string, string][] = [
    ['A_1e^{x}', 'A_2e^{x}'], // different constants stay different
    ['x_1+x_2', 'x_1+x_3'],
    ['\\omega_d', '\\omega d'],
    ['P_1', 'P'], // a subscripted name is not a base-b numeral
    ['352_6', '353'],
    ['352_6', '140'], // the decimal value is not the numeral the question asks for
    ['\\log_2 y', '\\log y'],
    ['\\sinh y', '\\sin h y'], // a real command is never split
    ['\\dot{q}_1', '\\dot{q}_2'],
    ['\\dot{q}', 'q'],
    ['3\\frac{2}{7}', '6\\frac{1}{7}'], // as products both would be 6/7
    ['3\\frac{2}{7}', '\\frac{6}{7}'],
    ['V(1)e^{-2s}', '0'], // V(1) is a value of V, not V times 1 … nor, with a (0), zero
    ['V(0)', 'V(0)e^{-2s}'],
    ['23', '24th'],
    ['x', 'xth'],
  ];
  for (const [g, p] of different) assert.equal(verify(g, p), false, `${g} vs ${p}: ${explain(g, p).reason}`);
});

test('step functions are sampled widely: floors that agree only on small inputs differ', () => {
  // ⌊√m⌋ and ⌊(m+1)/2⌋ agree at every small sample point (0.3 … 2.3) and differ from m = 7 on.
  assert.equal(verify('\\lfloor\\sqrt{m}\\rfloor', '\\lfloor\\frac{m+1}{2}\\rfloor'), false);
  assert.ok(verify('\\lfloor\\frac{m}{2}\\rfloor', '\\lfloor m/2\\rfloor'));
});
