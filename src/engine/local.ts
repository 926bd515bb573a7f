// A local SampleFn with the remote sampler's seeding: prompt i of a request is sampled with its own seed
// mixSeed(seed, i) (the seed its HTTP request would carry), completion j from rowSeed(that, 0, j) — what
// `igrpo serve` does. So a policy sampled here, or served by `igrpo serve` and sampled remotely, gives
// the same completions, and a prompt's completions never depend on which other prompts share the call.
import type { Policy } from '../model/policy.js';
import { generate, rowSeed, type GenerationRow } from '../sampling/generate.js';
import { parseSampleOptions, type SampleOptionsInput } from '../sampling/options.js';
import { mixSeed } from '../util/rng.js';
import type { SampleFn } from './types.js';

export type LocalSamplerOptions = Omit<SampleOptionsInput, 'n' | 'maxNewTokens' | 'seed'>;

/** The seed prompt i of a request with `seed` is sampled with (remote: its HTTP request's seed). */
export const promptSeed = (seed: number, i: number): number => mixSeed(seed, i) & 0x7fffffff;

export function makeLocalSampler(policy: Policy, options: LocalSamplerOptions = {}): SampleFn {
  return async (req) => {
    const opts = parseSampleOptions({ ...options, n: req.n, maxNewTokens: req.maxNewTokens, seed: req.seed });
    const rows: GenerationRow[] = req.prompts.flatMap((p, i) => {
      if (p.ids.length === 0) throw new Error(`local sampler: prompt ${i} has no token ids`);
      const s = promptSeed(req.seed, i);
      return Array.from({ length: req.n }, (_, j) => ({ prompt: p.ids, seed: rowSeed(s, 0, j) }));
    });
    const flat = await generate(policy, rows, opts);
    return req.prompts.map((_, i) => flat.slice(i * req.n, (i + 1) * req.n));
  };
}
