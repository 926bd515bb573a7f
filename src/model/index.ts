export type { KVCache, Policy } from './policy.js';
export { GPTConfigSchema, parseGPTConfig, type GPTConfig, type GPTConfigInput } from './config.js';
export { GPT, gptParamSpecs } from './gpt.js';
export { GPTKVCache } from './kvcache.js';
export { loadPolicy, savePolicy } from './load.js';
export { CHECKPOINT_FILES, readPolicyFiles, savePolicyFiles } from './checkpoint.js';
export { decodeSafetensors, encodeSafetensors, type NamedTensor } from './safetensors.js';
