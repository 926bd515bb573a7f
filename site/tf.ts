// What the page's bundle gets for '@tensorflow/tfjs' (site/build.ts aliases it here): @tensorflow/tfjs's own
// index (dist/index.js) less tfjs-layers, -converter and -data, which src/ never uses — the same tfjs-core every
// src module's `tf.*` resolves to, its gradients and chained ops, and the cpu and WebGL backends (WebGPU and
// WASM register in main.ts).
import '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
export * from '@tensorflow/tfjs-core';
export * from '@tensorflow/tfjs-backend-cpu';
export * from '@tensorflow/tfjs-backend-webgl';
