// Compiled filters on disk, keyed by what determines them: the policy text,
// the context (arch, kernel for minKernel, network) and the libseccomp build.
// A hit costs a hash and one small read; no libseccomp is loaded.
// Files: $XDG_CACHE_HOME/rootless-sandbox/seccomp/KEY.bpf (or ~/.cache/...).
// An entry is used only if it is a regular file owned by the caller, not
// writable by others, and names its own key: nobody else can plant a filter,
// and one entry cannot stand in for another.
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { FilterContext } from './resolve-policy.js';

/** Bump when the compiler's output for the same input changes. */
const FORMAT = 'sbx-seccomp-3';
const MAGIC = 0x46584253; // "SBXF"

const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib64', '/lib64', '/usr/lib', '/lib'];

let libIdentity: string | undefined;

/** Which libseccomp build compiles (its real file name carries the version), without loading it. */
function libseccompIdentity(): string {
  if (libIdentity !== undefined) return libIdentity;
  for (const dir of LIB_DIRS) {
    try {
      const real = realpathSync(join(dir, 'libseccomp.so.2'));
      const st = statSync(real);
      return (libIdentity = `${real}:${st.size}:${st.mtimeMs}`);
    } catch {
      /* next */
    }
  }
  return (libIdentity = 'unknown');
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'rootless-sandbox', 'seccomp');
}

export function cacheKey(policyText: string, ctx: FilterContext): string {
  const kernel = ctx.kernel.split(/[.-]/).slice(0, 2).join('.'); // minKernel compares MAJOR.MINOR only
  return createHash('sha256')
    .update(`${FORMAT}\0${ctx.arch}\0${kernel}\0${ctx.network}\0${ctx.caps.join(',')}\0${libseccompIdentity()}\0`)
    .update(policyText)
    .digest('hex');
}

export interface CachedFilter {
  readonly programs: Buffer[];
  readonly flags: number;
}

/** The entry's bytes, if it is ours alone (see the file comment). */
function readOwnEntry(path: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0) return null;
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function readCachedFilter(key: string, dir = cacheDir()): CachedFilter | null {
  const data = readOwnEntry(join(dir, `${key}.bpf`));
  // a damaged or foreign entry is ignored and rewritten, never loaded
  if (!data || data.length < 44 || data.readUInt32LE(0) !== MAGIC || data.toString('hex', 4, 36) !== key) return null;
  const flags = data.readUInt32LE(36);
  const count = data.readUInt32LE(40);
  const programs: Buffer[] = [];
  let off = 44;
  for (let i = 0; i < count; i++) {
    if (off + 4 > data.length) return null;
    const len = data.readUInt32LE(off);
    off += 4;
    if (len === 0 || len % 8 !== 0 || off + len > data.length) return null;
    programs.push(data.subarray(off, off + len));
    off += len;
  }
  return off === data.length && programs.length > 0 ? { programs, flags } : null;
}

/** Best effort: a cache that cannot be written only costs a compile next time. */
export function writeCachedFilter(key: string, filter: CachedFilter, dir = cacheDir()): void {
  const head = Buffer.alloc(44);
  head.writeUInt32LE(MAGIC, 0);
  head.write(key, 4, 32, 'hex');
  head.writeUInt32LE(filter.flags, 36);
  head.writeUInt32LE(filter.programs.length, 40);
  const parts: Buffer[] = [head];
  for (const p of filter.programs) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(p.length, 0);
    parts.push(len, p);
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.${key}.${process.pid}.tmp`);
    writeFileSync(tmp, Buffer.concat(parts), { mode: 0o600, flag: 'wx' }); // never through a planted link
    renameSync(tmp, join(dir, `${key}.bpf`)); // atomic: concurrent runs never see half a file
  } catch {
    /* read-only home, full disk: compile again next time */
  }
}
