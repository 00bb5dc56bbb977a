// Doctor check 4b: native overlayfs (userxattr) mounts and takes a write
// inside a user namespace; otherwise what fuse-overlayfs would need.
import { constants, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canAccess, findTool } from '../../host/probe-host.js';
import { removeTree } from '../../image/unpack/remove-tree.js';
import type { StageOutcome } from '../../launch/stage-client.js';
import { ops } from '../../stage/plan.js';
import { asAdmin, check, isRoot, type Caller, type DoctorCheck } from '../doctor-check.js';
import { buildNamespacePlan, describeStageOutcome, runStagePlan } from './stage-run.js';

export interface OverlayFacts {
  outcome: StageOutcome;
  stderr: string;
  fuseOverlayfs: string | null;
  devFuseExists: boolean;
  /** /dev/fuse can be opened read-write by the caller. */
  devFuseUsable: boolean;
  root: boolean;
}

export function evaluateOverlayRun(f: OverlayFacts): DoctorCheck {
  const id = 'stage-overlay';
  const title = 'overlayfs test';
  const why = describeStageOutcome(f.outcome, f.stderr);
  if (why === null) {
    return check(id, title, 'ok', 'native overlayfs (userxattr) mounts and takes writes inside a user namespace');
  }
  const fixes: string[] = [];
  const notes: string[] = [];
  if (f.fuseOverlayfs === null) {
    notes.push('fuse-overlayfs is not installed');
    fixes.push(asAdmin('apt-get install fuse-overlayfs', f.root), `# fedora/rhel: ${asAdmin('dnf install fuse-overlayfs', f.root)}`);
  } else notes.push(`fuse-overlayfs at ${f.fuseOverlayfs}`);
  if (!f.devFuseExists) {
    notes.push('/dev/fuse does not exist');
    fixes.push(asAdmin('modprobe fuse', f.root));
  } else if (!f.devFuseUsable) {
    notes.push('/dev/fuse is not readable and writable by the caller');
    fixes.push(asAdmin('chmod 0666 /dev/fuse', f.root));
  }
  const fallback = fixes.length === 0 ? 'fuse-overlayfs can be used instead (slower)' : 'no overlay fallback either';
  fixes.push('# native overlayfs in a user namespace needs linux >= 5.11 and an upper directory on a file system that supports user xattrs');
  return check(id, title, 'warn', `native overlayfs failed: ${why}; ${notes.join(', ')}: ${fallback}`, fixes.join('\n'));
}

export async function checkOverlayRun(caller: Caller): Promise<DoctorCheck> {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-doctor-'));
  try {
    const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((d) => join(dir, d)) as [string, string, string, string];
    for (const d of [lower, upper, work, merged]) mkdirSync(d);
    const { outcome, stderr } = await runStagePlan(buildNamespacePlan(caller, [
      ops.mount('overlay', merged, 'overlay', 0, `lowerdir=${lower},upperdir=${upper},workdir=${work},userxattr`),
      ops.writeFile(`${merged}/probe`, 'x'),
    ]));
    return evaluateOverlayRun({
      outcome,
      stderr,
      fuseOverlayfs: findTool('fuse-overlayfs'),
      devFuseExists: canAccess('/dev/fuse', constants.F_OK),
      devFuseUsable: canAccess('/dev/fuse', constants.R_OK | constants.W_OK),
      root: isRoot(caller),
    });
  } finally {
    removeTree(dir);
  }
}
