// cgroup/: a cgroup per run for limits and accounting of the whole process
// tree: v2 with delegation (rootless on systemd machines), v1 as root, or
// none (rlimits only; the result says which guarantees are weaker).
// Must not: touch the sandbox's processes other than through the cgroup.

export interface CgroupLimits {
  /** memory.max / memory.limit_in_bytes; swap is disabled alongside. */
  readonly memoryBytes: number | null;
  /** pids.max */
  readonly pids: number | null;
}

export interface CgroupUsage {
  /** memory.peak (v2, kernel 5.19+) or memory.max_usage_in_bytes (v1); null if the kernel has none. */
  readonly peakMemoryBytes: number | null;
  /** The kernel's OOM killer ran in the cgroup (memory.events oom_kill / memory.oom_control oom_kill). */
  readonly oomKilled: boolean;
  /** CPU time of the tree in microseconds (cpu.stat usage_usec / cpuacct.usage). */
  readonly cpuUs: number | null;
}

export interface CgroupRun {
  readonly backend: 'cgroup2' | 'cgroup1';
  /** Where it lives, for messages and the result ("/sys/fs/cgroup/user.slice/.../sandbox-1234"). */
  readonly path: string;
  /** cgroup.procs (v2) or cgroup.procs of each v1 controller: the stage writes its own pid into each, in order. */
  readonly joinFiles: readonly string[];
  /** Where the stage reads the tree's CPU time while it runs (for --cpu-time), or null. */
  readonly cpuUsage: { readonly file: string; readonly format: 'cgroup2' | 'cgroup1' } | null;
  /**
   * Called with the stage's pid before it creates anything (the stage waits),
   * when joining by writing joinFiles is not possible (a systemd scope made
   * around the pid, as podman does). Absent otherwise.
   */
  attach?(stagePid: number): Promise<void>;
  /** After the run: what the kernel accounted. */
  collect(): CgroupUsage;
  /** Kills whatever is left (cgroup.kill) and removes the cgroup; idempotent, never throws. */
  remove(): void;
}

/** The backend a run uses; "none" says why (for the result and doctor). */
export type CgroupChoice = CgroupRun | { readonly backend: 'none'; readonly reason: string };
