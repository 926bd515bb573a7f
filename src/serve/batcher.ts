// Concurrent requests → one sampling call. A batch closes once no request has arrived for `windowMs` (a
// burst of clients is caught whole however long it takes to arrive), `maxWaitMs` after its first request
// at the latest, or as soon as `maxRows` completion rows are queued; the queue is then split by sampling parameters (and
// policy), and each part runs as ONE generate() call, where each distinct prompt is prefilled once and its
// KV cache shared by its rows. Calls run one at a time (the model is one), and requests that arrive while
// one runs form the next batch, which starts as soon as it ends.
//
// Every row carries its own seed, so a request's completions depend on its seed and prompts only, not on
// the batch it landed in: the same request gives the same answer alone or among 31 others.
import type { Policy } from '../model/policy.js';
import { generate, type GenerationRow } from '../sampling/generate.js';
import type { Completion, SampleOptions } from '../sampling/options.js';

export interface Job {
  policy: Policy;
  /** Policy name (base model or adapter): part of the grouping key. */
  model: string;
  opts: SampleOptions;
  rows: GenerationRow[];
}

interface Queued extends Job {
  key: string;
  resolve: (c: Completion[]) => void;
  reject: (e: unknown) => void;
}

export interface BatchStats {
  /** generate() calls made. */
  calls: number;
  /** Rows sampled in all. */
  rows: number;
  /** Most rows in one call. */
  maxRows: number;
  /** Most requests in one call. */
  maxJobs: number;
}

export class Batcher {
  private queue: Queued[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the oldest queued request arrived (the batch's deadline counts from it). */
  private firstAt = 0;
  private running = false;
  readonly stats: BatchStats = { calls: 0, rows: 0, maxRows: 0, maxJobs: 0 };

  constructor(
    private readonly windowMs: number,
    private readonly maxRows: number,
    private readonly maxWaitMs = 50,
    /** The sampling call (generate; tests pass a stand-in). */
    private readonly run: (policy: Policy, rows: GenerationRow[], opts: SampleOptions) => Promise<Completion[]> = generate,
  ) {}

  submit(job: Job): Promise<Completion[]> {
    return new Promise((resolve, reject) => {
      const { n: _n, seed: _s, ...shape } = job.opts;
      this.queue.push({ ...job, key: `${job.model}\u0000${JSON.stringify(shape)}`, resolve, reject });
      this.schedule();
    });
  }

  private queuedRows(): number {
    return this.queue.reduce((a, q) => a + q.rows.length, 0);
  }

  private schedule(): void {
    if (this.queue.length === 1 || this.firstAt === 0) this.firstAt = Date.now();
    if (this.running) return; // the running call flushes when it ends
    clearTimeout(this.timer);
    this.timer = undefined;
    const wait = Math.min(this.windowMs, this.firstAt + this.maxWaitMs - Date.now());
    if (this.queuedRows() >= this.maxRows || wait <= 0) {
      void this.flush();
    } else {
      // quiet for windowMs: re-armed by every arrival, never past the first request's deadline
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, wait);
    }
  }

  /** Takes one key's jobs (the oldest key first) up to maxRows rows and samples them in one call. */
  private async flush(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const key = this.queue[0].key;
    const take: Queued[] = [];
    let rows = 0;
    this.queue = this.queue.filter((q) => {
      if (q.key !== key || (take.length > 0 && rows + q.rows.length > this.maxRows)) return true;
      take.push(q);
      rows += q.rows.length;
      return false;
    });
    try {
      const all = await this.run(take[0].policy, take.flatMap((q) => q.rows), take[0].opts);
      this.stats.calls++;
      this.stats.rows += rows;
      this.stats.maxRows = Math.max(this.stats.maxRows, rows);
      this.stats.maxJobs = Math.max(this.stats.maxJobs, take.length);
      let at = 0;
      for (const q of take) {
        q.resolve(all.slice(at, at + q.rows.length));
        at += q.rows.length;
      }
    } catch (e) {
      // requests are validated before they get here; whatever fails now fails the whole call
      for (const q of take) q.reject(e);
    } finally {
      this.running = false;
      // what queued meanwhile has waited at least one call: run it now
      this.firstAt = this.queue.length > 0 ? Date.now() : 0;
      if (this.queue.length > 0) setImmediate(() => void this.flush());
    }
  }

  /** Rejects what is queued (server shutdown). */
  close(): void {
    clearTimeout(this.timer);
    for (const q of this.queue.splice(0)) q.reject(new Error('server shutting down'));
  }
}
