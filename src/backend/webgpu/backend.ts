// Typed access to the parts of tfjs-backend-webgpu's WebGPUBackend this folder uses. The package does
// not export these types for Node's CommonJS build, so they are declared here, minimally.
import * as tf from '@tensorflow/tfjs';

export interface TensorInfo {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}

export interface UniformValue {
  type: 'float32' | 'int32' | 'uint32';
  data: number[];
}

/** A WebGPU program in tfjs-backend-webgpu's sense: it writes one output tensor named `result`. */
export interface WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  variableNames: string[];
  uniforms?: string;
  size?: boolean;
  getUserCode(): string;
}

export interface TensorData {
  dtype: tf.DataType;
  shape: number[];
  values: ArrayLike<number> | null;
  refCount: number;
  resource: GPUBufferLike | null;
}

export interface GPUBufferLike {
  size: number;
}

export interface WebGPUBackendLike {
  device: {
    createShaderModule(d: { code: string; label?: string }): unknown;
    createComputePipeline(d: unknown): { getBindGroupLayout(i: number): unknown };
    createBindGroup(d: unknown): unknown;
    createBuffer(d: { size: number; usage: number; mappedAtCreation?: boolean }): GPUBufferLike;
    destroy(): void;
    limits: Record<string, number>;
  };
  queue: { writeBuffer(b: GPUBufferLike, off: number, data: ArrayBufferView | ArrayBuffer): void };
  tensorMap: { get(id: object): TensorData };
  commandEncoder: { beginComputePass(d: unknown): ComputePass } | null;
  computePassEncoder: ComputePass | null;
  dispatchCountInPass: number;
  runWebGPUProgram(p: WebGPUProgram, inputs: TensorInfo[], dtype: tf.DataType, uniforms?: UniformValue[], out?: TensorInfo): TensorInfo;
  recordAndSubmit(...args: unknown[]): void;
  uploadToGPU(dataId: object): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  makeTensorInfo(shape: number[], dtype: tf.DataType): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

export interface ComputePass {
  setPipeline(p: unknown): void;
  setBindGroup(i: number, g: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}

/** The active backend as a WebGPU backend; throws when another backend is active. */
export function webgpuBackend(): WebGPUBackendLike {
  if (tf.getBackend() !== 'webgpu') throw new Error(`expected the webgpu backend, found ${tf.getBackend()}`);
  return tf.backend() as unknown as WebGPUBackendLike;
}
