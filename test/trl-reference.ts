// An independent float64 transcription of TRL's GRPOTrainer loss, for the objective tests. Source:
// huggingface/trl at f2cd57710ae345ea6428ae95363267fcf38a3dc8 (2026-07-24), trl/trainer/grpo_trainer.py;
// the line numbers below are that file's. Layout as TRL's: [B, T] completion positions, right padding, one
// process. What TRL detaches is read from the `…d` copies (x_d, ent_d), so a finite difference in x (or ent)
// alone is the gradient TRL's autograd takes.
type M = number[][];

export interface TrlArgs {
  loss_type: 'grpo' | 'bnpo' | 'dr_grpo' | 'dapo' | 'cispo' | 'sapo' | 'luspo' | 'vespo';
  importance_sampling_level: 'token' | 'sequence';
  epsilon_low: number;
  epsilon_high: number;
  delta?: number;
  beta: number;
  use_bias_correction_kl: boolean;
  sapo_temperature_pos: number;
  sapo_temperature_neg: number;
  vespo_k_pos: number;
  vespo_lambda_pos: number;
  vespo_k_neg: number;
  vespo_lambda_neg: number;
  off_policy_mask_threshold?: number;
  top_entropy_quantile: number;
  /** The coefficient applied in this step (apply_coef, l. 3176-3179); 0 = bonus off. */
  entropy_coef: number;
  max_completion_length: number;
  /** num_items_in_batch: loss tokens of the whole accumulated batch (l. 2427). */
  num_items_in_batch: number;
  /** current_gradient_accumulation_steps. */
  ga: number;
}

export interface TrlInputs {
  x: M;
  xd: M;
  old?: M;
  ref?: M;
  sampling?: M;
  /** importance_sampling_ratio (token modes), 1 at padding as TRL builds it (l. 2579-2590). */
  is_ratio?: M;
  adv: number[];
  mask: M;
  ent?: M;
  entd?: M;
}

