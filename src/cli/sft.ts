// `igrpo sft`: the supervised warm-up that makes the shipped policy (data/policy), reproducibly.
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ProgressBar } from '../analysis/progress.js';
import { describeBackend, selectBackend } from '../backend/select.js';
import { dataPath } from '../paths.js';
import { ConfigError } from '../train/config.js';
import { runSft, SftConfig } from '../train/sft.js';
import { intFlag, UsageError, usageFailure } from './common.js';
import * as fs from 'node:fs';

const HELP = `usage: igrpo sft [options]

  --out DIR              where to write the policy (default: data/policy, the shipped one)
  --config FILE          JSON SFT config (src/train/sft.ts; default data/configs/sft.json)
  --steps N              override the config's steps
  --seed S               override the config's seed
  --backend B            (default $IGRPO_BACKEND or auto)
  --quiet                no progress bar

exit codes: 0 done, 2 bad usage or config, 1 other errors`;

export async function run(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let cfg: SftConfig;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' }, config: { type: 'string' }, steps: { type: 'string' }, seed: { type: 'string' },
        backend: { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    }));
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const file = (values.config as string | undefined) ?? dataPath('configs', 'sft.json');
    let raw: Record<string, unknown> = {};
    if (values.config || fs.existsSync(file)) {
      try {
        raw = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch (e) {
        throw new ConfigError(`cannot read ${file}: ${(e as Error).message}`);
      }
    }
    const steps = intFlag(values.steps as string | undefined, '--steps');
    const seed = intFlag(values.seed as string | undefined, '--seed');
    const r = SftConfig.safeParse({ ...raw, ...(steps !== undefined ? { steps } : {}), ...(seed !== undefined ? { seed } : {}) });
    if (!r.success) throw new ConfigError(`invalid ${file}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    cfg = r.data;
  } catch (e) {
    const code = usageFailure('sft', e, HELP);
    if (code === undefined) throw e;
    return code;
  }
  console.error(describeBackend(await selectBackend((values.backend as string | undefined) ?? process.env.IGRPO_BACKEND ?? 'auto')));
  const out = path.resolve((values.out as string | undefined) ?? dataPath('policy'));
  const bar = values.quiet ? undefined : new ProgressBar({ total: cfg.steps, label: 'sft', intervalMs: 1000 });
  const t0 = performance.now();
  const { finalEval, policy } = await runSft(cfg, {
    out,
    onProgress: (p) => bar?.tick(1, { loss: p.loss, ...(p.eval ? { passAt1: p.eval.passAt1 } : {}) }),
  });
  bar?.finish();
  console.log(`sft done in ${((performance.now() - t0) / 1000).toFixed(0)} s: ${policy.numParameters()} parameters, held-out pass@1 ` +
    `${(100 * finalEval).toFixed(1)}% (T=${cfg.evalTemperature}, ${cfg.evalSize} held-out problems) → ${out}`);
  policy.dispose();
  return 0;
}
