// What the stage-run checks share: running a small plan through the stage in
// new namespaces (single-id map, /bin/true) and saying why it did not succeed.
import { launchStage, type StageOutcome } from '../../launch/launch-stage.js';
import { errnoName } from '../../errno-name.js';
import { CLONE, MS, ops, type StageOp } from '../../stage/plan.js';
import { check, type Caller, type DoctorCheck } from '../doctor-check.js';

/** "exit status 3" / "killed by signal 9" from a wait(2) status. */
export function describeWaitStatus(status: number): string {
  const sig = status & 0x7f;
  if (sig === 0) return `exit status ${(status >> 8) & 0xff}`;
  return `killed by signal ${sig}`;
}

/** One line saying why a stage run did not succeed; null when it exited 0. */
export function describeStageOutcome(o: StageOutcome, stderr = ''): string | null {
  if (o.kind === 'exited') {
    if (o.waitStatus === 0) return null;
    const tail = stderr.trim() ? `: ${stderr.trim().split('\n').slice(-1)[0]}` : '';
    return `/bin/true ended with ${describeWaitStatus(o.waitStatus)}${tail}`;
  }
  if (o.kind === 'failed') return `${o.what}: ${errnoName(o.errno)}${o.detail ? ` (${o.detail})` : ''}`;
  return o.reason;
}

/** Checks that only make sense with a working stage say why they did not run. */
export function skipStageCheck(id: string, title: string, reason: string): DoctorCheck {
  return check(id, title, 'info', `not tested: ${reason}`);
}

const STAGE_TIMEOUT_MS = 15000;

/** Runs a plan through the stage; kills it after a timeout. Collects the workload's stderr. */
export async function runStagePlan(plan: readonly StageOp[]): Promise<{ outcome: StageOutcome; stderr: string }> {
  const handle = launchStage(plan, ['ignore', 'ignore', 'pipe']);
  let stderr = '';
  handle.child.stderr?.setEncoding('utf8');
  handle.child.stderr?.on('data', (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<StageOutcome>((resolve) => {
    timer = setTimeout(() => {
      handle.kill('SIGKILL');
      resolve({ kind: 'lost', reason: `the stage did not finish within ${STAGE_TIMEOUT_MS / 1000}s` });
    }, STAGE_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([handle.outcome, timeout]);
    return { outcome, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** The user-namespace plan: single-id mapping, so it works without subordinate ids. */
export function buildNamespacePlan(caller: Caller, rootfsOps: readonly StageOp[] = []): StageOp[] {
  return [
    ops.userns(),
    ops.mapWrite('setgroups', 'deny'),
    ops.mapWrite('uid_map', `0 ${caller.uid} 1\n`),
    ops.mapWrite('gid_map', `0 ${caller.gid} 1\n`),
    ops.setupIds(0, 0),
    ops.unshare(CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWCGROUP, 'namespaces'),
    ops.forkInit(0),
    ops.mount('', '/', '', MS.REC | MS.SLAVE),
    ...rootfsOps,
    ops.forkWorkload(0),
    ops.dropCaps(0n, 0n),
    ops.noNewPrivs(),
    ops.exec('/bin/true', '', ['/bin/true'], []),
  ];
}
