// The walkthrough's panels, one per notebook cell (notebooks 04 and 05): drafts with rewards and the verifier's
// reasons, the choice of d̂ and its open choices, q′, the refinements, advantages, the per-token loss terms, and
// the update with log-probs before and after. Everything shown comes from a LiveStep (src/train/walkthrough.ts).
import { rolloutViewerHtml, selectPrompt } from '../src/analysis/viewer.js';
import { sampleStd, mean } from '../src/rl/advantages.js';
import type { LiveStep, TokenTerms } from '../src/train/walkthrough.js';
import { $, escapeHtml, fmt, mark, showText, table } from './dom.js';

const reasons = (r: Record<string, string> | undefined) => (r ? Object.entries(r).map(([k, v]) => `${k}: ${v}`).join('; ') : '');

function draftsPanel(s: LiveStep): string {
  const g = s.draftGroups![0];
  const p = g.problem;
  const rows = g.completions.map((c, j) => [
    { html: `${j}${s.chosen![0] === j ? ' <b class="chosen-tag">d̂</b>' : ''}` },
    { html: showText(c.text) },
    c.score.reward,
    Object.entries(c.score.rewards).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(', '),
    mark(c.score.correct),
    c.score.answer ?? '—',
    reasons(c.score.reasons),
  ]);
  return `<p>q = <code>${escapeHtml(g.prompt.text.replace(/\n/g, '⏎'))}</code> · gold answer <code>${escapeHtml(p.answer)}</code> · ${g.completions.length} drafts sampled from π<sub>θold</sub> (no gradient)</p>` +
    table(['draft', 'text', 'reward', 'per reward', 'correct', 'answer', "verifier's reasons"], rows);
}

function choicePanel(s: LiveStep): string {
  const c = s.choices![0];
  const g = s.draftGroups![0];
  const tie = c.tied.length > 1 ? `${c.tied.length} drafts tie at reward ${fmt(g.completions[c.tied[0]].score.reward)} (drafts ${c.tied.join(', ')})` : `draft ${c.tied[0]} has the highest reward alone`;
  const rows = [
    ['tieBreak: first (the plain argmax, default)', c.first],
    ['tieBreak: shortest', `${c.shortest} (${g.completions[c.shortest].ids.length} tokens)`],
    ['tieBreak: random (seeded)', c.random],
    ['whenNoneCorrect: condition (default)', c.anyCorrect ? 'a correct draft exists: d̂ as above' : "no draft is correct: condition on d̂ anyway"],
    ['whenNoneCorrect: fallback', c.fallsBack ? "no draft is correct: q′ = q (refine the question itself)" : 'a correct draft exists: d̂ as above'],
  ];
  return `<p>d̂ = argmax<sub>i</sub> R(d<sub>i</sub>) → <b>draft ${s.chosen![0]}</b>. ${escapeHtml(tie)}; ${c.anyCorrect ? 'at least one draft is correct' : 'no draft is correct'}.</p>` +
    table(['open choice', 'd̂ it picks'], rows);
}

function promptPanel(s: LiveStep): string {
  const g = s.groups[0];
  return `<p>q′ = template(q, d̂), exactly as the model reads it (⏎ = newline token), ${g.prompt.ids.length} tokens${g.prompt.contextFallback ? ' — <b>q′ did not fit the context: fell back to q</b>' : ''}:</p>${showText(g.prompt.text)}`;
}

function refinementsPanel(s: LiveStep): string {
  // the rollout viewer of src/analysis/viewer.ts: the refinements with their word diff against d̂
  return rolloutViewerHtml(selectPrompt(s.rollouts, { step: s.step, group: 0 }));
}

function advantagesPanel(s: LiveStep): string {
  const rewards = s.groups[0].completions.map((c) => c.score.reward);
  const m = mean(rewards);
  const sd = sampleStd(rewards);
  const rows = s.groups[0].completions.map((c, j) => [j, c.score.reward, c.score.reward - m, s.advantages[0][j]]);
  const zero = rewards.every((r) => r === rewards[0]);
  return `<p>Â<sub>j</sub> = (R<sub>j</sub> − mean R) / (std R + ε) over the G refinements: mean ${fmt(m)}, std ${fmt(sd)}.${zero ? ' <b>Every reward is equal: all advantages are 0 and this prompt teaches nothing this step</b> (change the seed or the temperature).' : ''}</p>` +
    table(['refinement', 'reward R', 'R − mean', 'advantage Â'], rows);
}

