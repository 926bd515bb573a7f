// `igrpo train`: GRPO or iGRPO on a policy (default: the shipped SFT policy on the synthetic task).
// Exit codes: 0 done; 2 bad usage or invalid config (the message names the field); 3 training stopped
// by the non-finite guard (loss, gradient norm or weights; the last good checkpoint is kept and named); 1 anything else.
// A run folder that cannot be used as asked (held by another training, nothing to resume, not a run) is a usage error.
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ProgressBar } from '../analysis/progress.js';
import { describeBackend, selectBackend } from '../backend/select.js';
import { parseTrainConfig, type TrainConfig } from '../train/config.js';
import { readTrainConfig } from '../train/config-file.js';
import { releaseAllRunLocks } from '../train/run-lock.js';
import { Trainer, TrainingStoppedError } from '../train/trainer.js';
import { intFlag, orUsage, UsageError, usageFailure } from './common.js';

const HELP = `usage: igrpo train --out DIR [options]

  --algo grpo|igrpo      algorithm (default: the config's, igrpo)
  --steps N              optimizer updates (default: the config's, 30)
  --seed S               run seed: data order and sampling (default 0)
  --out DIR              run folder: metrics.jsonl, rollouts.jsonl, evals.jsonl, checkpoints/, summary.json
  --config FILE          JSON config (src/train/config.ts; every field optional, defaults = embedded run)
  --resume               continue the run in DIR from its newest readable checkpoint (none: an error)
  --overwrite            replace the run in DIR (only a run folder, only the files a run writes),
                         once the new run's config, policy and data have loaded
  --policy DIR|ORG/NAME  starting policy: a GPT checkpoint, a Hugging Face model folder, or a hub id in
                         the HF cache (igrpo pull it first); default: the shipped data/policy
  --data FILE            train on a problem file (JSONL/JSON/CSV/Parquet, or benchmark:NAME) = data.file
  --held-out FILE        held-out problems from this file (else data.heldOutFraction of --data) = data.heldOutFile
  --lora SPEC            LoRA on the policy, e.g. r=16,alpha=32,targets=q_proj,v_proj (defaults r=16,
                         alpha=32, targets q_proj,k_proj,v_proj,o_proj; 'on' for all defaults); checkpoints
                         hold the base + adapter/ in PEFT format (igrpo merge folds it in)
  --chat                 prompts through the model's chat template (q' = the paper's template as a user turn)
  --system TEXT          system message before each prompt (with --chat)
  --backend B            auto, native, wasm, cpu, webgpu, … (default $IGRPO_BACKEND or the config's, auto)
  --quiet                no progress bar

exit codes: 0 done, 2 bad usage, config or run folder (in use, nothing to resume, not a run),
            3 stopped on a non-finite loss, gradient norm or weight, 1 other errors`;

const LORA_KEYS = ['r', 'alpha', 'dropout', 'targets', 'seed'] as const;

/**
 * --lora r=16,alpha=32,targets=q_proj,v_proj → { r: 16, alpha: 32, targets: [...] } ('on' = defaults). A
 * bare word after targets= continues its list; values are checked by the config schema (field lora.*).
 */
export function parseLoraFlag(spec: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (spec.trim() === 'on' || spec.trim() === '') return out;
  let key: string | undefined;
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (key !== 'targets') throw new UsageError(`--lora: '${part}' is not KEY=VALUE (keys: ${LORA_KEYS.join(', ')})`);
      (out.targets as string[]).push(part);
      continue;
    }
    key = part.slice(0, eq);
    const value = part.slice(eq + 1);
    if (!(LORA_KEYS as readonly string[]).includes(key)) throw new UsageError(`--lora: unknown key '${key}' (keys: ${LORA_KEYS.join(', ')})`);
    if (key === 'targets') out.targets = value ? [value] : [];
    else {
      const x = Number(value);
      if (value === '' || !Number.isFinite(x)) throw new UsageError(`--lora: ${key} expects a number, got '${value}'`);
      out[key] = x;
    }
  }
  return out;
}

