// Exclusive flock(2) locks on files in the image store (store.lock and the
// per-layer locks), waited for by polling (flock.ts never blocks). Owns:
// the open/lock/verify-inode dance that makes it safe for a holder to
// unlink a lock file it holds (prune does), and the wait with its timeout.
// The kernel drops a lock when its holder dies, so a crash never leaves
// the store locked. Two acquisitions in one process exclude each other too
// (locks belong to open file descriptions).
// Must not: block the event loop while waiting.
import { closeSync, unlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { SandboxError } from '../../errors.js';
import { FlockError, tryLockPath } from '../../idmap/flock.js';


export interface HeldLock {
  readonly path: string;
  /** Removes the lock file while still holding it (safe: others re-check the inode), then releases. */
  releaseAndRemove(): void;
  release(): void;
}

function lockError(path: string, e: unknown): SandboxError {
  const why = e instanceof FlockError ? e.message : (e as NodeJS.ErrnoException).code ?? String(e);
  return new SandboxError('host', `cannot lock ${path}: ${why}`,
    'the image store must be on a local file system that supports flock(2) and be writable by you; set SANDBOX_STORE to move it');
}

/** Locks `path` without waiting; null when another open file description holds it. */
export function tryLock(path: string): HeldLock | null {
  let fd: number | 'busy' | 'unstable';
  try {
    fd = tryLockPath(path);
  } catch (e) {
    throw lockError(path, e);
  }
  if (fd === 'busy') return null;
  if (fd !== 'unstable') {
    const held = fd;
    let done = false;
    const release = () => {
      if (done) return;
      done = true;
      closeSync(held);
    };
    return {
      path,
      release,
      releaseAndRemove() {
        if (done) return;
        try {
          unlinkSync(path);
        } catch {
          /* already gone */
        }
        release();
      },
    };
  }
  throw new SandboxError('host', `cannot lock ${path}: it was removed and recreated 8 times while locking`,
    'something else keeps removing files in the image store; stop it and try again');
}

/** Waits up to `timeoutMs` for the lock on `path` (`what` names it in the timeout error). */
export async function acquireLock(path: string, what: string, timeoutMs: number): Promise<HeldLock> {
  const started = Date.now();
  let pause = 5;
  for (;;) {
    const held = tryLock(path);
    if (held) return held;
    if (Date.now() - started >= timeoutMs) {
      throw new SandboxError('host', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for the lock on ${what} (${path})`,
        'another sandbox process is using the image store; wait for it to finish (a process that dies gives its locks back)');
    }
    await sleep(pause);
    pause = Math.min(pause * 2, 100);
  }
}
