// Fused embedding lookup: forward is a gather (one dispatch); backward writes each table cell once,
// summing dy over the ids equal to its row (no atomics, no one-hot matmul). That costs V·D·N reads,
// fine for the toolkit's small vocabularies; past EMBEDDING_GATHER_LIMIT (fused.ts) the gradient uses
// tfjs's atomic UnsortedSegmentSum instead.
import type { TensorInfo } from '../backend.js';
import { runFlat } from '../program.js';

export function embeddingForward(table: TensorInfo, ids: TensorInfo): TensorInfo {
  const [, d] = table.shape;
  const n = ids.shape[0];
  return runFlat(
    {
      key: 'emb_fwd',
      inputs: ['Table', 'Ids'],
      outputShape: [n, d],
      threads: n * d,
      uniforms: 'size : i32, d : i32,',
      body: `if (index >= uniforms.size) { return; }
  let row = index / uniforms.d;
  let col = index - row * uniforms.d;
  result[index] = Table[Ids[row] * uniforms.d + col];`,
    },
    [table, ids],
    [{ type: 'int32', data: [n * d] }, { type: 'int32', data: [d] }],
  );
}

export function embeddingBackward(dy: TensorInfo, ids: TensorInfo, vocab: number): TensorInfo {
  const d = dy.shape[1];
  const n = ids.shape[0];
  return runFlat(
    {
      key: 'emb_bwd',
      inputs: ['Dy', 'Ids'],
      outputShape: [vocab, d],
      threads: vocab * d,
      uniforms: 'size : i32, d : i32, n : i32,',
      body: `if (index >= uniforms.size) { return; }
  let row = index / uniforms.d;
  let col = index - row * uniforms.d;
  var acc = 0.0;
  for (var i = 0; i < uniforms.n; i++) {
    if (Ids[i] == row) { acc += Dy[i * uniforms.d + col]; }
  }
  result[index] = acc;`,
    },
    [dy, ids],
    [{ type: 'int32', data: [vocab * d] }, { type: 'int32', data: [d] }, { type: 'int32', data: [n] }],
  );
}
