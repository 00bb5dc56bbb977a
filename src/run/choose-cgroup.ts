// Which cgroup backend a run gets: one per run when a limit needs the whole
// process tree (memory, pids, CPU), else none (nothing to create, nothing to
// remove: the fast path).
import type { CgroupChoice } from '../cgroup/cgroup-run.js';
import { prepareCgroup } from '../cgroup/prepare-cgroup.js';
import type { LimitsSpec } from '../resolve/run-spec.js';

export async function chooseCgroup(limits: LimitsSpec, runId: string): Promise<CgroupChoice> {
  if (limits.memoryBytes === null && limits.pids === null && limits.cpuTimeUs === null) {
    return { backend: 'none', reason: 'no memory, pids or CPU limit asked for' };
  }
  return prepareCgroup({ memoryBytes: limits.memoryBytes, pids: limits.pids }, runId);
}

/** What the rlimit fallback guarantees less than a cgroup, for the result. */
export function fallbackNote(reason: string, limits: LimitsSpec): string | undefined {
  const weaker: string[] = [];
  if (limits.memoryBytes !== null) weaker.push('memory is limited per process (RLIMIT_DATA), not for the tree, and MLE is inferred from a failure near the limit');
  if (limits.pids !== null) weaker.push('processes are counted per sandbox user (RLIMIT_NPROC)');
  if (limits.cpuTimeUs !== null) weaker.push('CPU time is summed from /proc every 10 ms');
  return weaker.length ? `${reason}: ${weaker.join('; ')}` : undefined;
}
