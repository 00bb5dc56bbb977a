// Which cgroup backend a run gets: one per run when a memory limit needs the
// whole process tree, else none (nothing to create or remove: the fast path).
// pids need none: RLIMIT_NPROC is counted per user namespace, i.e. per sandbox;
// CPU time is sampled by the stage from /proc (or from the cgroup if there is one).
import type { CgroupChoice } from '../cgroup/cgroup-run.js';
import { prepareCgroup } from '../cgroup/prepare-cgroup.js';
import type { LimitsSpec } from '../resolve/run-spec.js';

/**
 * Processes of the sandbox itself in the run's cgroup while the workload runs:
 * the stage (it joins first) and the pid namespace's init. pids.max counts
 * them too, so the workload's own limit is raised by this many (--pids N means
 * N processes of the workload, as RLIMIT_NPROC in the user namespace does).
 */
export const SANDBOX_PROCESSES_IN_CGROUP = 2;

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
