// Does the policy refine its draft or copy it? Pure functions over one round of refinement — (draft groups, the
// chosen d̂ per prompt, refinement groups) — so they apply to any round k against round k−1, and over logged
// records as well as live groups (both are turned into Attempts first). Used by the step metrics and
// rollouts.jsonl (src/train/records.ts) and by the analysis frames (src/analysis/diagnostics.ts).
//
//   copy        a refinement whose extracted answer is the same answer as d̂'s (sameAnswer); counted only where d̂
//               has an answer (a refinement without one is no copy) and q′ showed d̂ (not a fallback to q)
//   overlap     how much of d̂'s text the refinement repeats: textSimilarity (./overlap.ts, normalized edit distance)
//   baseline    d̂ against its sibling drafts, sampled independently under q: the overlap two samples share anyway
//   zero-variance groups, by reason: every completion right, every one wrong, or equal rewards otherwise
import { verify } from '../verify/equivalence.js';
import { isConstant } from './advantages.js';
import { textSimilarity } from './overlap.js';
import type { Group } from './rollout.js';

/** What the diagnostics read of a completion (a scored completion or a rollouts.jsonl record). */
export interface Attempt {
  text: string;
  /** The extracted final answer; null when the completion has none. */
  answer: string | null;
  correct: boolean;
  reward: number;
}

/** A prompt's completions and the prompt text they were sampled under. */
export interface AttemptGroup {
  prompt: string;
  attempts: Attempt[];
}

/** Live groups as attempt groups. */
export const attemptGroups = (groups: readonly Group[]): AttemptGroup[] =>
  groups.map((g) => ({
    prompt: g.prompt.text,
    attempts: g.completions.map((c) => ({ text: c.text, answer: c.score.answer, correct: c.score.correct, reward: c.score.reward })),
  }));

const hasAnswer = (a: string | null | undefined): a is string => typeof a === 'string' && a.trim() !== '';

/**
 * Are two extracted answers the same answer? Equal after trimming, or equivalent by the project's verifier with
 * the draft's answer in the gold slot (verify(draft, refinement)): "1/2" repeats "0.5", as the accuracy reward
 * would judge it — a refinement that restates d̂'s answer in another form still copies it. Plain string equality
 * would count that as a change of answer. (For Countdown the answers are expressions, compared by value.)
 */
export function sameAnswer(draft: string | null | undefined, refinement: string | null | undefined): boolean {
  if (!hasAnswer(draft) || !hasAnswer(refinement)) return false;
  const a = draft.trim();
  const b = refinement.trim();
  return a === b || verify(a, b);
}

/** One refinement judged against its d̂; both null where q′ did not show d̂ (it fell back to q). */
export interface RefinementMark {
  /** Same answer as d̂; null where d̂ has no answer (the refinement cannot copy one) or was not shown. */
  copy: boolean | null;
  /** textSimilarity(d̂, refinement) in [0, 1]; null where d̂ was not shown. */
  overlap: number | null;
}

export interface RefinementDiagnostics {
  /** marks[g][j] for refinement j of prompt g. */
  marks: RefinementMark[][];
  /** Refinements that repeat d̂'s answer. */
  copies: number;
  /** Refinements whose d̂ has an answer and was shown: the copy rate's denominator. */
  copyBase: number;
  /** copies / copyBase; null when no refinement's d̂ has an answer. */
  copyRate: number | null;
  /** Mean textSimilarity of a refinement to its d̂; null when no d̂ was shown. */
  overlapWithDraft: number | null;
  /** Mean textSimilarity of d̂ to each other draft of its prompt (the level independent samples share); null if none. */
  overlapBetweenDrafts: number | null;
}

const meanOrNull = (xs: readonly number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/**
 * Copy and overlap for one round: drafts[g] the groups d̂ was chosen from (chosen[g] its index), refinements[g]
 * sampled under q′ = template(q, d̂). A refinement group whose prompt is the draft group's own prompt fell back
 * to q (no correct draft with whenNoneCorrect 'fallback', or q′ too long) and is left out: it never saw d̂.
 */
export function refinementDiagnostics(drafts: readonly AttemptGroup[], chosen: readonly number[], refinements: readonly AttemptGroup[]): RefinementDiagnostics {
  if (drafts.length !== refinements.length || chosen.length !== refinements.length) {
    throw new Error(`refinementDiagnostics: ${drafts.length} draft groups, ${chosen.length} choices, ${refinements.length} refinement groups (one each per prompt)`);
  }
  let copies = 0;
  let copyBase = 0;
  const overlaps: number[] = [];
  const siblings: number[] = [];
  const marks = refinements.map((r, g) => {
    const dhat = drafts[g].attempts[chosen[g]];
    if (!dhat) throw new Error(`refinementDiagnostics: prompt ${g}: chosen draft ${chosen[g]} of ${drafts[g].attempts.length}`);
    const shown = r.prompt !== drafts[g].prompt;
    if (!shown) return r.attempts.map(() => ({ copy: null, overlap: null }));
    drafts[g].attempts.forEach((d, i) => i !== chosen[g] && siblings.push(textSimilarity(dhat.text, d.text)));
    return r.attempts.map((a) => {
      const overlap = textSimilarity(dhat.text, a.text);
      overlaps.push(overlap);
      if (!hasAnswer(dhat.answer)) return { copy: null, overlap };
      const copy = sameAnswer(dhat.answer, a.answer);
      copyBase++;
      if (copy) copies++;
      return { copy, overlap };
    });
  });
  return { marks, copies, copyBase, copyRate: copyBase ? copies / copyBase : null, overlapWithDraft: meanOrNull(overlaps), overlapBetweenDrafts: meanOrNull(siblings) };
}

/** Groups whose rewards are all equal (no GRPO signal), by reason. */
export interface ZeroVarianceCounts {
  groups: number;
  /** Groups with all rewards equal: allCorrect + allWrong + other. */
  zeroVariance: number;
  /** …every completion correct. */
  allCorrect: number;
  /** …no completion correct. */
  allWrong: number;
  /** …equal rewards with mixed correctness (a reward that ignores accuracy, or weights that cancel). */
  other: number;
}

/** Zero-variance groups of one stage, by reason (the same test as the advantages': every reward equal). */
export function zeroVarianceCounts(groups: readonly (readonly Attempt[])[]): ZeroVarianceCounts {
  const c: ZeroVarianceCounts = { groups: groups.length, zeroVariance: 0, allCorrect: 0, allWrong: 0, other: 0 };
  for (const g of groups) {
    if (g.length === 0 || !isConstant(g.map((a) => a.reward))) continue;
    c.zeroVariance++;
    if (g.every((a) => a.correct)) c.allCorrect++;
    else if (g.every((a) => !a.correct)) c.allWrong++;
    else c.other++;
  }
  return c;
}
