export { Adam, AdamConfigSchema, type AdamConfig, type AdamConfigInput, type AdamState } from './adam.js';
export { clipByGlobalNorm, clipByGlobalNormAsync, sumMany } from './clip.js';
