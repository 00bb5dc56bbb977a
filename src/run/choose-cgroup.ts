// Which cgroup backend a run gets: one per run when a memory limit needs the
// whole process tree, else none (nothing to create or remove: the fast path).
// pids need none: RLIMIT_NPROC is counted per user namespace, i.e. per sandbox;
// CPU time is sampled by the stage from /proc (or from the cgroup if there is one).
import type { CgroupChoice } from '../cgroup/cgroup-run.js';
import { prepareCgroup } from '../cgroup/prepare-cgroup.js';
import type { LimitsSpec } from '../resolve/run-spec.js';

export async function chooseCgroup(limits: LimitsSpec, runId: string): Promise<CgroupChoice> {
  if (limits.memoryBytes === null) return { backend: 'none', reason: 'no memory limit asked for' };
  return prepareCgroup({ memoryBytes: limits.memoryBytes, pids: limits.pids }, runId);
}

/** What the rlimit fallback guarantees less than a cgroup, for the result. */
export function fallbackNote(reason: string, limits: LimitsSpec): string | undefined {
  const weaker: string[] = [];
  if (limits.memoryBytes !== null) weaker.push('memory is limited per process (RLIMIT_DATA), not for the tree, and MLE is inferred from a failure near the limit');
  return weaker.length ? `${reason}: ${weaker.join('; ')}` : undefined;
}
