// Load a policy from a checkpoint folder (config.json + model.safetensors + tokenizer.json).
import * as path from 'node:path';
import { dataPath } from '../paths.js';
import { tokenizerFromJSON } from '../tokenizer/index.js';
import { parseGPTConfig } from './config.js';
import { CHECKPOINT_FILES, readPolicyFiles } from './checkpoint.js';
import { GPT } from './gpt.js';
import type { Policy } from './policy.js';

/** The policy saved in dir. Every file is validated; errors name the file at fault. */
export function loadPolicy(dir: string): GPT {
  const files = readPolicyFiles(dir);
  const configFile = path.join(dir, CHECKPOINT_FILES.config);
  const config = parseGPTConfig(files.config, configFile);
  const tokenizer = tokenizerFromJSON(files.tokenizer, path.join(dir, CHECKPOINT_FILES.tokenizer));
  try {
    return new GPT(config, tokenizer, files.weights);
  } catch (e) {
    throw new Error(`${path.join(dir, CHECKPOINT_FILES.weights)}: ${(e as Error).message}`);
  }
}

/** Save any policy to dir (same as policy.save(dir)). */
export function savePolicy(policy: Policy, dir: string): Promise<void> {
  return policy.save(dir);
}

/** A policy folder from a config's `policy` field: 'embedded' is the shipped data/policy. */
export function resolvePolicyDir(spec: string): string {
  return spec === 'embedded' ? dataPath('policy') : path.resolve(spec);
}
