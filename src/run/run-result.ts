// RunResult: everything a caller learns about a run that started. A workload
// that fails is a result, not an exception.
import { constants } from 'node:os';
import type { CgroupUsage } from '../cgroup/cgroup-run.js';
import type { StageExit, StageOutcome } from '../launch/stage-client.js';
import { describeFailure, exitStatus } from '../launch/stage-outcome.js';
import type { LimitsSpec, RunSpec } from '../resolve/run-spec.js';
import { KillReason } from '../stage/protocol.js';
import type { StageOp } from '../stage/plan.js';

/**
 * The verdict, as judges name it: OK, RE (non-zero exit), SG (killed by a
 * signal), TLE (CPU time), WLE (wall time), MLE (memory), OLE (output or file
 * size), XX (the sandbox failed: set-up, exec, or the stage was lost).
 */
export type RunStatus = 'OK' | 'RE' | 'SG' | 'TLE' | 'WLE' | 'MLE' | 'OLE' | 'XX';

export type LimitBackend = 'cgroup2' | 'cgroup1' | 'none';

export interface StreamAccount {
  /** Bytes the workload wrote (up to the output limit). */
  readonly bytes: number;
  /** Output was cut at the limit. */
  readonly truncated: boolean;
}

export interface RunResult {
  readonly status: RunStatus;
  /** Docker's convention: the workload's code, 128+n for signal n, 125 set-up, 126 not executable, 127 not found. */
  readonly exitCode: number;
  /** Signal that ended the workload, if any ("SIGKILL"). */
  readonly signal: string | null;
  /** From exec to the end of the workload. */
  readonly wallTimeMs: number;
  /** CPU time of the whole process tree, measured when it ended (also at a limit): user + system = total. */
  readonly cpuTimeMs: { readonly user: number; readonly system: number; readonly total: number };
  /** Context switches of the whole tree: voluntary (it waited) and involuntary (it was preempted). */
  readonly contextSwitches: { readonly voluntary: number; readonly involuntary: number };
  /** Peak memory of the tree (cgroup) or of the largest process (rusage), KiB. */
  readonly peakMemoryKiB: number;
  /** The kernel's OOM killer ran (cgroup backends only). */
  readonly oomKilled: boolean;
  /** Per stream; null when the output was not relayed through the sandbox. */
  readonly output: { readonly stdout: StreamAccount | null; readonly stderr: StreamAccount | null };
  /** The limits the run had, how they were applied, and what is weaker than a cgroup when they were not. */
  readonly limits: {
    readonly backend: LimitBackend;
    readonly note?: string;
    readonly killedBy: 'cpu' | 'wall' | 'output' | null;
    /** Each limit in force (null: none), from the profile and the flags. */
    readonly applied: AppliedLimits;
  };
  readonly idmap: { readonly mode: 'subid' | 'single'; readonly note?: string };
  readonly profile: string;
  /** Seccomp policy loaded before exec ("unconfined": none). */
  readonly seccomp: string;
  readonly network: RunNetwork;
  /** Set when status is XX. */
  readonly error?: { readonly message: string; readonly hint?: string; readonly errno: string };
}

/** The limits of a run in the units a caller reads; null = unlimited. */
export interface AppliedLimits {
  readonly cpuTimeMs: number | null;
  readonly wallTimeMs: number | null;
  readonly memoryBytes: number | null;
  readonly pids: number | null;
  readonly fsizeBytes: number | null;
  readonly nofile: number | null;
  readonly stackBytes: number | null;
  readonly addressSpaceBytes: number | null;
  readonly outputBytes: number | null;
}

export function appliedLimits(l: LimitsSpec): AppliedLimits {
  const ms = (us: number | null) => (us === null ? null : us / 1000);
  return {
    cpuTimeMs: ms(l.cpuTimeUs), wallTimeMs: ms(l.wallTimeUs), memoryBytes: l.memoryBytes, pids: l.pids,
    fsizeBytes: l.fsizeBytes, nofile: l.nofile, stackBytes: l.stackBytes === 'infinity' ? null : l.stackBytes, outputBytes: l.outputBytes,
    addressSpaceBytes: l.addressSpaceBytes,
  };
}

/** The network the workload had, and the helper that provided it. */
export interface RunNetwork {
  readonly mode: 'none' | 'host' | 'pasta' | 'slirp4netns';
  /** The helper process (pasta, slirp4netns); absent for none and host, or when it did not start. */
  readonly helper?: { readonly binary: string; readonly pid: number };
  /** Published ports, "IP:HOSTPORT:CTRPORT/PROTO". */
  readonly publish?: readonly string[];
}

