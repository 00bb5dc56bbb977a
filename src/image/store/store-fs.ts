// The file primitives the store's parts share: lstat and readdir that treat
// a missing entry as absent, atomic writes (temporary name, fsync, rename),
// and turning a file system error into a host SandboxError with the store's hint.
import { randomBytes } from 'node:crypto';
import { promises as fsp, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isSandboxError, SandboxError } from '../../errors.js';

export const DAY_MS = 24 * 3600 * 1000;
export const HEX64 = /^[a-f0-9]{64}$/;

/** A short random suffix for temporary names. */
export function random(): string {
  return randomBytes(6).toString('hex');
}

export function hostError(what: string, e: unknown, hint = 'check that the image store is writable by you; set SANDBOX_STORE to move it'): SandboxError {
  if (isSandboxError(e)) return e;
  const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message ?? String(e);
  return new SandboxError('host', `${what}: ${code}`, hint);
}

export async function statOrNull(path: string): Promise<Stats | null> {
  try {
    return await fsp.lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw hostError(`cannot inspect ${path}`, e);
  }
}

export async function readDirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw hostError(`cannot read ${dir}`, e);
  }
}

/** Writes `data` to a temporary file next to `path`, syncs it and renames it into place. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  // a leading dot: no escaped name and no record starts with one
  const tmp = join(dirname(path), `.tmp-${random()}-${basename(path)}`);
  try {
    const fh = await fsp.open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw hostError(`cannot write ${path}`, e);
  }
}
