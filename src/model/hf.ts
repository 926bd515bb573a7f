// Loading a Hugging Face model folder (config.json + model.safetensors or its shards) as a LlamaModel.
// Only data files are read — config JSON and safetensors — so nothing from the folder is ever executed
// (no pickled .bin, no trust_remote_code). Every tensor's name and shape is checked against config.json
// before any weight is read; then weights stream in one tensor at a time.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadHFTokenizer } from '../tokenizer/load-hf.js';
import { IdsOnlyTokenizer } from '../tokenizer/ids.js';
import type { Tokenizer } from '../tokenizer/types.js';
import { type LlamaConfig, parseHFConfig } from './hf-config.js';
import { LlamaModel, type LlamaOptions, llamaParamSpecs } from './llama.js';
import { type TensorEntry, openCheckpointTensors, readTensor } from './safetensors-file.js';

export interface LoadPretrainedOptions extends LlamaOptions {
  /** The tokenizer to use; default: tokenizer.json (+ tokenizer_config.json) of the folder, else ids only. */
  tokenizer?: Tokenizer;
  /** A PEFT adapter folder to load on top (LoRA on). */
  adapter?: string;
}

function readJSON(file: string): unknown {
  if (!fs.existsSync(file)) throw new Error(`${file} is missing`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** config.json of a model folder, normalised. */
export function readHFConfig(dir: string): LlamaConfig {
  const file = path.join(dir, 'config.json');
  return parseHFConfig(readJSON(file), file);
}

/** Buffers transformers keeps in some checkpoints that carry no learned weight. */
const IGNORED = /(^|\.)rotary_emb\.inv_freq$/;

/**
 * The checkpoint's tensors, checked against the config: every expected tensor present with its shape,
 * nothing unexpected (a tied model's stray lm_head.weight and rotary inv_freq buffers are ignored).
 */
export function checkCheckpointTensors(dir: string, config: LlamaConfig): Map<string, TensorEntry> {
  const entries = openCheckpointTensors(dir);
  const configFile = path.join(dir, 'config.json');
  const specs = llamaParamSpecs(config);
  const expected = new Set(specs.map((s) => s.name));
  for (const s of specs) {
    const e = entries.get(s.name);
    if (!e) throw new Error(`${dir}: tensor '${s.name}' is missing from the checkpoint (${configFile} needs it)`);
    if (e.shape.length !== s.shape.length || e.shape.some((n, i) => n !== s.shape[i])) {
      throw new Error(`${e.file}: tensor '${s.name}' has shape [${e.shape}] but ${configFile} needs [${s.shape}]`);
    }
  }
  for (const [name, e] of entries) {
    if (expected.has(name) || IGNORED.test(name) || (config.tieEmbeddings && name === 'lm_head.weight')) continue;
    throw new Error(`${e.file}: unexpected tensor '${name}' (not part of a ${config.architecture} with this ${configFile})`);
  }
  return entries;
}

/** The tokenizer of a model folder: tokenizer.json through @huggingface/tokenizers, else ids only. */
export function loadFolderTokenizer(dir: string, config: LlamaConfig): Tokenizer {
  // transformers' semantics (special_tokens_map, chat_template.jinja, generation_config eos ids) live in one loader
  if (fs.existsSync(path.join(dir, 'tokenizer.json'))) return loadHFTokenizer(dir);
  const eos = config.eosIds[0] ?? 2;
  return new IdsOnlyTokenizer(config.vocabSize, eos, eos, config.bosId);
}

/** A Llama/Qwen2/Qwen3/SmolLM2 model folder as a Policy (weights in fp32, streamed tensor by tensor). */
export function loadPretrained(dir: string, opts: LoadPretrainedOptions = {}): LlamaModel {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`model folder ${dir} does not exist`);
  const config = readHFConfig(dir);
  const entries = checkCheckpointTensors(dir, config);
  const tokenizer = opts.tokenizer ?? loadFolderTokenizer(dir, config);
  if (config.vocabSize < tokenizer.vocabSize) {
    const from = opts.tokenizer ? 'the tokenizer given' : path.join(dir, 'tokenizer.json');
    throw new Error(`${from}: its vocabulary (${tokenizer.vocabSize} ids) does not fit the embedding of ${path.join(dir, 'config.json')} (vocab_size ${config.vocabSize})`);
  }
  const model = new LlamaModel(
    config,
    tokenizer,
    (s) => {
      const t = readTensor(entries.get(s.name)!);
      return tf.tensor(t.data, t.shape, 'float32');
    },
    opts,
  );
  model.sourceDir = dir;
  if (opts.adapter) {
    try {
      model.loadAdapter(opts.adapter);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  return model;
}
