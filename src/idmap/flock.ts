// flock(2) for Node, through koffi: the lock behind uid slots. The kernel
// drops a flock lock when the last descriptor of its open file description
// closes, so a holder that dies, even by SIGKILL, never leaves a slot taken.
// Locks belong to open file descriptions, not processes, so two opens of one
// file in one process exclude each other too (fcntl locks would not).
// Loaded on first use.
// Must not: block (every call is LOCK_NB).
import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, type BigIntStats } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { constants } from 'node:os';

const LOCK_EX = 2;
const LOCK_NB = 4;

export interface KoffiLike {
  readonly version: string;
  load(path: string | null): { func(signature: string): (...args: unknown[]) => unknown };
  errno(): number;
}

interface Bound {
  flock(fd: number, op: number): number;
  errno(): number;
}

let bound: Bound | undefined;

/**
 * koffi's index.js loads https, zlib and crypto before the native module
 * (~10 ms on every start of the CLI); the native module alone loads in
 * ~1.5 ms. Its own file layout, for the builds it ships, with the same
 * version check it makes, else the package as usual.
 */
export function loadKoffi(): KoffiLike {
  const require = createRequire(import.meta.url);
  if (process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64')) {
    try {
      const dir = dirname(require.resolve('koffi'));
      const native = require(join(dir, 'build', 'koffi', `linux_${process.arch}`, 'koffi.node')) as KoffiLike;
      const { version } = require(join(dir, 'package.json')) as { version: string };
      if (native.version === version) return native;
    } catch {
      /* another libc, or another layout: the package finds its own */
    }
  }
  return require('koffi') as KoffiLike;
}

/** koffi or flock(2) could not be loaded. */
export class FlockUnavailable extends Error {}

function bind(): Bound {
  if (bound) return bound;
  try {
    const koffi = loadKoffi();
    // dlopen(NULL): flock is in the C library Node itself is linked against
    const flock = koffi.load(null).func('int flock(int fd, int operation)') as (fd: number, op: number) => number;
    bound = { flock, errno: () => koffi.errno() };
  } catch (e) {
    throw new FlockUnavailable(`cannot bind flock(2) through koffi: ${(e as Error).message ?? e}`);
  }
  return bound;
}

export class FlockError extends Error {
  constructor(readonly errno: number) {
    const name = Object.entries(constants.errno).find(([, v]) => v === errno)?.[0] ?? `errno ${errno}`;
    super(`flock: ${name}`);
  }
}

/** Takes an exclusive lock on fd without waiting: true if taken, false if another open file holds it. */
export function tryLockExclusive(fd: number): boolean {
  const b = bind();
  for (;;) {
    if (b.flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
    const errno = b.errno();
    if (errno === constants.errno.EWOULDBLOCK) return false;
    if (errno !== constants.errno.EINTR) throw new FlockError(errno);
  }
}

/** Whether a locked open file is still the one a path names (device and inode). */
export function sameFile(locked: Pick<BigIntStats, 'dev' | 'ino'>, atPath: Pick<BigIntStats, 'dev' | 'ino'> | null): boolean {
  return atPath !== null && locked.dev === atPath.dev && locked.ino === atPath.ino;
}

const LOCK_OPEN_FLAGS = fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW;

/**
 * Opens (creating, never through a link) and locks the file at `path` without
 * waiting. The lock ends up on the file the path names when this returns: a
 * file a holder unlinked meanwhile is let go and the open retried. Returns the
 * locked fd (close it to unlock), "busy" when another open file holds the lock,
 * or "unstable" when the path kept changing under us. I/O errors throw.
 */
export function tryLockPath(path: string, mode = 0o600): number | 'busy' | 'unstable' {
  for (let attempt = 0; attempt < 8; attempt++) {
    const fd = openSync(path, LOCK_OPEN_FLAGS, mode);
    let keep = false;
    try {
      if (!tryLockExclusive(fd)) return 'busy';
      let atPath: BigIntStats | null = null;
      try {
        atPath = lstatSync(path, { bigint: true });
      } catch {
        /* removed meanwhile */
      }
      if (!sameFile(fstatSync(fd, { bigint: true }), atPath)) continue;
      keep = true;
      return fd;
    } finally {
      if (!keep) closeSync(fd);
    }
  }
  return 'unstable';
}
