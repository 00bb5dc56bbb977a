// doctor/: the individual host checks of `sandbox doctor`. Each check has a
// pure evaluate* helper (made-up facts in, DoctorCheck out, unit-tested) and a
// check* function that gathers the real facts (files, tools, a stage run).
// Must not: change the host. Fixes are printed for a human to run, never run.
import { execFileSync } from 'node:child_process';
import { constants, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, chmodSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeCgroupFacts, type CgroupFacts } from '../cgroup/cgroup-facts.js';
import { explainOwnCgroup, type BackendChoice } from '../cgroup/choose-cgroup-backend.js';
import { detectCgroupBackend } from '../cgroup/prepare-cgroup.js';
import { readManagerVersion } from '../cgroup/systemd-scope.js';
import { canAccess, findInPath, findTool, SUBGID_FILE, SUBUID_FILE } from '../host/probe-host.js';
import { readSubIds, type SubIdRange } from '../host/subid.js';
import { runStage, type StageOutcome } from '../launch/stage-client.js';
import { stagePath } from '../launch/stage-path.js';
import { CLONE, MS, ops, type StageOp } from '../stage/plan.js';

export type DoctorStatus = 'ok' | 'warn' | 'fail' | 'info';

export interface DoctorCheck {
  id: string;
  title: string;
  status: DoctorStatus;
  detail: string;
  /** Shell command(s) that fix the problem, one per line; prose lines are shell comments. */
  fix?: string;
}

/** Who runs the doctor: fixes drop `sudo` for root, and some checks do not apply to root. */
export interface Caller {
  uid: number;
  gid: number;
  /** Login name, or null without a passwd entry. */
  name: string | null;
}

const isRoot = (c: Pick<Caller, 'uid'>) => c.uid === 0;

/** Prefixes a command with sudo unless the caller is root already. */
export function asAdmin(command: string, root: boolean): string {
  return root ? command : `sudo ${command}`;
}

