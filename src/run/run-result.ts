// RunResult: everything a caller learns about a run that started. A workload
// that fails is a result, not an exception.
import { constants } from 'node:os';
import type { StageOutcome } from '../launch/launch-stage.js';
import type { RunSpec } from '../resolve/run-spec.js';
import { Op } from '../stage/protocol.js';
import type { StageOp } from '../stage/plan.js';

export type RunStatus = 'ok' | 'nonzero-exit' | 'signaled' | 'setup-failed' | 'exec-failed';

export interface RunResult {
  readonly status: RunStatus;
  /** Docker's convention: the workload's code, 128+n for signal n, 125 set-up, 126 not executable, 127 not found. */
  readonly exitCode: number;
  /** Signal that ended the workload, if any ("SIGKILL"). */
  readonly signal: string | null;
  readonly wallTimeMs: number;
  readonly cpuTimeMs: { readonly user: number; readonly system: number };
  /** Largest resident set of any process of the run, in KiB (wait4 rusage). */
  readonly peakMemoryKiB: number;
  readonly idmap: { readonly mode: 'subid' | 'single'; readonly note?: string };
  readonly profile: string;
  /** Seccomp policy loaded before exec ("unconfined": none). */
  readonly seccomp: string;
  /** Set when status is setup-failed or exec-failed. */
  readonly error?: { readonly message: string; readonly hint?: string; readonly errno: string };
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));
const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

function base(spec: RunSpec, seccomp: string) {
  return {
    seccomp,
    idmap: { mode: spec.idmap.mode, ...(spec.idmap.note ? { note: spec.idmap.note } : {}) },
    profile: spec.profile.name,
  };
}

/** A hint for the failures people actually meet. */
function hintFor(op: StageOp | undefined, errno: string, spec: RunSpec): string | undefined {
  if (!op) return 'this is a bug in the sandbox; please report it with `sandbox doctor` output';
  switch (op.code) {
    case Op.USERNS:
    case Op.UNSHARE:
      return 'unprivileged user namespaces look disabled; run `sandbox doctor` for the fix';
    case Op.MAP_EXEC:
    case Op.MAP_WRITE:
      return 'the id mapping was refused; check /etc/subuid and /etc/subgid and run `sandbox doctor`';
    case Op.EXEC:
      if (errno === 'ENOENT') return `no such program in the sandbox (PATH=${spec.searchPath}); only the host's /usr, /bin and /lib* and your volumes are visible`;
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

export function toRunResult(outcome: StageOutcome, spec: RunSpec, plan: readonly StageOp[], seccomp = spec.seccomp): RunResult {
  if (outcome.kind === 'exited') {
    const st = outcome.waitStatus;
    const common = {
      ...base(spec, seccomp),
      wallTimeMs: Number(outcome.wallNs) / 1e6,
      cpuTimeMs: { user: Number(outcome.userUs) / 1000, system: Number(outcome.systemUs) / 1000 },
      peakMemoryKiB: Number(outcome.maxRssKiB),
    };
    const termsig = st & 0x7f;
    if (termsig === 0) {
      const code = (st >> 8) & 0xff;
      return { ...common, status: code === 0 ? 'ok' : 'nonzero-exit', exitCode: code, signal: null };
    }
    return { ...common, status: 'signaled', exitCode: 128 + termsig, signal: SIGNAL_NAMES.get(termsig) ?? `SIG${termsig}` };
  }
  const empty = { ...base(spec, seccomp), signal: null, wallTimeMs: 0, cpuTimeMs: { user: 0, system: 0 }, peakMemoryKiB: 0 };
  if (outcome.kind === 'lost') {
    return { ...empty, status: 'setup-failed', exitCode: 125, error: { message: outcome.reason, errno: 'none' } };
  }
  const errno = errnoName(outcome.errno);
  const op = plan[outcome.step];
  const isExec = op?.code === Op.EXEC;
  const detail = outcome.detail && outcome.detail !== outcome.what ? ` (${outcome.detail})` : '';
  const message = `${outcome.what}: ${errno}${detail}`;
  const hint = hintFor(op, errno, spec);
  return {
    ...empty,
    status: isExec ? 'exec-failed' : 'setup-failed',
    exitCode: isExec ? (errno === 'ENOENT' ? 127 : 126) : 125,
    error: { message, errno, ...(hint ? { hint } : {}) },
  };
}
