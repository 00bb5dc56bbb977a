// What a stage outcome means to a person and to a shell: the message, errno
// name, hint and exit code of a failed step, the exit code and signal name of
// a wait status. The one place that decodes outcomes; run results, doctor,
// the unpack worker and directory clearing all word failures through it.
// Must not: start anything or know about verdicts (run/run-result.ts).
import { constants } from 'node:os';
import { errnoName } from '../errno-name.js';
import { Op } from '../stage/protocol.js';
import { EXEC_FAILURE_EXIT } from '../stage/stage-choices.js';
import type { StageOp } from '../stage/plan.js';
import type { StageOutcome } from './stage-client.js';

export type StageFailed = Extract<StageOutcome, { kind: 'failed' }>;

/** A failed step, worded. */
export interface FailureReport {
  /** "what the step did: ERRNO (detail)". */
  readonly message: string;
  readonly errno: string;
  readonly hint?: string;
  /** Docker's convention: 127 the program was not found, 126 it could not be executed, 125 the sandbox failed. */
  readonly exitCode: number;
}

export interface FailureContext {
  /** The workload's PATH, named in the hint when the program is not found. */
  readonly searchPath?: string;
  /** A caller's own hint for a step, tried first (e.g. the unpack worker's). */
  readonly hint?: (op: StageOp | undefined, errno: string) => string | undefined;
}

const BUG_HINT = 'this is a bug in the sandbox; please report it with `sandbox doctor` output';

/** A hint for the failures people actually meet. */
function hintFor(op: StageOp | undefined, errno: string, ctx: FailureContext): string | undefined {
  if (!op) return BUG_HINT;
  switch (op.code) {
    case Op.USERNS:
    case Op.UNSHARE:
      return 'unprivileged user namespaces look disabled; run `sandbox doctor` for the fix';
    case Op.MAP_EXEC:
    case Op.MAP_WRITE:
      return 'the id mapping was refused; check /etc/subuid and /etc/subgid and run `sandbox doctor`';
    case Op.EXEC:
      if (errno === 'ENOENT') return `no such program in the sandbox${ctx.searchPath ? ` (PATH=${ctx.searchPath})` : ''}; only the host's /usr, /bin and /lib* and your volumes are visible`;
      if (errno === 'EACCES') return 'the file is not executable by the sandbox user, or lies on a noexec mount';
      if (errno === 'ENOEXEC') return 'not an executable for this machine (missing #! line?)';
      return undefined;
    case Op.CHDIR:
    case Op.MKDIR:
      if (errno === 'EROFS') return 'the path lies on a read-only part of the sandbox: mount a --tmpfs or a writable volume there, or drop --read-only';
      if (errno === 'EACCES') return 'the sandbox user may not enter or create it; choose another -w or -u';
      return undefined;
    case Op.BIND:
      if (errno === 'EACCES' || errno === 'EPERM') return 'the sandbox cannot reach that host path: every directory above it must be searchable (o+x) by the mapped user';
      return undefined;
    case Op.SECCOMP:
      return 'the kernel refused the seccomp filter; `sandbox doctor` checks seccomp support, `sandbox policy check FILE` the policy';
    case Op.MOUNT:
      if (op.what.includes('proc')) return 'this host\'s /proc is partly covered (running inside another container?); the sandbox needs a fully visible /proc';
      return undefined;
    default:
      return undefined;
  }
}

/** Words a failed step of `plan`. */
export function describeFailure(outcome: StageFailed, plan: readonly StageOp[], ctx: FailureContext = {}): FailureReport {
  const errno = errnoName(outcome.errno);
  const op = plan[outcome.step];
  const detail = outcome.detail && outcome.detail !== outcome.what ? ` (${outcome.detail})` : '';
  const hint = ctx.hint?.(op, errno) ?? hintFor(op, errno, ctx);
  return {
    message: `${outcome.what}: ${errno}${detail}`,
    errno,
    ...(hint ? { hint } : {}),
    exitCode: op?.code === Op.EXEC ? (errno === 'ENOENT' ? EXEC_FAILURE_EXIT.notFound : EXEC_FAILURE_EXIT.other) : 125,
  };
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** A wait status as a shell reports it: the exit code, or 128+n and the signal's name. */
export function exitStatus(waitStatus: number): { exitCode: number; signal: string | null; termsig: number } {
  const termsig = waitStatus & 0x7f;
  if (termsig === 0) return { exitCode: (waitStatus >> 8) & 0xff, signal: null, termsig };
  return { exitCode: 128 + termsig, signal: SIGNAL_NAMES.get(termsig) ?? `SIG${termsig}`, termsig };
}

/** "exit status 3" / "killed by signal 9" from a wait(2) status. */
export function describeWaitStatus(status: number): string {
  const { exitCode, termsig } = exitStatus(status);
  return termsig === 0 ? `exit status ${exitCode}` : `killed by signal ${termsig}`;
}

/** One line for any outcome that is not a clean end: for callers that only report what went wrong. */
export function outcomeProblem(outcome: StageOutcome, plan: readonly StageOp[], ctx: FailureContext = {}): string | null {
  switch (outcome.kind) {
    case 'completed': return null;
    case 'failed': return describeFailure(outcome, plan, ctx).message;
    case 'lost': return outcome.reason;
    case 'exited': return outcome.waitStatus === 0 ? null : `the workload ended: ${describeWaitStatus(outcome.waitStatus)}`;
  }
}