/** torch.quantile, interpolation='linear'. */
export function torchQuantile(values: number[], q: number): number {
  const a = [...values].sort((p, r) => p - r);
  const pos = q * (a.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return a[lo] + (a[hi] - a[lo]) * (pos - lo);
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);

export function trlLoss(inp: TrlInputs, a: TrlArgs): { loss: number; metrics: Record<string, number>; keep?: number[]; entropyMask?: M } {
  const { x, xd, adv, mask } = inp;
  const B = x.length;
  const T = x[0].length;
  const grid = (f: (b: number, t: number) => number): M => Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => f(b, t)));
  const rowSum = (m: M, b: number) => m[b].reduce((s, v) => s + v, 0);
  const msum = Array.from({ length: B }, (_, b) => rowSum(mask, b));
  const total = msum.reduce((s, v) => s + v, 0);

  // l. 3020-3023 and get_high_entropy_mask l. 1413-1432 (one process: the gather is the local values)
  let entropyMask: M | undefined;
  if (a.top_entropy_quantile < 1) {
    const local: number[] = [];
    grid((b, t) => (mask[b][t] ? local.push(inp.entd![b][t]) : 0));
    if (local.length === 0) entropyMask = grid(() => 0);
    else {
      const thr = torchQuantile(local, 1 - a.top_entropy_quantile);
      entropyMask = grid((b, t) => (inp.entd![b][t] * mask[b][t] >= thr && mask[b][t] ? 1 : 0));
    }
  }
  // l. 3036: old_per_token_logps = per_token_logps.detach() when not given
  const old = inp.old ?? xd;
  // l. 3039-3052 and get_off_policy_mask l. 2929-2940
  let keep: number[] | undefined;
  if (a.off_policy_mask_threshold !== undefined) {
    const sampling = inp.sampling ?? old;
    keep = Array.from({ length: B }, (_, b) => {
      let s = 0;
      for (let t = 0; t < T; t++) s += (sampling[b][t] - xd[b][t]) * mask[b][t];
      const avg = s / Math.max(msum[b], 1);
      return adv[b] >= 0 || avg <= a.off_policy_mask_threshold! ? 1 : 0;
    });
  }
  // l. 3054-3067: log_ratio, log_importance_weights (token, or the masked mean per sequence: (B, 1)), coef_1
  const seq = a.importance_sampling_level === 'sequence';
  const logw = (src: M) => {
    const lr = grid((b, t) => src[b][t] - old[b][t]);
    if (!seq) return lr;
    const perRow = Array.from({ length: B }, (_, b) => lr[b].reduce((s, v, t) => s + v * mask[b][t], 0) / Math.max(msum[b], 1));
    return grid((b) => perRow[b]);
  };
  const coef1 = logw(x).map((r) => r.map(Math.exp));
  const coef1d = logw(xd).map((r) => r.map(Math.exp));
  // l. 3070-3076: k3 KL, times coef_1 (with its gradient) for use_bias_correction_kl
  let kl: M | undefined;
  if (a.beta !== 0) {
    kl = grid((b, t) => {
      const d = inp.ref![b][t] - x[b][t];
      const k = Math.exp(d) - d - 1;
      return a.use_bias_correction_kl ? k * coef1[b][t] : k;
    });
  }
  // l. 3080-3109: the per-token term; rowShape tracks whether TRL's tensor is still (B, 1)
  let rowShape = seq;
  let per: M;
  let phi: number[] | undefined;
  let c1 = coef1; // l. 3086-3087 rebinds coef_1 to its delta cap (the clip metrics read that)
  switch (a.loss_type) {
    case 'cispo':
      per = grid((b, t) => -Math.min(coef1d[b][t], a.epsilon_high) * adv[b] * x[b][t]);
      rowShape = false;
      break;
    case 'sapo':
      per = grid((b, t) => {
        const tau = adv[b] > 0 ? a.sapo_temperature_pos : a.sapo_temperature_neg;
        return -((sigmoid(tau * (coef1[b][t] - 1)) * 4) / tau) * adv[b];
      });
      break;
    case 'vespo': {
      // get_gamma_weights l. 2965-2990 (no_grad: from the detached log-ratio)
      const lower = Math.log(1e-8);
      phi = Array.from({ length: B }, (_, b) => {
        let s = 0;
        for (let t = 0; t < T; t++) s += clamp(xd[b][t] - old[b][t], -20, 20) * mask[b][t];
        if (inp.is_ratio) for (let t = 0; t < T; t++) s += clamp(Math.log(inp.is_ratio[b][t]), lower, 20);
        const lw = clamp(s, lower, 20);
        const w = Math.exp(lw);
        const nonneg = adv[b] >= 0;
        const k = nonneg ? a.vespo_k_pos : a.vespo_k_neg;
        const lam = Math.max(nonneg ? a.vespo_lambda_pos : a.vespo_lambda_neg, 1e-4);
        const v = Math.exp(lam + k * lw - lam * w);
        return Number.isFinite(v) ? v : 0;
      });
      per = grid((b, t) => -phi![b] * adv[b] * x[b][t]);
      rowShape = false;
      break;
    }
    default: {
      const c2 = grid((b, t) => clamp(coef1[b][t], 1 - a.epsilon_low, 1 + a.epsilon_high));
      if (a.delta !== undefined) c1 = grid((b, t) => Math.min(coef1[b][t], a.delta!));
      per = grid((b, t) => -Math.min(c1[b][t] * adv[b], c2[b][t] * adv[b]));
    }
  }
  // l. 3111-3121
  if (keep) per = grid((b, t) => per[b][t] * keep![b]);
  if (entropyMask) (per = grid((b, t) => per[b][t] * entropyMask![b][t])), (rowShape = false);
  if (inp.is_ratio && a.loss_type !== 'vespo') (per = grid((b, t) => per[b][t] * inp.is_ratio![b][t])), (rowShape = false);
  if (kl) (per = grid((b, t) => per[b][t] + a.beta * kl![b][t])), (rowShape = false);
  // l. 3124-3151: aggregation
  const maskedSum = (m: M) => m.reduce((s, r, b) => s + r.reduce((u, v, t) => u + v * mask[b][t], 0), 0);
  let loss: number;
  switch (a.loss_type) {
    case 'grpo':
    case 'sapo':
      loss = per.reduce((s, r, b) => s + r.reduce((u, v, t) => u + v * mask[b][t], 0) / Math.max(msum[b], 1), 0) / B / a.ga;
      break;
    case 'bnpo':
      loss = maskedSum(per) / Math.max(total, 1) / a.ga;
      break;
    case 'dr_grpo':
      loss = maskedSum(per) / (B * a.max_completion_length) / a.ga;
      break;
    case 'luspo':
      // (per_token_loss * mask.sum(1, keepdim=True)).mean(): over B rows for (B, 1), over all B·T entries (padding too) for (B, T)
      loss = rowShape
        ? per.reduce((s, r, b) => s + r[0] * msum[b], 0) / B / a.ga
        : per.reduce((s, r, b) => s + r.reduce((u, v) => u + v * msum[b], 0), 0) / (B * T) / a.ga;
      break;
    default: // cispo, dapo, vespo
      loss = maskedSum(per) / Math.max(a.num_items_in_batch, 1);
  }
  // l. 3153-3180: the entropy bonus
  if (a.entropy_coef !== 0) {
    const eff = entropyMask ? grid((b, t) => mask[b][t] * entropyMask![b][t]) : mask;
    const es = inp.ent!.reduce((s, r, b) => s + r.reduce((u, v, t) => u + v * eff[b][t], 0), 0);
    const ec = eff.reduce((s, r) => s + r.reduce((u, v) => u + v, 0), 0);
    const h = ['cispo', 'dapo', 'vespo'].includes(a.loss_type) ? es / Math.max(a.num_items_in_batch, 1) : es / Math.max(ec, 1) / a.ga;
    loss -= a.entropy_coef * h;
  }
  // l. 3224-3258: metrics (global_masked_mean: the row mean for (B, 1) tensors, else the masked token mean)
  const metrics: Record<string, number> = {};
  const gmm = (m: M, perRow: boolean) => (perRow ? m.reduce((s, r) => s + r[0], 0) / B : maskedSum(m) / Math.max(total, 1));
  if (inp.ent) metrics.entropy = gmm(inp.ent, false);
  if (['grpo', 'bnpo', 'dr_grpo', 'dapo', 'luspo'].includes(a.loss_type)) {
    const low = grid((b, t) => (c1[b][t] < 1 - a.epsilon_low && adv[b] < 0 ? 1 : 0));
    const high = grid((b, t) => (c1[b][t] > 1 + a.epsilon_high && adv[b] > 0 ? 1 : 0));
    const region = grid((b, t) => Math.max(low[b][t], high[b][t]));
    metrics['clip_ratio/low_mean'] = gmm(low, seq);
    metrics['clip_ratio/high_mean'] = gmm(high, seq);
    metrics['clip_ratio/region_mean'] = gmm(region, seq);
    const seqMean = (m: M) => m.map((r, b) => (seq ? r[0] : r.reduce((u, v, t) => u + v * mask[b][t], 0) / msum[b]));
    metrics['clip_ratio/low_min'] = Math.min(...seqMean(low).filter((v) => !Number.isNaN(v)));
    metrics['clip_ratio/high_max'] = Math.max(...seqMean(high).filter((v) => !Number.isNaN(v)));
  } else if (a.loss_type === 'cispo') {
    metrics.cispo_clip_ratio = gmm(grid((b, t) => (coef1[b][t] > a.epsilon_high && adv[b] > 0 ? 1 : 0)), seq);
  } else if (a.loss_type === 'vespo') {
    metrics['vespo/phi_seq_mean'] = phi!.reduce((s, v) => s + v, 0) / B;
  }
  return { loss, metrics, keep, entropyMask };
}

export const TRL_DEFAULTS: Omit<TrlArgs, 'loss_type' | 'importance_sampling_level' | 'max_completion_length' | 'num_items_in_batch'> = {
  epsilon_low: 0.2, epsilon_high: 0.2, beta: 0, use_bias_correction_kl: false, sapo_temperature_pos: 1.0, sapo_temperature_neg: 1.05,
  vespo_k_pos: 2.0, vespo_lambda_pos: 3.0, vespo_k_neg: 3.0, vespo_lambda_neg: 2.0, top_entropy_quantile: 1.0, entropy_coef: 0, ga: 1,
};
