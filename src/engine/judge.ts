// The generative-judge reward (the paper's ablation: an LLM judge scores a completion in [0, 1]). It asks an
// OpenAI-compatible endpoint with a configurable prompt and parses the score robustly; a timeout, an error,
// or an answer without a score in [0, 1] gives a flagged 0: never a crash, never 1. Results are cached by
// (problem, completion).
//
// RewardFunction.score is synchronous (verify/rewards.ts), and a judge needs the network, so scoring is two
// steps: `await judge.prepare(items)` asks the judge about every (problem, completion) not yet cached, many
// in flight at once; `score()` then reads the cache. A completion scored without being prepared gets a
// flagged 0 saying so. `judge.judge(completion, problem)` does both for one.
import { createHash } from 'node:crypto';
import OpenAI, { APIConnectionTimeoutError } from 'openai';
import { z } from 'zod';
import type { Problem } from '../data/schema.js';
import { parseWith } from '../util/validate.js';
import type { RewardFunction, RewardOutput } from '../verify/rewards.js';

export const DEFAULT_JUDGE_PROMPT = `You are grading a solution to a math problem.

Problem:
{problem}

Reference answer: {answer}

Solution to grade:
{completion}

Judge whether the solution's final answer is correct and its reasoning sound. Reply briefly, then end with a line
"Score: X" where X is a number from 0 (wrong) to 1 (fully correct).`;

export const JudgeOptionsSchema = z
  .object({
    /** Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1. */
    url: z.string().url(),
    model: z.string().min(1),
    apiKey: z.string().optional(),
    /** {problem}, {answer} (the gold answer) and {completion} are replaced, in one pass. */
    prompt: z.string().min(1).default(DEFAULT_JUDGE_PROMPT),
    /** chat: /v1/chat/completions with the prompt as the user message; completions: the prompt as is. */
    api: z.enum(['chat', 'completions']).default('chat'),
    name: z.string().min(1).default('judge'),
    temperature: z.number().nonnegative().default(0),
    maxTokens: z.number().int().positive().default(256),
    timeoutMs: z.number().int().positive().default(60_000),
    /** The openai client's own retries (connection errors, 408/409/429/5xx). */
    retries: z.number().int().nonnegative().default(1),
    /** Questions in flight at once. */
    concurrency: z.number().int().positive().default(8),
    seed: z.number().int().nonnegative().default(0),
  })
  .strict();
export type JudgeOptions = z.infer<typeof JudgeOptionsSchema>;

