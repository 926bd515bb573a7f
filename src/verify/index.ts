// Answer extraction, equivalence and rewards: what the RL loop and `igrpo verify` use.
export { extractAnswer, answerTag, gsm8kAnswer, answerIsPhrase, lastInlineMath, lastNumber } from './extract.js';
export type { Extraction, ExtractOptions, AnswerSource } from './extract.js';
export { verify, explain, goldProblem, MAX_ANSWER_CHARS } from './equivalence.js';
export type { VerifyOptions, VerifyResult } from './equivalence.js';
export { normalise } from './normalize.js';
export { lastBoxed, matchBrace, bracesBalanced } from '../util/braces.js';
export { parsePlainNumber, parseLiteral, literalsEqual, numbersEqual, DEFAULT_TOLERANCE } from './numbers.js';
export type { Literal } from './numbers.js';
export * from './rewards.js';