function tokenPanel(t: TokenTerms): string {
  const rows = t.tokens.map((tok, k) => [
    { html: `<code>${escapeHtml(tok === '\n' ? '⏎' : tok)}</code>` }, t.before[k], t.after[k], t.after[k] - t.before[k], t.ratio[k],
    t.clipped[k] ? { html: `<b class="bad">${t.clipped[k]}</b>` } : 'no', t.surrogate[k], t.kl[k],
  ]);
  return table(['token', 'log π before', 'log π after', 'Δ', 'ratio r', 'clipped', '−min(rÂ, clip(r)Â)', 'k3 KL'], rows, 'tokens');
}

function lossPanel(s: LiveStep, which: number): string {
  const terms = s.tokens!.filter((t) => t.group === 0);
  const t = terms[Math.min(which, terms.length - 1)];
  const opts = terms.map((x, i) => `<option value="${i}"${i === which ? ' selected' : ''}>refinement ${x.index} (Â ${fmt(x.advantage)})</option>`).join('');
  return `<p>At the update the ratio r = π<sub>θ</sub>/π<sub>θold</sub> is exactly 1 (θ = θold), so each token's loss is −Â and the step's loss is ` +
    `<b>${fmt(s.update.loss, 6)}</b> (mean over completions of their token means). The table shows the same terms after the update — ` +
    `what a second iteration on this batch (numIterations 2) would see: the ratio, whether the clip is active, and the k3 KL to θold.</p>` +
    `<label>completion <select id="token-pick">${opts}</select></label>${tokenPanel(t)}`;
}

function updatePanel(s: LiveStep): string {
  const u = s.update;
  const seqs = s.tokens!;
  const rows = seqs.map((t) => {
    const before = t.before.reduce((a, b) => a + b, 0);
    const after = t.after.reduce((a, b) => a + b, 0);
    return [`prompt ${t.group} refinement ${t.index}`, t.advantage, before, after, after - before, { html: Math.sign(after - before) === Math.sign(t.advantage) || t.advantage === 0 ? 'with Â' : '<span class="bad">against Â</span>' }];
  });
  return `<p>One AdamW step at lr ${fmt(s.lr, 6)}: loss ${fmt(u.loss, 6)}, gradient norm ${fmt(u.gradNorm, 4)} (clipped to 1), clip fraction ${fmt(u.clipFraction)}, ` +
    `${u.trainedSequences} sequences with a non-zero advantage trained, ${u.optimizerSteps} optimizer step(s). Log-probability of each whole completion under the policy before and after:</p>` +
    table(['completion', 'Â', 'log π before', 'log π after', 'Δ', 'moved'], rows);
}

/** Fill the walkthrough panels from one iGRPO step (detail on). */
export function renderWalkthrough(s: LiveStep): void {
  $('p-drafts').innerHTML = draftsPanel(s);
  $('p-choice').innerHTML = choicePanel(s);
  $('p-prompt').innerHTML = promptPanel(s);
  $('p-refine').innerHTML = refinementsPanel(s);
  $('p-adv').innerHTML = advantagesPanel(s);
  const firstNonZero = Math.max(0, s.tokens!.filter((t) => t.group === 0).findIndex((t) => t.advantage !== 0));
  const drawLoss = (i: number) => {
    $('p-loss').innerHTML = lossPanel(s, i);
    $<HTMLSelectElement>('token-pick').onchange = (e) => drawLoss(Number((e.target as HTMLSelectElement).value));
  };
  drawLoss(firstNonZero);
  $('p-update').innerHTML = updatePanel(s);
  for (const el of document.querySelectorAll('.walk')) el.classList.remove('empty');
}
