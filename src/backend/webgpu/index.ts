// WebGPU backend (tfjs-backend-webgpu over Dawn) — placeholder until the GPU-path work lands.
export async function registerWebgpuBackend(): Promise<void> {
  throw new Error('the webgpu backend is not wired up yet');
}
