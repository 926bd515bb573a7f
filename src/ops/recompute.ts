// Activation recomputation (PyTorch's torch.utils.checkpoint, transformers' gradient_checkpointing):
// y = fn(x) whose forward keeps only x and `consts`, and whose backward reruns fn under a tape of its own
// to get dx and the gradients of `params`.
//
// Why it matters more here than in PyTorch: tfjs's tape keeps every op's saved inputs until the whole
// backward has run, and the backward keeps the gradient of every intermediate until it returns. For a
// decoder layer that is dozens of [tokens, hidden|mlp] tensors, times the depth: a LoRA step of 8 × 256
// tokens on a 24-layer Qwen2.5-0.5B held more than 20 GB. Wrapped per layer, the tape holds one input per
// layer and the backward one layer's intermediates at a time, for about one extra forward of compute.
import * as tf from '@tensorflow/tfjs';

/** The engine's tape slot (public in tfjs-core's Engine, not in its exported types). */
interface TapeState {
  activeTape: unknown;
}

/**
 * f under a tape of its own. Called inside a backward pass, where the outer gradients() call has
 * finished recording (depth 0) but still owns its tape: a nested gradients() would replace that tape
 * and then clear it, so the outer one is put back afterwards.
 */
function withOwnTape<T>(f: () => T): T {
  const state = tf.engine().state as unknown as TapeState;
  const outer = state.activeTape;
  try {
    return f();
  } finally {
    state.activeTape = outer;
  }
}

/**
 * fn(x, consts) computed without keeping its intermediates for the backward. `params`: the trainable
 * tensors fn reads (variables it closes over) whose gradients the caller wants; `consts`: tensors fn
 * reads that may be disposed before the backward runs (they are kept until then). fn must be
 * deterministic (no dropout), since the backward reruns it. Without an active tape (sampling, no-grad
 * log-probs) this is fn(x, consts) itself.
 */
export function recompute(
  fn: (x: tf.Tensor, consts: tf.Tensor[]) => tf.Tensor,
  x: tf.Tensor,
  params: readonly tf.Tensor[],
  consts: readonly tf.Tensor[] = [],
): tf.Tensor {
  if (!tf.engine().isTapeOn()) return fn(x, [...consts]);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const input = args[0] as tf.Tensor;
    save([input, ...consts]); // kept (cloned) by the engine until the backward has run
    return {
      value: fn(input, [...consts]), // the tape is off inside a custom op: nothing of fn is recorded
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ...cs] = saved;
        const wrt = [xs, ...params];
        const { value, grads } = withOwnTape(() => tf.engine().gradients(() => fn(xs, cs), wrt, dy, true));
        value.dispose();
        // a param fn does not reach (e.g. an adapter switched off) gets a zero gradient
        return wrt.map((t, i) => grads[i] ?? tf.zerosLike(t));
      },
    };
  });
  return op(x, ...params);
}
