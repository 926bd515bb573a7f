// Crash-safe writes: data goes to a temporary name, is fsynced, then renamed over the target, so a
// reader sees either the old file or the complete new one, never a half-written file.
import * as fs from 'node:fs';
import * as path from 'node:path';

function tempName(target: string): string {
  return `${target}.tmp-${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`;
}

function fsyncDir(dir: string): void {
  // directory fsync makes the rename durable; some filesystems refuse it, which is not an error for us
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* not supported here */
  }
}

function writeSynced(file: string, chunks: readonly Uint8Array[]): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (const c of chunks) {
      let off = 0;
      while (off < c.length) off += fs.writeSync(fd, c, off, c.length - off);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function toChunks(data: string | Uint8Array | readonly Uint8Array[]): readonly Uint8Array[] {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')];
  return data instanceof Uint8Array ? [data] : data;
}

/** Write one file atomically (temp file in the same folder, fsync, rename, fsync the folder). */
export function writeFileAtomic(file: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = tempName(file);
  try {
    writeSynced(tmp, toChunks(data));
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(dir);
}

/**
 * Write a whole folder of files atomically: all files go into a fresh sibling folder, each fsynced,
 * then the folder is renamed into place. An existing folder is first renamed aside and removed after,
 * so a crash leaves either the old folder, the new one, or (in the instant between the two renames)
 * the old one under its aside name — never a mix of old and new files.
 */
export function writeDirAtomic(dir: string, files: Record<string, string | Uint8Array | readonly Uint8Array[]>): void {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = tempName(target);
  fs.mkdirSync(tmp);
  try {
    for (const [name, data] of Object.entries(files)) writeSynced(path.join(tmp, name), toChunks(data));
    fsyncDir(tmp);
    let aside: string | undefined;
    if (fs.existsSync(target)) {
      aside = tempName(`${target}.old`);
      fs.renameSync(target, aside);
    }
    fs.renameSync(tmp, target);
    fsyncDir(parent);
    if (aside) fs.rmSync(aside, { recursive: true, force: true });
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
