// The completion template shared by the synthetic tasks and the format reward (the paper's template),
// and the character set a CharTokenizer needs to cover every synthetic prompt and solution.
export const THINK_OPEN = '<think>';
export const THINK_CLOSE = '</think>';
export const ANSWER_OPEN = '<answer>';
export const ANSWER_CLOSE = '</answer>';

/** `<think>steps</think><answer>answer</answer>`: the shape of every synthetic reference solution. */
export function formatSolution(steps: readonly string[], answer: string): string {
  return `${THINK_OPEN}${steps.join(' ')}${THINK_CLOSE}${ANSWER_OPEN}${answer}${ANSWER_CLOSE}`;
}

/**
 * Every character a synthetic prompt or solution can contain (sorted, no duplicates).
 * Build a CharTokenizer from this so the vocabulary is tiny (about 35 symbols).
 */
export const SYNTHETIC_CHARSET: string = [
  ...new Set('0123456789+-*/=()<>:, Q' + THINK_OPEN + THINK_CLOSE + ANSWER_OPEN + ANSWER_CLOSE),
]
  .sort()
  .join('');
