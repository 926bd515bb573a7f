// Fused GELU (tanh approximation, as src/ops gelu) forward and backward: one dispatch each instead of ~8.
import type { TensorInfo } from '../backend.js';
import { runFlat } from '../program.js';

// tanh via exp(-2|u|): WGSL's tanh may return NaN for large |u| on some drivers.
const HELPERS = `
const GELU_C : f32 = 0.7978845608028654;
const GELU_A : f32 = 0.044715;
fn safeTanh(u : f32) -> f32 {
  let e = exp(-2.0 * abs(u));
  return sign(u) * (1.0 - e) / (1.0 + e);
}`;

export function geluForward(x: TensorInfo): TensorInfo {
  const n = x.shape.reduce((a, b) => a * b, 1);
  return runFlat(
    {
      key: 'gelu_fwd',
      inputs: ['X'],
      outputShape: x.shape,
      threads: n,
      uniforms: 'n : i32,',
      helpers: HELPERS,
      body: `if (index >= uniforms.n) { return; }
  let x = X[index];
  result[index] = 0.5 * x * (1.0 + safeTanh(GELU_C * (x + GELU_A * x * x * x)));`,
    },
    [x],
    [{ type: 'int32', data: [n] }],
  );
}

/** dx = dy · d/dx gelu(x). */
export function geluBackward(dy: TensorInfo, x: TensorInfo): TensorInfo {
  const n = x.shape.reduce((a, b) => a * b, 1);
  return runFlat(
    {
      key: 'gelu_bwd',
      inputs: ['Dy', 'X'],
      outputShape: x.shape,
      threads: n,
      uniforms: 'n : i32,',
      helpers: HELPERS,
      body: `if (index >= uniforms.n) { return; }
  let x = X[index];
  let t = safeTanh(GELU_C * (x + GELU_A * x * x * x));
  let dt = (1.0 - t * t) * GELU_C * (1.0 + 3.0 * GELU_A * x * x);
  result[index] = Dy[index] * (0.5 * (1.0 + t) + 0.5 * x * dt);`,
    },
    [dy, x],
    [{ type: 'int32', data: [n] }],
  );
}
