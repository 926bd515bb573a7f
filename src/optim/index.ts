export { Adam, AdamConfigSchema, type AdamConfig, type AdamConfigInput, type AdamState } from './adam.js';
export { clipByGlobalNorm } from './clip.js';
