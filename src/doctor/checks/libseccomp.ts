// Doctor check 7: libseccomp.so.2 is installed where the loader finds it.
import { constants } from 'node:fs';
import { canAccess } from '../../host/probe-host.js';
import { asAdmin, check, isRoot, type Caller, type DoctorCheck } from '../doctor-check.js';

const MULTIARCH: Record<string, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

/** Directories searched for libseccomp.so.2, most specific first. */
export function listLibraryDirs(arch: string): string[] {
  const triplet = MULTIARCH[arch];
  const dirs = triplet ? [`/usr/lib/${triplet}`, `/lib/${triplet}`] : [];
  return [...dirs, '/usr/lib64', '/lib64', '/usr/lib', '/lib'];
}

export function evaluateLibseccomp(found: string | null, searched: readonly string[], root: boolean): DoctorCheck {
  if (found !== null) return check('libseccomp', 'libseccomp', 'ok', `found ${found}`);
  return check('libseccomp', 'libseccomp', 'fail', `libseccomp.so.2 not found in ${searched.join(', ')}`,
    `${asAdmin('apt-get install libseccomp2', root)}\n# fedora/rhel: ${asAdmin('dnf install libseccomp', root)}`);
}

export function checkLibseccomp(caller: Caller, arch = process.arch): DoctorCheck {
  const dirs = listLibraryDirs(arch);
  const found = dirs.map((d) => `${d}/libseccomp.so.2`).find((p) => canAccess(p, constants.R_OK)) ?? null;
  return evaluateLibseccomp(found, dirs, isRoot(caller));
}
