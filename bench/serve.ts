// `igrpo serve` benchmark, one run, side by side on the same backend:
//  1. batching: 32 clients at once against the same 32 requests one at a time (throughput ratio);
//  2. the remote path (remote sampler → HTTP → igrpo serve → grouped sampler) against local grouped
//     sampling of the same prompts in this process (tokens/s ratio; both give the same completions).
// The server is a separate process (`igrpo serve --port 0`); the two processes share the machine's cores,
// but only one of them samples at a time. The last line is JSON with batching_ratio and remote_ratio.
//   npm run bench:serve            (IGRPO_BACKEND picks the backend; auto by default)
//   npm run bench:serve -- --clients 32 --n 4 --new 32 --reps 2
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import { describeBackend, selectBackend } from '../src/backend/select.js';
import { makeLocalSampler } from '../src/engine/local.js';
import { makeRemoteSampler } from '../src/engine/remote.js';
import type { Completion, PromptIn } from '../src/engine/types.js';
import { loadPolicy } from '../src/model/load.js';
import { dataPath } from '../src/paths.js';
import { evalProblems, promptOf, TaskConfig } from '../src/train/task.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '32' },
    n: { type: 'string', default: '4' },
    new: { type: 'string', default: '32' },
    reps: { type: 'string', default: '2' },
    'batch-window-ms': { type: 'string', default: '5' },
  },
});
const [C, N, NEW, reps] = [values.clients, values.n, values.new, values.reps].map(Number);

const backend = await selectBackend();
console.error(describeBackend(backend));
const policy = loadPolicy(dataPath('policy'));
const problems = evalProblems(TaskConfig.parse({ evalSize: C }));
const prompts: PromptIn[] = problems.map((p) => ({ text: promptOf(p), ids: policy.tokenizer.encode(promptOf(p)) }));

const server = spawn(process.execPath, ['bin/igrpo.js', 'serve', '--checkpoint', 'embedded', '--served-model-name', 'tiny', '--port', '0', '--backend', backend.name, '--batch-window-ms', String(values['batch-window-ms'])], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise<string>((resolve, reject) => {
  let out = '';
  const t = setTimeout(() => reject(new Error('igrpo serve did not start in 120 s')), 120_000);
  server.stdout!.on('data', (d) => {
    out += d;
    const m = /listening on (\S+)/.exec(out);
    if (m) {
      clearTimeout(t);
      resolve(m[1]);
    }
  });
  server.on('exit', (code) => reject(new Error(`igrpo serve exited with ${code}`)));
});

const tokens = (groups: Completion[][]) => groups.flat().reduce((a, c) => a + c.ids.length, 0);
async function best<T>(fn: (rep: number) => Promise<T>): Promise<{ ms: number; result: T }> {
  let ms = Infinity;
  let result!: T;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    result = await fn(r);
    ms = Math.min(ms, performance.now() - t0);
  }
  return { ms, result };
}

try {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 600_000 });
  const ask = (i: number) => client.completions.create({ model: 'tiny', prompt: prompts[i].ids, n: N, max_tokens: NEW, seed: i, temperature: 1 });
  await Promise.all(prompts.map((_, i) => ask(i))); // warm-up: the server's kernels and this client's sockets
  const sequential = await best(async () => {
    for (let i = 0; i < C; i++) await ask(i);
  });
  const concurrent = await best(() => Promise.all(prompts.map((_, i) => ask(i))));
  const batching = sequential.ms / concurrent.ms;
  console.error(`batching: ${C} requests (1 prompt × n=${N}, ≤${NEW} tokens) one at a time ${sequential.ms.toFixed(0)} ms, ${C} clients at once ${concurrent.ms.toFixed(0)} ms → ${batching.toFixed(2)}×`);

  const req = { prompts, n: N, maxNewTokens: NEW, seed: 5 };
  const remoteFn = makeRemoteSampler({ urls: [`${url}/v1`], model: 'tiny', maxConcurrency: 64 });
  const localFn = makeLocalSampler(policy, {});
  await localFn(req); // warm-up
  const remote = await best(() => remoteFn(req));
  const local = await best(() => localFn(req));
  const same = JSON.stringify(remote.result.map((g) => g.map((c) => c.ids))) === JSON.stringify(local.result.map((g) => g.map((c) => c.ids)));
  const remoteTps = (tokens(remote.result) * 1000) / remote.ms;
  const localTps = (tokens(local.result) * 1000) / local.ms;
  const remoteRatio = remoteTps / localTps;
  console.error(`remote sampler via igrpo serve: ${remoteTps.toFixed(0)} tokens/s; local grouped sampling: ${localTps.toFixed(0)} tokens/s → ${remoteRatio.toFixed(2)}× (same completions: ${same})`);
  console.log(JSON.stringify({
    backend: backend.name, clients: C, n: N, max_new_tokens: NEW,
    sequential_ms: Math.round(sequential.ms), concurrent_ms: Math.round(concurrent.ms), batching_ratio: +batching.toFixed(3),
    remote_tokens_per_s: Math.round(remoteTps), local_tokens_per_s: Math.round(localTps), remote_ratio: +remoteRatio.toFixed(3), same_completions: same,
  }));
} finally {
  server.kill('SIGTERM');
  policy.dispose();
}
