// Several engine servers with a concurrency limit each; a request goes to the least-loaded server (fewest
// requests in flight; ties to the one that has been sent least overall), waiting when all are full. A
// retry avoids the server that just failed when another one has room.
import OpenAI from 'openai';
import { normalizingFetch } from './errors.js';

export interface ServerStats {
  url: string;
  inFlight: number;
  /** Most requests in flight at once so far. */
  peakInFlight: number;
  requests: number;
  failures: number;
}

export interface EngineServer {
  readonly url: string;
  readonly client: OpenAI;
  readonly stats: ServerStats;
}

export class EnginePool {
  readonly servers: EngineServer[];
  private readonly waiters: (() => void)[] = [];

  constructor(urls: readonly string[], readonly limit: number, opts: { apiKey?: string; timeoutMs: number }) {
    if (urls.length === 0) throw new Error('EnginePool: no server URLs');
    this.servers = urls.map((url) => ({
      url,
      // the client's own retries are off: ours pick another server and name the request on failure;
      // error bodies of every engine's shape are rewritten into the one the client reads (errors.ts)
      client: new OpenAI({ baseURL: url, apiKey: opts.apiKey ?? 'EMPTY', maxRetries: 0, timeout: opts.timeoutMs, fetch: normalizingFetch }),
      stats: { url, inFlight: 0, peakInFlight: 0, requests: 0, failures: 0 },
    }));
  }

  /** The least-loaded server with room (avoiding `avoid` if another has room), once one has. */
  async acquire(avoid?: EngineServer): Promise<EngineServer> {
    for (;;) {
      const open = this.servers.filter((s) => s.stats.inFlight < this.limit);
      const preferred = open.filter((s) => s !== avoid);
      const pick = (preferred.length > 0 ? preferred : open).sort(
        (a, b) => a.stats.inFlight - b.stats.inFlight || a.stats.requests - b.stats.requests,
      )[0];
      if (pick) {
        pick.stats.inFlight++;
        pick.stats.requests++;
        pick.stats.peakInFlight = Math.max(pick.stats.peakInFlight, pick.stats.inFlight);
        return pick;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  release(server: EngineServer, failed = false): void {
    server.stats.inFlight--;
    if (failed) server.stats.failures++;
    this.waiters.shift()?.();
  }

  stats(): ServerStats[] {
    return this.servers.map((s) => ({ ...s.stats }));
  }
}
