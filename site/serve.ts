// `npm run site:serve`: serves dist/site on 127.0.0.1 (a static server is all the page needs; the tests use
// this one). Only files under the folder, GET/HEAD, no directory listings.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.json': 'application/json',
  '.wasm': 'application/wasm', '.safetensors': 'application/octet-stream', '.png': 'image/png', '.jsonl': 'application/x-ndjson',
};

export function serveSite(dir: string, port = 0): Promise<{ url: string; close(): Promise<void> }> {
  const base = path.resolve(dir);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let file = path.resolve(base, '.' + decodeURIComponent(url.pathname));
    if (file === base || url.pathname.endsWith('/')) file = path.join(file, 'index.html');
    if (!file.startsWith(base + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile() || !['GET', 'HEAD'].includes(req.method ?? '')) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'content-length': fs.statSync(file).size });
    if (req.method === 'HEAD') res.end();
    else fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const a = server.address() as { port: number };
      resolve({ url: `http://127.0.0.1:${a.port}/`, close: () => new Promise<void>((r) => server.close(() => r())) });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const dir = path.join(root, 'dist', 'site');
  if (!fs.existsSync(path.join(dir, 'index.html'))) {
    console.error(`${dir}/index.html is missing: run \`npm run site\` first`);
    process.exit(1);
  }
  const { url } = await serveSite(dir, Number(process.env.PORT ?? 8080));
  console.log(`serving ${dir} at ${url} (Ctrl-C to stop)`);
}
