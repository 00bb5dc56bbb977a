// Empties directories whose files belong to ids of a user namespace (layer
// trees, a run's writable layer, and what a failed unpack, a prune or a
// killed run left) with the stage's CLEAR_DIR. The caller opens each
// directory (O_PATH, O_NOFOLLOW: no read permission needed, the last
// component is never a link); the stage then empties it strictly relative to
// descriptors (unlinkat, openat O_NOFOLLOW, renameat2 up to the top), never
// by path, inside a user namespace with the image id map. A process holding
// one of those ids that swaps a directory for a symlink mid-way gets links
// removed, never what they point at, and the namespace could not remove a
// host file anyway. Root falls back to clearing as itself, still only through
// descriptors, where the namespace may not (files of host ids: layers
// unpacked before root had a range).
// Must not: remove the directories themselves (callers rmdir them: they are
// in directories no subordinate id may write).
import { SandboxError } from '../errors.js';
import type { HostFacts } from '../host/probe-host.js';
import type { IdMapPlan } from '../idmap/plan-idmap.js';
import { errnoName } from '../errno-name.js';
import { ops, type StageOp } from '../stage/plan.js';
import { launchStage } from './launch-stage.js';
import { planUserns } from './plan-run.js';

/** fd numbers the stage gives the directories it clears: far above what it uses itself. */
export const FIRST_CLEAR_FD = 64;
/** Directories per stage: each holds one descriptor until the stage ends. */
const BATCH = 64;

/** Emptying `dirs`, in two parts: `open` (before USERNS, with the caller's rights) and `clear` (now, once inside, or when the sandbox has ended). */
export function planClearDirs(dirs: readonly string[], firstFd = FIRST_CLEAR_FD) {
  const fds = dirs.map((path, i) => ({ path, fd: firstFd + i }));
  return {
    open: fds.map((d) => ops.openDir(d.path, d.fd)),
    clear: (afterRun: boolean) => fds.map((d) => ops.clearDir(d.fd, afterRun)),
  };
}

export interface ClearOptions {
  readonly idmap: IdMapPlan;
  readonly host: Pick<HostFacts, 'uid' | 'newuidmap' | 'newgidmap'>;
  readonly signal?: AbortSignal;
}

/** Runs one plan without FORK_INIT to its end: null when it worked, else what failed. */
async function runClear(plan: StageOp[]): Promise<string | null> {
  const stage = launchStage(plan, ['ignore', 'ignore', 'ignore']);
  const [outcome, code] = await Promise.all([stage.outcome, new Promise<number | null>((r) => stage.child.once('close', r))]);
  if (outcome.kind === 'lost' && code === 0) return null; // a plan without FORK_INIT ends with exit 0 and no frame
  if (outcome.kind === 'failed') return `${outcome.what}: ${errnoName(outcome.errno)}${outcome.detail ? ` (${outcome.detail})` : ''}`;
  return outcome.kind === 'lost' ? outcome.reason : `unexpected exit (wait status ${outcome.waitStatus})`;
}

/** Empties every directory in `dirs` (they stay, empty). Rejects with a SandboxError naming the first directory of the batch that failed. */
export async function clearDirs(dirs: readonly string[], options: ClearOptions): Promise<void> {
  for (let i = 0; i < dirs.length; i += BATCH) {
    options.signal?.throwIfAborted();
    const batch = dirs.slice(i, i + BATCH);
    const { open, clear } = planClearDirs(batch);
    let failed = await runClear([...open, ...planUserns(options.idmap, options.host), ...clear(false)]);
    if (failed && options.host.uid === 0) failed = await runClear([...open, ...clear(false)]);
    if (failed) {
      throw new SandboxError('host', `cannot empty ${batch.length === 1 ? batch[0] : `${batch[0]} (and ${batch.length - 1} more)`}: ${failed}`,
        options.idmap.mode === 'subid'
          ? 'files of ids outside your subordinate range are in it: remove them as root'
          : 'check the permissions of the directory; run `sandbox doctor` to check user namespaces');
    }
  }
}
