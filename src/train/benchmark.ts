// `igrpo eval` on benchmark files: n samples per problem from any SampleFn (a local policy, or an engine
// through the remote sampler), scored with the training verifier (verify/rewards.ts), written one problem
// per JSONL line, summarised as mean accuracy and pass@k with 95% CIs.
//
// Resumable: problems are cut into fixed chunks (chunk c = problems [c·C, (c+1)·C)) sampled with seed
// mixSeed(seed, c); a chunk whose problems are all in the file is skipped, and a chunk with some missing
// is sampled again whole (same seed, same completions) and only the missing lines appended, so an
// interrupted run resumed gives the file an uninterrupted run would. A last line cut off mid-write is
// dropped. Lines written under other settings are refused (their fingerprint differs).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { Problem } from '../data/schema.js';
import type { PromptIn, SampleFn } from '../sampling/request.js';
import { mixSeed } from '../util/rng.js';
import { makeScorer } from '../verify/rewards.js';
import { passAtK, rateCI, type RateCI } from './passk.js';

export interface BenchmarkOptions {
  /** Samples per problem. */
  n: number;
  /** pass@k for each k ≤ n. */
  ks: number[];
  maxNewTokens: number;
  seed: number;
  /** Problems per sampling call. */
  chunk: number;
  /** The per-problem JSONL (appended to; resumed from). */
  out: string;
  /** problem → prompt (ids may be empty when the engine is to tokenize the text). */
  prompt: (p: Problem) => PromptIn;
  /** What identifies the settings (model, sampling parameters, template, file): mixed into each line. */
  settings: Record<string, unknown>;
  onProgress?: (done: number, total: number) => void;
}

export interface ProblemRecord {
  id: string;
  fingerprint: string;
  /** The prompt as sent (chat template included), absent when it could not be built. */
  prompt?: string;
  answer: string;
  n: number;
  correct: number;
  completions: { text: string; answer: string | null; correct: boolean; finishReason: string; tokens: number; flagged?: string }[];
  /** Set when the problem could not be sampled (e.g. its prompt does not fit the model). */
  error?: string;
}

export interface BenchmarkSummary {
  problems: number;
  samples: number;
  accuracy: RateCI;
  passAt: Record<string, RateCI>;
  errors: number;
  flagged: number;
  /** Problems taken from an earlier run's lines. */
  resumed: number;
}

export function fingerprint(settings: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 16);
}

/** Lines already in `file`; a last line cut off mid-write (no newline, not JSON) is removed from the file. */
export function readRecords(file: string, fp: string): Map<string, ProblemRecord> {
  const done = new Map<string, ProblemRecord>();
  if (!fs.existsSync(file)) return done;
  let text = fs.readFileSync(file, 'utf8');
  const cut = text.lastIndexOf('\n') + 1;
  const tail = text.slice(cut);
  if (tail.trim() !== '') {
    let complete = true;
    try {
      JSON.parse(tail);
    } catch {
      complete = false;
    }
    if (complete) fs.appendFileSync(file, '\n');
    else fs.truncateSync(file, Buffer.byteLength(text.slice(0, cut)));
    if (!complete) text = text.slice(0, cut);
  }
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let rec: ProblemRecord;
    try {
      rec = JSON.parse(line);
    } catch {
      throw new Error(`${file}: line ${i + 1} is not JSON (only a last line cut off mid-write is tolerated)`);
    }
    if (rec.fingerprint !== fp) throw new Error(`${file}: line ${i + 1} was written with other settings (fingerprint ${rec.fingerprint}, now ${fp}); use another --out or remove the file`);
    done.set(rec.id, rec);
  });
  return done;
}

