// Writing a Llama-family model as a Hugging Face folder transformers and vLLM load as they are:
// config.json (the original fields, dtype updated) + model.safetensors (HF names, [out, in], F32 or
// BF16) + the tokenizer and generation files, written atomically as one folder.
import { writeDirAtomic } from '../util/atomic.js';
import type { LlamaConfig } from './hf-config.js';
import type { NamedTensor } from './safetensors.js';
import { WEIGHTS_FILE, encodeSafetensorsAs } from './safetensors-file.js';

/** config.json content for a save in `dtype`: the loaded file's fields, with both dtype spellings set. */
export function hfConfigJSON(config: LlamaConfig, dtype: 'F32' | 'BF16'): Record<string, unknown> {
  const name = dtype === 'F32' ? 'float32' : 'bfloat16';
  const out: Record<string, unknown> = { ...config.raw };
  if (!out.architectures) out.architectures = [config.architecture];
  if (!out.model_type) out.model_type = config.family;
  out.torch_dtype = name;
  if ('dtype' in out) out.dtype = name;
  return out;
}

export async function saveHFCheckpoint(
  dir: string,
  config: LlamaConfig,
  tensors: readonly [string, NamedTensor][],
  dtype: 'F32' | 'BF16',
  extraFiles: Record<string, string | Uint8Array> = {},
): Promise<void> {
  writeDirAtomic(dir, {
    ...extraFiles,
    'config.json': JSON.stringify(hfConfigJSON(config, dtype), null, 2) + '\n',
    [WEIGHTS_FILE]: encodeSafetensorsAs(tensors, dtype),
  });
}
