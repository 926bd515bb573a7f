// Runtime LoRA adapters (vLLM's /v1/load_lora_adapter and /v1/unload_lora_adapter): a registry of
// names → directories. Loading is off unless enabled, and then only from the allowed directories: the
// path is resolved with realpath (symlinks and `..` both) and must lie inside one of them, and so must
// every file read from it (a symlinked adapter_model.safetensors pointing elsewhere is refused too).
// Applying an adapter to the policy is the `LoraHook`'s job: for the Llama family, llamaLoraHook gives
// each adapter a view sharing the base weights; without a hook (the character GPT) a registered adapter
// is named in /v1/models but sampling under it answers 501.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { LlamaModel } from '../model/llama.js';
import type { Policy } from '../model/policy.js';
import { formatIssues } from '../util/validate.js';
import { HttpError, badRequest } from './errors.js';

/** What PEFT writes in adapter_config.json (the fields this checks; others pass). */
export const AdapterConfigSchema = z
  .object({
    peft_type: z.literal('LORA'),
    r: z.number().int().positive(),
    lora_alpha: z.number().positive(),
    target_modules: z.union([z.array(z.string()).min(1), z.string().min(1)]),
  })
  .passthrough();
export type AdapterConfig = z.infer<typeof AdapterConfigSchema>;

export const ADAPTER_WEIGHTS = ['adapter_model.safetensors', 'adapter_model.bin'];

export interface LoraAdapter {
  name: string;
  /** The resolved directory. */
  dir: string;
  config: AdapterConfig;
  /** The policy with the adapter applied, when the hook could build one. */
  policy?: Policy;
}

/** Applies and releases adapters; the default one only registers them. */
export interface LoraHook {
  load(adapter: Omit<LoraAdapter, 'policy'>): Promise<Policy | undefined>;
  unload?(adapter: LoraAdapter): Promise<void> | void;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export class LoraRegistry {
  private readonly adapters = new Map<string, LoraAdapter>();
  private readonly roots: string[];

  constructor(readonly enabled: boolean, dirs: readonly string[], private readonly baseModel: string, private readonly hook: LoraHook = { load: async () => undefined }) {
    this.roots = dirs.map((d) => {
      try {
        const real = fs.realpathSync(d);
        if (!fs.statSync(real).isDirectory()) throw new Error('not a directory');
        return real;
      } catch (e) {
        throw new Error(`--lora-dir ${d}: ${(e as Error).message}`);
      }
    });
  }

  get(name: string): LoraAdapter | undefined {
    return this.adapters.get(name);
  }

  list(): LoraAdapter[] {
    return [...this.adapters.values()];
  }

  /** The real path of p if it lies inside an allowed root, else a 400 (never says which roots exist). */
  private confined(p: string, what: string): string {
    let real: string;
    try {
      real = fs.realpathSync(p);
    } catch {
      throw badRequest(`${what} ${JSON.stringify(p)} does not exist`, 'lora_path');
    }
    const inside = this.roots.some((root) => {
      const rel = path.relative(root, real);
      return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
    });
    if (!inside) throw badRequest(`${what} ${JSON.stringify(p)} is outside the directories adapters may be loaded from (--lora-dir)`, 'lora_path');
    return real;
  }

  /** Registers an adapter; a name already loaded is a 400 (vLLM's words) unless `inplace`, which replaces it. */
  async load(name: string, lora_path: string, inplace = false): Promise<LoraAdapter> {
    if (!this.enabled) throw new HttpError(404, 'runtime LoRA updates are off; start igrpo serve with --enable-lora-updates --lora-dir DIR');
    if (!NAME.test(name)) throw badRequest(`lora_name ${JSON.stringify(name)} must be 1-128 characters of letters, digits, '.', '_', ':', '-'`, 'lora_name');
    if (name === this.baseModel) throw badRequest(`lora_name ${JSON.stringify(name)} is the base model's name`, 'lora_name');
    if (this.adapters.has(name) && !inplace) throw badRequest(`The lora adapter '${name}' has already been loaded. If you want to load the adapter in place, set 'load_inplace' to True.`, 'lora_name');
    if (lora_path.includes('\0')) throw badRequest('lora_path contains a NUL byte', 'lora_path');
    const dir = this.confined(path.resolve(lora_path), 'lora_path');
    if (!fs.statSync(dir).isDirectory()) throw badRequest(`lora_path ${JSON.stringify(lora_path)} is not a directory`, 'lora_path');
    const configFile = this.confined(path.join(dir, 'adapter_config.json'), 'adapter_config.json in lora_path');
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    } catch (e) {
      throw badRequest(`${path.join(lora_path, 'adapter_config.json')}: not valid JSON (${(e as Error).message})`, 'lora_path');
    }
    const parsed = AdapterConfigSchema.safeParse(raw);
    if (!parsed.success) throw badRequest(`${path.join(lora_path, 'adapter_config.json')}: ${formatIssues(parsed.error)}`, 'lora_path');
    const weights = ADAPTER_WEIGHTS.find((f) => fs.existsSync(path.join(dir, f)));
    if (!weights) throw badRequest(`lora_path ${JSON.stringify(lora_path)} has no ${ADAPTER_WEIGHTS.join(' or ')}`, 'lora_path');
    this.confined(path.join(dir, weights), `${weights} in lora_path`);
    const adapter: LoraAdapter = { name, dir, config: parsed.data };
    adapter.policy = await this.hook.load(adapter);
    const old = this.adapters.get(name);
    this.adapters.set(name, adapter);
    if (old) await this.hook.unload?.(old); // replaced in place: the new view is in, the old one freed
    return adapter;
  }

  async unload(name: string): Promise<void> {
    if (!this.enabled) throw new HttpError(404, 'runtime LoRA updates are off; start igrpo serve with --enable-lora-updates --lora-dir DIR');
    const a = this.adapters.get(name);
    if (!a) throw new HttpError(404, `The lora adapter '${name}' cannot be found.`, 'lora_name');
    this.adapters.delete(name);
    await this.hook.unload?.(a);
  }
}

/**
 * Adapters for a Llama-family policy: each loaded adapter is a view over the served model's base
 * weights (LlamaModel.adapterView; only its A/B matrices are new memory), freed on unload. An adapter
 * that does not fit the model (shapes, modules) is a 400 naming the file. Other policies: no hook.
 */
export function llamaLoraHook(policy: Policy): LoraHook | undefined {
  if (!(policy instanceof LlamaModel)) return undefined;
  return {
    load: async (a) => {
      try {
        return policy.adapterView(a.dir);
      } catch (e) {
        throw badRequest((e as Error).message, 'lora_path');
      }
    },
    unload: (a) => a.policy?.dispose(),
  };
}
