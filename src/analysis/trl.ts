// Logs from other trainers, mapped onto our rollout records so the same frames and figures work on them.
//
// TRL's GRPOTrainer logs a completions table (wandb `completions` table, or the parquet/JSONL export of it) with
// columns: step, prompt, completion, one column per reward function (e.g. accuracy_reward, format_reward),
// usually advantage, sometimes reward. There is no group index, completion length or correctness column, so:
//   - group  = order of first appearance of the prompt text within its step; index = order within that group,
//   - reward = the `reward` column if present, else the sum of the reward-function columns,
//   - correct = the first column whose name contains "accura" or "correct" is > 0, else reward > 0,
//   - tokens = `completion_length` / `num_tokens` if present, else a whitespace word count (an approximation).
import type { RawRow } from './log-text.js';

/** Columns that are not reward functions in a TRL completions table. */
const NON_REWARD = new Set(['step', 'prompt', 'completion', 'advantage', 'reward', 'completion_length', 'num_tokens', 'seed']);

export function looksLikeTrl(row: Record<string, unknown>): boolean {
  return 'completion' in row && 'prompt' in row && !('stage' in row);
}

function num(v: unknown): unknown {
  return typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
}

function text(v: unknown): unknown {
  // Conversational TRL prompts/completions are lists of {role, content}; keep the content.
  if (Array.isArray(v)) return v.map((m) => (m && typeof m === 'object' && 'content' in m ? String((m as { content: unknown }).content) : String(m))).join('\n');
  return v;
}

/** TRL rows → objects in our rollout-record shape (still unvalidated: the caller validates and names bad rows). */
export function mapTrlRows(rows: RawRow[], seed = 0): RawRow[] {
  const groups = new Map<string, { group: number; next: number }>();
  const groupsInStep = new Map<unknown, number>();
  return rows.map(({ where, value: r }) => {
    const step = num(r.step);
    const prompt = text(r.prompt);
    const key = `${String(step)}\u0000${String(prompt)}`;
    let g = groups.get(key);
    if (!g) {
      const n = groupsInStep.get(step) ?? 0;
      groupsInStep.set(step, n + 1);
      g = { group: n, next: 0 };
      groups.set(key, g);
    }
    const rewards: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) if (!NON_REWARD.has(k)) rewards[k] = num(v);
    const rewardValues = Object.values(rewards).filter((v): v is number => typeof v === 'number');
    const reward = r.reward !== undefined ? num(r.reward) : rewardValues.reduce((a, b) => a + b, 0);
    const accuracyKey = Object.keys(rewards).find((k) => /accura|correct/i.test(k));
    const correct = accuracyKey ? Number(rewards[accuracyKey]) > 0 : Number(reward) > 0;
    const completion = text(r.completion);
    const tokens = num(r.completion_length ?? r.num_tokens) ?? String(completion).split(/\s+/).filter(Boolean).length;
    const value = {
      step,
      algo: 'grpo',
      seed: r.seed !== undefined ? num(r.seed) : seed,
      promptId: `s${String(step)}-g${g.group}`,
      stage: 'grpo',
      group: g.group,
      index: g.next++,
      prompt,
      text: completion,
      tokens,
      finishReason: 'stop',
      reward,
      rewards,
      correct,
      advantage: r.advantage === undefined ? null : num(r.advantage),
    };
    return { where, value };
  });
}

/**
 * Our rollouts in TRL's completions-table layout (step, prompt, completion, one column per reward, advantage), to
 * compare with TRL runs in the same tools or to check that the TRL mapping round-trips.
 */
export function toTrlRows(rollouts: readonly { step: number; prompt: string; text: string; rewards: Record<string, number>; advantage: number | null }[]): Record<string, unknown>[] {
  return rollouts.map((r) => ({
    step: r.step,
    prompt: r.prompt,
    completion: r.text,
    ...Object.fromEntries(Object.entries(r.rewards).map(([k, v]) => [`${k}_reward`, v])),
    advantage: r.advantage ?? 0,
  }));
}
