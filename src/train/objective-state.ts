// The objective's state that lives across steps and must come back on resume for it to stay bit-identical:
// the adaptive entropy coefficient (TRL keeps it in entropy_ctrl_state.json beside each checkpoint) and,
// with objective.syncRefModel, the reference's weights (after a sync they are no longer the starting
// policy's, and cannot be rebuilt from the checkpointed policy). Both are written into each checkpoint folder
// before it is renamed into place, so a checkpoint holds them or does not exist.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadPolicy } from '../model/load.js';
import type { Policy } from '../model/policy.js';
import { initialEntropyControl, type EntropyControl } from '../rl/update.js';
import type { TrainConfig } from './config.js';
import { syncDue, syncReference } from './ref-sync.js';

const ENTROPY_FILE = 'entropy-control.json';
const REFERENCE_DIR = 'reference';

export class ObjectiveState {
  /** Passed to every policyUpdate (UpdateOptions.entropyControl). */
  readonly entropy: EntropyControl;

  constructor(private readonly config: TrainConfig, private readonly policy: Policy, private reference?: Policy) {
    this.entropy = initialEntropyControl(config.objective);
    if (config.objective.syncRefModel && !reference) throw new Error('objective.syncRefModel: no reference policy was loaded (it needs objective.beta > 0)');
  }

  /** After `updates` updates: the TR-DPO sync of the reference when due. */
  afterStep(updates: number): void {
    const o = this.config.objective;
    if (o.syncRefModel && syncDue(updates, o.refModelSyncSteps)) syncReference(this.policy, this.reference!, o.refModelMixupAlpha);
  }

  /** Into a checkpoint folder being built. */
  async save(dir: string): Promise<void> {
    const o = this.config.objective;
    if (o.useAdaptiveEntropy) {
      const { coef, lastWorldEntropy } = this.entropy;
      // JSON has no Infinity: null stands for "not measured yet"
      fs.writeFileSync(path.join(dir, ENTROPY_FILE), JSON.stringify({ entropyCoef: coef, lastWorldEntropy: Number.isFinite(lastWorldEntropy) ? lastWorldEntropy : null }) + '\n');
    }
    if (o.syncRefModel) await this.reference!.save(path.join(dir, REFERENCE_DIR));
  }

  /**
   * From the checkpoint a run resumes from; what the config needs but the folder lacks is an error naming it.
   * Returns the reference to train with: with syncRefModel the checkpoint's (the one loaded from the
   * config's policy is disposed), else the one given.
   */
  restore(dir: string): Policy | undefined {
    const o = this.config.objective;
    if (o.useAdaptiveEntropy) {
      const file = path.join(dir, ENTROPY_FILE);
      if (!fs.existsSync(file)) throw new Error(`${file} is missing: objective.useAdaptiveEntropy needs the entropy coefficient the run had reached`);
      const s = JSON.parse(fs.readFileSync(file, 'utf8')) as { entropyCoef: unknown; lastWorldEntropy: unknown };
      if (typeof s.entropyCoef !== 'number' || !(s.lastWorldEntropy === null || typeof s.lastWorldEntropy === 'number')) {
        throw new Error(`${file}: expected {"entropyCoef": number, "lastWorldEntropy": number | null}`);
      }
      this.entropy.coef = s.entropyCoef;
      this.entropy.lastWorldEntropy = s.lastWorldEntropy ?? Infinity;
    }
    if (o.syncRefModel) {
      const folder = path.join(dir, REFERENCE_DIR);
      if (!fs.existsSync(folder)) throw new Error(`${folder} is missing: objective.syncRefModel needs the synced reference the run had reached`);
      const saved = loadPolicy(folder);
      const from = saved.parameters();
      const theta = this.policy.parameters();
      const bad = from.length !== theta.length ? -1 : from.findIndex((v, i) => v.shape.join() !== theta[i].shape.join());
      if (from.length !== theta.length || bad >= 0) {
        saved.dispose();
        throw new Error(`${folder}: its parameters do not match the policy's (${bad < 0 ? `${from.length} vs ${theta.length}` : `#${bad}`}): not this run's reference`);
      }
      for (const v of from) v.trainable = false;
      this.reference?.dispose();
      this.reference = saved;
    }
    return this.reference;
  }
}
