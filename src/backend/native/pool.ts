// Recycles the Float32Arrays of the native kernels' outputs once their tensors are disposed.
//
// A train step allocates a few hundred MB of activations and gradients; as fresh ArrayBuffers that
// showed up as garbage collection (external-memory pressure) at ~10–25% of a step's CPU time. An
// array is recycled only when nothing else can still see it: it was made by one of our kernels, no
// caller ever read it (dataSync/data hand out the array itself), and no other tensor holds a view of it
// (the cpu kernels Slice/Unpack/Split return subarray views). Everything else is left to the GC.
//
// Buffers are kept by capacity, rounded up to 1/8 of a power of two, and handed out as a view of the
// first n floats: a KV cache that grows by one position per decoding step then reuses the previous
// step's buffers instead of allocating (and page-faulting) ~12 MB per step.

/** Per buffer: the tensor data id it was made for, and whether it escaped (read or viewed). */
interface Owner {
  dataId: object;
  escaped: boolean;
}

const MAX_POOLED_BYTES = 256 * 2 ** 20;

export class ArrayPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly owners = new WeakMap<ArrayBuffer, Owner>();
  private pooledBytes = 0;

  /** An array of n floats with unspecified contents: the kernel must write every element. */
  alloc(n: number): Float32Array {
    const cap = capacity(n);
    const buf = this.free.get(cap)?.pop();
    if (buf) {
      this.pooledBytes -= buf.byteLength;
      return new Float32Array(buf, 0, n);
    }
    return new Float32Array(new ArrayBuffer(cap * 4), 0, n);
  }

  /** Records that `values` (from alloc) now backs the tensor data `dataId`. */
  adopt(values: Float32Array, dataId: object): void {
    if (values.byteOffset === 0 && values.buffer.byteLength === capacity(values.length) * 4) {
      this.owners.set(values.buffer as ArrayBuffer, { dataId, escaped: false });
    }
  }

  /** Any kernel output: if its values live in one of our buffers under another data id, that buffer escaped. */
  noteOutput(values: unknown, dataId: object): void {
    if (!ArrayBuffer.isView(values)) return;
    const o = this.owners.get(values.buffer as ArrayBuffer);
    if (o && o.dataId !== dataId) o.escaped = true;
  }

  /** The caller got the array itself (dataSync/data): never recycle it. */
  noteRead(values: unknown): void {
    if (!ArrayBuffer.isView(values)) return;
    const o = this.owners.get(values.buffer as ArrayBuffer);
    if (o) o.escaped = true;
  }

  /** Tensor data `dataId` was deleted; keep its array for reuse if it never escaped. */
  release(values: unknown, dataId: object): void {
    if (!(values instanceof Float32Array)) return;
    const buf = values.buffer as ArrayBuffer;
    const o = this.owners.get(buf);
    if (!o || o.escaped || o.dataId !== dataId) return;
    this.owners.delete(buf);
    if (this.pooledBytes + buf.byteLength > MAX_POOLED_BYTES) return;
    const cap = buf.byteLength / 4;
    let list = this.free.get(cap);
    if (!list) this.free.set(cap, (list = []));
    list.push(buf);
    this.pooledBytes += buf.byteLength;
  }

  clear(): void {
    this.free.clear();
    this.pooledBytes = 0;
  }
}

/** n rounded up to a multiple of 1/8 of its power of two (at most 12.5% spare; small sizes exact). */
export function capacity(n: number): number {
  if (n <= 1024) return n;
  const step = 2 ** (Math.floor(Math.log2(n)) - 3);
  return Math.ceil(n / step) * step;
}

export const pool = new ArrayPool();
