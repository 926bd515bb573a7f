// iGRPO, Algorithm 1 of Hatamizadeh et al. (arXiv 2602.09000), one update for a batch of prompts q:
//
//   Stage 1  d_1..d_N ~ π_θold(·|q); score each; d̂ = argmax_i R(d_i)       (no gradient, ever)
//   Stage 2  q' = template(q, d̂); o_1..o_G ~ π_θold(·|q'); score each
//   Update   GRPO on the G refinements, every ratio (and KL) under q'       (src/rl/update.ts)
//
// Matched budget: with N + G completions per prompt, GRPO with a group of N + G is the baseline.
// The paper's open choices are options below; the defaults are its plain reading.
//
// More rounds (igrpo.rounds, igrpo.budget = [n_1, …, n_K]): round 1 is stage 1; round k > 1 samples n_k
// completions under q⁽ᵏ⁾ = template(q, d̂⁽ᵏ⁻¹⁾), d̂⁽ᵏ⁾ = its best; the update trains on round K (or on every
// round's group, igrpo.trainOn 'all'). Ties, no correct draft, draft content and the context fallback
// apply to each round; every round but the last is a draft round (igrpo.maxDraftTokens).
import { z } from 'zod';
import type { Problem } from '../data/schema.js';
import { Rng, mixSeed } from '../util/rng.js';
import { getTemplate, templateNames } from './templates.js';
import { scoreGroups, type Group, type PromptIn, type SampleFn, type SampleRequest, type Scored, type ScoreFn } from './rollout.js';

const IgrpoFields = z
  .object({
    /**
     * Drafts per prompt: round 1's count (default 4). With `budget` it may be left out (it is budget[0];
     * given, it must equal it).
     */
    drafts: z.number().int().positive().optional(),
    /**
     * Refinements per prompt: the last round's count, the GRPO group (default 4). With `budget` it may be
     * left out (it is the budget's last entry; given, it must equal it).
     */
    refinements: z.number().int().min(2).optional(),
    /** Ties in the argmax: the first maximum (a plain argmax), the shortest, or a seeded random one. */
    tieBreak: z.enum(['first', 'shortest', 'random']).default('first'),
    /** No draft correct: condition on the best one anyway (default), or fall back to q' = q. */
    whenNoneCorrect: z.enum(['condition', 'fallback']).default('condition'),
    /** What of d̂ goes into q': its full text, or only its extracted answer. */
    draftContent: z.enum(['full', 'answer']).default('full'),
    /** Cap on draft length (every round but the last samples with this many new tokens); default: the sampling max. */
    maxDraftTokens: z.number().int().positive().optional(),
    /**
     * Named refinement template (src/rl/templates.ts). One default everywhere, 'plain' (q, d̂, newline): the
     * only one the shipped character-level policy's alphabet can encode; 'paper' / 'paper-chat' for
     * word-level and chat models.
     */
    template: z.string().default('plain'),
    /**
     * Sampling rounds per prompt (default 2, the paper: drafts, then refinements). Round k > 1 samples under
     * q⁽ᵏ⁾ = template(q, d̂⁽ᵏ⁻¹⁾), d̂⁽ᵏ⁾ its best. More than 2 needs `budget`.
     */
    rounds: z.number().int().min(2).optional(),
    /**
     * Completions per prompt in each round, e.g. [4, 2, 2]; the sum is the matched budget
     * (completionsPerPrompt). Default [drafts, refinements].
     */
    budget: z.array(z.number().int().positive()).min(2).optional(),
    /** Which rounds' groups get gradients: the last (the paper's reading, default) or every round's. */
    trainOn: z.enum(['last', 'all']).optional(),
  })
  .strict();

/** Budget, rounds, drafts and refinements agree; every error names the field to change. */
function checkRounds(o: z.infer<typeof IgrpoFields>, ctx: z.RefinementCtx): void {
  const issue = (field: string, message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path: [field], message });
  const b = o.budget;
  if (!b) {
    if (o.rounds !== undefined && o.rounds !== 2) issue('budget', `igrpo.rounds is ${o.rounds}: give igrpo.budget, one count per round (e.g. [4, 2, 2] for 3 rounds)`);
    return;
  }
  if (o.rounds !== undefined && o.rounds !== b.length) issue('rounds', `igrpo.rounds (${o.rounds}) must equal the length of igrpo.budget (${b.length}, one count per round)`);
  if (o.drafts !== undefined && o.drafts !== b[0]) issue('drafts', `igrpo.drafts (${o.drafts}) must equal igrpo.budget[0] (${b[0]}): drafts are round 1's count (leave drafts out when budget is given)`);
  const last = b[b.length - 1];
  if (o.refinements !== undefined && o.refinements !== last) {
    issue('refinements', `igrpo.refinements (${o.refinements}) must equal igrpo.budget's last entry (${last}): refinements are the last round's count (leave refinements out when budget is given)`);
  }
  b.forEach((n, i) => {
    const trained = i === b.length - 1 || o.trainOn === 'all';
    if (trained && n < 2) issue('budget', `igrpo.budget[${i}] is ${n}: a trained round needs a group of at least 2`);
  });
}

