// Native CPU backend (node-gyp addon over OpenBLAS) — placeholder until the CPU-speed work lands.
export async function registerNativeBackend(): Promise<void> {
  throw new Error("the native backend is not built yet (run 'npm run build:native')");
}