/** Quotes a word for a POSIX shell when it needs it. */
export function quoteShell(word: string): string {
  return /^[A-Za-z0-9_/.,:+=@%-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function check(id: string, title: string, status: DoctorStatus, detail: string, fix?: string): DoctorCheck {
  return fix === undefined ? { id, title, status, detail } : { id, title, status, detail, fix };
}

function readTrimmed(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

// ------------------------------------------------------------ 1. user namespaces

export interface UserNamespaceSysctls {
  /** /proc/sys/user/max_user_namespaces; null when the file is absent (kernel without CONFIG_USER_NS). */
  maxUserNamespaces: string | null;
  /** /proc/sys/kernel/unprivileged_userns_clone (Debian/older Ubuntu kernels); null when absent. */
  unprivilegedUsernsClone: string | null;
  /** /proc/sys/kernel/apparmor_restrict_unprivileged_userns (Ubuntu 23.10+); null when absent. */
  apparmorRestrictUnprivilegedUserns: string | null;
}

const SYSCTL_DROPIN = '/etc/sysctl.d/90-rootless-sandbox.conf';

function persistSysctl(setting: string, root: boolean): string {
  return `echo '${setting}' | ${asAdmin(`tee -a ${SYSCTL_DROPIN}`, root)}`;
}

/** The AppArmor profile that lets only the stage (the process that unshares CLONE_NEWUSER) create user namespaces. */
export function renderAppArmorFix(stage: string, root: boolean): string {
  const profile = `abi <abi/4.0>,\\ninclude <tunables/global>\\nprofile rootless-sandbox-stage ${stage.replace(/%/g, '%%')} flags=(unconfined) {\\n  userns,\\n}\\n`;
  const file = '/etc/apparmor.d/rootless-sandbox-stage';
  return `printf ${quoteShell(profile)} | ${asAdmin(`tee ${file}`, root)} && ${asAdmin(`apparmor_parser -r ${file}`, root)}`;
}

export function evaluateUserNamespaces(s: UserNamespaceSysctls, ctx: { root: boolean; stagePath: string }): DoctorCheck {
  const id = 'userns';
  const title = 'unprivileged user namespaces';
  if (s.maxUserNamespaces === null) {
    return check(id, title, 'fail', '/proc/sys/user/max_user_namespaces is missing: the kernel has no user namespaces',
      '# boot a kernel built with CONFIG_USER_NS=y');
  }
  const problems: string[] = [];
  const notes: string[] = [];
  const fixes: string[] = [];
  const max = Number(s.maxUserNamespaces);
  notes.push(`user.max_user_namespaces=${s.maxUserNamespaces}`);
  if (!(max > 0)) {
    problems.push(`user.max_user_namespaces is ${s.maxUserNamespaces}: nobody can create user namespaces`);
    fixes.push(asAdmin('sysctl -w user.max_user_namespaces=15000', ctx.root),
      persistSysctl('user.max_user_namespaces=15000', ctx.root));
  }
  if (s.unprivilegedUsernsClone !== null) {
    notes.push(`kernel.unprivileged_userns_clone=${s.unprivilegedUsernsClone}`);
    if (s.unprivilegedUsernsClone === '0') {
      if (ctx.root) notes.push('(does not apply to root)');
      else {
        problems.push('kernel.unprivileged_userns_clone is 0: unprivileged users cannot create user namespaces');
        fixes.push(asAdmin('sysctl -w kernel.unprivileged_userns_clone=1', ctx.root),
          persistSysctl('kernel.unprivileged_userns_clone=1', ctx.root));
      }
    }
  }
  if (s.apparmorRestrictUnprivilegedUserns !== null) {
    notes.push(`kernel.apparmor_restrict_unprivileged_userns=${s.apparmorRestrictUnprivilegedUserns}`);
    if (s.apparmorRestrictUnprivilegedUserns === '1') {
      if (ctx.root) notes.push('(does not apply to root)');
      else {
        problems.push('kernel.apparmor_restrict_unprivileged_userns is 1: apparmor denies user namespaces to unconfined programs');
        fixes.push(asAdmin('sysctl -w kernel.apparmor_restrict_unprivileged_userns=0', ctx.root),
          persistSysctl('kernel.apparmor_restrict_unprivileged_userns=0', ctx.root),
          `# or, instead, allow user namespaces only for the stage ${ctx.stagePath}:`,
          renderAppArmorFix(ctx.stagePath, ctx.root));
      }
    }
  }
  if (problems.length > 0) return check(id, title, 'fail', problems.join('; '), fixes.join('\n'));
  return check(id, title, 'ok', notes.join(', '));
}

export function checkUserNamespaces(caller: Caller): DoctorCheck {
  return evaluateUserNamespaces({
    maxUserNamespaces: readTrimmed('/proc/sys/user/max_user_namespaces'),
    unprivilegedUsernsClone: readTrimmed('/proc/sys/kernel/unprivileged_userns_clone'),
    apparmorRestrictUnprivilegedUserns: readTrimmed('/proc/sys/kernel/apparmor_restrict_unprivileged_userns'),
  }, { root: isRoot(caller), stagePath: stagePath() });
}

// ------------------------------------------------------------ 2. subordinate id ranges

export const FULL_RANGE = 65536;

/** Every range of every owner in a subid file (for picking a free block). */
export function parseAllSubIdRanges(text: string): SubIdRange[] {
  const ranges: SubIdRange[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [, start, count] = line.split(':');
    const s = Number(start), c = Number(count);
    if (Number.isSafeInteger(s) && Number.isSafeInteger(c) && s >= 0 && c > 0) ranges.push({ start: s, count: c });
  }
  return ranges;
}

/** The first 65536-id block from 100000 on that overlaps none of the taken ranges. */
export function pickFreeSubIdRange(taken: readonly SubIdRange[], count = FULL_RANGE): SubIdRange {
  let start = 100000;
  for (;;) {
    const clash = taken.find((r) => r.start < start + count && start < r.start + r.count);
    if (!clash) return { start, count };
    start = Math.ceil((clash.start + clash.count) / FULL_RANGE) * FULL_RANGE;
  }
}

export function formatRange(r: SubIdRange): string {
  return `${r.start}-${r.start + r.count - 1} (${r.count} ids)`;
}

const usermodRange = (r: SubIdRange) => `${r.start}-${r.start + r.count - 1}`;

export interface SubIdFacts {
  caller: Caller;
  /** All of the caller's ranges in file order; the sandbox uses the first. */
  subuid: readonly SubIdRange[];
  subgid: readonly SubIdRange[];
  /** A free block to suggest (see pickFreeSubIdRange). */
  suggested: SubIdRange;
}

export function evaluateSubIds(f: SubIdFacts): DoctorCheck {
  const id = 'subid';
  const title = 'subordinate id ranges';
  const root = isRoot(f.caller);
  const who = f.caller.name ?? String(f.caller.uid);
  const describe = (kind: string, rs: readonly SubIdRange[]) =>
    `${kind} ${rs.length ? rs.map(formatRange).join(', ') : 'none'}`;
  const ranges = `${describe('subuid', f.subuid)}; ${describe('subgid', f.subgid)}`;
  const add = (flags: string) =>
    f.caller.name !== null
      ? asAdmin(`usermod ${flags} ${quoteShell(f.caller.name)}`, root)
      : null;
  const suggested = usermodRange(f.suggested);

  const missing = [f.subuid.length ? null : 'subuid', f.subgid.length ? null : 'subgid'].filter((x): x is string => x !== null);
  if (missing.length > 0) {
    const flags = missing.map((k) => `--add-${k}s ${suggested}`).join(' ');
    const fix = add(flags) ?? missing
      .map((k) => `echo '${f.caller.uid}:${f.suggested.start}:${f.suggested.count}' | ${asAdmin(`tee -a /etc/${k}`, root)}`)
      .join('\n');
    const consequence = root
      ? 'without a range for root the sandbox maps the workload to nobody (65534)'
      : 'without a range the sandbox uses a single-id mapping: only one uid exists inside, and the caller\'s supplementary groups stay attached (setgroups is denied)';
    return check(id, title, 'warn', `no ${missing.join(' or ')} range for ${who} (${ranges}): ${consequence}`, fix);
  }

  const small = ([['subuid', f.subuid[0]], ['subgid', f.subgid[0]]] as const)
    .filter(([, r]) => r !== undefined && r.count < FULL_RANGE) as [string, SubIdRange][];
  if (small.length > 0) {
    const flags = small.map(([k, r]) => `--del-${k}s ${usermodRange(r)} --add-${k}s ${suggested}`).join(' ');
    const fix = add(flags) ?? `# edit /etc/subuid and /etc/subgid: give ${who} the range ${f.suggested.start}:${f.suggested.count} as its first line`;
    const what = small.map(([k, r]) => `${k} range ${usermodRange(r)} has ${r.count} ids`).join(', ');
    return check(id, title, 'warn',
      `${what}, fewer than ${FULL_RANGE}: ids above ${Math.min(...small.map(([, r]) => r.count)) - 1} inside the sandbox cannot be mapped (${ranges})`, fix);
  }
  return check(id, title, 'ok', `${who}: ${ranges}`);
}

function readTakenRanges(): SubIdRange[] {
  const taken: SubIdRange[] = [];
  for (const file of [SUBUID_FILE, SUBGID_FILE]) {
    const text = readTrimmed(file);
    if (text !== null) taken.push(...parseAllSubIdRanges(text));
  }
  return taken;
}

/** The caller's /etc/subuid and /etc/subgid ranges. */
export function readCallerSubIds(caller: Caller): { subuid: SubIdRange[]; subgid: SubIdRange[] } {
  const who = { name: caller.name, id: caller.uid };
  return { subuid: readSubIds(SUBUID_FILE, who), subgid: readSubIds(SUBGID_FILE, who) };
}

export function checkSubIds(caller: Caller): DoctorCheck {
  return evaluateSubIds({ caller, ...readCallerSubIds(caller), suggested: pickFreeSubIdRange(readTakenRanges()) });
}

// ------------------------------------------------------------ 3. newuidmap / newgidmap

export interface IdMapToolFacts {
  name: 'newuidmap' | 'newgidmap';
  /** Absolute path, or null when not installed. */
  path: string | null;
  /** st.mode and st.uid of the file. */
  mode?: number;
  ownerUid?: number;
  /** File capabilities as getcap prints them ("cap_setuid=ep"); '' = none; null = unknown (no getcap). */
  caps?: string | null;
}

/** The capability part of `getcap PATH` output: "" when the file has none. */
export function parseGetcapOutput(output: string): string {
  const line = output.split('\n').find((l) => l.trim() !== '');
  if (!line) return '';
  // "/usr/bin/newuidmap cap_setuid=ep" (libcap >= 2.41) or "/usr/bin/newuidmap = cap_setuid+ep" (older)
  const m = /^\S+\s+(?:=\s+)?(.*)$/.exec(line.trim());
  return m?.[1]?.trim() ?? '';
}

/** `hasRanges`: the caller has subuid and subgid ranges (without, runs use a single-id map and need no helper). */
export function evaluateIdMapTools(tools: readonly IdMapToolFacts[], caller: Caller, hasRanges = true): DoctorCheck {
  const id = 'idmap-tools';
  const title = 'newuidmap/newgidmap';
  const root = isRoot(caller);
  if (root) {
    const where = tools.map((t) => `${t.name} ${t.path ?? 'not installed'}`).join(', ');
    return check(id, title, 'info', `not needed for root, which writes the id maps itself (${where})`);
  }
  const missing = tools.filter((t) => t.path === null);
  if (missing.length > 0) {
    const what = `${missing.map((t) => t.name).join(' and ')} not found in /usr/bin, /usr/sbin, /bin or /sbin`;
    return check(id, title, hasRanges ? 'fail' : 'warn', hasRanges ? what : `${what}; sandboxes use a single-id mapping until both are installed and the caller has a range`,
      `${asAdmin('apt-get install uidmap', root)}\n# fedora/rhel: ${asAdmin('dnf install shadow-utils', root)}`);
  }
  const broken: string[] = [];
  const unknown: string[] = [];
  const good: string[] = [];
  for (const t of tools) {
    const setuidRoot = t.mode !== undefined && (t.mode & 0o4000) !== 0 && t.ownerUid === 0;
    const needed = t.name === 'newuidmap' ? 'cap_setuid' : 'cap_setgid';
    if (setuidRoot) good.push(`${t.path} is setuid-root`);
    else if (t.caps === null || t.caps === undefined) unknown.push(`${t.path} is not setuid-root and getcap is missing to read its file capabilities`);
    else if (t.caps.includes(needed)) good.push(`${t.path} has ${t.caps}`);
    else broken.push(`${t.path} is neither setuid-root nor has ${needed} (${t.caps || 'no file capabilities'})`);
  }
  const paths = tools.map((t) => t.path as string).join(' ');
  if (broken.length > 0) {
    return check(id, title, 'fail', broken.join('; '), asAdmin(`chmod u+s ${paths}`, root));
  }
  if (unknown.length > 0) {
    return check(id, title, 'warn', `could not tell whether they work: ${unknown.join('; ')}`,
      `${asAdmin('apt-get install libcap2-bin', root)}  # provides getcap, then run sandbox doctor again\n# or make them setuid-root: ${asAdmin(`chmod u+s ${paths}`, root)}`);
  }
  return check(id, title, 'ok', good.join(', '));
}

function readGetcap(getcap: string | null, path: string): string | null {
  if (getcap === null) return null;
  try {
    return parseGetcapOutput(execFileSync(getcap, [path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }));
  } catch {
    return null;
  }
}

export function checkIdMapTools(caller: Caller): DoctorCheck {
  const getcap = findTool('getcap');
  const tools = (['newuidmap', 'newgidmap'] as const).map((name): IdMapToolFacts => {
    const path = findTool(name);
    if (path === null) return { name, path };
    const st = statSync(path);
    const setuidRoot = (st.mode & 0o4000) !== 0 && st.uid === 0;
    return { name, path, mode: st.mode, ownerUid: st.uid, caps: setuidRoot ? '' : readGetcap(getcap, path) };
  });
  const { subuid, subgid } = readCallerSubIds(caller);
  return evaluateIdMapTools(tools, caller, subuid.length > 0 && subgid.length > 0);
}

// ------------------------------------------------------------ 4. stage runs: user namespace, overlayfs

let errnoNames: Map<number, string> | undefined;

/** "EPERM" for 1; "errno N" for numbers Node does not name. */
export function nameErrno(errno: number): string {
  if (!errnoNames) {
    errnoNames = new Map();
    for (const [name, value] of Object.entries(osConstants.errno)) if (!errnoNames.has(value)) errnoNames.set(value, name);
  }
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

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
  if (o.kind === 'failed') return `${o.what}: ${nameErrno(o.errno)}${o.detail ? ` (${o.detail})` : ''}`;
  return o.kind === 'lost' ? o.reason : null;
}

export function evaluateUsernsRun(o: StageOutcome, stderr: string): DoctorCheck {
  const why = describeStageOutcome(o, stderr);
  if (why === null) {
    return check('stage-userns', 'user namespace test', 'ok',
      'the stage created user, mount, pid, net, uts, ipc and cgroup namespaces and ran /bin/true');
  }
  return check('stage-userns', 'user namespace test', 'fail', `the stage could not run /bin/true in new namespaces: ${why}`,
    '# fix the user namespace problems reported above, then run sandbox doctor again');
}

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

export async function checkUsernsRun(caller: Caller): Promise<DoctorCheck> {
  const { outcome, stderr } = await runStagePlan(buildNamespacePlan(caller));
  return evaluateUsernsRun(outcome, stderr);
}

/** Removes a directory tree even where overlayfs left a mode-000 work directory. */
function removeTree(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
    return;
  } catch {
    /* make everything writable and try again */
  }
  const open = (d: string) => {
    try {
      chmodSync(d, 0o700);
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) open(join(d, e.name));
    } catch {
      /* best effort */
    }
  };
  open(dir);
  rmSync(dir, { recursive: true, force: true });
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

// ------------------------------------------------------------ 5. cgroups

/** What the cgroup check is made of: the facts, the backend runs would get (the same choice prepareCgroup makes), and for a scope whether the manager answers. */
export interface CgroupCheckFacts {
  facts: CgroupFacts;
  choice: BackendChoice;
  /** Only for the scope backend: the manager's version, or why it did not answer. */
  manager?: { version: string } | { error: string };
}

const FALLBACK = 'limits fall back to rlimits (memory per process, not per tree)';

function cgroupFixes(f: CgroupCheckFacts, caller: Caller): string | undefined {
  const root = isRoot(caller);
  const { facts } = f;
  if (facts.top !== 'cgroup2' && facts.mounts.length === 0) return asAdmin('mount -t cgroup2 none /sys/fs/cgroup', root);
  if (facts.top !== 'cgroup2') {
    if (!root) {
      return [
        '# boot with the unified cgroup hierarchy (debian/ubuntu with grub):',
        `${asAdmin(`sed -i 's/^GRUB_CMDLINE_LINUX="/&systemd.unified_cgroup_hierarchy=1 /' /etc/default/grub`, root)} && ${asAdmin('update-grub', root)} && ${asAdmin('reboot', root)}`,
        `# fedora/rhel: ${asAdmin('grubby --update-kernel=ALL --args=systemd.unified_cgroup_hierarchy=1', root)}`,
      ].join('\n');
    }
    const missing = (['memory', 'pids'] as const).filter((c) => !facts.v1.some((h) => h.controller === c));
    return missing.length
      ? missing.map((c) => `mkdir -p /sys/fs/cgroup/${c} && mount -t cgroup -o ${c} cgroup /sys/fs/cgroup/${c}`).join('\n')
      : undefined;
  }
  const s = facts.systemd;
  const delegate = `${asAdmin('mkdir -p /etc/systemd/system/user@.service.d', root)} && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | ${asAdmin('tee /etc/systemd/system/user@.service.d/delegate.conf', root)} && ${asAdmin('systemctl daemon-reload', root)}`;
  if (!s || !s.booted) {
    return '# without systemd: start the sandbox from a process in a leaf cgroup whose (writable) parent has memory and pids in cgroup.subtree_control';
  }
  if (!s.socketExists) {
    return s.manager === 'user'
      ? [`# start a systemd user manager for ${caller.name ?? `uid ${caller.uid}`} that outlives logins:`,
        asAdmin(`loginctl enable-linger ${quoteShell(caller.name ?? String(caller.uid))}`, root),
        `# and run the sandbox with XDG_RUNTIME_DIR=/run/user/${caller.uid} (a login through pam_systemd sets it)`].join('\n')
      : undefined;
  }
  if (f.manager && 'error' in f.manager) return s.manager === 'user' ? 'systemctl --user status' : 'systemctl status';
  return ['# delegate the controllers to every user manager (then log in again):', delegate].join('\n');
}

export function evaluateCgroups(f: CgroupCheckFacts, caller: Caller): DoctorCheck {
  const id = 'cgroups';
  const title = 'cgroups';
  const { facts, choice } = f;
  const hybrid = facts.mounts.some((m) => m.fstype === 'cgroup2') ? ' (hybrid: a cgroup2 hierarchy is mounted too)' : '';
  switch (choice.kind) {
    case 'none':
      return check(id, title, 'warn', `${choice.reason}: ${FALLBACK}`, cgroupFixes(f, caller));
    case 'cgroup1': {
      const names = choice.hierarchies.flatMap((h) => h.controllers);
      const noCpu = names.includes('cpuacct') ? '' : '; cpuacct is not mounted, so CPU time is summed from /proc';
      return check(id, title, 'ok',
        `cgroup v1 controllers: ${names.join(', ')}${hybrid}; each run gets rootless-sandbox-ID below this process's own cgroup in ${choice.hierarchies.map((h) => h.dir).join(', ')}${noCpu}`);
    }
    case 'cgroup2-delegated':
      return check(id, title, 'ok',
        `cgroup v2, delegated: each run gets a sibling of this process's cgroup in ${choice.parentDir} (its cgroup.subtree_control: ${choice.controllers.join(' ')}), with no call to systemd`);
    case 'cgroup2-scope': {
      const who = choice.manager === 'user' ? `the systemd user manager of uid ${facts.uid}` : 'the systemd system manager';
      const how = `${explainOwnCgroup(facts)}; so each run asks ${who} for a transient scope rootless-sandbox-ID.scope in ${choice.slice} with Delegate=yes around the stage (one call on ${choice.socket} per run) and makes its cgroup inside (controllers it can give: ${choice.controllers.join(' ')})`;
      if (f.manager && 'error' in f.manager) {
        return check(id, title, 'warn', `cgroup v2: ${how}, but ${who} did not answer: ${f.manager.error}: ${FALLBACK}`, cgroupFixes(f, caller));
      }
      const version = f.manager ? ` (systemd ${f.manager.version})` : '';
      return check(id, title, 'ok', `cgroup v2${version}: ${how}`);
    }
  }
}

export async function checkCgroups(caller: Caller): Promise<DoctorCheck> {
  const facts = probeCgroupFacts();
  const choice = detectCgroupBackend(facts);
  let manager: CgroupCheckFacts['manager'];
  if (choice.kind === 'cgroup2-scope') {
    try {
      manager = { version: await readManagerVersion(choice.socket, facts.uid, 5000) };
    } catch (e) {
      manager = { error: e instanceof Error ? e.message : String(e) };
    }
  }
  return evaluateCgroups({ facts, choice, ...(manager ? { manager } : {}) }, caller);
}

// ------------------------------------------------------------ 6. network helpers

export function evaluateNetworkHelper(name: 'pasta' | 'slirp4netns', path: string | null, root: boolean): DoctorCheck {
  const id = `net-${name}`;
  const title = `network helper ${name}`;
  if (path !== null) return check(id, title, 'ok', `${name} at ${path}`);
  const pkg = name === 'pasta' ? 'passt' : 'slirp4netns';
  return check(id, title, 'warn', `${name} not found in PATH: --network ${name} is refused`,
    `${asAdmin(`apt-get install ${pkg}`, root)}\n# fedora/rhel: ${asAdmin(`dnf install ${pkg}`, root)}`);
}

export function evaluateTun(f: { exists: boolean; usable: boolean }, root: boolean): DoctorCheck {
  const id = 'net-tun';
  const title = '/dev/net/tun';
  if (!f.exists) {
    return check(id, title, 'warn', '/dev/net/tun does not exist: pasta and slirp4netns cannot create the sandbox\'s interface',
      asAdmin('modprobe tun', root));
  }
  if (!f.usable) {
    return check(id, title, 'warn', '/dev/net/tun is not readable and writable by the caller: pasta and slirp4netns cannot create the sandbox\'s interface',
      asAdmin('chmod 0666 /dev/net/tun', root));
  }
  return check(id, title, 'ok', '/dev/net/tun is readable and writable');
}

export function checkNetworkHelpers(caller: Caller): DoctorCheck[] {
  const root = isRoot(caller);
  return [
    evaluateNetworkHelper('pasta', findInPath('pasta'), root),
    evaluateNetworkHelper('slirp4netns', findInPath('slirp4netns'), root),
    evaluateTun({
      exists: canAccess('/dev/net/tun', constants.F_OK),
      usable: canAccess('/dev/net/tun', constants.R_OK | constants.W_OK),
    }, root),
  ];
}

// ------------------------------------------------------------ 7. libseccomp

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

// ------------------------------------------------------------ 8. the C stage

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
