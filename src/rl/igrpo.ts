// iGRPO, Algorithm 1 of Hatamizadeh et al. (arXiv 2602.09000), one update for a batch of prompts q:
//
//   Stage 1  d_1..d_N ~ π_θold(·|q); score each; d̂ = argmax_i R(d_i)       (no gradient, ever)
//   Stage 2  q' = template(q, d̂); o_1..o_G ~ π_θold(·|q'); score each
//   Update   GRPO on the G refinements, every ratio (and KL) under q'       (src/rl/update.ts)
//
// Matched budget: with N + G completions per prompt, GRPO with a group of N + G is the baseline.
// The paper's open choices are options below; the defaults are its plain reading.
import { z } from 'zod';
import type { Problem } from '../data/schema.js';
import { Rng, mixSeed } from '../util/rng.js';
import { getTemplate, templateNames } from './templates.js';
import { scoreGroups, type Group, type PromptIn, type SampleFn, type SampleRequest, type Scored, type ScoreFn } from './rollout.js';

export const IgrpoOptions = z
  .object({
    /** Drafts per prompt (stage 1). */
    drafts: z.number().int().positive().default(4),
    /** Refinements per prompt (stage 2): the GRPO group. */
    refinements: z.number().int().min(2).default(4),
    /** Ties in the argmax: the first maximum (a plain argmax), the shortest, or a seeded random one. */
    tieBreak: z.enum(['first', 'shortest', 'random']).default('first'),
    /** No draft correct: condition on the best one anyway (default), or fall back to q' = q. */
    whenNoneCorrect: z.enum(['condition', 'fallback']).default('condition'),
    /** What of d̂ goes into q': its full text, or only its extracted answer. */
    draftContent: z.enum(['full', 'answer']).default('full'),
    /** Cap on draft length (drafts are sampled with this many new tokens); default: the sampling max. */
    maxDraftTokens: z.number().int().positive().optional(),
    /**
     * Named refinement template (src/rl/templates.ts). One default everywhere, 'plain' (q, d̂, newline): the
     * only one the shipped character-level policy's alphabet can encode; 'paper' / 'paper-chat' for
     * word-level and chat models.
     */
    template: z.string().default('plain'),
  })
  .strict();
export type IgrpoOptions = z.infer<typeof IgrpoOptions>;

/** Index of d̂ in a group of scored drafts. */
export function selectBestDraft(drafts: readonly Scored[], tieBreak: IgrpoOptions['tieBreak'], seed: number): number {
  if (drafts.length === 0) throw new Error('selectBestDraft: no drafts');
  // a NaN or ±Infinity reward never wins (all of them: tieBreak picks among all); the same broken reward
  // function breaks the refinements' advantages, which the update refuses
  const reward = (d: Scored) => (Number.isFinite(d.score.reward) ? d.score.reward : -Infinity);
  const best = Math.max(...drafts.map(reward));
  const tied = drafts.map((d, i) => (reward(d) === best ? i : -1)).filter((i) => i >= 0);
  if (tieBreak === 'first' || tied.length === 1) return tied[0];
  if (tieBreak === 'shortest') return tied.reduce((a, i) => (drafts[i].ids.length < drafts[a].ids.length ? i : a));
  return tied[new Rng(seed).int(tied.length)];
}

/** The text shown to stage 2 for a draft: the full completion (stop token dropped by decoding) or its answer. */
export function draftText(d: Scored, content: IgrpoOptions['draftContent']): string {
  return content === 'answer' ? (d.score.answer ?? '') : d.text;
}

/** q' for one prompt, or q itself when the option says to fall back (no draft correct). */
export function refinementPrompt(question: string, drafts: readonly Scored[], chosen: number, opts: IgrpoOptions): string {
  if (opts.whenNoneCorrect === 'fallback' && !drafts.some((d) => d.score.correct)) return question;
  return getTemplate(opts.template)({ question, draft: draftText(drafts[chosen], opts.draftContent) });
}