/** The config a command line asks for: file (or defaults), then the flags on top. */
export function configFromArgs(values: Record<string, string | boolean | undefined>): TrainConfig {
  const overrides: Record<string, unknown> = {};
  if (values.algo !== undefined) {
    if (values.algo !== 'grpo' && values.algo !== 'igrpo') throw new UsageError(`--algo must be grpo or igrpo, got '${values.algo}'`);
    overrides.algo = values.algo;
  }
  const steps = intFlag(values.steps as string | undefined, '--steps');
  if (steps !== undefined) overrides.steps = steps;
  const seed = intFlag(values.seed as string | undefined, '--seed');
  if (seed !== undefined) overrides.seed = seed;
  if (values.policy) overrides.policy = values.policy;
  if (values.data || values['held-out']) {
    overrides.data = { ...(values.data ? { file: values.data } : {}), ...(values['held-out'] ? { heldOutFile: values['held-out'] } : {}) };
  }
  if (values.lora !== undefined) overrides.lora = parseLoraFlag(values.lora as string);
  if (values.system !== undefined && !values.chat) throw new UsageError('--system needs --chat');
  if (values.chat) overrides.prompt = { format: 'chat', ...(values.system !== undefined ? { system: values.system } : {}) };
  const backend = (values.backend as string | undefined) ?? process.env.IGRPO_BACKEND;
  if (backend) overrides.backend = backend;
  return values.config ? readTrainConfig(values.config as string, overrides) : parseTrainConfig(overrides, 'config (defaults + flags)');
}

export async function run(argv: string[]): Promise<number> {
  let cfg: TrainConfig;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        algo: { type: 'string' }, steps: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' },
        config: { type: 'string' }, resume: { type: 'boolean' }, overwrite: { type: 'boolean' }, policy: { type: 'string' }, backend: { type: 'string' },
        data: { type: 'string' }, 'held-out': { type: 'string' }, lora: { type: 'string' }, chat: { type: 'boolean' }, system: { type: 'string' },
        quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    }));
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (!values.out) throw new UsageError('--out DIR is required');
    if (values.resume && values.overwrite) throw new UsageError('--resume and --overwrite contradict each other');
    cfg = configFromArgs(values);
  } catch (e) {
    const code = usageFailure('train', e, HELP);
    if (code === undefined) throw e;
    return code;
  }
  const backend = await orUsage('train', HELP, () => selectBackend(cfg.backend));
  if ('code' in backend) return backend.code;
  console.error(describeBackend(backend.value));
  const out = path.resolve(values.out as string);
  // Ctrl-C / kill: release the run folder's lock before exiting (kill -9 leaves it; the next run sees it is stale)
  const onSignal = (sig: NodeJS.Signals) => {
    releaseAllRunLocks();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const created = await orUsage('train', HELP, () => Trainer.create(cfg, { out, resume: !!values.resume, overwrite: !!values.overwrite }));
  if ('code' in created) return created.code;
  const trainer = created.value;
  const from = trainer.stepIndex;
  console.error(`${cfg.algo} seed ${cfg.seed}: ${from > 0 ? `resuming at step ${from}, ` : ''}${cfg.steps} steps, ${cfg.promptsPerStep} prompts × ${cfg.completionsPerPrompt} completions` +
    (cfg.algo === 'igrpo' ? ` (${cfg.igrpo.drafts} drafts + ${cfg.igrpo.refinements} refinements)` : '') + ` → ${out}`);
  const bar = values.quiet ? undefined : new ProgressBar({ total: cfg.steps, label: cfg.algo, intervalMs: 500 });
  bar?.tick(from);
  let summary;
  try {
    summary = await trainer.run({
      onStep: (s) => {
        for (const w of s.metrics!.warnings ?? []) console.error(`igrpo train: step ${s.step}: warning: ${w}`);
        bar?.tick(1, { reward: s.metrics!.reward, acc: s.metrics!.accuracy, ...(s.eval ? { eval: s.eval.passAt1 } : {}) });
      },
      onEval: (r) => bar?.set({ eval: r.passAt1 }),
    });
  } catch (e) {
    bar?.finish();
    if (e instanceof TrainingStoppedError) {
      console.error(`igrpo train: ${e.message}`);
      return 3;
    }
    throw e;
  } finally {
    trainer.dispose();
  }
  bar?.finish();
  const first = summary.evals[0];
  const last = summary.finalEval;
  const fmt = (x?: { passAt1: number; k: number; n: number; updates: number }) =>
    x ? `${(100 * x.passAt1).toFixed(1)}% (pass@1 over k=${x.k}, ${x.n} held-out problems, after ${x.updates} updates)` : 'n/a';
  console.log(`${cfg.algo} seed ${cfg.seed} done: ${summary.steps} steps, ${(summary.meanStepMs / 1000).toFixed(2)} s/step`);
  if (first && first !== last) console.log(`  held-out before: ${fmt(first)}`);
  console.log(`  held-out after:  ${fmt(last)}`);
  console.log(`  logs: ${path.join(out, 'metrics.jsonl')}, rollouts.jsonl, evals.jsonl, checkpoints/, summary.json`);
  return 0;
}
