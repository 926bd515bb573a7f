// Seeded synthetic tasks with exact answers, small enough for a tiny character-level model.
export * from './format.js';
export * from './rng.js';
export * from './arithmetic.js';
export * from './countdown.js';
export * from './gsm8k-format.js';
