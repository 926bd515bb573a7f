// The rollout viewer: for one prompt at one step, the drafts with their rewards, the chosen draft d̂, the q' prompt
// it produced, and the refinements side by side, each with a word diff against d̂ (GRPO logs: the group's completions).
// With igrpo.rounds > 2 the middle rounds ('intermediate' records) come between, each under its q⁽ᵏ⁾ with its d̂⁽ᵏ⁾
// marked and diffed against the previous round's d̂; the refinements are diffed against (and marked copies of) the last d̂.
// Pure HTML/text (the browser page renders it too); showing it in the notebook is ./show-rollout.ts.
import { sameAnswer } from '../rl/diagnostics.js';
import { textSimilarity } from '../rl/overlap.js';
import type { RolloutRecord } from '../train/records.js';
import { changedFraction, wordDiff } from './diff.js';
import { escapeHtml } from './html.js';

export interface RolloutSelector {
  step: number;
  /** Prompt index in the batch (the record's `group`), or pick by promptId. */
  group?: number;
  promptId?: string;
  seed?: number;
  algo?: string;
}

export interface PromptRollouts {
  step: number;
  promptId: string;
  gold?: string;
  question: string;
  drafts: RolloutRecord[];
  chosen?: RolloutRecord;
  refinementPrompt?: string;
  refinements: RolloutRecord[];
  /** Middle rounds (igrpo.rounds > 2), in order: round k's prompt q⁽ᵏ⁾, its completions, its d̂⁽ᵏ⁾. */
  middle?: { round: number; prompt: string; completions: RolloutRecord[]; chosen?: RolloutRecord }[];
  /** The d̂ the refinements were conditioned on: the drafts' d̂, or the last middle round's. */
  conditioning?: RolloutRecord;
  /** GRPO completions (stage "grpo"). */
  completions: RolloutRecord[];
}

/** The records of one prompt at one step; throws naming what was asked for when nothing matches. */
export function selectPrompt(rollouts: RolloutRecord[], sel: RolloutSelector): PromptRollouts {
  const rs = rollouts.filter(
    (r) =>
      r.step === sel.step &&
      (sel.group === undefined || r.group === sel.group) &&
      (sel.promptId === undefined || r.promptId === sel.promptId) &&
      (sel.seed === undefined || r.seed === sel.seed) &&
      (sel.algo === undefined || r.algo === sel.algo),
  );
  if (rs.length === 0) throw new Error(`no rollouts for ${JSON.stringify(sel)}`);
  const first = rs[0];
  const mine = rs.filter((r) => r.promptId === first.promptId && r.seed === first.seed && r.algo === first.algo);
  const byIndex = (a: RolloutRecord, b: RolloutRecord) => a.index - b.index;
  const drafts = mine.filter((r) => r.stage === 'draft').sort(byIndex);
  const refinements = mine.filter((r) => r.stage === 'refinement').sort(byIndex);
  const completions = mine.filter((r) => r.stage === 'grpo').sort(byIndex);
  const rounds = [...new Set(mine.filter((r) => r.stage === 'intermediate').map((r) => r.round ?? 0))].sort((a, b) => a - b);
  const middle = rounds.map((round) => {
    const cs = mine.filter((r) => r.stage === 'intermediate' && (r.round ?? 0) === round).sort(byIndex);
    return { round, prompt: cs[0].prompt, completions: cs, chosen: cs.find((c) => c.chosen) };
  });
  const chosen = drafts.find((d) => d.chosen);
  return {
    step: first.step,
    promptId: first.promptId,
    gold: mine.find((r) => r.gold !== undefined)?.gold,
    question: (drafts[0] ?? completions[0] ?? first).prompt,
    drafts,
    chosen,
    refinementPrompt: refinements[0]?.prompt,
    refinements,
    middle,
    conditioning: middle.length ? middle[middle.length - 1].chosen : chosen,
    completions,
  };
}

