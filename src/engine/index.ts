// Inference engines: the remote sampler (OpenAI-compatible servers), its protocol schemas, and the
// generative-judge reward. Sits beside rl/ (imports data, verify, sampling; never rl, train or analysis).
export * from './types.js';
export * from './protocol.js';
export * from './options.js';
export * from './errors.js';
export * from './pool.js';
export * from './remote.js';
export * from './local.js';
export * from './judge.js';
