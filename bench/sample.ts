// Grouped sampling benchmark: iGRPO stage-2 shaped work (P long prompts × G completions), with each
// prompt's cache shared by its G rows (the default) against every row prefilled and attended on its
// own (sharePrefix: false), both measured in this run on the same backend. Prints one JSON line.
//   npm run bench:sample            (IGRPO_BACKEND picks the backend; auto by default)
//   npm run bench:sample -- --prompts 8 --group 8 --prompt-len 200 --new 32
import { parseArgs } from 'node:util';
import { describeBackend, selectBackend } from '../src/backend/select.js';
import { GPT } from '../src/model/gpt.js';
import { sample } from '../src/sampling/index.js';
import { CharTokenizer, REASONING_SPECIALS } from '../src/tokenizer/char.js';
import { Rng } from '../src/util/rng.js';

const { values } = parseArgs({
  options: {
    prompts: { type: 'string', default: '8' },
    group: { type: 'string', default: '8' },
    'prompt-len': { type: 'string', default: '200' },
    new: { type: 'string', default: '32' },
    reps: { type: 'string', default: '2' },
  },
});
const [P, G, L, N, reps] = [values.prompts, values.group, values['prompt-len'], values.new, values.reps].map(Number);

const backend = await selectBackend();
console.error(describeBackend(backend));
const tokenizer = new CharTokenizer({ alphabet: '0123456789+-*=() ', specials: [...REASONING_SPECIALS] });
const model = new GPT({ vocabSize: tokenizer.vocabSize, dModel: 128, nLayers: 4, nHeads: 4, maxSeqLen: L + 16 * P + N }, tokenizer);
const rng = new Rng(1);
// stage-2 prompts differ in length across groups: L, L+16, …
const prompts = Array.from({ length: P }, (_, i) => Array.from({ length: L + 16 * i }, () => 3 + rng.int(tokenizer.vocabSize - 3)));

async function timed(sharePrefix: boolean): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await sample(model, prompts, { n: G, maxNewTokens: N, seed: r, stopOnEos: false, sharePrefix });
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

await sample(model, prompts.slice(0, 1), { n: 2, maxNewTokens: 2 }); // warm-up
const shared = await timed(true);
const unshared = await timed(false);
const tokens = P * G * N;
console.log(
  JSON.stringify({
    bench: 'sample',
    backend: backend.name,
    prompts: P,
    group: G,
    promptLen: L,
    newTokens: N,
    sharedMs: Math.round(shared),
    unsharedMs: Math.round(unshared),
    sharedTokensPerSecond: Math.round((tokens / shared) * 1000),
    speedup: Number((unshared / shared).toFixed(2)),
  }),
);
model.dispose();