const CSS = `<style>
.igrpo-viewer{font-family:sans-serif;font-size:13px}
.igrpo-viewer pre{white-space:pre-wrap;margin:4px 0;font-size:12px;background:#f7f7f7;padding:6px;border-radius:4px}
.igrpo-viewer .cards{display:flex;flex-wrap:wrap;gap:8px}
.igrpo-viewer .card{flex:1 1 260px;border:1px solid #ddd;border-radius:6px;padding:6px;min-width:220px}
.igrpo-viewer .chosen{border:2px solid #d62728}
.igrpo-viewer .ok{color:#2ca02c}.igrpo-viewer .bad{color:#d62728}
.igrpo-viewer .copied{border:2px dashed #e6a23c}
.igrpo-viewer .copy{background:#fde9c8;color:#8a4b00;border-radius:3px;padding:0 4px}
.igrpo-viewer ins{background:#d4f7d4;text-decoration:none}.igrpo-viewer del{background:#f7d4d4}
</style>`;

/**
 * Does refinement r repeat d̂'s answer? Its logged `copy` mark when it has one, else judged here the way the trainer
 * does (src/rl/diagnostics.ts): null where d̂ has no answer or q′ fell back to q (d̂ not shown).
 */
export function copyMark(r: RolloutRecord, chosen: RolloutRecord | undefined): boolean | null {
  if (r.copy !== undefined) return r.copy;
  if (!chosen || r.prompt === chosen.prompt || !chosen.answer?.trim()) return null;
  return sameAnswer(chosen.answer, r.answer);
}

/** Refinement r's text similarity to d̂ (logged, else computed); null without a d̂ shown. */
export function overlapMark(r: RolloutRecord, chosen: RolloutRecord | undefined): number | null {
  if (r.overlapWithDraft !== undefined) return r.overlapWithDraft;
  return !chosen || r.prompt === chosen.prompt ? null : textSimilarity(chosen.text, r.text);
}

function verdict(r: RolloutRecord): string {
  const mark = r.correct ? '<span class="ok">✓ correct</span>' : '<span class="bad">✗ wrong</span>';
  const parts = Object.entries(r.rewards).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
  const adv = r.advantage === null ? '' : ` · advantage ${r.advantage.toFixed(3)}`;
  const ans = r.answer !== undefined && r.answer !== null ? ` · answer <code>${escapeHtml(r.answer)}</code>` : '';
  const cut = r.finishReason === 'length' ? ' · <b>truncated</b>' : '';
  return `${mark} · reward <b>${r.reward.toFixed(3)}</b> (${escapeHtml(parts)})${adv}${ans} · ${r.tokens} tokens${cut}`;
}

function card(title: string, r: RolloutRecord, body: string, extraClass = '', marksHtml = ''): string {
  return `<div class="card ${extraClass}"><b>${escapeHtml(title)}</b>${marksHtml ? ` ${marksHtml}` : ''}<br>${verdict(r)}<pre>${body}</pre></div>`;
}

function diffHtml(before: string, after: string): string {
  return wordDiff(before, after)
    .map((p) => (p.op === 'same' ? escapeHtml(p.text) : p.op === 'add' ? `<ins>${escapeHtml(p.text)}</ins>` : `<del>${escapeHtml(p.text)}</del>`))
    .join('');
}

