// Which cgroup backend a run gets. Until the cgroup backends land this is
// always "none": limits fall back to rlimits and /proc accounting.
import type { CgroupChoice } from '../cgroup/cgroup-run.js';
import type { LimitsSpec } from '../resolve/run-spec.js';

export async function chooseCgroup(_limits: LimitsSpec, _runId: string): Promise<CgroupChoice> {
  return { backend: 'none', reason: 'no cgroup backend yet' };
}

/** What the rlimit fallback guarantees less than a cgroup, for the result. */
export function fallbackNote(reason: string, limits: LimitsSpec): string | undefined {
  const weaker: string[] = [];
  if (limits.memoryBytes !== null) weaker.push('memory is limited per process (RLIMIT_DATA), not for the tree, and MLE is inferred from a failure near the limit');
  if (limits.pids !== null) weaker.push('processes are counted per sandbox user (RLIMIT_NPROC)');
  if (limits.cpuTimeUs !== null) weaker.push('CPU time is summed from /proc every 10 ms');
  return weaker.length ? `${reason}: ${weaker.join('; ')}` : undefined;
}