export interface IgrpoRollout {
  drafts: Group[];
  /** d̂'s index in each draft group. */
  chosen: number[];
  /** Refinement groups, each sampled under its q' (group.prompt; q where q' fell back). */
  refinements: Group[];
}

export interface RolloutDeps {
  sample: SampleFn;
  score: ScoreFn;
  /** Turns a problem into the prompt text q. */
  promptOf: (p: Problem) => string;
  /** Text → token ids (the policy's tokenizer): every prompt is encoded once, here. */
  encode: (text: string) => number[];
  /** Longest prompt + completion the policy attends over (a q' that leaves no room falls back to q). */
  contextLength: number;
  maxNewTokens: number;
  /** Per-step seed; stages derive theirs from it. */
  seed: number;
  /**
   * How q and q' become prompts when not as plain text: chat models render both through their chat
   * template (q as a user turn; q' = the chat refinement template with d̂, see ./chat-prompts.ts).
   */
  render?: PromptRenderer;
}

/** Renders a question q, and q' from q and d̂'s text, straight to ids (encoded once, no text round trip). */
export interface PromptRenderer {
  question(question: string): PromptIn;
  refinement(question: string, draft: string): PromptIn;
}

const promptIn = (text: string, deps: RolloutDeps): PromptIn => ({ text, ids: deps.encode(text) });

/** The questions q, encoded once. */
export const questionPrompts = (problems: readonly Problem[], deps: RolloutDeps): PromptIn[] =>
  problems.map((p) => (deps.render ? deps.render.question(deps.promptOf(p)) : promptIn(deps.promptOf(p), deps)));

/**
 * q' must leave room to generate; a q' too long for the model falls back to q, marked `contextFallback`
 * so the step's metrics count it (contextFallbacks) and the trainer warns once.
 */
export function fitContext(q2: PromptIn, q: PromptIn, deps: Pick<RolloutDeps, 'contextLength' | 'maxNewTokens'>): PromptIn {
  return deps.contextLength - q2.ids.length >= Math.min(8, deps.maxNewTokens) ? q2 : { ...q, contextFallback: true };
}

/** Prompts in a batch that fell back to q because q' did not fit the context. */
export const contextFallbacks = (prompts: readonly PromptIn[]): number => prompts.filter((p) => p.contextFallback).length;

/** Encode q'; a character the tokenizer cannot encode is an error that names the template (the knob to turn). */
export function encodeRefinement(text: string, opts: Pick<IgrpoOptions, 'template' | 'draftContent'>, encode: (t: string) => number[]): number[] {
  try {
    return encode(text);
  } catch (e) {
    throw new Error(
      `igrpo.template '${opts.template}' (draftContent '${opts.draftContent}'): q' cannot be encoded by the policy's tokenizer: ` +
        `${(e as Error).message}. Pick a template whose text the tokenizer covers (known: ${templateNames().join(', ')}; ` +
        `'plain' for the shipped character-level policy) or register your own (registerTemplate)`,
    );
  }
}

/** Fail before training when the template's own text (q' with an empty draft) cannot be encoded. */
export function checkTemplate(question: string, opts: IgrpoOptions, encode: (t: string) => number[]): void {
  encodeRefinement(getTemplate(opts.template)({ question, draft: '' }), opts, encode);
}

/** Stage 1's request: N drafts per prompt q from the current (old) policy. */
export const draftRequest = (questions: readonly PromptIn[], deps: RolloutDeps, opts: IgrpoOptions): SampleRequest => ({
  prompts: [...questions],
  n: opts.drafts,
  maxNewTokens: opts.maxDraftTokens ?? deps.maxNewTokens,
  seed: mixSeed(deps.seed, 1),
});