export function rolloutViewerHtml(p: PromptRollouts): string {
  const head = `<h4>step ${p.step} · prompt ${escapeHtml(p.promptId)}${p.gold !== undefined ? ` · gold <code>${escapeHtml(p.gold)}</code>` : ''}</h4>`;
  const question = `<b>question q</b><pre>${escapeHtml(p.question)}</pre>`;
  const sections = [head, question];
  if (p.drafts.length) {
    const cards = p.drafts.map((d) => card(`draft ${d.index}${d.chosen ? ' — chosen d̂' : ''}`, d, escapeHtml(d.text), d.chosen ? 'chosen' : ''));
    sections.push(`<b>stage 1: ${p.drafts.length} drafts</b><div class="cards">${cards.join('')}</div>`);
  }
  let prev = p.chosen;
  for (const m of p.middle ?? []) {
    sections.push(`<b>q⁽${m.round}⁾ = q + d̂⁽${m.round - 1}⁾ (round ${m.round})</b><pre>${escapeHtml(m.prompt)}</pre>`);
    const base = prev?.text ?? '';
    const cards = m.completions.map((c) => card(`round ${m.round} · ${c.index}${c.chosen ? ` — chosen d̂⁽${m.round}⁾` : ''} · ${(100 * changedFraction(wordDiff(base, c.text))).toFixed(0)}% new`, c, diffHtml(base, c.text), c.chosen ? 'chosen' : ''));
    sections.push(`<b>round ${m.round}: ${m.completions.length} completions</b> (diff against the previous d̂)<div class="cards">${cards.join('')}</div>`);
    prev = m.chosen;
  }
  if (p.refinementPrompt !== undefined) sections.push(`<b>q' = q + d̂ (the refinement prompt)</b><pre>${escapeHtml(p.refinementPrompt)}</pre>`);
  if (p.refinements.length) {
    const base = (p.conditioning ?? p.chosen)?.text ?? '';
    const cards = p.refinements.map((r) => {
      const parts = wordDiff(base, r.text);
      const copy = copyMark(r, p.conditioning ?? p.chosen);
      const overlap = overlapMark(r, p.conditioning ?? p.chosen);
      const marks = (copy ? `<span class="copy">copy: d̂'s answer</span> ` : '') + (overlap === null ? '' : ` · text overlap with d̂ ${(100 * overlap).toFixed(0)}%`);
      const title = `refinement ${r.index} · ${(100 * changedFraction(parts)).toFixed(0)}% new vs d̂`;
      return card(title, r, diffHtml(base, r.text), copy ? 'copied' : '', marks);
    });
    sections.push(
      `<b>stage 2: ${p.refinements.length} refinements</b> (<ins>added</ins> / <del>removed</del> relative to d̂)<div class="cards">${cards.join('')}</div>`,
    );
  }
  if (p.completions.length) {
    const cards = p.completions.map((c) => card(`completion ${c.index}`, c, escapeHtml(c.text)));
    sections.push(`<b>GRPO group: ${p.completions.length} completions</b><div class="cards">${cards.join('')}</div>`);
  }
  return `${CSS}<div class="igrpo-viewer">${sections.join('\n')}</div>`;
}

export function rolloutViewerText(p: PromptRollouts): string {
  const copied = (r: RolloutRecord) => (r.stage === 'refinement' && copyMark(r, p.chosen) ? ' (copy of d̂)' : '');
  const line = (label: string, r: RolloutRecord) =>
    `  ${label}: reward ${r.reward.toFixed(3)} ${r.correct ? 'correct' : 'wrong'}${r.chosen ? ' (chosen d̂)' : ''}${copied(r)} | ${r.text.replace(/\s+/g, ' ').slice(0, 100)}`;
  return [
    `step ${p.step} prompt ${p.promptId}${p.gold !== undefined ? ` gold ${p.gold}` : ''}`,
    `q: ${p.question.replace(/\s+/g, ' ')}`,
    ...p.drafts.map((d) => line(`draft ${d.index}`, d)),
    ...(p.middle ?? []).flatMap((m) => [`q(${m.round}): ${m.prompt.replace(/\s+/g, ' ')}`, ...m.completions.map((c) => line(`round ${m.round} ${c.index}`, c))]),
    ...(p.refinementPrompt !== undefined ? [`q': ${p.refinementPrompt.replace(/\s+/g, ' ')}`] : []),
    ...p.refinements.map((r) => line(`refinement ${r.index}`, r)),
    ...p.completions.map((c) => line(`completion ${c.index}`, c)),
  ].join('\n');
}
