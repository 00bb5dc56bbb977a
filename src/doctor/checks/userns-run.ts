// Doctor check 4a: the stage creates every namespace a run needs and runs /bin/true.
import { check, type Caller, type DoctorCheck } from '../doctor-check.js';
import { buildNamespacePlan, describeStageOutcome, runStagePlan } from './stage-run.js';
import type { StageOutcome } from '../../launch/stage-client.js';

export function evaluateUsernsRun(o: StageOutcome, stderr: string): DoctorCheck {
  const why = describeStageOutcome(o, stderr);
  if (why === null) {
    return check('stage-userns', 'user namespace test', 'ok',
      'the stage created user, mount, pid, net, uts, ipc and cgroup namespaces and ran /bin/true');
  }
  return check('stage-userns', 'user namespace test', 'fail', `the stage could not run /bin/true in new namespaces: ${why}`,
    '# fix the user namespace problems reported above, then run sandbox doctor again');
}

export async function checkUsernsRun(caller: Caller): Promise<DoctorCheck> {
  const { outcome, stderr } = await runStagePlan(buildNamespacePlan(caller));
  return evaluateUsernsRun(outcome, stderr);
}
