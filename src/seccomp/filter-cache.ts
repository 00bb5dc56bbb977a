// Compiled filters on disk, keyed by what determines them: the policy text,
// the context (arch, kernel for minKernel, network) and the libseccomp build.
// A hit costs a hash and one small read; no libseccomp is loaded.
// Files: $XDG_CACHE_HOME/rootless-sandbox/seccomp/KEY.bpf (or ~/.cache/...).
// An entry is used only if it is a regular file owned by the caller, not
// writable by others, and names its own key: nobody else can plant a filter,
// and one entry cannot stand in for another.
//
// Two more kinds of entry, same rules:
// - identity entries (id-HASH.bpf, in the same directory): keyed by the policy
//   file's identity (dev, inode, size, mtime, ctime in ns) plus the context,
//   so a warm run stats the policy and reads one entry, with no hash of the
//   policy text. The entry carries its whole key; HASH (not cryptographic)
//   only names the file. Written only for a file whose times are settled
//   (older than a few seconds), so a same-size rewrite within one timestamp
//   tick cannot keep the old identity.
// - precompiled entries (dist/seccomp/KEY.bpf in the package, written by the
//   build for the shipped policies on the build host): content-keyed like the
//   cache, so they apply only for the same arch, kernel MAJOR.MINOR,
//   libseccomp build and policy text; trusted if owned by root or the caller.
import { closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync, type BigIntStats } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { packagePath } from '../package-root.js';
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

/** Where the build puts the shipped policies' filters compiled for the build host. */
export function precompiledDir(): string {
  return packagePath('dist', 'seccomp');
}

function contextKey(ctx: FilterContext): string {
  const kernel = ctx.kernel.split(/[.-]/).slice(0, 2).join('.'); // minKernel compares MAJOR.MINOR only
  return `${FORMAT}\0${ctx.arch}\0${kernel}\0${ctx.network}\0${ctx.caps.join(',')}\0${libseccompIdentity()}\0`;
}

/** node:crypto on first use only: a warm run (an identity entry) hashes nothing. */
let hashModule: typeof import('node:crypto') | undefined;

export function cacheKey(policyText: string, ctx: FilterContext): string {
  hashModule ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return hashModule.createHash('sha256').update(contextKey(ctx)).update(policyText).digest('hex');
}

/** How long ago (ms) a policy file's mtime and ctime must lie before its identity stands for its content. */
export const SETTLE_MS = 2000;

/**
 * The identity key of a policy file (its fstat with bigint times) in a
 * context, or null if the file is not a regular file or was changed less than
 * `settleMs` ago (its identity may not yet tell its content apart).
 */
export function identityKey(st: BigIntStats, ctx: FilterContext, settleMs = SETTLE_MS, nowMs = Date.now()): string | null {
  if (!st.isFile()) return null;
  const limit = BigInt(Math.floor(nowMs - settleMs)) * 1_000_000n;
  if (st.mtimeNs > limit || st.ctimeNs > limit) return null;
  return `${contextKey(ctx)}id\0${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** The file name of an identity entry: two 32-bit FNV-1a of the key (names only; the entry holds the key). */
export function identityFileName(key: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return `id-${(a >>> 0).toString(16).padStart(8, '0')}${(b >>> 0).toString(16).padStart(8, '0')}.bpf`;
}

export interface CachedFilter {
  readonly programs: Buffer[];
  readonly flags: number;
}

/** The entry's bytes, if it is owned by one of `owners` and nobody else may write it (see the file comment). */
function readOwnEntry(path: string, owners: readonly number[]): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || !owners.includes(st.uid) || (st.mode & 0o022) !== 0) return null;
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

const caller = (): number => process.getuid?.() ?? -1;

/** `owners`: whose entries are trusted; the caller's by default, also root's for the package's precompiled ones. */
export function readCachedFilter(key: string, dir = cacheDir(), owners: readonly number[] = [caller()]): CachedFilter | null {
  const data = readOwnEntry(join(dir, `${key}.bpf`), owners);
  // a damaged or foreign entry is ignored and rewritten, never loaded
  if (!data || data.length < 44 || data.readUInt32LE(0) !== MAGIC || data.toString('hex', 4, 36) !== key) return null;
  return readPrograms(data, 36);
}

/** The package's precompiled entry for `key`: owned by root or the caller, else none. */
export function readPrecompiledFilter(key: string, dir = precompiledDir()): CachedFilter | null {
  return readCachedFilter(key, dir, [0, caller()]);
}

/** Identity entries: "SBXI", key length, key (UTF-8), then flags, count, programs as in content entries. */
const ID_MAGIC = 0x49584253; // "SBXI"

export function readIdentityEntry(key: string, dir = cacheDir()): CachedFilter | null {
  const data = readOwnEntry(join(dir, identityFileName(key)), [caller()]);
  if (!data || data.length < 8 || data.readUInt32LE(0) !== ID_MAGIC) return null;
  const len = data.readUInt32LE(4);
  if (8 + len + 8 > data.length || data.toString('utf8', 8, 8 + len) !== key) return null;
  return readPrograms(data, 8 + len);
}

export function writeIdentityEntry(key: string, filter: CachedFilter, dir = cacheDir()): void {
  const k = Buffer.from(key, 'utf8');
  const head = Buffer.alloc(8);
  head.writeUInt32LE(ID_MAGIC, 0);
  head.writeUInt32LE(k.length, 4);
  writeEntry(dir, identityFileName(key), [head, k, ...programParts(filter)]);
}

/** flags, count, then (length, bytes) per program from `at` to the end. */
function readPrograms(data: Buffer, at: number): CachedFilter | null {
  if (at + 8 > data.length) return null;
  const flags = data.readUInt32LE(at);
  const count = data.readUInt32LE(at + 4);
  const programs: Buffer[] = [];
  let off = at + 8;
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

function programParts(filter: CachedFilter): Buffer[] {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(filter.flags, 0);
  head.writeUInt32LE(filter.programs.length, 4);
  const parts: Buffer[] = [head];
  for (const p of filter.programs) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(p.length, 0);
    parts.push(len, p);
  }
  return parts;
}

/** Best effort: a cache that cannot be written only costs a compile next time. */
export function writeCachedFilter(key: string, filter: CachedFilter, dir = cacheDir(), mode = 0o600): void {
  const head = Buffer.alloc(36);
  head.writeUInt32LE(MAGIC, 0);
  head.write(key, 4, 32, 'hex');
  writeEntry(dir, `${key}.bpf`, [head, ...programParts(filter)], mode);
}

function writeEntry(dir: string, name: string, parts: Buffer[], mode = 0o600): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    writeFileSync(tmp, Buffer.concat(parts), { mode, flag: 'wx' }); // never through a planted link
    renameSync(tmp, join(dir, name)); // atomic: concurrent runs never see half a file
  } catch {
    /* read-only home, full disk: compile again next time */
  }
}
