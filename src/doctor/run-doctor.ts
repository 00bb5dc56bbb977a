// doctor/: runs every host check (the stage runs concurrently with the file
// checks) into one DoctorReport, and renders it as text for a terminal.
// Must not: change the host, or print; the CLI prints what formatDoctor returns.
import { probeHost } from '../host/probe-host.js';
import type { Caller, DoctorCheck } from './doctor-check.js';
import { checkCgroups } from './checks/cgroups.js';
import { checkIdMapTools } from './checks/idmap-tools.js';
import { checkLibseccomp } from './checks/libseccomp.js';
import { checkNetworkHelpers } from './checks/network-helpers.js';
import { checkOverlayRun } from './checks/overlay-run.js';
import { checkStageBinary } from './checks/stage-binary.js';
import { skipStageCheck } from './checks/stage-run.js';
import { checkSubIds, readCallerSubIds } from './checks/subids.js';
import { checkUserNamespaces } from './checks/user-namespaces.js';
import { checkUsernsRun } from './checks/userns-run.js';

export type { DoctorCheck } from './doctor-check.js';

export interface DoctorReport {
  /** No check failed. */
  ok: boolean;
  checks: DoctorCheck[];
  /** How sandboxes of this caller map ids: subordinate ranges, or only the caller's own id. */
  idmap: 'subid' | 'single';
  /** The caller's login name (or numeric uid without a passwd entry). */
  user: string;
}

/** Prefix of the detail of a check whose code threw: a bug in the doctor, not a host problem. */
export const CRASHED = 'the check itself failed:';

async function guard(id: string, title: string, run: () => DoctorCheck | DoctorCheck[] | Promise<DoctorCheck>): Promise<DoctorCheck[]> {
  try {
    const r = await run();
    return Array.isArray(r) ? r : [r];
  } catch (e) {
    return [{ id, title, status: 'fail', detail: `${CRASHED} ${e instanceof Error ? e.message : String(e)}` }];
  }
}

function identifyCaller(): Caller {
  const { uid, gid, userName } = probeHost();
  return { uid, gid, name: userName };
}

/** Subordinate ranges are used when the caller has both and can apply them (root, or working newuidmap/newgidmap). */
function chooseIdMap(caller: Caller, tools: DoctorCheck | undefined): 'subid' | 'single' {
  try {
    const { subuid, subgid } = readCallerSubIds(caller);
    const canApply = caller.uid === 0 || tools?.status === 'ok';
    return subuid.length > 0 && subgid.length > 0 && canApply ? 'subid' : 'single';
  } catch {
    return 'single'; // unreadable subid files: the subid check reports why
  }
}

export async function runDoctor(): Promise<DoctorReport> {
  const caller = identifyCaller();
  const [stage] = await guard('stage-binary', 'sandbox stage', checkStageBinary);
  const stageUsable = stage?.status === 'ok';

  // the two stage runs go first so they overlap with the file checks below
  const usernsRun = stageUsable
    ? guard('stage-userns', 'user namespace test', () => checkUsernsRun(caller))
    : Promise.resolve([skipStageCheck('stage-userns', 'user namespace test', 'the stage is not built')]);
  const overlayRun = stageUsable
    ? guard('stage-overlay', 'overlayfs test', () => checkOverlayRun(caller))
    : Promise.resolve([skipStageCheck('stage-overlay', 'overlayfs test', 'the stage is not built')]);

  const userns = await guard('userns', 'unprivileged user namespaces', () => checkUserNamespaces(caller));
  const subid = await guard('subid', 'subordinate id ranges', () => checkSubIds(caller));
  const tools = await guard('idmap-tools', 'newuidmap/newgidmap', () => checkIdMapTools(caller));
  const cgroups = await guard('cgroups', 'cgroups', () => checkCgroups(caller));
  const net = await guard('network', 'network helpers', () => checkNetworkHelpers(caller));
  const seccomp = await guard('libseccomp', 'libseccomp', () => checkLibseccomp(caller));
  const [usernsResult, overlayResultRaw] = await Promise.all([usernsRun, overlayRun]);

  // with no user namespace the overlay run fails for the same reason: say so instead of suggesting fuse
  const usernsWorks = usernsResult.every((c) => c.status === 'ok' || c.status === 'info');
  const overlayResult = usernsWorks
    ? overlayResultRaw
    : [skipStageCheck('stage-overlay', 'overlayfs test', 'the user namespace test failed')];

  const checks = [
    ...userns, ...subid, ...tools, ...usernsResult, ...overlayResult, ...cgroups, ...net, ...seccomp,
    ...(stage ? [stage] : []),
  ];
  return {
    ok: checks.every((c) => c.status !== 'fail'),
    checks,
    idmap: chooseIdMap(caller, tools[0]),
    user: caller.name ?? String(caller.uid),
  };
}

const TAG: Record<DoctorCheck['status'], string> = { ok: '[ ok ]', warn: '[warn]', fail: '[FAIL]', info: '[info]' };

/** One line per check, indented fix lines under it, and a summary line. */
export function formatDoctor(report: DoctorReport): string {
  const lines: string[] = [];
  const pad = ' '.repeat(TAG.ok.length + 1);
  for (const c of report.checks) {
    lines.push(`${TAG[c.status]} ${c.title}: ${c.detail}`);
    if (c.fix) {
      c.fix.split('\n').forEach((l, k) => lines.push(`${pad}${k === 0 ? 'fix: ' : '     '}${l}`));
    }
  }
  const failed = report.checks.filter((c) => c.status === 'fail').length;
  const warned = report.checks.filter((c) => c.status === 'warn').length;
  const counts = `${failed} failed, ${warned} warning${warned === 1 ? '' : 's'}`;
  const mapping = report.idmap === 'subid' ? 'subordinate id ranges' : 'a single-id mapping';
  lines.push(report.ok
    ? `${report.user} can run rootless sandboxes with ${mapping} (${counts})`
    : `${report.user} cannot run rootless sandboxes on this host (${counts})`);
  return `${lines.join('\n')}\n`;
}
