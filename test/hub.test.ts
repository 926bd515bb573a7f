// The Hugging Face cache (resolveModelDir) on hand-made cache folders, and `igrpo pull` through
// @huggingface/hub against a tiny fake hub on 127.0.0.1 implementing the endpoints it calls
// (model info, tree, paths-info, resolve with Range); and the offline error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { hubCacheDir, parseHubId, repoFolderName, resolveModelDir } from '../src/model/hub.js';
import { globToRegExp, HubUnreachableError, matchesAny, pullModel, DEFAULT_INCLUDE } from '../src/model/pull.js';

const SHA = 'a'.repeat(39) + '1';
const OTHER = 'b'.repeat(40);

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), 'igrpo-hub-'));
}

/** A cache folder laid out as huggingface_hub writes it. */
function makeCache(root: string, repo: string, refs: Record<string, string>, snapshots: string[]): string {
  const dir = path.join(root, repoFolderName(repo));
  for (const [name, sha] of Object.entries(refs)) {
    mkdirSync(path.dirname(path.join(dir, 'refs', name)), { recursive: true });
    writeFileSync(path.join(dir, 'refs', name), sha);
  }
  for (const s of snapshots) {
    mkdirSync(path.join(dir, 'snapshots', s), { recursive: true });
    writeFileSync(path.join(dir, 'snapshots', s, 'config.json'), '{}');
  }
  return dir;
}

test('parseHubId and hubCacheDir (HF_HUB_CACHE, then HF_HOME/hub, then XDG_CACHE_HOME, then ~/.cache)', () => {
  assert.deepEqual(parseHubId('Qwen/Qwen2.5-0.5B-Instruct'), { repo: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'main' });
  assert.deepEqual(parseHubId('meta-llama/Llama-3.2-1B@v1.0'), { repo: 'meta-llama/Llama-3.2-1B', revision: 'v1.0' });
  assert.deepEqual(parseHubId('gpt2'), { repo: 'gpt2', revision: 'main' });
  assert.deepEqual(parseHubId(`org/m@${SHA}`), { repo: 'org/m', revision: SHA });
  for (const bad of ['./models/x', '/abs/path', 'a/b/c', 'org/na me', 'org/x@', 'org/x@../../etc', '', 'org--x/y']) assert.equal(parseHubId(bad), null, bad);
  assert.equal(hubCacheDir({ HF_HUB_CACHE: '/c/hub', HF_HOME: '/h' }), '/c/hub');
  assert.equal(hubCacheDir({ HF_HOME: '/h' }), '/h/hub');
  assert.equal(hubCacheDir({ XDG_CACHE_HOME: '/x' }), '/x/huggingface/hub');
  assert.match(hubCacheDir({}), /\.cache\/huggingface\/hub$/);
});

