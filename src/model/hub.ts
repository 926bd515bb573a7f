// Where a model's files are: a local folder as is, or a hub id (ORG/NAME[@revision]) in the standard
// Hugging Face cache, offline, exactly where huggingface_hub / transformers / @huggingface/hub put it:
//   $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub
//   └─ models--ORG--NAME/{refs/<revision> (a commit sha), snapshots/<sha>/<files>, blobs/<hash>}
// A revision that is a 40-hex commit sha names its snapshot directly; a branch or tag goes through refs/.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

export interface HubRef {
  /** "ORG/NAME" (or a legacy "NAME" without an organisation). */
  repo: string;
  /** A branch, tag or commit sha; "main" when not given. */
  revision: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const COMMIT_SHA = /^[0-9a-f]{40}$/;

/** ORG/NAME[@revision] (or NAME[@revision]) → its parts; null when the text is not shaped like a hub id. */
export function parseHubId(spec: string): HubRef | null {
  const at = spec.indexOf('@');
  const repo = at < 0 ? spec : spec.slice(0, at);
  const revision = at < 0 ? 'main' : spec.slice(at + 1);
  const parts = repo.split('/');
  if (parts.length > 2 || !parts.every((p) => NAME.test(p) && !p.includes('--') && !p.endsWith('.'))) return null;
  if (revision === '' || revision.includes('..') || revision.startsWith('/') || /\s/.test(revision)) return null;
  return { repo, revision };
}

const expandHome = (p: string) => (p === '~' || p.startsWith('~/') ? path.join(homedir(), p.slice(1)) : p);

/** The hub cache directory huggingface_hub uses (same variables, same order). */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return path.resolve(expandHome(env.HF_HUB_CACHE));
  if (env.HF_HOME) return path.resolve(expandHome(env.HF_HOME), 'hub');
  if (env.XDG_CACHE_HOME) return path.resolve(expandHome(env.XDG_CACHE_HOME), 'huggingface', 'hub');
  return path.join(homedir(), '.cache', 'huggingface', 'hub');
}

/** models--ORG--NAME, the repository's folder in the cache. */
export const repoFolderName = (repo: string): string => ['models', ...repo.split('/')].join('--');

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides the cache directory (default hubCacheDir(env)). */
  cacheDir?: string;
}

/** The snapshot folder of a hub id in the cache, or undefined, with the paths tried (for the error). */
export function findInCache(ref: HubRef, cacheDir: string): { dir?: string; tried: string[] } {
  const repoDir = path.join(cacheDir, repoFolderName(ref.repo));
  const tried: string[] = [];
  let sha = ref.revision;
  if (!COMMIT_SHA.test(ref.revision)) {
    const refFile = path.join(repoDir, 'refs', ...ref.revision.split('/'));
    if (!existsSync(refFile)) {
      tried.push(`${refFile} (missing)`);
      return { tried };
    }
    sha = readFileSync(refFile, 'utf8').trim();
    if (!COMMIT_SHA.test(sha)) {
      tried.push(`${refFile} (does not hold a commit sha: ${JSON.stringify(sha.slice(0, 60))})`);
      return { tried };
    }
  }
  const snap = path.join(repoDir, 'snapshots', sha);
  if (isDir(snap)) return { dir: snap, tried };
  tried.push(`${snap} (missing)`);
  return { tried };
}

/**
 * A model folder for DIR or ORG/NAME[@revision]: an existing directory is used as is (as transformers
 * does); otherwise the hub id is resolved in the cache without network. Missing → an error naming every
 * path tried and the `igrpo pull` command that downloads it.
 */
export function resolveModelDir(spec: string, opts: ResolveOptions = {}): string {
  if (!spec) throw new Error('no model given: expected a model folder or a hub id ORG/NAME[@revision]');
  const local = path.resolve(expandHome(spec));
  if (isDir(local)) return local;
  const ref = parseHubId(spec);
  if (!ref) {
    throw new Error(`model '${spec}': ${existsSync(local) ? `${local} is not a directory` : `no such directory ${local}`}, and it is not a hub id ORG/NAME[@revision]`);
  }
  const cacheDir = opts.cacheDir ?? hubCacheDir(opts.env);
  const found = findInCache(ref, cacheDir);
  if (found.dir) return found.dir;
  const pull = `igrpo pull ${ref.repo}${ref.revision === 'main' ? '' : ` --revision ${ref.revision}`}`;
  throw new Error(
    `model '${spec}' not found: no directory ${local}, and revision '${ref.revision}' is not in the Hugging Face cache ` +
      `(tried ${found.tried.join('; ')}; cache from ${opts.cacheDir ? 'the cacheDir option' : cacheSource(opts.env ?? process.env)}). ` +
      `Download it with: ${pull}`,
  );
}

function cacheSource(env: NodeJS.ProcessEnv): string {
  if (env.HF_HUB_CACHE) return 'HF_HUB_CACHE';
  if (env.HF_HOME) return 'HF_HOME';
  if (env.XDG_CACHE_HOME) return 'XDG_CACHE_HOME';
  return 'the default ~/.cache/huggingface/hub';
}
