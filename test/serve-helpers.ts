// Helpers for tests that drive `igrpo serve` as a separate process on 127.0.0.1, and a fault-injecting
// HTTP proxy. Everything listens on loopback; every wait is bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Served {
  url: string;
  port: number;
  proc: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `igrpo serve --checkpoint embedded --backend cpu --port PORT ...args` and waits for its line. */
export function startServe(args: string[] = [], port = 0, env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const proc = spawn(process.execPath, ['bin/igrpo.js', 'serve', '--checkpoint', 'embedded', '--backend', 'cpu', '--host', '127.0.0.1', '--port', String(port), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`igrpo serve did not start within 90 s; stderr: ${err}`));
    }, 90_000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`igrpo serve exited with ${code} before listening; stderr: ${err}`));
    });
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      proc.removeAllListeners('exit');
      resolve({
        url: m[1],
        port: Number(m[2]),
        proc,
        stderr: () => err,
        stop: () => stopProcess(proc),
      });
    });
  });
}

export function stopProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill(signal);
  });
}

export type Fault = 'pass' | 'drop' | 'malformed' | 'schema' | 'error500' | 'slow' | 'delay';

/**
 * An HTTP proxy on 127.0.0.1 in front of `target` that applies `faults[k]` to its k-th request (then
 * `after` to the rest): drop the connection, answer malformed JSON, answer JSON failing the schema, answer
 * 500, answer only after `slowMs` (slow), or forward after `delayMs` (delay).
 */
export async function faultProxy(target: string, faults: Fault[], opts: { after?: Fault; slowMs?: number; delayMs?: number } = {}) {
  let count = 0;
  const seen: Fault[] = [];
  const server = http.createServer((req, res) => {
    const fault = faults[count++] ?? opts.after ?? 'pass';
    seen.push(fault);
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (fault === 'drop') return req.socket.destroy();
      if (fault === 'malformed') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"id": "cmpl-1", "choices": [');
      if (fault === 'schema') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'x', object: 'text_completion', created: 1, model: 'm', choices: [{ index: 0 }] }));
      if (fault === 'error500') return res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'injected', type: 'InternalServerError', code: 500 } }));
      const forward = () => {
        const up = http.request(target + (req.url ?? '/'), { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        up.on('error', () => req.socket.destroy());
        up.end(body);
      };
      if (fault === 'slow') {
        const t = setTimeout(forward, opts.slowMs ?? 5_000);
        req.socket.on('close', () => clearTimeout(t));
      } else if (fault === 'delay') setTimeout(forward, opts.delayMs ?? 200);
      else forward();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** POST JSON with node's http (no client library), returning status, headers and the body text. */
export function rawPost(url: string, body: string | object, headers: Record<string, string> = {}): Promise<{ status: number; text: string; json(): any }> {
  const data = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, json: () => JSON.parse(text) }));
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`POST ${url} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

export function rawGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}
