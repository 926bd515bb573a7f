// A small factory for this folder's WGSL programs, run through tfjs-backend-webgpu's own machinery
// (pipeline cache, buffer manager, submit batching), so their outputs are ordinary tfjs tensors.
//
// Every program here is "flat": `threads` invocations, each calling `main(index)`, reading inputs as
// raw arrays by their variable names and writing `result[...]` itself. Shapes travel as uniforms
// declared in `uniforms` (WGSL struct fields) so one pipeline serves every size.
import * as tf from '@tensorflow/tfjs';
import { webgpuBackend, type TensorInfo, type UniformValue, type WebGPUProgram } from './backend.js';

export interface FlatProgramSpec {
  /** Pipeline-cache key: must change whenever the WGSL changes. */
  key: string;
  inputs: string[];
  outputShape: number[];
  /** Number of invocations (each runs main(index) once, index < threads guarded by the body). */
  threads: number;
  /** WGSL struct fields, e.g. 'rows : i32, cols : i32, eps : f32,'. */
  uniforms?: string;
  /** WGSL body of `fn main(index : i32)`. */
  body: string;
  /** WGSL helpers placed before main. */
  helpers?: string;
  workgroupSize?: number;
}

const WORKGROUP = 64;

// tfjs names a program by its constructor in shader labels and in tf.time()'s per-kernel profile,
// so each kernel's program object gets a prototype whose constructor carries the kernel's key.
const prototypes = new Map<string, object>();
function namedPrototype(key: string): object {
  let proto = prototypes.get(key);
  if (!proto) {
    const name = `Igrpo_${key}`;
    proto = ({ [name]: function () {} } as Record<string, () => void>)[name].prototype as object;
    prototypes.set(key, proto);
  }
  return proto;
}

function flatProgram(spec: FlatProgramSpec): WebGPUProgram {
  const wg = spec.workgroupSize ?? WORKGROUP;
  const program: WebGPUProgram = {
    outputShape: spec.outputShape,
    shaderKey: `igrpo_${spec.key}`,
    dispatchLayout: { x: spec.outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(spec.threads / wg), 1, 1],
    workgroupSize: [wg, 1, 1],
    variableNames: spec.inputs,
    uniforms: spec.uniforms,
    getUserCode: () => `${spec.helpers ?? ''}\nfn main(index : i32) {\n${spec.body}\n}\n`,
  };
  return Object.setPrototypeOf(program, namedPrototype(spec.key)) as WebGPUProgram;
}

/** Runs one flat program on the active webgpu backend; returns a tfjs tensor info of outputShape. */
export function runFlat(spec: FlatProgramSpec, inputs: TensorInfo[], uniforms: UniformValue[], dtype: tf.DataType = 'float32'): TensorInfo {
  return webgpuBackend().runWebGPUProgram(flatProgram(spec), inputs, dtype, uniforms);
}

export const i32 = (...data: number[]): UniformValue => ({ type: 'int32', data });
export const f32 = (...data: number[]): UniformValue => ({ type: 'float32', data });
