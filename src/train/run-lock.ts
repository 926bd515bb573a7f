// The run folder's lock: one training at a time per folder. DIR/.lock holds {pid, host, startedAt} and is
// created with O_EXCL ('wx'), so of two processes racing for a folder exactly one wins. A lock left by a
// crash (kill -9, power loss) is taken over only when it is provably stale: written on this host by a
// process that is no longer alive. A lock from another host is never taken over (we cannot see its
// processes); the error names the holder and the file to delete once the user knows it is dead.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';

import { RunFolderError } from './errors.js';

export { RunFolderError };

export const LOCK_FILE = '.lock';

const LockInfo = z.object({ pid: z.number().int().positive(), host: z.string(), startedAt: z.string() });
export type LockInfo = z.infer<typeof LockInfo>;

export const lockPath = (out: string) => path.join(out, LOCK_FILE);

function readLock(file: string): LockInfo | undefined {
  try {
    const r = LockInfo.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined; // gone meanwhile, or half-written by a process killed between open and write
  }
}

/** Whether `pid` is a live process on this host (EPERM: alive, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const describe = (l: LockInfo) => `pid ${l.pid} on host ${l.host} (since ${l.startedAt})`;

/** Stale: written on this host by a dead process. An unreadable lock counts as stale only once it is old (a writer may be between open and write). */
function staleReason(file: string, l: LockInfo | undefined): string | undefined {
  if (!l) {
    const age = Date.now() - fs.statSync(file).mtimeMs;
    return age > 10_000 ? 'an unreadable lock file older than 10 s' : undefined;
  }
  if (l.host === os.hostname() && !alive(l.pid)) return `a lock of ${describe(l)}, a process that is no longer running`;
  return undefined;
}

function lockedError(out: string, file: string, l: LockInfo | undefined): RunFolderError {
  const who = l ? describe(l) : 'another process (its lock file is being written)';
  const hint = l && l.host !== os.hostname() ? `; if that process is gone, delete ${file}` : '';
  return new RunFolderError(`${out} is in use by another training: ${who}; lock file ${file}${hint}`);
}

/** Refuse now, without taking the lock, if a live holder has the folder (lets a fresh run fail before loading anything). */
export function assertUnlocked(out: string): void {
  const file = lockPath(out);
  if (!fs.existsSync(file)) return;
  const l = readLock(file);
  if (!staleReason(file, l)) throw lockedError(out, file, l);
}

/**
 * Locks this process holds, released at exit (a normal exit or process.exit after a signal handler), each
 * with the outermost folder that taking it created (mkdir -p), if any: removed again on release while empty,
 * so a run refused after taking the lock leaves no empty folder behind that would stand in the next one's way.
 */
const held = new Map<string, string | undefined>();
let exitHook = false;

/**
 * Take the lock on `out` (created if missing). Returns the release function (idempotent; removes the
 * file only while it is still ours). A stale lock is taken over, with a line on stderr saying so.
 */
export function acquireRunLock(out: string, warn: (msg: string) => void = (m) => console.error(m)): () => void {
  const made = fs.mkdirSync(out, { recursive: true });
  const file = lockPath(out);
  const me: LockInfo = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        fs.writeSync(fd, JSON.stringify(me) + '\n');
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        removeMade(out, made);
        throw e;
      }
      const l = readLock(file);
      const stale = attempt < 3 ? staleReason(file, l) : undefined;
      if (!stale) throw lockedError(out, file, l);
      warn(`igrpo: ${out}: taking over ${stale} (a crashed training, most likely)`);
      // rename then unlink: of two processes taking over at once, only one rename succeeds on the stale file
      const aside = `${file}.stale-${process.pid}`;
      try {
        fs.renameSync(file, aside);
        fs.rmSync(aside, { force: true });
      } catch {
        /* another process took it over first: retry the O_EXCL create, which it will have won */
      }
    }
  }
  held.set(file, made);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => held.forEach((m, f) => releaseFile(f, m)));
  }
  return () => {
    if (!held.has(file)) return;
    const m = held.get(file);
    held.delete(file);
    releaseFile(file, m);
  };
}

function releaseFile(file: string, made: string | undefined): void {
  const l = readLock(file);
  if (l && l.pid === process.pid && l.host === os.hostname()) fs.rmSync(file, { force: true });
  removeMade(path.dirname(file), made);
}

/** Remove the folders from `dir` up to `made` (what mkdir -p created) while they are empty; nothing else. */
function removeMade(dir: string, made: string | undefined): void {
  if (!made) return;
  const top = path.resolve(made);
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      fs.rmdirSync(d); // only an empty folder
    } catch {
      return; // not empty (the run wrote something, or someone else did): kept
    }
    if (d === top || path.dirname(d) === d) return;
  }
}

/** Release every lock this process holds (signal handlers call this before exiting). */
export function releaseAllRunLocks(): void {
  for (const [f, m] of held) releaseFile(f, m);
  held.clear();
}
