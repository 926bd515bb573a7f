// Rewrites of an answer's LaTeX before the CAS reads it (never used for string comparison). Each fixes a
// way compute-engine 0.27 misreads or rejects LaTeX that answers commonly contain:
// - glued commands: whitespace-stripped answers write `\pik`, `\omegat`, `\cotx` for `\pi k`, `\omega t`,
//   `\cot x` (the engine rejects the unknown command);
// - subscripted names: the engine reads `x_0` as indexing (`At(x, 0)`, no numeric value) and `C_1e^t` as
//   `C` indexed by `1e^t`; one opaque symbol per name (`x_0`, `omega_d`) keeps `X_{d}` = `X_d`;
// - `a/b` between letters (the engine rejects `r/2`); `\div` means the same;
// - `\exp{a t}` (braces as the argument), which the engine reads as a tuple; `\exp(a t)` is meant;
// - a letter applied to a number, `I(0)`, `f(1)`: a function's value (as Math-Verify reads it), one opaque
//   symbol; the engine multiplied, so `I(0)e^{-t}` was 0 and equalled any zero;
// - square brackets used as parentheses (`\frac{1}{4}[\cos t+\sin t]`); only scalars reach the CAS, so a
//   bracket here is grouping, never an interval (`\sqrt[3]{x}` keeps its index).

const GREEK = [
  'alpha', 'beta', 'gamma', 'delta', 'epsilon', 'varepsilon', 'zeta', 'eta', 'theta', 'vartheta', 'iota', 'kappa',
  'lambda', 'mu', 'nu', 'xi', 'pi', 'varpi', 'rho', 'varrho', 'sigma', 'varsigma', 'tau', 'upsilon', 'phi', 'varphi',
  'chi', 'psi', 'omega', 'Gamma', 'Delta', 'Theta', 'Lambda', 'Xi', 'Pi', 'Sigma', 'Upsilon', 'Phi', 'Psi', 'Omega',
];
const FUNCTIONS = [
  'sin', 'cos', 'tan', 'cot', 'sec', 'csc', 'sinh', 'cosh', 'tanh', 'coth', 'arcsin', 'arccos', 'arctan', 'ln', 'log', 'exp',
  'cdot', 'times',
];
/** Real commands that begin with one of the names above: never split. */
const WHOLE_COMMANDS = new Set(['cdots', 'cosec', 'cotan', 'lneq', 'lneqq', 'lnot', 'lnsim', 'lnapprox', 'multimap', 'pitchfork', 'section', 'sech', 'csch', 'arcsec', 'arccsc', 'arccot']);

const GLUED = new RegExp(`\\\\(${[...GREEK, ...FUNCTIONS].sort((a, b) => b.length - a.length).join('|')})([a-zA-Z]+)`, 'g');

/** `\pik` → `\pi k`, `\cotx` → `\cot x`; real commands (`\sinh`, `\lnot`) stay. */
export function splitGluedCommands(s: string): string {
  return s.replace(GLUED, (m, name: string, rest: string) => (WHOLE_COMMANDS.has(name + rest) || GREEK.includes(name + rest) || FUNCTIONS.includes(name + rest) ? m : `\\${name} ${rest}`));
}

const GREEK_SET = new Set(GREEK);
// A name made already (kept whole), a command (consumed whole, so its letters never count as a base), or
// a lone letter, with a subscript.
const SUBSCRIPTED = /\\operatorname\{[^{}]*\}|\\([a-zA-Z]+)(?:\s*_\s*(\{\s*[A-Za-z0-9]+\s*\}|[A-Za-z0-9]))?|([A-Za-z])\s*_\s*(\{\s*[A-Za-z0-9]+\s*\}|[A-Za-z0-9])/g;

const DOTTED = /\\(dot|ddot)\s*\{\s*([A-Za-z])\s*\}(?:\s*_\s*(\{\s*[A-Za-z0-9]+\s*\}|[A-Za-z0-9]))?/g;

/**
 * `x_{0}` / `x_0` → one symbol `x_0`; `\omega_d` → `omega_d`; `\dot{x}_0` → `xdot_0` (the engine rejects
 * `\dot{x}_{0}`); `\log_2` keeps its base.
 */
export function subscriptsAsNames(s: string): string {
  const name = (base: string, sub: string) => `\\operatorname{${base}_${sub.replace(/[{}\s]/g, '')}}`;
  const dotted = s.replace(DOTTED, (_m, accent: string, letter: string, sub: string | undefined) =>
    sub === undefined ? `\\operatorname{${letter}${accent}}` : name(letter + accent, sub),
  );
  return dotted.replace(SUBSCRIPTED, (m, cmd: string | undefined, cmdSub: string | undefined, letter: string | undefined, sub: string | undefined) => {
    if (m.startsWith('\\operatorname{')) return m;
    if (cmd !== undefined) return cmdSub !== undefined && GREEK_SET.has(cmd) ? name(cmd, cmdSub) : m;
    return name(letter as string, sub as string);
  });
}

/** Square brackets → parentheses, except `\sqrt[n]`'s index. */
export function bracketsAsParens(s: string): string {
  const out = s.split('');
  const stack: boolean[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '[') {
      const keep = /\\sqrt\s*$/.test(s.slice(Math.max(0, i - 8), i));
      stack.push(keep);
      if (!keep) out[i] = '(';
    } else if (s[i] === ']') {
      const keep = stack.pop();
      if (keep === false) out[i] = ')';
    }
  }
  return out.join('');
}

/** All rewrites, in an order where each sees the previous one's output. */
export function casLatex(s: string): string {
  const braced = splitGluedCommands(s)
    .replace(/\\exp\s*\{([^{}]*)\}/g, '\\exp($1)')
    .replace(/(^|[^a-zA-Z\\])([A-Za-z])\(\s*(-?\d+(?:\.\d+)?)\s*\)/g, (_m, before: string, f: string, x: string) => `${before}\\operatorname{${f}at${x.replace(/[-.]/g, (c) => (c === '-' ? 'm' : 'p'))}}`);
  return bracketsAsParens(subscriptsAsNames(braced)).replace(/\//g, '\\div ');
}
