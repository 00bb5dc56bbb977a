// What the stage-run checks share: running a small plan through the stage in
// new namespaces (single-id map, /bin/true) and saying why it did not succeed.
import { runStage, type StageOutcome } from '../../launch/stage-client.js';
import { describeWaitStatus, outcomeProblem } from '../../launch/stage-outcome.js';
import { CLONE, MS, ops, type StageOp } from '../../stage/plan.js';
import { check, type Caller, type DoctorCheck } from '../doctor-check.js';

export { describeWaitStatus };

/** One line saying why a stage run did not succeed; null when it exited 0. */
export function describeStageOutcome(o: StageOutcome, stderr = ''): string | null {
  if (o.kind === 'exited') {
    if (o.waitStatus === 0) return null;
    const tail = stderr.trim() ? `: ${stderr.trim().split('\n').slice(-1)[0]}` : '';
    return `/bin/true ended with ${describeWaitStatus(o.waitStatus)}${tail}`;
  }
  return outcomeProblem(o, []);
}

/** Checks that only make sense with a working stage say why they did not run. */
export function skipStageCheck(id: string, title: string, reason: string): DoctorCheck {
  return check(id, title, 'info', `not tested: ${reason}`);
}

const STAGE_TIMEOUT_MS = 15000;

/** Runs a plan through the stage; kills it after a timeout. Collects the workload's stderr. */
export async function runStagePlan(plan: readonly StageOp[]): Promise<{ outcome: StageOutcome; stderr: string }> {
  const { outcome, stderr } = await runStage(plan, { collect: true, stderrMax: 4096, timeoutMs: STAGE_TIMEOUT_MS });
  return { outcome, stderr };
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
