// A model folder's tokenizer as transformers' AutoTokenizer.from_pretrained reads it: tokenizer.json
// (required), tokenizer_config.json, special_tokens_map.json (its tokens override the config's, as in
// transformers), chat_template.jinja (overrides the config's chat_template, as in transformers ≥ 4.43),
// and generation_config.json (the ids generation stops on). Nothing in the folder is executed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HFTokenizer, type HFGenerationConfig, type HFTokenizerConfig } from './hf.js';

function readJSON(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${path}: expected a JSON object`);
  return json as Record<string, unknown>;
}

const readOptional = (path: string): Record<string, unknown> | undefined => (existsSync(path) ? readJSON(path) : undefined);

const SPECIAL_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token', 'additional_special_tokens'];

/** The tokenizer of a model folder (a snapshot directory); errors name the file. */
export function loadHFTokenizer(dir: string): HFTokenizer {
  const tokPath = join(dir, 'tokenizer.json');
  if (!existsSync(tokPath)) {
    throw new Error(`${tokPath}: not found; a model folder needs a tokenizer.json (the fast-tokenizer file; vocab.json/merges.txt or tokenizer.model alone are not supported)`);
  }
  const json = readJSON(tokPath);
  if (!('model' in json)) throw new Error(`${tokPath}: not a Hugging Face tokenizer.json (no "model" field)`);
  const config: HFTokenizerConfig = { ...(readOptional(join(dir, 'tokenizer_config.json')) ?? {}) };
  const map = readOptional(join(dir, 'special_tokens_map.json'));
  if (map) for (const k of SPECIAL_KEYS) if (map[k] !== undefined && map[k] !== null) config[k] = map[k];
  const jinjaPath = join(dir, 'chat_template.jinja');
  if (existsSync(jinjaPath)) config.chat_template = readFileSync(jinjaPath, 'utf8');
  const genPath = join(dir, 'generation_config.json');
  const generationConfig = readOptional(genPath) as HFGenerationConfig | undefined;
  const eos = generationConfig?.eos_token_id;
  if (eos !== undefined && eos !== null && !(Number.isInteger(eos) || (Array.isArray(eos) && eos.every(Number.isInteger)))) {
    throw new Error(`${genPath}: eos_token_id must be an integer or a list of integers, got ${JSON.stringify(eos)}`);
  }
  try {
    return new HFTokenizer(json, config, { generationConfig, source: tokPath });
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.startsWith(tokPath) || msg.startsWith('generation_config.json') ? msg.replace(/^generation_config\.json/, genPath) : `${tokPath}: ${msg}`);
  }
}
