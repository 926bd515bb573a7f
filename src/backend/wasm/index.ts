// wasm fallback speed-ups (placeholder: filled in below).
export function registerWasmSpeedups(): void {}
