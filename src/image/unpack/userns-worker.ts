// Runs the unpack worker (unpack-worker.ts, bundled as dist/unpack-worker.cjs)
// through the stage: uid 0 of a user namespace with the image id map, in a
// pid namespace of its own (the stage's reaper kills what is left when the
// worker ends, and its kill(-1) must not reach beyond it), without network
// (it chews hostile archives) and with no_new_privs; no mounts, no
// pivot_root, no seccomp (it needs mknod, xattrs, chown: a filter would
// allow just those and cost a compile). The stage chdir's into `cwd` before it
// creates the user namespace (an existing op in an earlier place), so the
// worker needs no search permission on the host path to it.
// Must not: decide which map or which directory (the caller: unpack-in-userns.ts).
import { spawn } from 'node:child_process';
import { SandboxError } from '../../errors.js';
import type { HostFacts } from '../../host/probe-host.js';
import type { IdMapPlan } from '../../idmap/plan-idmap.js';
import { launchStage } from '../../launch/launch-stage.js';
import { planIdMaps } from '../../launch/plan-run.js';
import { packagePath } from '../../package-root.js';
import { errnoName } from '../../errno-name.js';
import { CLONE, ops, type StageOp } from '../../stage/plan.js';
import type { WorkerReply, WorkerRequest } from './unpack-worker.js';

export function unpackWorkerPath(): string {
  return packagePath('dist', 'unpack-worker.cjs');
}

export interface WorkerRun {
  /** The directory the worker works in (its cwd). */
  readonly cwd: string;
  /** An open descriptor the worker reads as stdin (the layer blob), if any. */
  readonly stdinFd?: number;
  readonly idmap: IdMapPlan;
  readonly host: Pick<HostFacts, 'newuidmap' | 'newgidmap'>;
  readonly signal?: AbortSignal;
  /** Names the job in errors ("unpack layer sha256:..."). */
  readonly what: string;
}

/** The stage plan of one worker run. */
export function planWorker(request: WorkerRequest, run: Pick<WorkerRun, 'cwd' | 'idmap' | 'host'>): StageOp[] {
  const node = process.execPath;
  return [
    ops.chdir(run.cwd), // as the caller, before the namespace: see the header
    ops.userns(),
    ...planIdMaps(run.idmap, run.host),
    ops.setupIds(0, 0),
    ops.unshare(CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC, 'pid, net and ipc namespaces'),
    ops.forkInit(0),
    ops.forkWorkload(0),
    ops.noNewPrivs(),
    ops.exec(node, '', [node, unpackWorkerPath(), JSON.stringify(request)], []),
  ];
}

/** Runs one request; resolves with the worker's reply, rejects with a SandboxError. */
export async function runWorker(request: WorkerRequest, run: WorkerRun): Promise<WorkerReply & { ok: true }> {
  run.signal?.throwIfAborted();
  const plan = planWorker(request, run);
  const handle = launchStage(plan, [run.stdinFd ?? 'ignore', 'pipe', 'pipe']);
  const child = handle.child as ReturnType<typeof spawn>;
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 64 * 1024) stderr += d; });
  const onAbort = () => handle.kill('SIGKILL');
  run.signal?.addEventListener('abort', onAbort, { once: true });
  const closed = new Promise<void>((r) => child.on('close', () => r()));
  try {
    const outcome = await handle.outcome;
    await closed; // every byte of stdout is in
    run.signal?.throwIfAborted();
    const line = stdout.trim().split('\n').pop() ?? '';
    let reply: WorkerReply | null = null;
    try {
      reply = line ? (JSON.parse(line) as WorkerReply) : null;
    } catch {
      /* not the worker's reply: reported below */
    }
    if (reply && !reply.ok) {
      const { code, message, hint } = reply.error;
      const known = ['usage', 'config', 'host', 'setup', 'internal'].includes(code) ? code as SandboxError['code'] : 'setup';
      throw new SandboxError(known, message, hint);
    }
    if (outcome.kind === 'exited' && outcome.waitStatus === 0 && reply?.ok) return reply;
    if (outcome.kind === 'failed') {
      const hint = outcome.errno === 13 && outcome.what.startsWith('execute')
        ? `the ids of the image map must be able to read ${process.execPath} and ${unpackWorkerPath()}: install the sandbox where every user can read it`
        : outcome.what.startsWith('newuidmap') || outcome.what.startsWith('write /proc')
          ? 'check /etc/subuid and /etc/subgid and that newuidmap/newgidmap are setuid root (run `sandbox doctor`)'
          : 'run `sandbox doctor` to check user namespaces on this host';
      throw new SandboxError('setup', `${run.what}: ${outcome.what}: ${errnoName(outcome.errno)}${outcome.detail ? ` (${outcome.detail})` : ''}`, hint);
    }
    const how = outcome.kind === 'exited' ? `wait status ${outcome.waitStatus}` : outcome.reason;
    throw new SandboxError('setup', `${run.what}: the unpack worker ended without a result (${how})${stderr ? `: ${stderr.trim().slice(-2000)}` : ''}`,
      'run `sandbox doctor`; if it passes, this is a bug: report it with this message');
  } finally {
    run.signal?.removeEventListener('abort', onAbort);
  }
}
