// Errors of the engine client: each names the server and the request, says what the server said, and
// whether a retry may help.
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

/**
 * The message in an error body, whatever its shape: vLLM's { error: { message, … } }
 * (vllm/entrypoints/openai/engine/protocol.py ErrorResponse), SGLang's and older vLLM's unwrapped
 * { object: "error", message, … } (sglang/srt/entrypoints/openai/serving_base.py create_error_response),
 * vLLM's 401 { error: "Unauthorized" } (vllm/entrypoints/openai/api_server.py AuthenticationMiddleware),
 * FastAPI's { detail: … }, or plain text. Undefined for an empty body.
 */
export function errorMessageOf(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') {
    const t = body.trim();
    if (t === '') return undefined;
    try {
      return errorMessageOf(JSON.parse(t)) ?? t.slice(0, 500);
    } catch {
      return t.slice(0, 500);
    }
  }
  if (typeof body !== 'object') return String(body);
  const o = body as Record<string, unknown>;
  for (const key of ['error', 'message', 'detail']) {
    const v = o[key];
    if (typeof v === 'string' && v !== '') return v;
    if (v && typeof v === 'object') {
      const inner = errorMessageOf(v);
      if (inner) return inner;
    }
  }
  return JSON.stringify(body).slice(0, 500);
}

/** Error bodies in vLLM's wrapped shape, so that the openai client reads every engine's message. */
export function wrapErrorBody(text: string, status: number): string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const error = (json as { error?: unknown } | undefined)?.error;
  if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') return text;
  const o = (json && typeof json === 'object' ? json : {}) as Record<string, unknown>;
  return JSON.stringify({ error: { message: errorMessageOf(text) ?? `HTTP ${status} (empty body)`, type: o.type ?? null, param: o.param ?? null, code: o.code ?? status } });
}

/** A fetch for the openai client that rewrites non-2xx bodies into the wrapped shape (wrapErrorBody). */
export const normalizingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  if (res.ok) return res;
  const text = await res.text();
  const headers = new Headers(res.headers);
  headers.set('content-type', 'application/json');
  headers.delete('content-length');
  return new Response(wrapErrorBody(text, res.status), { status: res.status, statusText: res.statusText, headers });
};

/** An EngineError for whatever a request threw: connection errors, timeouts, 5xx and 429 may be retried. */
export function classify(err: unknown, server: string, request: string): EngineError {
  if (err instanceof EngineError) return err;
  if (err instanceof APIConnectionError) {
    return new EngineError(`connection failed (${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''})`, server, request, undefined, true);
  }
  if (err instanceof APIError) {
    const status = err.status;
    const body = errorMessageOf(err.error) ?? err.message;
    const retryable = status === undefined || status >= 500 || status === 429;
    return new EngineError(`HTTP ${status ?? '?'}: ${body}`, server, request, status, retryable);
  }
  const e = err as Error;
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return new EngineError(`timed out (${e.message})`, server, request, undefined, true);
  // a body cut off mid-way or a socket reset while reading: transient
  return new EngineError(`request failed: ${e?.message ?? String(err)}`, server, request, undefined, true);
}
