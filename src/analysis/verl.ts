// verl's rollout dumps mapped onto our rollout records, so the same frames and stage-free figures work on them.
//
// With `trainer.rollout_data_dir` set, verl's RayPPOTrainer.fit dumps each training step's batch through
// `_dump_generations` (volcengine/verl, verl/trainer/ppo/ray_trainer.py) into `{rollout_data_dir}/{global_steps}.jsonl`
// (steps count from 1; `trainer.validation_data_dir` gets the validation batches in the same shape). The file is
// built column-wise and written with json.dumps(..., ensure_ascii=False), one line per response:
//   input   the prompt, tokenizer.batch_decode(batch["prompts"], skip_special_tokens=True) (chat template text kept)
//   output  the response, decoded the same way
//   gts     reward_model.ground_truth of the row (absent in verl versions before it was added)
//   score   the sum of the row's token_level_scores (the reward)
//   step    global_steps
//   + every list of reward_extra_infos_dict as long as the batch: what a dict-returning compute_score adds per row
//     (math_dapo's: score, acc (bool), pred (the extracted answer)), and request_id when the rollout set one.
// There is no group id or token count, and the rows come in the order _balance_batch left them (reordered across
// DP ranks), so, as for TRL's tables (./trl.ts):
//   - group  = the order of first appearance of the input text within its step; index = order within that group,
//   - reward = score; rewards = score and every numeric or boolean extra (booleans as 0/1),
//   - correct = `acc` when present (true, or a number > 0), else score > 0,
//   - answer = `pred` when it is a string; gold = gts,
//   - tokens = a whitespace word count of the output (an approximation), finishReason 'stop' (not dumped),
//   - advantage = null (not dumped). Two distinct prompts with the same decoded text in one step merge into a group.
// Reading a dump folder is ./verl-file.ts (Node only); this file maps rows and runs in the browser too.
import type { RawRow } from './log-text.js';

/** Fields of a dump line that are not reward values. */
const NOT_REWARDS = new Set(['input', 'output', 'gts', 'step', 'request_id', 'pred', 'seed']);

export function looksLikeVerl(row: Record<string, unknown>): boolean {
  return 'input' in row && 'output' in row && 'score' in row && 'step' in row && !('stage' in row);
}

const asText = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : typeof v === 'string' ? v : typeof v === 'number' ? String(v) : JSON.stringify(v));

/** verl dump lines → objects in our rollout-record shape (unvalidated: the caller validates and names bad rows). */
export function mapVerlRows(rows: RawRow[], seed = 0): RawRow[] {
  const groups = new Map<string, { group: number; next: number }>();
  const groupsInStep = new Map<unknown, number>();
  return rows.map(({ where, value: r }) => {
    const key = `${String(r.step)}\u0000${String(r.input)}`;
    let g = groups.get(key);
    if (!g) {
      const n = groupsInStep.get(r.step) ?? 0;
      groupsInStep.set(r.step, n + 1);
      groups.set(key, (g = { group: n, next: 0 }));
    }
    const rewards: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) {
      if (NOT_REWARDS.has(k)) continue;
      if (typeof v === 'number') rewards[k] = v;
      else if (typeof v === 'boolean') rewards[k] = v ? 1 : 0;
    }
    const acc = r.acc;
    const correct = typeof acc === 'boolean' ? acc : typeof acc === 'number' ? acc > 0 : typeof r.score === 'number' && r.score > 0;
    const gold = asText(r.gts);
    const value = {
      step: r.step,
      algo: 'grpo',
      seed: typeof r.seed === 'number' ? r.seed : seed,
      promptId: `s${String(r.step)}-g${g.group}`,
      stage: 'grpo',
      group: g.group,
      index: g.next++,
      prompt: r.input,
      text: r.output,
      tokens: typeof r.output === 'string' ? r.output.split(/\s+/).filter(Boolean).length : r.output,
      finishReason: 'stop',
      reward: r.score,
      rewards,
      correct,
      advantage: null,
      ...('pred' in r ? { answer: typeof r.pred === 'string' ? r.pred : null } : {}),
      ...(gold !== undefined ? { gold } : {}),
    };
    return { where, value };
  });
}
