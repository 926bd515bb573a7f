// Run labels: what tells one run's configuration from another's, so that figures, tables and CIs group runs by
// *variant* (algorithm + the options that differ), and by seed within a variant — not just by algorithm. An
// ablation of three iGRPO templates is then three curves, not one band pooled over the templates.
import { parseTrainConfig } from '../train/config.js';
import { flatten, type FlatValue } from './flat.js';

/** A record that can be grouped: its algorithm, and the run's label when it was loaded with its config. */
export interface Groupable {
  algo: string;
  label?: string;
}

/** The group a record belongs to in figures and tables: its run label, else its algorithm. */
export const groupOf = (r: Groupable): string => r.label ?? r.algo;

/**
 * Options that do not define a variant: the seed (grouped over), where and how it ran, bookkeeping. A run that
 * differs from another only in these belongs to the same group.
 */
const NOT_A_VARIANT = /^(algo|seed|backend|out|checkpoint\.|logRollouts$|eval\.every$|eval\.atStart$|eval\.refinementProbe$)/;

function flatConfig(config: Record<string, unknown>): Record<string, FlatValue> {
  return flatten(config);
}

function defaultsFor(algo: string): Record<string, FlatValue> {
  try {
    return flatConfig(parseTrainConfig({ algo }) as unknown as Record<string, unknown>);
  } catch {
    return {};
  }
}

const show = (v: FlatValue) => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * The options of a run config that differ from the defaults, as "key=value" (dotted keys, sorted). iGRPO's own
 * block is ignored for GRPO runs (it has no effect there).
 */
export function configDiff(config: Record<string, unknown>): string[] {
  const algo = String(config.algo ?? 'igrpo');
  const defaults = defaultsFor(algo);
  const flat = flatConfig(config);
  return Object.keys(flat)
    .filter((k) => !NOT_A_VARIANT.test(k) && !(algo === 'grpo' && k.startsWith('igrpo.')))
    .filter((k) => JSON.stringify(flat[k]) !== JSON.stringify(defaults[k]))
    .sort()
    .map((k) => `${k}=${show(flat[k])}`);
}

/**
 * One label per run (same order): the algorithm, then the options that differ from the defaults *and* are not the
 * same in every run given (those are the shared setting, reported once by `commonOptions`). A run without a
 * config is labelled by its algorithm alone.
 */
export function runLabels(runs: readonly { algo: string; config?: Record<string, unknown> }[]): string[] {
  const diffs = runs.map((r) => (r.config ? configDiff(r.config) : []));
  const shared = commonOf(runs, diffs);
  return runs.map((r, i) => {
    const own = diffs[i].filter((d) => !shared.has(d));
    return own.length ? `${r.algo} ${own.join(' ')}` : r.algo;
  });
}

/** Options that differ from the defaults in the same way in every run (empty for one run: nothing to factor out). */
export function commonOptions(runs: readonly { algo: string; config?: Record<string, unknown> }[]): string[] {
  return [...commonOf(runs, runs.map((r) => (r.config ? configDiff(r.config) : [])))].sort();
}

function commonOf(runs: readonly { algo: string; config?: Record<string, unknown> }[], diffs: string[][]): Set<string> {
  if (runs.length < 2) return new Set(diffs[0] ?? []);
  // iGRPO-only options cannot be shared with GRPO runs (which ignore them): compare each within its algorithm.
  const keyOf = (d: string) => d.slice(0, d.indexOf('='));
  return new Set(
    diffs.flat().filter((d) =>
      runs.every((r, i) => diffs[i].includes(d) || (r.algo === 'grpo' && keyOf(d).startsWith('igrpo.'))),
    ),
  );
}

const ALGO_NAMES: Record<string, string> = { grpo: 'GRPO', igrpo: 'iGRPO' };

/** A label as figures and tables show it: "iGRPO igrpo.template=paper". */
export function displayLabel(label: string): string {
  const space = label.indexOf(' ');
  const head = space < 0 ? label : label.slice(0, space);
  return (ALGO_NAMES[head] ?? head) + (space < 0 ? '' : label.slice(space));
}