const NUMBER = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)`;

/**
 * The judge's score in [0, 1], or undefined. Reads, in order of trust: a JSON {"score": x}, the LAST
 * "score: x" / "score = x" / <score>x</score> / \boxed{x} (a judge reasons first and concludes last), then a
 * reply that is only a number. "x/y" and "x%" are converted. Anything outside [0, 1] is no score.
 */
export function parseJudgeScore(reply: string): number | undefined {
  const value = (num: string, den?: string, pct?: string): number | undefined => {
    let x = Number(num);
    if (den !== undefined) {
      const d = Number(den);
      if (!(d > 0)) return undefined;
      x /= d;
    } else if (pct) x /= 100;
    return Number.isFinite(x) && x >= 0 && x <= 1 ? x : undefined;
  };
  const json = /\{[^{}]*"score"\s*:\s*([-+]?[\d.]+)[^{}]*\}/i.exec(reply);
  if (json) return value(json[1]);
  const patterns = [
    new RegExp(String.raw`score\**\s*(?:is|[:=])?\s*\**\s*(${NUMBER})\s*(?:(?:/|out of)\s*(${NUMBER})|(%))?`, 'gi'),
    new RegExp(String.raw`<score>\s*(${NUMBER})\s*(?:/\s*(${NUMBER})|(%))?\s*</score>`, 'gi'),
    new RegExp(String.raw`\\boxed\{\s*(${NUMBER})\s*(?:/\s*(${NUMBER})|(%))?\s*\}`, 'gi'),
  ];
  let last: { at: number; m: RegExpExecArray } | undefined;
  for (const re of patterns) for (const m of reply.matchAll(re)) if (!last || m.index! >= last.at) last = { at: m.index!, m: m as RegExpExecArray };
  if (last) return value(last.m[1], last.m[2], last.m[3]);
  const bare = new RegExp(String.raw`^\s*(${NUMBER})\s*(?:/\s*(${NUMBER})|(%))?\s*\.?\s*$`).exec(reply);
  return bare ? value(bare[1], bare[2], bare[3]) : undefined;
}

/** The prompt with {problem}, {answer}, {completion} filled in one pass (a completion's "{answer}" stays literal). */
export function judgePrompt(template: string, problem: Problem, completion: string): string {
  const fields: Record<string, string> = { problem: problem.problem, answer: problem.answer, completion };
  return template.replace(/\{(problem|answer|completion)\}/g, (_, k: string) => fields[k]);
}

export interface JudgeReward extends RewardFunction {
  /** Asks the judge about every item not cached yet (failures are asked again); never rejects. */
  prepare(items: readonly { completion: string; problem: Problem }[]): Promise<void>;
  /** prepare + score for one completion. */
  judge(completion: string, problem: Problem): Promise<RewardOutput>;
  readonly stats: { requests: number; cached: number; failures: number };
}

interface Entry {
  out: RewardOutput;
  failed: boolean;
}

export function makeJudgeReward(options: z.input<typeof JudgeOptionsSchema>): JudgeReward {
  const opts = parseWith(JudgeOptionsSchema, options, 'judge options');
  const client = new OpenAI({ baseURL: opts.url, apiKey: opts.apiKey ?? 'EMPTY', maxRetries: opts.retries, timeout: opts.timeoutMs });
  const cache = new Map<string, Entry>();
  const pending = new Map<string, Promise<void>>();
  const stats = { requests: 0, cached: 0, failures: 0 };
  const key = (problem: Problem, completion: string) =>
    createHash('sha256').update(JSON.stringify([problem.id, problem.problem, problem.answer, completion])).digest('hex');

  async function ask(problem: Problem, completion: string): Promise<Entry> {
    stats.requests++;
    const prompt = judgePrompt(opts.prompt, problem, completion);
    try {
      let reply: string | null | undefined;
      if (opts.api === 'chat') {
        const r = await client.chat.completions.create({ model: opts.model, messages: [{ role: 'user', content: prompt }], temperature: opts.temperature, max_tokens: opts.maxTokens, seed: opts.seed });
        reply = r?.choices?.[0]?.message?.content;
      } else {
        const r = await client.completions.create({ model: opts.model, prompt, temperature: opts.temperature, max_tokens: opts.maxTokens, seed: opts.seed });
        reply = r?.choices?.[0]?.text;
      }
      if (typeof reply !== 'string') return fail(`judge: answer without text`);
      const score = parseJudgeScore(reply);
      if (score === undefined) return { out: { score: 0, flagged: `judge: no score in [0, 1] in its reply ${JSON.stringify(reply.slice(-120))}` }, failed: false };
      return { out: { score, reason: `judge: ${reply.slice(-120)}` }, failed: false };
    } catch (e) {
      const err = e as Error & { status?: number };
      const what = e instanceof APIConnectionTimeoutError ? `timed out after ${opts.timeoutMs} ms` : `${err.status ? `HTTP ${err.status}: ` : ''}${err.message}`;
      return fail(`judge ${opts.url} (${opts.model}): ${what}`);
    }
  }
  const fail = (flagged: string): Entry => {
    stats.failures++;
    return { out: { score: 0, flagged }, failed: true };
  };

  // at most opts.concurrency questions in flight
  let active = 0;
  const queue: (() => void)[] = [];
  async function limited<T>(fn: () => Promise<T>): Promise<T> {
    while (active >= opts.concurrency) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  }

  function ensure(problem: Problem, completion: string): Promise<void> {
    const k = key(problem, completion);
    const hit = cache.get(k);
    if (hit && !hit.failed) {
      stats.cached++;
      return Promise.resolve();
    }
    const inFlight = pending.get(k);
    if (inFlight) return inFlight;
    const p = limited(() => ask(problem, completion))
      .then((entry) => void cache.set(k, entry))
      .catch((e) => void cache.set(k, fail(`judge: ${(e as Error).message}`)))
      .finally(() => pending.delete(k));
    pending.set(k, p);
    return p;
  }

  const score = (completion: string, problem: Problem): RewardOutput =>
    cache.get(key(problem, completion))?.out ?? { score: 0, flagged: 'judge: not consulted for this completion (await prepare() before scoring)' };
  return {
    name: opts.name,
    stats,
    score,
    async prepare(items) {
      await Promise.all(items.map((it) => ensure(it.problem, it.completion)));
    },
    async judge(completion, problem) {
      await ensure(problem, completion);
      return score(completion, problem);
    },
  };
}
