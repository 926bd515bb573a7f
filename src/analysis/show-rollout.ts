// The rollout viewer (./viewer.ts) shown in the notebook: HTML in the igrpo-ts kernel, text elsewhere.
import type { RolloutRecord } from '../train/records.js';
import { displayBundle } from './display.js';
import { rolloutViewerHtml, rolloutViewerText, selectPrompt, type RolloutSelector } from './viewer.js';

/** Shows the viewer for one prompt (HTML in the notebook, text elsewhere); selectPrompt gives the data. */
export function showRollout(rollouts: RolloutRecord[], sel: RolloutSelector): void {
  const p = selectPrompt(rollouts, sel);
  if (!displayBundle({ 'text/html': rolloutViewerHtml(p), 'text/plain': rolloutViewerText(p) })) console.log(rolloutViewerText(p));
}
