// TR-DPO's reference sync (TRL's sync_ref_model, trl/trainer/callbacks.py SyncRefModelCallback): every
// refModelSyncSteps updates the frozen KL reference moves toward the policy, reference ← α·θ + (1 − α)·reference.
// Only for full fine-tuning: with LoRA the reference is the base with the adapters switched off
// (LlamaModel.reference() shares the base weights), so there is no separate reference to mix into. Syncing
// there would have to mean either folding α·(the adapters' ΔW) into the base — which moves the policy too,
// since it is the same base — or keeping a second, mixed copy of the base, which is the memory LoRA avoids.
// TRL refuses PEFT + sync_ref_model for the same reason (grpo_trainer.py, "if args.sync_ref_model:"), and so
// do we, naming the field.
import * as tf from '@tensorflow/tfjs';
import type { Policy } from '../model/policy.js';

/** What TRL's GRPOTrainer.__init__ raises for sync_ref_model, as messages for objective.syncRefModel. */
export function refSyncConfigErrors(c: { objective: { syncRefModel: boolean; beta: number }; lora?: unknown }): string[] {
  if (!c.objective.syncRefModel) return [];
  const out: string[] = [];
  if (c.objective.beta === 0) {
    out.push('objective.syncRefModel needs objective.beta > 0: with beta 0 the reference is not used (none is loaded), so there is nothing to synchronize');
  }
  if (c.lora !== undefined) {
    out.push(
      'objective.syncRefModel is not supported with lora: the reference is the base model with the adapters off (the same weights the policy trains on), ' +
        'not a separate model that could be mixed toward the policy; use full fine-tuning (no lora) for a synced reference, or syncRefModel false',
    );
  }
  return out;
}

/**
 * Is a sync due once `updates` updates are done? (TRL: on_step_end, global_step % ref_model_sync_steps == 0.)
 * Counted in trainer steps (sampled batches): TRL's global steps when optimizer.numIterations is 1; with more
 * iterations TRL counts each optimizer step, so its syncs can fall mid-batch where ours come at the batch's end.
 */
export const syncDue = (updates: number, every: number): boolean => updates > 0 && updates % every === 0;

/** reference ← α·θ + (1 − α)·reference, parameter by parameter, in place (TRL: target.mul_(1 − α).add_(θ, alpha=α)). */
export function syncReference(policy: Policy, reference: Policy, alpha: number): void {
  const theta = policy.parameters();
  const ref = reference.parameters();
  if (theta.length !== ref.length) throw new Error(`syncReference: the policy has ${theta.length} parameters, the reference ${ref.length}`);
  ref.forEach((r, i) => {
    if (r.shape.join() !== theta[i].shape.join()) throw new Error(`syncReference: parameter #${i} is [${theta[i].shape}] in the policy, [${r.shape}] in the reference`);
    r.assign(tf.tidy(() => tf.add(tf.mul(r, 1 - alpha), tf.mul(theta[i], alpha))));
  });
}