test('resolveModelDir: a folder as is; ORG/NAME through refs/main, a tag, a commit sha; HF_HOME', () => {
  const root = tmp();
  try {
    const cache = path.join(root, 'hub');
    const repoDir = makeCache(cache, 'org/tiny', { main: SHA + '\n', 'v1.0': OTHER, 'pr/1': OTHER }, [SHA, OTHER]);
    const env = { HF_HUB_CACHE: cache };
    assert.equal(resolveModelDir('org/tiny', { env }), path.join(repoDir, 'snapshots', SHA));
    assert.equal(resolveModelDir('org/tiny@v1.0', { env }), path.join(repoDir, 'snapshots', OTHER));
    assert.equal(resolveModelDir('org/tiny@pr/1', { env }), path.join(repoDir, 'snapshots', OTHER));
    assert.equal(resolveModelDir(`org/tiny@${OTHER}`, { env }), path.join(repoDir, 'snapshots', OTHER));
    assert.equal(resolveModelDir('org/tiny', { env: { HF_HOME: root } }), path.join(repoDir, 'snapshots', SHA));
    assert.equal(resolveModelDir('org/tiny', { cacheDir: cache }), path.join(repoDir, 'snapshots', SHA));
    // a local folder wins, and is used as is
    const local = path.join(root, 'my-model');
    mkdirSync(local);
    assert.equal(resolveModelDir(local, { env }), local);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('resolveModelDir: missing models name the paths tried and the igrpo pull command', () => {
  const root = tmp();
  try {
    const cache = path.join(root, 'hub');
    const repoDir = makeCache(cache, 'org/tiny', { main: SHA, broken: 'not a sha' }, []);
    const env = { HF_HUB_CACHE: cache };
    assert.throws(() => resolveModelDir('org/absent', { env }), (e: Error) => {
      assert.match(e.message, /model 'org\/absent' not found/);
      assert.ok(e.message.includes(path.join(cache, 'models--org--absent', 'refs', 'main') + ' (missing)'), e.message);
      assert.match(e.message, /cache from HF_HUB_CACHE/);
      assert.match(e.message, /Download it with: igrpo pull org\/absent$/);
      return true;
    });
    // refs/main names a snapshot that is not there (an interrupted download)
    assert.throws(() => resolveModelDir('org/tiny', { env }), new RegExp(`${path.join(repoDir, 'snapshots', SHA).replace(/[.]/g, '\\.')} \\(missing\\)`));
    assert.throws(() => resolveModelDir('org/tiny@broken', { env }), /does not hold a commit sha/);
    assert.throws(() => resolveModelDir('org/tiny@v2', { env }), /igrpo pull org\/tiny --revision v2/);
    assert.throws(() => resolveModelDir('./no/such/dir', { env }), /no such directory .*no\/such\/dir, and it is not a hub id/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('include globs: fnmatch as huggingface_hub uses them', () => {
  assert.ok(globToRegExp('*.safetensors').test('model-00001-of-00002.safetensors'));
  assert.ok(globToRegExp('*.safetensors').test('sub/dir/x.safetensors')); // * crosses '/'
  assert.ok(!globToRegExp('*.safetensors').test('model.safetensors.index.json'));
  assert.ok(globToRegExp('model-0000[1-2]-of-?????.safetensors').test('model-00002-of-00002.safetensors'));
  assert.ok(globToRegExp('onnx/').test('onnx/model.onnx'));
  assert.ok(globToRegExp('a+b(c).json').test('a+b(c).json'));
  const repo = ['config.json', 'tokenizer.json', 'model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'README.md', 'vocab.json'];
  assert.deepEqual(repo.filter((f) => matchesAny(f, DEFAULT_INCLUDE)), ['config.json', 'tokenizer.json', 'model.safetensors', 'model.safetensors.index.json']);
});

/** The few endpoints @huggingface/hub calls for modelInfo, listFiles, pathsInfo and downloadFile. */
function fakeHub(files: Record<string, Buffer>): Promise<{ server: Server; url: string; downloads: string[] }> {
  const downloads: string[] = [];
  const oid = (b: Buffer) => createHash('sha1').update(b).digest('hex');
  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let m: RegExpMatchArray | null;
    if ((m = url.pathname.match(/^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/))) {
      if (m[1] !== 'org/tiny') return json(404, { error: 'Repository not found' });
      if (!['main', SHA].includes(decodeURIComponent(m[2]))) return json(404, { error: 'Invalid rev id' });
      return json(200, { _id: 'x', id: m[1], sha: SHA, private: false, gated: false, downloads: 0, likes: 0, lastModified: '2026-01-01T00:00:00.000Z' });
    }
    if ((m = url.pathname.match(/^\/api\/models\/org\/tiny\/tree\/([^/]+)$/))) {
      assert.equal(m[1], SHA, 'files are listed at the resolved commit');
      const entries = Object.entries(files).map(([p, b]) => ({ type: 'file', path: p, oid: oid(b), size: b.length }));
      return json(200, [{ type: 'directory', path: 'sub', oid: 'd'.repeat(40), size: 0 }, ...entries]);
    }
    if ((m = url.pathname.match(/^\/api\/models\/org\/tiny\/paths-info\/([^/]+)$/)) && req.method === 'POST') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const { paths } = JSON.parse(body) as { paths: string[] };
        // lastCommit is a different commit on purpose: the snapshot must still be the resolved one
        json(200, paths.filter((p) => files[p]).map((p) => ({ type: 'file', path: p, oid: oid(files[p]), size: files[p].length, lastCommit: { id: OTHER, title: 't', date: '2026-01-01T00:00:00.000Z' } })));
      });
      return;
    }
    if ((m = url.pathname.match(/^\/org\/tiny\/resolve\/([^/]+)\/(.+)$/))) {
      const b = files[decodeURIComponent(m[2])];
      if (!b) {
        res.writeHead(404, { 'X-Error-Code': 'EntryNotFound' });
        return res.end();
      }
      const etag = `"${oid(b)}"`;
      if (req.headers.range === 'bytes=0-0') {
        res.writeHead(206, { 'Content-Range': `bytes 0-0/${b.length}`, ETag: etag, 'Content-Length': '1' });
        return res.end(b.subarray(0, 1));
      }
      downloads.push(m[2]);
      res.writeHead(200, { ETag: etag, 'Content-Length': String(b.length) });
      return res.end(b);
    }
    json(404, { error: `fake hub: no route ${req.method} ${url.pathname}` });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, downloads })));
}

const FILES: Record<string, Buffer> = {
  'config.json': Buffer.from('{"model_type": "llama"}'),
  'tokenizer.json': Buffer.from('{"model": {}}'),
  'model-00001-of-00002.safetensors': Buffer.from('weights one'),
  'model-00002-of-00002.safetensors': Buffer.from('weights two'),
  'model.safetensors.index.json': Buffer.from('{"weight_map": {}}'),
  'pytorch_model.bin': Buffer.from('pickle'),
  'README.md': Buffer.from('# tiny'),
  'sub/extra.json': Buffer.from('{}'),
};

test('pullModel writes the standard cache layout through @huggingface/hub; resolveModelDir finds it offline', async () => {
  const { server, url, downloads } = await fakeHub(FILES);
  const cache = tmp();
  try {
    const r = await pullModel({ repo: 'org/tiny', cacheDir: cache, hubUrl: url, env: {} });
    assert.equal(r.commit, SHA);
    assert.deepEqual(r.files, ['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json', 'tokenizer.json']);
    const repoDir = path.join(cache, 'models--org--tiny');
    assert.equal(r.dir, path.join(repoDir, 'snapshots', SHA));
    assert.equal(readFileSync(path.join(repoDir, 'refs', 'main'), 'utf8'), SHA);
    for (const f of r.files) {
      const p = path.join(r.dir, f);
      assert.ok(lstatSync(p).isSymbolicLink(), `${f} is a link into blobs/`);
      assert.match(readlinkSync(p), /\.\.\/\.\.\/blobs\/[0-9a-f]{40}$/);
      assert.deepEqual(readFileSync(p), FILES[f]);
    }
    assert.ok(!existsSync(path.join(r.dir, 'pytorch_model.bin')));
    assert.ok(!existsSync(path.join(repoDir, 'snapshots', OTHER)), "no file filed under its own last commit");
    assert.equal(resolveModelDir('org/tiny', { cacheDir: cache }), r.dir);
    assert.equal(resolveModelDir(`org/tiny@${SHA}`, { cacheDir: cache }), r.dir);
    // a second pull finds everything in place and downloads nothing
    const before = downloads.length;
    await pullModel({ repo: 'org/tiny', cacheDir: cache, hubUrl: url, env: {} });
    assert.equal(downloads.length, before);
    // --include replaces the default set
    const inc = await pullModel({ repo: 'org/tiny', cacheDir: cache, hubUrl: url, env: {}, include: ['README.md', 'sub/'] });
    assert.deepEqual(inc.files, ['README.md', 'sub/extra.json']);
    assert.equal(readFileSync(path.join(r.dir, 'sub/extra.json'), 'utf8'), '{}');
    await assert.rejects(pullModel({ repo: 'org/absent', cacheDir: cache, hubUrl: url, env: {} }), /org\/absent: repository or revision 'main' not found on http:\/\/127\.0\.0\.1:\d+ \(404\)/);
    await assert.rejects(pullModel({ repo: 'org/tiny', cacheDir: cache, hubUrl: url, env: {}, include: ['*.gguf'] }), /no file matches \*\.gguf/);
  } finally {
    server.close();
    rmSync(cache, { recursive: true, force: true });
  }
});

const run = promisify(execFile);

test('igrpo pull: downloads through the CLI (exit 0, prints the snapshot); offline is a clear error (exit 1)', async () => {
  const { server, url } = await fakeHub(FILES);
  const cache = tmp();
  try {
    const ok = await run(process.execPath, ['bin/igrpo.js', 'pull', 'org/tiny', '--endpoint', url, '--cache-dir', cache], { encoding: 'utf8' });
    assert.equal(ok.stdout.trim(), path.join(cache, 'models--org--tiny', 'snapshots', SHA));
    assert.ok(existsSync(path.join(ok.stdout.trim(), 'model-00002-of-00002.safetensors')));
    // nothing listens on the port of a closed server: the hub cannot be reached
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const off = await run(process.execPath, ['bin/igrpo.js', 'pull', 'org/tiny', '--cache-dir', cache], { encoding: 'utf8', env: { ...process.env, HF_ENDPOINT: `http://127.0.0.1:${closed}` } }).then(
      () => assert.fail('expected exit 1'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(off.code, 1);
    assert.match(off.stderr, new RegExp(`igrpo pull: cannot reach the Hugging Face hub at http://127\\.0\\.0\\.1:${closed} \\(`));
    const usage = await run(process.execPath, ['bin/igrpo.js', 'pull', 'not a/hub id'], { encoding: 'utf8' }).catch((e: { code: number; stderr: string }) => e);
    assert.equal((usage as { code: number }).code, 2);
  } finally {
    server.close();
    rmSync(cache, { recursive: true, force: true });
  }
});

test('HubUnreachableError for a fetch that fails as undici does offline', async () => {
  const offline: typeof fetch = async () => {
    throw Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('getaddrinfo ENOTFOUND huggingface.co'), { code: 'ENOTFOUND' }) });
  };
  await assert.rejects(pullModel({ repo: 'Qwen/Qwen3-0.6B', cacheDir: tmpdir(), env: {}, fetch: offline }), (e: Error) => {
    assert.ok(e instanceof HubUnreachableError);
    assert.equal(e.message.split(' (')[0], 'cannot reach the Hugging Face hub at https://huggingface.co');
    assert.match(e.message, /\(ENOTFOUND\)/);
    return true;
  });
});
