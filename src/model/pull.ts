// `igrpo pull`: download a model's files from the Hugging Face hub into the standard cache
// (models--ORG--NAME/{blobs, snapshots/<commit>, refs/<revision>}) through @huggingface/hub, so that
// resolveModelDir (./hub.ts), transformers and vLLM all find them offline afterwards.
// The revision is resolved to its commit first and every file is fetched at that commit: asked for a
// branch, @huggingface/hub's downloadFileToCacheDir would file each one under its own last commit.
import { downloadFileToCacheDir, listFiles, modelInfo } from '@huggingface/hub';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { COMMIT_SHA, hubCacheDir, repoFolderName } from './hub.js';

/** What a causal LM needs: config, tokenizer, generation config, safetensors weights (+ index). */
export const DEFAULT_INCLUDE = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  '*.safetensors',
  '*.safetensors.index.json',
];

export const DEFAULT_HUB_URL = 'https://huggingface.co';

export interface PullOptions {
  /** ORG/NAME. */
  repo: string;
  /** Branch, tag or commit (default "main"). */
  revision?: string;
  /** Glob patterns (fnmatch: * also crosses '/'), replacing DEFAULT_INCLUDE. */
  include?: string[];
  /** Default hubCacheDir(env). */
  cacheDir?: string;
  /** Default $HF_ENDPOINT, else https://huggingface.co. */
  hubUrl?: string;
  /** Default $HF_TOKEN (gated and private models). */
  accessToken?: string;
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
  /** Seconds to wait for the hub's first answer before saying it cannot be reached (default 30). */
  connectTimeoutS?: number;
  log?: (line: string) => void;
}

export interface PullResult {
  /** The snapshot folder (what resolveModelDir returns for this repo and revision). */
  dir: string;
  commit: string;
  files: string[];
}

/** fnmatch as huggingface_hub's allow_patterns use it: '*' matches any run (slashes too), '?' one character, [...] a class; "dir/" means "dir/*". */
export function globToRegExp(glob: string): RegExp {
  const g = glob.endsWith('/') ? glob + '*' : glob;
  let re = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = g.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = g.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

export const matchesAny = (file: string, globs: readonly string[]): boolean => globs.some((g) => globToRegExp(g).test(file));

/** The hub cannot be reached (offline, DNS, refused, timed out): one clear sentence. */
export class HubUnreachableError extends Error {
  constructor(hubUrl: string, cause: string) {
    super(
      `cannot reach the Hugging Face hub at ${hubUrl} (${cause}). Check the network (or set HF_ENDPOINT to a mirror); ` +
        `models already in the cache load offline by their ORG/NAME.`,
    );
    this.name = 'HubUnreachableError';
  }
}

function describeNetworkError(e: unknown): string | undefined {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string; errors?: { code?: string; message?: string }[] } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return 'no answer in time';
  if (err?.name === 'TypeError' && /fetch failed/.test(err.message ?? '')) {
    const c = err.cause;
    const inner = c?.errors?.map((x) => x.code ?? x.message).join(', ');
    return c?.code ?? (inner || c?.message || 'fetch failed');
  }
  return undefined;
}

function explain(e: unknown, repo: string, revision: string, hubUrl: string): Error {
  const network = describeNetworkError(e);
  if (network) return new HubUnreachableError(hubUrl, network);
  const status = (e as { statusCode?: number }).statusCode;
  if (status === 401 || status === 403) return new Error(`${repo}: access denied by the hub (${status}); for a gated or private model accept its licence on the hub and set HF_TOKEN`);
  if (status === 404) return new Error(`${repo}: repository or revision '${revision}' not found on ${hubUrl} (404); check the name (ORG/NAME), or set HF_TOKEN for a private model`);
  return e instanceof Error ? e : new Error(String(e));
}

export async function pullModel(opts: PullOptions): Promise<PullResult> {
  const env = opts.env ?? process.env;
  const revision = opts.revision ?? 'main';
  const hubUrl = (opts.hubUrl ?? env.HF_ENDPOINT ?? DEFAULT_HUB_URL).replace(/\/+$/, '');
  const cacheDir = opts.cacheDir ?? hubCacheDir(env);
  const accessToken = opts.accessToken ?? env.HF_TOKEN ?? undefined;
  const baseFetch = opts.fetch ?? fetch;
  const include = opts.include?.length ? opts.include : DEFAULT_INCLUDE;
  const log = opts.log ?? (() => {});
  const common = { hubUrl, accessToken, fetch: baseFetch } as const;
  const timeoutMs = (opts.connectTimeoutS ?? 30) * 1000;

  let commit: string;
  try {
    // the first call bounded in time, so that an offline machine answers promptly
    const timed: typeof fetch = (input, init) => baseFetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeoutMs) });
    const info = await modelInfo({ ...common, fetch: timed, name: opts.repo, revision, additionalFields: ['sha'] });
    commit = (info as { sha?: string }).sha ?? '';
  } catch (e) {
    throw explain(e, opts.repo, revision, hubUrl);
  }
  if (!COMMIT_SHA.test(commit)) throw new Error(`${opts.repo}: the hub at ${hubUrl} answered without a commit sha for revision '${revision}'`);
  log(`${opts.repo}@${revision} = commit ${commit}`);

  const files: string[] = [];
  try {
    for await (const entry of listFiles({ ...common, repo: opts.repo, revision: commit, recursive: true })) {
      if (entry.type === 'file' && matchesAny(entry.path, include)) files.push(entry.path);
    }
  } catch (e) {
    throw explain(e, opts.repo, revision, hubUrl);
  }
  if (files.length === 0) throw new Error(`${opts.repo}@${commit}: no file matches ${include.join(' ')}`);
  if (!opts.include?.length && !files.some((f) => f.endsWith('.safetensors'))) {
    throw new Error(`${opts.repo}@${commit}: the repository has no .safetensors weights (pickled .bin checkpoints are not loaded: loading never executes code)`);
  }

  const repoDir = path.join(cacheDir, repoFolderName(opts.repo));
  const dir = path.join(repoDir, 'snapshots', commit);
  await mkdir(dir, { recursive: true });
  for (const file of files.sort()) {
    log(`  ${file}`);
    try {
      await downloadFileToCacheDir({ ...common, repo: opts.repo, path: file, revision: commit, cacheDir });
    } catch (e) {
      throw explain(e, opts.repo, revision, hubUrl);
    }
  }
  // refs/<revision> last: a ref names only a complete snapshot
  if (revision !== commit) {
    const ref = path.join(repoDir, 'refs', ...revision.split('/'));
    await mkdir(path.dirname(ref), { recursive: true });
    await writeFile(ref, commit);
  }
  return { dir, commit, files };
}
