// The serve batcher with a stand-in sampling call: a burst is one call however it trickles in (quiet
// window), a steady stream is cut at the max wait, calls never mix sampling parameters or exceed maxRows,
// each request gets its own rows back, and a failing call fails only its own requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Policy } from '../src/model/policy.js';
import { parseSampleOptions, type Completion } from '../src/sampling/options.js';
import type { GenerationRow } from '../src/sampling/generate.js';
import { Batcher } from '../src/serve/batcher.js';

const policy = {} as Policy;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stub(failOn?: number) {
  const calls: { rows: number; temperature: number }[] = [];
  const run = async (_p: Policy, rows: GenerationRow[], opts: ReturnType<typeof parseSampleOptions>): Promise<Completion[]> => {
    calls.push({ rows: rows.length, temperature: opts.temperature });
    await sleep(20);
    if (rows.some((r) => r.seed === failOn)) throw new Error('boom');
    return rows.map((r) => ({ ids: [r.seed], logprobs: [0], text: String(r.seed), finishReason: 'length' }));
  };
  return { calls, run };
}

const job = (seeds: number[], temperature = 1) => ({ policy, model: 'm', opts: parseSampleOptions({ temperature }), rows: seeds.map((seed) => ({ prompt: [1], seed })) });

test('a burst trickling in (a request every 3 ms, window 10 ms) is one call; each request gets its rows', async () => {
  const s = stub();
  const b = new Batcher(10, 512, 1_000, s.run);
  const ps: Promise<Completion[]>[] = [];
  for (let i = 0; i < 8; i++) {
    ps.push(b.submit(job([i * 10, i * 10 + 1])));
    await sleep(3);
  }
  const out = await Promise.all(ps);
  assert.equal(s.calls.length, 1);
  out.forEach((cs, i) => assert.deepEqual(cs.map((c) => c.ids[0]), [i * 10, i * 10 + 1]));
  assert.deepEqual(b.stats, { calls: 1, rows: 16, maxRows: 16, maxJobs: 8 });
});

test('a steady stream is cut at maxWaitMs; maxRows bounds a call; temperatures never share a call', async () => {
  const s = stub();
  const b = new Batcher(10, 6, 30, s.run);
  const ps: Promise<Completion[]>[] = [];
  for (let i = 0; i < 5; i++) {
    ps.push(b.submit(job([i], i % 2 === 0 ? 1 : 0.5)));
    await sleep(2);
  }
  ps.push(b.submit(job([100, 101, 102, 103, 104, 105, 106])));
  await Promise.all(ps);
  assert.ok(s.calls.every((c) => c.rows <= 7), JSON.stringify(s.calls));
  assert.ok(s.calls.some((c) => c.temperature === 0.5) && s.calls.some((c) => c.temperature === 1));
  assert.equal(s.calls.reduce((a, c) => a + c.rows, 0), 12);
  // the 7-row request is larger than maxRows: it runs alone rather than never
  assert.ok(s.calls.some((c) => c.rows === 7));

  const t = stub();
  const slow = new Batcher(1_000, 512, 30, t.run); // a 1 s quiet window: only the deadline closes batches
  const stream: Promise<Completion[]>[] = [];
  const t0 = Date.now();
  let firstDone = 0;
  for (let i = 0; i < 12; i++) {
    const p = slow.submit(job([i]));
    if (i === 0) void p.then(() => (firstDone = Date.now() - t0));
    stream.push(p);
    await sleep(5);
  }
  await Promise.all(stream);
  assert.ok(t.calls.length >= 2, `${t.calls.length} calls`);
  assert.ok(firstDone > 0 && firstDone < 500, `first answer after ${firstDone} ms (deadline 30 ms + a 20 ms call)`);
});

test('a failing call rejects its own requests only', async () => {
  const s = stub(7);
  const b = new Batcher(5, 512, 50, s.run);
  const bad = b.submit(job([7]));
  const other = b.submit(job([8], 0.5));
  await assert.rejects(bad, /boom/);
  assert.deepEqual((await other).map((c) => c.ids[0]), [8]);
  b.close();
});
