// Policy checkpoints on disk: a folder with model.safetensors (weights), config.json (the model
// config) and tokenizer.json (the tokenizer's own JSON), written atomically as one folder.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeDirAtomic } from '../util/atomic.js';
import { type NamedTensor, decodeSafetensors, encodeSafetensors } from './safetensors.js';

export const CHECKPOINT_FILES = {
  weights: 'model.safetensors',
  config: 'config.json',
  tokenizer: 'tokenizer.json',
} as const;

export interface PolicyFiles {
  config: unknown;
  tokenizer: unknown;
  tensors: readonly [string, NamedTensor][];
}

/** Write a checkpoint folder atomically (see writeDirAtomic). */
export async function savePolicyFiles(dir: string, files: PolicyFiles): Promise<void> {
  writeDirAtomic(dir, {
    [CHECKPOINT_FILES.weights]: encodeSafetensors(files.tensors, { format: 'pt' }),
    [CHECKPOINT_FILES.config]: JSON.stringify(files.config, null, 2) + '\n',
    [CHECKPOINT_FILES.tokenizer]: JSON.stringify(files.tokenizer) + '\n',
  });
}

/** Read a checkpoint folder's three files; any missing, unreadable or malformed file is an error naming it. */
export function readPolicyFiles(dir: string): { config: unknown; tokenizer: unknown; weights: Map<string, NamedTensor> } {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`checkpoint folder ${dir} does not exist`);
  const file = (name: string) => path.join(dir, name);
  const readJson = (name: string): unknown => {
    const p = file(name);
    if (!fs.existsSync(p)) throw new Error(`checkpoint file ${p} is missing`);
    try {
      return JSON.parse(fs.readFileSync(p, 'utf8'));
    } catch (e) {
      throw new Error(`${p}: not valid JSON (${(e as Error).message})`);
    }
  };
  const config = readJson(CHECKPOINT_FILES.config);
  const tokenizer = readJson(CHECKPOINT_FILES.tokenizer);
  const wp = file(CHECKPOINT_FILES.weights);
  if (!fs.existsSync(wp)) throw new Error(`checkpoint file ${wp} is missing`);
  const weights = decodeSafetensors(fs.readFileSync(wp), wp);
  return { config, tokenizer, weights };
}
