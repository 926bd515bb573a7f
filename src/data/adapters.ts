// Adapters: a raw record from a public benchmark → the Problem shape. Each knows its source's field
// names; 'auto' picks by the fields present. Adapters never invent an answer: a record without one
// is left without one, and schema validation then names the missing field.
import { lastBoxed } from '../util/braces.js';

export type Raw = Record<string, unknown>;
export type AdapterName = 'auto' | 'problem' | 'gsm8k' | 'math' | 'aime' | 'amc' | 'minerva';
export type Adapter = (raw: Raw) => Raw;

const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? numberText(v) : undefined;

/** 27.0 → "27", 0.5 → "0.5" (AMC's float answers). */
function numberText(v: number): string {
  return Number.isInteger(v) ? String(v) : String(v);
}

/** GSM8K: `question`, `answer` = worked solution ending in `#### N` (commas removed from N). */
export const gsm8kAdapter: Adapter = (raw) => {
  const text = str(raw.answer) ?? '';
  const at = text.lastIndexOf('####');
  const hasMarker = at >= 0;
  return {
    ...raw,
    problem: str(raw.problem) ?? str(raw.question),
    answer: hasMarker ? text.slice(at + 4).trim().replace(/,/g, '') : text || undefined,
    solution: str(raw.solution) ?? (hasMarker ? text : undefined),
  };
};

/** MATH / MATH-500 / Minerva: `problem`, `solution`, and `answer` (else the solution's last \boxed). */
export const mathAdapter: Adapter = (raw) => {
  const solution = str(raw.solution);
  const answer = str(raw.answer) ?? (solution ? lastBoxed(solution) : undefined);
  return { ...raw, problem: str(raw.problem) ?? str(raw.question), answer, solution };
};

/** AIME / AMC: integer (or float) answers; AIME's leading zeros ("025") dropped, the original kept. */
export const competitionAdapter: Adapter = (raw) => {
  const original = str(raw.answer);
  const answer = original !== undefined && /^0\d+$/.test(original.trim()) ? original.trim().replace(/^0+/, '') : original;
  const solution = Array.isArray(raw.solution) ? (raw.solution as unknown[]).map(String).join('\n\n') : str(raw.solution);
  return {
    ...raw,
    problem: str(raw.problem) ?? str(raw.question),
    answer,
    ...(solution ? { solution } : {}),
    ...(original !== answer ? { answer_original: original } : {}),
  };
};

const ADAPTERS: Record<Exclude<AdapterName, 'auto'>, Adapter> = {
  problem: (raw) => ({ ...raw, answer: str(raw.answer) ?? raw.answer }),
  gsm8k: gsm8kAdapter,
  math: mathAdapter,
  minerva: mathAdapter,
  aime: competitionAdapter,
  amc: competitionAdapter,
};

/** Picks an adapter by the record's fields: GSM8K's `question` + `####` answer, else MATH-style. */
export function autoAdapter(raw: Raw): Raw {
  if (typeof raw.question === 'string' && typeof raw.answer === 'string' && raw.answer.includes('####')) {
    return gsm8kAdapter(raw);
  }
  if (typeof raw.answer === 'number') return competitionAdapter(raw);
  return mathAdapter(raw);
}

export function getAdapter(name: AdapterName): Adapter {
  return name === 'auto' ? autoAdapter : ADAPTERS[name];
}