/** d̂ = argmax reward in each draft group. */
export const selectDrafts = (drafts: readonly Group[], opts: IgrpoOptions, seed: number): number[] =>
  drafts.map((g, i) => selectBestDraft(g.completions, opts.tieBreak, mixSeed(seed, 2, i)));

/** q' = template(q, d̂) for each prompt, encoded once and fitted to the context. */
export const refinementPrompts = (drafts: readonly Group[], chosen: readonly number[], opts: IgrpoOptions, deps: RolloutDeps): PromptIn[] =>
  drafts.map((g, i) => {
    if (deps.render) {
      // the rendered q is a chat transcript: q' is built from the problem's own text and d̂
      if (opts.whenNoneCorrect === 'fallback' && !g.completions.some((d) => d.score.correct)) return g.prompt;
      return fitContext(deps.render.refinement(deps.promptOf(g.problem), draftText(g.completions[chosen[i]], opts.draftContent)), g.prompt, deps);
    }
    const text = refinementPrompt(g.prompt.text, g.completions, chosen[i], opts);
    return text === g.prompt.text ? g.prompt : fitContext({ text, ids: encodeRefinement(text, opts, deps.encode) }, g.prompt, deps);
  });

/** Stage 2's request: G refinements per prompt under q'. */
export const refinementRequest = (prompts: readonly PromptIn[], deps: RolloutDeps, opts: IgrpoOptions): SampleRequest => ({
  prompts: [...prompts],
  n: opts.refinements,
  maxNewTokens: deps.maxNewTokens,
  seed: mixSeed(deps.seed, 3),
});

/** The GRPO baseline's request: one group of `group` completions under q (matched budget: group = N + G). */
export const grpoRequest = (questions: readonly PromptIn[], deps: RolloutDeps, group: number): SampleRequest => ({
  prompts: [...questions],
  n: group,
  maxNewTokens: deps.maxNewTokens,
  seed: mixSeed(deps.seed, 3),
});

/** Stages 1 and 2 for a batch of prompts; the update then runs on `refinements` only (src/rl/update.ts). */
export async function igrpoRollout(problems: readonly Problem[], deps: RolloutDeps, opts: IgrpoOptions): Promise<IgrpoRollout> {
  const questions = questionPrompts(problems, deps);
  // Stage 1: drafts are plain token arrays and text, sampled outside any gradient tape.
  const drafts = scoreGroups(problems, questions, await deps.sample(draftRequest(questions, deps, opts)), deps.score);
  const chosen = selectDrafts(drafts, opts, deps.seed);
  // Stage 2: q' = template(q, d̂); refinements are scored against the original problem.
  const prompts = refinementPrompts(drafts, chosen, opts, deps);
  const refinements = scoreGroups(problems, prompts, await deps.sample(refinementRequest(prompts, deps, opts)), deps.score);
  return { drafts, chosen, refinements };
}

/** The GRPO baseline's rollout. */
export async function grpoRollout(problems: readonly Problem[], deps: RolloutDeps, group: number): Promise<Group[]> {
  const questions = questionPrompts(problems, deps);
  return scoreGroups(problems, questions, await deps.sample(grpoRequest(questions, deps, group)), deps.score);
}

/**
 * Transitions between d̂ and its refinements: among refinements conditioned on a wrong d̂, the fraction
 * right (wrong→right), and among those conditioned on a right d̂, the fraction wrong (right→wrong).
 */
export function draftTransitions(r: IgrpoRollout): { wrongToRight: number | null; rightToWrong: number | null } {
  let w = 0, wr = 0, rr = 0, rw = 0;
  r.refinements.forEach((g, i) => {
    const draftRight = r.drafts[i].completions[r.chosen[i]].score.correct;
    for (const c of g.completions) {
      if (draftRight) { rr++; if (!c.score.correct) rw++; }
      else { w++; if (c.score.correct) wr++; }
    }
  });
  return { wrongToRight: w ? wr / w : null, rightToWrong: rr ? rw / rr : null };
}
