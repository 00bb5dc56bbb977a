// Compiled filters on disk, keyed by what determines them: the policy text,
// the context (arch, kernel for minKernel, network) and the libseccomp build.
// A hit costs a hash and one small read; no libseccomp is loaded.
// Files: $XDG_CACHE_HOME/rootless-sandbox/seccomp/KEY.bpf (or ~/.cache/...).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { FilterContext } from './resolve-policy.js';

/** Bump when the compiler's output for the same input changes. */
const FORMAT = 'sbx-seccomp-2';
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
    .update(`${FORMAT}\0${ctx.arch}\0${kernel}\0${ctx.network}\0${libseccompIdentity()}\0`)
    .update(policyText)
    .digest('hex');
}

export interface CachedFilter {
  readonly programs: Buffer[];
  readonly flags: number;
}

export function readCachedFilter(key: string, dir = cacheDir()): CachedFilter | null {
  let data: Buffer;
  try {
    data = readFileSync(join(dir, `${key}.bpf`));
  } catch {
    return null;
  }
  // a damaged entry is ignored and rewritten, never loaded
  if (data.length < 12 || data.readUInt32LE(0) !== MAGIC) return null;
  const flags = data.readUInt32LE(4);
  const count = data.readUInt32LE(8);
  const programs: Buffer[] = [];
  let off = 12;
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
  const head = Buffer.alloc(12);
  head.writeUInt32LE(MAGIC, 0);
  head.writeUInt32LE(filter.flags, 4);
  head.writeUInt32LE(filter.programs.length, 8);
  const parts: Buffer[] = [head];
  for (const p of filter.programs) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(p.length, 0);
    parts.push(len, p);
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.${key}.${process.pid}.tmp`);
    writeFileSync(tmp, Buffer.concat(parts), { mode: 0o600 });
    renameSync(tmp, join(dir, `${key}.bpf`)); // atomic: concurrent runs never see half a file
  } catch {
    /* read-only home, full disk: compile again next time */
  }
}