export async function runBenchmark(problems: readonly Problem[], sampleFn: SampleFn, opts: BenchmarkOptions): Promise<{ summary: BenchmarkSummary; records: ProblemRecord[] }> {
  const ids = new Set<string>();
  for (const p of problems) {
    if (ids.has(p.id)) throw new Error(`problem id '${p.id}' appears twice; ids must be unique to resume`);
    ids.add(p.id);
  }
  const bad = opts.ks.find((k) => !Number.isInteger(k) || k < 1 || k > opts.n);
  if (bad !== undefined) throw new Error(`pass@${bad}: k must be an integer in 1..n (n = ${opts.n} samples per problem)`);
  const fp = fingerprint({ ...opts.settings, n: opts.n, maxNewTokens: opts.maxNewTokens, seed: opts.seed, chunk: opts.chunk });
  const done = readRecords(opts.out, fp);
  const resumed = problems.filter((p) => done.has(p.id)).length;
  const score = makeScorer();
  opts.onProgress?.(resumed, problems.length);
  for (let c = 0; c * opts.chunk < problems.length; c++) {
    const part = problems.slice(c * opts.chunk, (c + 1) * opts.chunk);
    const missing = part.filter((p) => !done.has(p.id));
    if (missing.length === 0) continue;
    // prompts that cannot be built (a character the tokenizer lacks) are recorded as errors, not sampled
    const prompts: (PromptIn | Error)[] = part.map((p) => {
      try {
        return opts.prompt(p);
      } catch (e) {
        return e as Error;
      }
    });
    const ok = part.map((_, i) => i).filter((i) => !(prompts[i] instanceof Error));
    const groups = ok.length > 0 ? await sampleFn({ prompts: ok.map((i) => prompts[i] as PromptIn), n: opts.n, maxNewTokens: opts.maxNewTokens, seed: mixSeed(opts.seed, c) }) : [];
    const lines: string[] = [];
    part.forEach((p, i) => {
      if (done.has(p.id)) return;
      let rec: ProblemRecord;
      const prompt = prompts[i];
      if (prompt instanceof Error) {
        rec = { id: p.id, fingerprint: fp, answer: p.answer, n: opts.n, correct: 0, completions: [], error: prompt.message };
      } else {
        const group = groups[ok.indexOf(i)];
        const completions = group.map((g) => {
          const r = score(g.text, p);
          return { text: g.text, answer: r.answer ?? null, correct: r.correct, finishReason: g.finishReason, tokens: g.ids.length, ...(r.flagged ? { flagged: r.flagged } : {}) };
        });
        rec = { id: p.id, fingerprint: fp, prompt: prompt.text, answer: p.answer, n: opts.n, correct: completions.filter((x) => x.correct).length, completions };
      }
      done.set(p.id, rec);
      lines.push(JSON.stringify(rec));
    });
    fs.appendFileSync(opts.out, lines.map((l) => l + '\n').join(''));
    opts.onProgress?.(problems.filter((p) => done.has(p.id)).length, problems.length);
  }
  const records = problems.map((p) => done.get(p.id)!);
  return { summary: summarize(records, opts.ks, resumed), records };
}

export function summarize(records: readonly ProblemRecord[], ks: readonly number[], resumed = 0): BenchmarkSummary {
  const passAt: Record<string, RateCI> = {};
  for (const k of ks) passAt[String(k)] = rateCI(records.map((r) => passAtK(r.n, r.correct, k)));
  return {
    problems: records.length,
    samples: records.reduce((a, r) => a + r.completions.length, 0),
    accuracy: rateCI(records.map((r) => r.correct / r.n)),
    passAt,
    errors: records.filter((r) => r.error).length,
    flagged: records.filter((r) => r.completions.some((c) => c.flagged)).length,
    resumed,
  };
}

const pct = (x: number) => (100 * x).toFixed(1);

/** A markdown table of the summary. */
export function summaryTable(name: string, s: BenchmarkSummary): string {
  const rows = [['mean accuracy', s.accuracy] as const, ...Object.entries(s.passAt).map(([k, v]) => [`pass@${k}`, v] as const)];
  return [
    `| ${name} | value | 95% CI |`,
    '|---|---:|---|',
    ...rows.map(([label, v]) => `| ${label} | ${pct(v.mean)}% | [${pct(v.lo)}, ${pct(v.hi)}] |`),
    '',
    `${s.problems} problems, ${s.samples} samples${s.errors ? `, ${s.errors} not sampled (see "error" in the JSONL)` : ''}${s.flagged ? `, ${s.flagged} with flagged gold` : ''}${s.resumed ? `, ${s.resumed} taken from an earlier run` : ''}.`,
  ].join('\n');
}