/** What the run path knows besides the stage's report. */
export interface RunContext {
  readonly spec: RunSpec;
  readonly plan: readonly StageOp[];
  readonly seccomp: string;
  readonly backend: LimitBackend;
  /** Why no cgroup, when backend is none. */
  readonly backendNote?: string;
  readonly usage?: CgroupUsage;
  /** Absent: the spec's mode, no helper. */
  readonly network?: RunNetwork;
}

function base(ctx: RunContext) {
  const { spec } = ctx;
  return {
    seccomp: ctx.seccomp,
    network: ctx.network ?? { mode: spec.network.mode },
    idmap: { mode: spec.idmap.mode, ...(spec.idmap.note ? { note: spec.idmap.note } : {}) },
    profile: spec.profile.name,
  };
}

const KILLED_BY = { [KillReason.CPU]: 'cpu', [KillReason.WALL]: 'wall', [KillReason.OUTPUT]: 'output' } as const;

/** With the rlimit fallback, memory is per process (RLIMIT_DATA): an allocation fails and the program dies its own way. */
const RLIMIT_MLE_SHARE = 0.9;

function verdict(o: StageExit, ctx: RunContext, cpuUs: number, peakBytes: number): RunStatus {
  const { limits } = ctx.spec;
  const { exitCode, termsig } = exitStatus(o.waitStatus);
  const abnormal = exitCode !== 0; // a signal is 128+n
  if (o.killReason === KillReason.OUTPUT || termsig === constants.signals.SIGXFSZ) return 'OLE';
  if (o.killReason === KillReason.CPU || termsig === constants.signals.SIGXCPU) return 'TLE';
  if (limits.cpuTimeUs !== null && cpuUs >= limits.cpuTimeUs) return 'TLE';
  if (o.killReason === KillReason.WALL) return 'WLE';
  if (ctx.usage?.oomKilled) return 'MLE';
  if (ctx.backend === 'none' && limits.memoryBytes !== null && abnormal && peakBytes >= limits.memoryBytes * RLIMIT_MLE_SHARE) return 'MLE';
  if (termsig !== 0) return 'SG';
  return exitCode !== 0 ? 'RE' : 'OK';
}

function stream(bytes: bigint, truncated: boolean): StreamAccount | null {
  return bytes < 0n ? null : { bytes: Number(bytes), truncated };
}

export function toRunResult(outcome: StageOutcome, ctx: RunContext): RunResult {
  const { spec, plan } = ctx;
  const limits = {
    backend: ctx.backend,
    ...(ctx.backendNote ? { note: ctx.backendNote } : {}),
    killedBy: outcome.kind === 'exited' ? (KILLED_BY[outcome.killReason as keyof typeof KILLED_BY] ?? null) : null,
    applied: appliedLimits(spec.limits),
  };
  if (outcome.kind === 'exited') {
    const st = outcome.waitStatus;
    const user = Number(outcome.userUs) / 1000;
    const system = Number(outcome.systemUs) / 1000;
    // pid 1 reaps the whole tree, also at a limit, so rusage is the tree's time; the stage's
    // last sample is larger only if pid 1 could not (killed after END_TREE_GRACE)
    const cpuUs = Math.max(Number(outcome.userUs + outcome.systemUs), Number(outcome.cpuSampleUs));
    const peakBytes = ctx.usage?.peakMemoryBytes ?? Number(outcome.maxRssKiB) * 1024;
    const { exitCode, signal } = exitStatus(st);
    return {
      ...base(ctx),
      status: verdict(outcome, ctx, cpuUs, peakBytes),
      exitCode,
      signal,
      wallTimeMs: Number(outcome.wallNs) / 1e6,
      cpuTimeMs: { user, system, total: cpuUs / 1000 },
      contextSwitches: { voluntary: Number(outcome.voluntarySwitches), involuntary: Number(outcome.involuntarySwitches) },
      peakMemoryKiB: Math.round(peakBytes / 1024),
      oomKilled: ctx.usage?.oomKilled ?? false,
      output: { stdout: stream(outcome.stdoutBytes, (outcome.truncated & 1) !== 0), stderr: stream(outcome.stderrBytes, (outcome.truncated & 2) !== 0) },
      limits,
    };
  }
  const empty = {
    ...base(ctx), status: 'XX' as const, signal: null, wallTimeMs: 0, cpuTimeMs: { user: 0, system: 0, total: 0 },
    contextSwitches: { voluntary: 0, involuntary: 0 }, peakMemoryKiB: 0,
    oomKilled: false, output: { stdout: null, stderr: null }, limits,
  };
  if (outcome.kind === 'failed') {
    const { exitCode, ...error } = describeFailure(outcome, plan, { searchPath: spec.searchPath });
    return { ...empty, exitCode, error };
  }
  const reason = outcome.kind === 'lost' ? outcome.reason : 'the stage ended without starting the workload';
  return { ...empty, exitCode: 125, error: { message: reason, errno: 'none' } };
}
