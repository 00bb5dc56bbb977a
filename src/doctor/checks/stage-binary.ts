// Doctor check 8: the C stage is built and executable.
import { constants, statSync } from 'node:fs';
import { canAccess } from '../../host/probe-host.js';
import { stagePath } from '../../launch/stage-path.js';
import { check, type DoctorCheck } from '../doctor-check.js';

export interface StageBinaryFacts {
  path: string;
  exists: boolean;
  isFile: boolean;
  executable: boolean;
}

export function evaluateStageBinary(f: StageBinaryFacts): DoctorCheck {
  const fix = 'npm run build  # in a checkout of rootless-sandbox\n# installed package: npm rebuild rootless-sandbox';
  if (!f.exists) return check('stage-binary', 'sandbox stage', 'fail', `${f.path} does not exist: the C stage was not built`, fix);
  if (!f.isFile) return check('stage-binary', 'sandbox stage', 'fail', `${f.path} is not a regular file`, fix);
  if (!f.executable) return check('stage-binary', 'sandbox stage', 'fail', `${f.path} is not executable by the caller`, fix);
  return check('stage-binary', 'sandbox stage', 'ok', `${f.path} is built and executable`);
}

export function checkStageBinary(): DoctorCheck {
  const path = stagePath();
  let isFile = false;
  let exists = false;
  try {
    isFile = statSync(path).isFile();
    exists = true;
  } catch {
    /* missing */
  }
  return evaluateStageBinary({ path, exists, isFile, executable: exists && canAccess(path, constants.X_OK) });
}
