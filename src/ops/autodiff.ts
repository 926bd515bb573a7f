// Reverse-mode gradients with PyTorch's memory behaviour, on tfjs's tape.
//
// tf.variableGrads records the same tape, but its backward keeps every tape node's saved tensors and the
// gradient of every intermediate until the whole backward has returned: peak memory is the forward's
// activations plus a gradient for each of them. For an LLM that is several times PyTorch's peak (a LoRA
// step of 8 × 256 tokens on a 24-layer Qwen2.5-0.5B went past 20 GB). Here, as in PyTorch's autograd,
// a node's saved tensors and its outputs' gradients are freed as soon as its own backward has run, and
// nodes that no trainable parameter reaches drop theirs before the backward starts. The gradient
// functions are tfjs's own (and ours, src/ops/gradients.ts); only the walk over the tape is ours.
import * as tf from '@tensorflow/tfjs';

/** One recorded op, as tfjs-core's engine keeps it (engine.ts addTapeNode; not in its exported types). */
interface TapeNode {
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

interface EngineState {
  activeTape: TapeNode[] | null;
  gradientDepth: number;
}

/**
 * The value of f (a scalar loss) and its gradient for every trainable variable in params, by variable
 * name: what tf.variableGrads(f, params) returns, with less memory held. A trainable variable that f
 * does not reach gets a zero gradient (an adapter left out of this forward); when f reaches none of
 * them it is an error.
 */
export function valueAndGrads(f: () => tf.Scalar, params: readonly tf.Variable[]): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const xs = params.filter((p) => p.trainable);
  if (xs.length === 0) throw new Error('valueAndGrads: none of the given variables is trainable');
  const state = tf.engine().state as unknown as EngineState;
  if (state.gradientDepth > 0) throw new Error('valueAndGrads: called while another gradient is being recorded (nested gradients are not supported)');
  const outer = state.activeTape;
  const tape: TapeNode[] = [];
  let y: tf.Tensor;
  state.activeTape = tape;
  state.gradientDepth++;
  try {
    y = tf.tidy('forward', f);
  } catch (e) {
    disposeSaved(tape);
    throw e;
  } finally {
    state.gradientDepth--;
    state.activeTape = outer;
  }
  try {
    if (!(y instanceof tf.Tensor) || y.rank !== 0) throw new Error(`valueAndGrads: f must return a scalar tensor, got ${y instanceof tf.Tensor ? `shape [${y.shape}]` : typeof y}`);
    // undefined where y does not depend on that variable
    const grads = tf.tidy('backward', () => backprop(tape, xs, y) as tf.Tensor[]) as (tf.Tensor | undefined)[];
    if (grads.every((g) => g === undefined)) {
      throw new Error('valueAndGrads: the loss does not depend on any trainable variable (are the right parameters trainable?)');
    }
    const named: Record<string, tf.Tensor> = {};
    xs.forEach((x, i) => (named[x.name] = grads[i] ?? tf.zerosLike(x)));
    return { value: y as tf.Scalar, grads: named };
  } catch (e) {
    tf.dispose(y);
    throw e;
  } finally {
    disposeSaved(tape);
  }
}

/** Gradients of y (seeded with ones) for each of xs, undefined where y does not depend on it. */
function backprop(tape: TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): (tf.Tensor | undefined)[] {
  // forward: the nodes with an input that depends on some x; the others need no backward at all
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodes: TapeNode[] = [];
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      for (const o of node.outputs) fromX.add(o.id);
      nodes.push(node);
    } else {
      tf.dispose(node.saved ?? []);
    }
  }
  const grad = new Map<number, tf.Tensor>([[y.id, tf.onesLike(y)]]);
  // backward, in reverse recording order: when a node is reached every consumer of its outputs has run
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    const dys = node.outputs.map((o) => grad.get(o.id) ?? null);
    if (dys.some((d) => d !== null)) {
      if (!node.gradient) throw new Error(`Cannot compute gradient: no gradient function for ${node.kernelName}`);
      const fns = node.gradient(dys);
      for (const [name, input] of Object.entries(node.inputs)) {
        if (!fromX.has(input.id)) continue; // a constant or frozen weight: its gradient is never made
        const fn = fns[name];
        if (!fn) throw new Error(`Cannot backprop through input '${name}' of ${node.kernelName}: its gradient gives ${Object.keys(fns).join(', ')}`);
        const dx = tf.tidy(fn);
        if (dx.shape.length !== input.shape.length || dx.shape.some((n, k) => n !== input.shape[k])) {
          throw new Error(`Error in gradient for op ${node.kernelName}: the gradient of input '${name}' has shape [${dx.shape}], the input [${input.shape}]`);
        }
        const prev = grad.get(input.id);
        if (prev) {
          grad.set(input.id, tf.add(prev, dx));
          tf.dispose([prev, dx]);
        } else {
          grad.set(input.id, dx);
        }
      }
    }
    // this node's backward has run: what it saved and its outputs' gradients are needed no more
    tf.dispose(node.saved ?? []);
    for (const o of node.outputs) {
      grad.get(o.id)?.dispose();
      grad.delete(o.id);
    }
  }
  return xs.map((x) => grad.get(x.id));
}

function disposeSaved(tape: TapeNode[]): void {
  for (const node of tape) tf.dispose(node.saved ?? []);
}
