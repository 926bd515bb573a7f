// A model folder's tokenizer as transformers' AutoTokenizer.from_pretrained reads it: tokenizer.json
// (required), tokenizer_config.json, special_tokens_map.json (its tokens override the config's, as in
// transformers), chat_template.jinja (overrides the config's chat_template, as in transformers ≥ 4.43),
// generation_config.json (the ids generation stops on) and, when neither names an eos, config.json's
// eos_token_id (transformers' GenerationConfig.from_model_config). Nothing in the folder is executed.
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
  const filesRead = ['tokenizer.json'];
  const optional = (name: string) => {
    const content = readOptional(join(dir, name));
    if (content) filesRead.push(name);
    return content;
  };
  const config: HFTokenizerConfig = { ...(optional('tokenizer_config.json') ?? {}) };
  const map = optional('special_tokens_map.json');
  if (map) for (const k of SPECIAL_KEYS) if (map[k] !== undefined && map[k] !== null) config[k] = map[k];
  const jinjaPath = join(dir, 'chat_template.jinja');
  if (existsSync(jinjaPath)) config.chat_template = readFileSync(jinjaPath, 'utf8');
  const genPath = join(dir, 'generation_config.json');
  const generationConfig = optional('generation_config.json') as HFGenerationConfig | undefined;
  checkEosField(generationConfig?.eos_token_id, genPath);
  // config.json only when generation_config.json names no eos: the model's own stop ids (from_model_config)
  const cfgPath = join(dir, 'config.json');
  let modelConfig: { eos_token_id?: number | number[] | null } | undefined;
  if (!hasIds(generationConfig?.eos_token_id)) {
    const raw = optional('config.json');
    if (raw) {
      checkEosField(raw.eos_token_id, cfgPath);
      modelConfig = { eos_token_id: raw.eos_token_id as number | number[] | null | undefined };
    }
  }
  try {
    return new HFTokenizer(json, config, { generationConfig, modelConfig, filesRead, source: tokPath });
  } catch (e) {
    const msg = (e as Error).message;
    if (msg.startsWith(tokPath)) throw e;
    if (msg.startsWith('generation_config.json')) throw new Error(msg.replace(/^generation_config\.json/, genPath));
    if (msg.startsWith('config.json')) throw new Error(msg.replace(/^config\.json/, cfgPath));
    throw new Error(`${tokPath}: ${msg}`);
  }
}

const hasIds = (v: unknown): boolean => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);

function checkEosField(eos: unknown, file: string): void {
  if (eos !== undefined && eos !== null && !(Number.isInteger(eos) || (Array.isArray(eos) && eos.every(Number.isInteger)))) {
    throw new Error(`${file}: eos_token_id must be an integer or a list of integers, got ${JSON.stringify(eos)}`);
  }
}
