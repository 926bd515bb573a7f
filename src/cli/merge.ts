// `igrpo merge`: fold a LoRA adapter into its base model and write one Hugging Face folder (what
// PEFT's merge_and_unload() + save_pretrained() give): transformers, vLLM and SGLang load it with no
// adapter support. The input is a LoRA training checkpoint (HF base + adapter/) or a base model with
// --adapter DIR (a PEFT folder, ours or PEFT's).
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { selectBackend } from '../backend/select.js';
import { LlamaModel } from '../model/llama.js';
import { loadPolicy } from '../model/load.js';

const HELP = `usage: igrpo merge MODEL --out DIR [options]

  MODEL                  a LoRA checkpoint folder (base + adapter/), or a base model folder / ORG/NAME with --adapter
  --adapter DIR          a PEFT adapter folder (adapter_config.json + adapter_model.safetensors)
  --out DIR              where the merged model goes (must not exist)
  --dtype f32|bf16       weights' dtype on disk (default f32)
  --backend B            (default $IGRPO_BACKEND or cpu)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { adapter: { type: 'string' }, out: { type: 'string' }, dtype: { type: 'string' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new Error(`expected one MODEL, got ${positionals.length} (igrpo merge --help)`);
  if (!values.out) throw new Error('--out DIR is required');
  if (fs.existsSync(values.out)) throw new Error(`--out ${values.out} exists already; choose a new folder`);
  const dtype = (values.dtype ?? 'f32').toUpperCase();
  if (dtype !== 'F32' && dtype !== 'BF16') throw new Error(`--dtype must be f32 or bf16, got '${values.dtype}'`);
  await selectBackend(values.backend ?? process.env.IGRPO_BACKEND ?? 'cpu');
  const policy = loadPolicy(positionals[0], { adapter: values.adapter });
  try {
    if (!(policy instanceof LlamaModel)) throw new Error(`${positionals[0]}: a GPT checkpoint has no adapter to merge`);
    if (!policy.adapters) throw new Error(`${positionals[0]}: no adapter to merge (no adapter/ folder in it; give --adapter DIR)`);
    const modules = policy.adapters.modules().length;
    policy.mergeAdapters();
    await policy.save(values.out, { dtype });
    console.error(`merged ${modules} LoRA modules into ${values.out} (${dtype})`);
  } finally {
    policy.dispose();
  }
  return 0;
}
