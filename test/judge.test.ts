// The generative-judge reward against an OpenAI-compatible server with a fake judge (an in-process HTTP
// server on 127.0.0.1 whose reply is scripted by the completion): robust score parsing, the cache, a
// flagged 0 (never 1, never a throw) on timeouts, errors, malformed JSON and unparseable replies, and the
// template filled in one pass.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Problem } from '../src/data/schema.js';
import { judgePrompt, makeJudgeReward, parseJudgeScore } from '../src/engine/judge.js';
import { scoreCompletion } from '../src/verify/rewards.js';

test('parseJudgeScore: JSON, the last "Score: x", tags, boxed, fractions, percents; nothing outside [0, 1]', () => {
  const cases: [string, number | undefined][] = [
    ['Score: 0.8', 0.8],
    ['{"score": 0.25, "why": "close"}', 0.25],
    ['The method is right.\nScore: 7/10', 0.7],
    ['**Score:** 1', 1],
    ['first Score: 0.2, on reflection Score = 0.9', 0.9],
    ['<score>0.5</score>', 0.5],
    ['so \\boxed{0.3}', 0.3],
    ['score is 80%', 0.8],
    ['0.6', 0.6],
    ['  .75 ', 0.75],
    ['Score: 1.5', undefined],
    ['Score: -0.1', undefined],
    ['Score: 3/0', undefined],
    ['The solution is correct.', undefined],
    ['I give it 1 point', undefined],
    ['', undefined],
  ];
  for (const [reply, want] of cases) assert.equal(parseJudgeScore(reply), want, reply);
});

test('judgePrompt fills the template in one pass: a completion cannot pull in the gold answer', () => {
  const p: Problem = { id: 'p', problem: 'What is {completion}?', answer: '42' };
  assert.equal(judgePrompt('Q {problem} A {answer} C {completion}', p, 'I say {answer}'), 'Q What is {completion}? A 42 C I say {answer}');
});

let server: http.Server;
let url = '';
const prompts: string[] = [];
let requests = 0;

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      requests++;
      const b = JSON.parse(body);
      const prompt: string = req.url!.includes('chat') ? b.messages[0].content : b.prompt;
      prompts.push(prompt);
      const m = /Solution to grade:\n([\s\S]*?)\n\nJudge/.exec(prompt) ?? /^([\s\S]*)$/.exec(prompt)!;
      const script = m[1];
      if (script.startsWith('SLOW')) return void setTimeout(() => res.writeHead(200).end('{}'), 3_000);
      if (script.startsWith('E500')) return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"boom","type":"x","code":500}}');
      if (script.startsWith('BADJSON')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices": [');
      if (script.startsWith('EMPTY')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices": []}');
      const reply = script.replace(/^REPLY:/, '');
      const choice = req.url!.includes('chat') ? { index: 0, message: { role: 'assistant', content: reply }, finish_reason: 'stop' } : { index: 0, text: reply, finish_reason: 'stop' };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: b.model, choices: [choice] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
after(() => new Promise<void>((r) => {
  server.closeAllConnections();
  server.close(() => r());
}));

const problem: Problem = { id: 'p1', problem: '2+2?', answer: '4' };

test('judge reward: scores from the judge, cached by (problem, completion); failures are a flagged 0', async () => {
  const judge = makeJudgeReward({ url, model: 'fake-judge', timeoutMs: 500, retries: 0 });
  const items = ['REPLY:fine. Score: 0.9', 'REPLY:{"score": 0.1}', 'REPLY:looks right to me', 'REPLY:Score: 2', 'SLOW', 'E500', 'BADJSON', 'EMPTY'].map((completion) => ({ completion, problem }));
  assert.deepEqual(judge.score(items[0].completion, problem), { score: 0, flagged: 'judge: not consulted for this completion (await prepare() before scoring)' });
  const t0 = Date.now();
  await judge.prepare(items);
  assert.ok(Date.now() - t0 < 2_500, 'the slow judge was cut off by the timeout');
  const outs = items.map((it) => judge.score(it.completion, problem) as { score: number; flagged?: string });
  assert.equal(outs[0].score, 0.9);
  assert.equal(outs[0].flagged, undefined);
  assert.equal(outs[1].score, 0.1);
  for (const o of outs.slice(2)) {
    assert.equal(o.score, 0);
    assert.ok(o.flagged, JSON.stringify(o));
  }
  assert.match(outs[2].flagged!, /no score in \[0, 1\]/);
  assert.match(outs[3].flagged!, /no score in \[0, 1\]/);
  assert.match(outs[4].flagged!, /timed out after 500 ms/);
  assert.match(outs[5].flagged!, /HTTP 500/);
  assert.match(outs[6].flagged!, /judge/);
  assert.match(outs[7].flagged!, /answer without text/);
  assert.ok(prompts.some((p) => p.includes('Reference answer: 4') && p.includes('2+2?')));

  // cached: asking again sends nothing for the successes and unparseable replies; failures are asked again
  const before = requests;
  await judge.prepare(items.slice(0, 4));
  assert.equal(requests, before);
  assert.equal(judge.stats.cached, 4);
  assert.equal((await judge.judge('REPLY:Score: 0.9', { ...problem, id: 'p2' })).score, 0.9);
  assert.equal(requests, before + 1, 'another problem is another key');
  await judge.prepare([items[5]]);
  assert.equal(requests, before + 2);

  // in the reward sum: a flagged judge zero flags the result, never throws, never gives 1
  const r = scoreCompletion('SLOW', problem, [{ fn: judge, weight: 1 }]);
  assert.equal(r.reward, 0);
  assert.ok(r.flagged);
});

test('judge reward over /v1/completions, and a server that is down', async () => {
  const judge = makeJudgeReward({ url, model: 'fake', api: 'completions', prompt: 'REPLY:Score: 0.4 for {completion}', retries: 0 });
  assert.equal((await judge.judge('x', problem)).score, 0.4);
  const dead = makeJudgeReward({ url: 'http://127.0.0.1:9/v1', model: 'm', retries: 0, timeoutMs: 2_000 });
  const out = await dead.judge('anything', problem);
  assert.equal(out.score, 0);
  assert.match(out.flagged!, /judge http:\/\/127\.0\.0\.1:9\/v1 \(m\): /);
});
