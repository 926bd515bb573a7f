// Recycles the Float32Arrays of the native kernels' outputs once their tensors are disposed.
//
// A train step allocates a few hundred MB of activations and gradients; as fresh ArrayBuffers that
// showed up as garbage collection (external-memory pressure) at ~10–25% of a step's CPU time. An
// array is recycled only when nothing else can still see it: it was made by one of our kernels, no
// caller ever read it (dataSync/data hand out the array itself), and no other tensor holds a view of it
// (the cpu kernels Slice/Unpack/Split return subarray views). Everything else is left to the GC.

/** Per buffer: the tensor data id it was made for, and whether it escaped (read or viewed). */
interface Owner {
  dataId: object;
  escaped: boolean;
}

const MAX_POOLED_BYTES = 256 * 2 ** 20;

export class ArrayPool {
  private readonly free = new Map<number, Float32Array[]>();
  private readonly owners = new WeakMap<ArrayBuffer, Owner>();
  private pooledBytes = 0;

  /** An array of n floats with unspecified contents: the kernel must write every element. */
  alloc(n: number): Float32Array {
    const list = this.free.get(n);
    const a = list?.pop();
    if (a) {
      this.pooledBytes -= a.byteLength;
      return a;
    }
    return new Float32Array(n);
  }

  /** Records that `values` (from alloc) now backs the tensor data `dataId`. */
  adopt(values: Float32Array, dataId: object): void {
    if (values.byteOffset === 0 && values.byteLength === values.buffer.byteLength) {
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
    if (this.pooledBytes + values.byteLength > MAX_POOLED_BYTES) return;
    let list = this.free.get(values.length);
    if (!list) this.free.set(values.length, (list = []));
    list.push(values);
    this.pooledBytes += values.byteLength;
  }

  clear(): void {
    this.free.clear();
    this.pooledBytes = 0;
  }
}

export const pool = new ArrayPool();
