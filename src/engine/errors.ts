// Errors of the engine client: each names the server and the request, and says whether a retry may help.
import { APIConnectionError, APIError } from 'openai';

export class EngineError extends Error {
  constructor(
    message: string,
    readonly server: string,
    readonly request: string,
    readonly status?: number,
    readonly retryable = false,
  ) {
    super(`${server}: ${request}: ${message}`);
    this.name = 'EngineError';
  }
}

/** An EngineError for whatever a request threw: connection errors, timeouts, 5xx and 429 may be retried. */
export function classify(err: unknown, server: string, request: string): EngineError {
  if (err instanceof EngineError) return err;
  if (err instanceof APIConnectionError) {
    return new EngineError(`connection failed (${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''})`, server, request, undefined, true);
  }
  if (err instanceof APIError) {
    const status = err.status;
    const body = (err.error as { message?: unknown } | undefined)?.message ?? err.message;
    const retryable = status === undefined || status >= 500 || status === 429;
    return new EngineError(`HTTP ${status ?? '?'}: ${String(body)}`, server, request, status, retryable);
  }
  const e = err as Error;
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return new EngineError(`timed out (${e.message})`, server, request, undefined, true);
  // a body cut off mid-way or a socket reset while reading: transient
  return new EngineError(`request failed: ${e?.message ?? String(err)}`, server, request, undefined, true);
}
