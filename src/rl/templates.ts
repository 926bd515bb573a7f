// Stage-2 prompt templates: q' = template(q, d̂). The paper places the best draft right after the
// problem with an instruction to treat it as a prior attempt to check and improve; its exact text is in
// a supplement we do not have, so 'paper' is our wording of that. 'plain' is a short form for
// character-level models on the synthetic tasks, whose context is small and whose alphabet is tiny;
// 'paper-chat' is 'paper' as the text of a user turn for chat models.
// Templates are named; registerTemplate adds a user's own.

export interface TemplateInput {
  /** The original prompt q (exactly the text stage 1 sampled under). */
  question: string;
  /** What of d̂ is shown (full text, or only its answer, per the option). */
  draft: string;
}

export type RefinementTemplate = (input: TemplateInput) => string;

const TEMPLATES = new Map<string, RefinementTemplate>([
  [
    'paper',
    ({ question, draft }) =>
      `${question}\n\nHere is a prior attempt at this problem. It may contain mistakes. ` +
      `Check it carefully, then write an improved, complete solution.\n\nPrior attempt:\n${draft}\n\nImproved solution:\n`,
  ],
  // The same instruction as one user turn of a chat model (src/rl/chat-prompts.ts): the chat template
  // opens the assistant turn, so no "Improved solution:" cue; the instruction comes again after the
  // draft, where a long draft would otherwise push it out of view.
  [
    'paper-chat',
    ({ question, draft }) =>
      `${question}\n\nHere is a prior attempt at this problem. It may contain mistakes.\n\nPrior attempt:\n${draft}\n\n` +
      `Check the prior attempt carefully, then write an improved, complete solution to the problem.`,
  ],
  // q, then the draft on its own line, then a newline: the completion starts right after.
  ['plain', ({ question, draft }) => `${question}\n${draft}\n`],
]);

export function registerTemplate(name: string, template: RefinementTemplate): void {
  TEMPLATES.set(name, template);
}

export function getTemplate(name: string): RefinementTemplate {
  const t = TEMPLATES.get(name);
  if (!t) throw new Error(`unknown refinement template '${name}' (known: ${[...TEMPLATES.keys()].join(', ')})`);
  return t;
}

export const templateNames = (): string[] => [...TEMPLATES.keys()];
