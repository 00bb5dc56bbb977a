// Which cgroup backend a run gets: one per run when a memory limit needs the
// whole process tree, else none (nothing to create or remove: the fast path).
// pids need none: RLIMIT_NPROC is counted per user namespace, i.e. per sandbox;
// CPU time is sampled by the stage from /proc (or from the cgroup if there is one).
import type { CgroupChoice } from '../cgroup/cgroup-run.js';
import { prepareCgroup } from '../cgroup/prepare-cgroup.js';
import type { LimitsSpec } from '../resolve/run-spec.js';

/**
 * Processes of the sandbox itself in the run's cgroup: the stage (it joins
 * first), while the maps are written its id-map helper with newuidmap and
 * newgidmap (4 at once), then the pid namespace's init. pids.max is the tree's
 * bound, raised by this many; the workload's own count (--pids N: N processes
 * of the workload) is exact through RLIMIT_NPROC, which the kernel counts per
 * user namespace and uid (plan-run.ts sets it with a cgroup too).
 */
export const SANDBOX_PROCESSES_IN_CGROUP = 4;

export async function chooseCgroup(limits: LimitsSpec, runId: string): Promise<CgroupChoice> {
  if (limits.memoryBytes === null) return { backend: 'none', reason: 'no memory limit asked for' };
  const pids = limits.pids === null ? null : limits.pids + SANDBOX_PROCESSES_IN_CGROUP;
  return prepareCgroup({ memoryBytes: limits.memoryBytes, pids }, runId);
}

/** What the rlimit fallback guarantees less than a cgroup, for the result. */
export function fallbackNote(reason: string, limits: LimitsSpec): string | undefined {
  const weaker: string[] = [];
  if (limits.memoryBytes !== null) weaker.push('memory is limited per process (RLIMIT_DATA), not for the tree, and MLE is inferred from a failure near the limit');
  return weaker.length ? `${reason}: ${weaker.join('; ')}` : undefined;
}
