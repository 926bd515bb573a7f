// Step-level warnings about a run that is going wrong without any number turning non-finite.
//
// Every sampled completion empty is what a policy whose weights went bad looks like from outside (the
// first token sampled is the stop token): rewards are all 0, every advantage is 0, the update is skipped
// and nothing else would notice. It is a warning, not a stop: a finite policy can pass through such a
// step (a format collapse one may want to study), whereas NaN/Inf weights are caught and stop the run
// in the update (src/optim/finite.ts).
export interface SampledText {
  /** The decoded completion, stop token excluded. */
  text: string;
}

/** Warnings for one step's sampled completions (drafts included); empty when all is well. */
export function stepWarnings(sampled: readonly SampledText[]): string[] {
  const out: string[] = [];
  if (sampled.length > 0 && sampled.every((c) => c.text.length === 0)) {
    out.push(`all ${sampled.length} completions are empty: the policy may have diverged (check lr and the weights)`);
  }
  return out;
}