/** Options of iGRPO's rounds; drafts and refinements are always set in the parsed options (from budget where given). */
export const IgrpoOptions = IgrpoFields.superRefine(checkRounds).transform(({ drafts, refinements, ...rest }) => ({
  // drafts and refinements keep their place in the parsed options (a config's hash and config.json are as before)
  drafts: drafts ?? rest.budget?.[0] ?? 4,
  refinements: refinements ?? rest.budget?.[rest.budget.length - 1] ?? 4,
  ...rest,
}));
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

/** One round of sampling: its groups (prompt, scored completions) and, for every round but the last, d̂'s index per prompt. */
export interface Round {
  groups: Group[];
  chosen?: number[];
}

export interface IgrpoRollout {
  drafts: Group[];
  /** d̂'s index in each draft group. */
  chosen: number[];
  /** Refinement groups (the last round's), each sampled under its q' (group.prompt; q where q' fell back). */
  refinements: Group[];
  /** Every round in order: rounds[0] holds the drafts and d̂, the last the refinements. */
  rounds: Round[];
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

/** Rounds per prompt (2 = the paper's drafts, then refinements). */
export const roundCount = (o: IgrpoOptions): number => o.budget?.length ?? 2;

/** Completions per prompt in each round: igrpo.budget, or [drafts, refinements]. */
export const roundBudget = (o: IgrpoOptions): number[] => o.budget ?? [o.drafts, o.refinements];

/**
 * Sampling seed of round k (1-based): rounds 1 and 2 keep the two-round seeds (so a third round leaves the
 * first two as they were), later rounds their own.
 */
export const roundSeed = (seed: number, k: number): number => (k === 1 ? mixSeed(seed, 1) : k === 2 ? mixSeed(seed, 3) : mixSeed(seed, 3, k));

/** Round k's request (1-based): budget[k−1] completions per prompt; every round but the last is a draft round. */
export function roundRequest(prompts: readonly PromptIn[], deps: RolloutDeps, opts: IgrpoOptions, k: number): SampleRequest {
  const budget = roundBudget(opts);
  if (!(k >= 1 && k <= budget.length)) throw new Error(`roundRequest: round ${k} of ${budget.length}`);
  const draftRound = k < budget.length;
  return {
    prompts: [...prompts],
    n: budget[k - 1],
    maxNewTokens: draftRound ? (opts.maxDraftTokens ?? deps.maxNewTokens) : deps.maxNewTokens,
    seed: roundSeed(deps.seed, k),
  };
}

/** Stage 1's request: N drafts per prompt q from the current (old) policy. */
export const draftRequest = (questions: readonly PromptIn[], deps: RolloutDeps, opts: IgrpoOptions): SampleRequest => roundRequest(questions, deps, opts, 1);

/** d̂ = argmax reward in each group of round `round` (1: the drafts); ties per igrpo.tieBreak, seeded per prompt. */
export const selectDrafts = (drafts: readonly Group[], opts: IgrpoOptions, seed: number, round = 1): number[] =>
  drafts.map((g, i) => selectBestDraft(g.completions, opts.tieBreak, round === 1 ? mixSeed(seed, 2, i) : mixSeed(seed, 2, i, round)));

/**
 * q⁽ᵏ⁾ = template(q, d̂⁽ᵏ⁻¹⁾) for each prompt, encoded once and fitted to the context. `drafts` is the previous
 * round's groups, `questions` the questions q (default: those groups' prompts, which are q for round 1).
 */
export function refinementPrompts(
  drafts: readonly Group[], chosen: readonly number[], opts: IgrpoOptions, deps: RolloutDeps, questions: readonly PromptIn[] = drafts.map((g) => g.prompt),
): PromptIn[] {
  return drafts.map((g, i) => {
    const q = questions[i];
    if (deps.render) {
      // the rendered q is a chat transcript: q' is built from the problem's own text and d̂
      if (opts.whenNoneCorrect === 'fallback' && !g.completions.some((d) => d.score.correct)) return q;
      return fitContext(deps.render.refinement(deps.promptOf(g.problem), draftText(g.completions[chosen[i]], opts.draftContent)), q, deps);
    }
    const text = refinementPrompt(q.text, g.completions, chosen[i], opts);
    return text === q.text ? q : fitContext({ text, ids: encodeRefinement(text, opts, deps.encode) }, q, deps);
  });
}

/** Stage 2's request: G refinements per prompt under q' (the last round's, with more rounds). */
export const refinementRequest = (prompts: readonly PromptIn[], deps: RolloutDeps, opts: IgrpoOptions): SampleRequest =>
  roundRequest(prompts, deps, opts, roundCount(opts));

/** The GRPO baseline's request: one group of `group` completions under q (matched budget: group = N + G). */
export const grpoRequest = (questions: readonly PromptIn[], deps: RolloutDeps, group: number): SampleRequest => ({
  prompts: [...questions],
  n: group,
  maxNewTokens: deps.maxNewTokens,
  seed: mixSeed(deps.seed, 3),
});

/** All rounds for a batch of prompts; the update then runs on the last round's groups (or every round's). */
export async function igrpoRollout(problems: readonly Problem[], deps: RolloutDeps, opts: IgrpoOptions): Promise<IgrpoRollout> {
  const questions = questionPrompts(problems, deps);
  const K = roundCount(opts);
  const rounds: Round[] = [];
  for (let k = 1; k <= K; k++) {
    // round 1 (stage 1) under q; round k under template(q, d̂⁽ᵏ⁻¹⁾). Drafts are plain token arrays and text,
    // sampled outside any gradient tape; every round is scored against the original problem.
    const prev = rounds[k - 2];
    const prompts = prev ? refinementPrompts(prev.groups, prev.chosen!, opts, deps, questions) : questions;
    const groups = scoreGroups(problems, prompts, await deps.sample(roundRequest(prompts, deps, opts, k)), deps.score);
    rounds.push(k < K ? { groups, chosen: selectDrafts(groups, opts, deps.seed, k) } : { groups });
  }
  return { drafts: rounds[0].groups, chosen: rounds[0].chosen!, refinements: rounds[K - 1].groups, rounds };
}

/** The groups the update trains on: the last round's (the paper), or every round's in order (igrpo.trainOn 'all'). */
export const trainedRounds = (rounds: readonly Round[], opts: Pick<IgrpoOptions, 'trainOn'>): Group[] =>
  opts.trainOn === 'all' ? rounds.flatMap((r) => r.groups) : rounds[rounds.length - 1].groups;

/** The GRPO baseline's rollout. */
export async function grpoRollout(problems: readonly Problem[], deps: RolloutDeps, group: number): Promise<Group[]> {
  const questions = questionPrompts(problems, deps);
  return scoreGroups(problems, questions, await deps.sample(grpoRequest(questions, deps, group)), deps.score);
}

/**
 * Transitions between d̂ and its refinements: among refinements conditioned on a wrong d̂, the fraction
 * right (wrong→right), and among those conditioned on a right d̂, the fraction wrong (right→wrong). With more
 * rounds, between the last round and the d̂ it was conditioned on (round K − 1's).
 */
export function draftTransitions(r: Pick<IgrpoRollout, 'drafts' | 'chosen' | 'refinements'> & { rounds?: readonly Round[] }): { wrongToRight: number | null; rightToWrong: number | null } {
  const prev = r.rounds && r.rounds.length > 2 ? r.rounds[r.rounds.length - 2] : { groups: r.drafts, chosen: r.chosen };
  return roundTransitions(prev.groups, prev.chosen!, r.refinements);
}

/** Transitions from each prompt's d̂ in `prev` (index `chosen`) to the completions of `next` sampled under it. */
export function roundTransitions(prev: readonly Group[], chosen: readonly number[], next: readonly Group[]): { wrongToRight: number | null; rightToWrong: number | null } {
  let w = 0, wr = 0, rr = 0, rw = 0;
  next.forEach((g, i) => {
    const draftRight = prev[i].completions[chosen[i]].score.correct;
    for (const c of g.completions) {
      if (draftRight) { rr++; if (!c.score.correct) rw++; }
      else { w++; if (c.score.correct) wr++; }
    }
  });
  return { wrongToRight: w ? wr / w : null, rightToWrong: rr ? rw / rr : null };
}
