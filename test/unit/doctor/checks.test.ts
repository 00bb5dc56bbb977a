// Unit tests of the pure doctor helpers: made-up sysctl values, subid ranges,
// file modes, getcap output, cgroup facts and stage outcomes. Must not touch the host.
import { describe, expect, it } from 'vitest';
import { asAdmin, quoteShell, type Caller } from '../../../src/doctor/doctor-check.js';
import { evaluateCgroups, type CgroupCheckFacts } from '../../../src/doctor/checks/cgroups.js';
import { evaluateIdMapTools, parseGetcapOutput, type IdMapToolFacts } from '../../../src/doctor/checks/idmap-tools.js';
import { evaluateLibseccomp, listLibraryDirs } from '../../../src/doctor/checks/libseccomp.js';
import { evaluateNetworkHelper, evaluateTun } from '../../../src/doctor/checks/network-helpers.js';
import { evaluateOverlayRun } from '../../../src/doctor/checks/overlay-run.js';
import { evaluateStageBinary } from '../../../src/doctor/checks/stage-binary.js';
import { describeStageOutcome, describeWaitStatus } from '../../../src/doctor/checks/stage-run.js';
import { evaluateSubIds, parseAllSubIdRanges, pickFreeSubIdRange } from '../../../src/doctor/checks/subids.js';
import { evaluateUserNamespaces, renderAppArmorFix } from '../../../src/doctor/checks/user-namespaces.js';
import { evaluateUsernsRun } from '../../../src/doctor/checks/userns-run.js';
import { errnoName as nameErrno } from '../../../src/errno-name.js';
import { formatDoctor, type DoctorReport } from '../../../src/doctor/run-doctor.js';
import type { StageOutcome } from '../../../src/launch/launch-stage.js';
import type { CgroupFacts } from '../../../src/cgroup/cgroup-facts.js';
import { chooseCgroupBackend } from '../../../src/cgroup/choose-cgroup-backend.js';
import { USER_MANAGER, v1RootFacts, v2DesktopFacts } from '../cgroup/fixtures.js';

const alice: Caller = { uid: 1000, gid: 1000, name: 'alice' };
const root: Caller = { uid: 0, gid: 0, name: 'root' };
const STAGE = '/opt/sandbox/dist/sandbox-stage';

describe('asAdmin / quoteShell', () => {
  it('adds sudo only for non-root callers', () => {
    expect(asAdmin('sysctl -w a=1', false)).toBe('sudo sysctl -w a=1');
    expect(asAdmin('sysctl -w a=1', true)).toBe('sysctl -w a=1');
  });
  it('quotes words with shell metacharacters', () => {
    expect(quoteShell('/usr/bin/x')).toBe('/usr/bin/x');
    expect(quoteShell("it's here")).toBe(`'it'\\''s here'`);
  });
});

describe('evaluateUserNamespaces', () => {
  const sysctls = { maxUserNamespaces: '15000', unprivilegedUsernsClone: null, apparmorRestrictUnprivilegedUserns: null };
  const ctx = { root: false, stagePath: STAGE };

  it('is ok with a positive limit and no restrictions', () => {
    const c = evaluateUserNamespaces(sysctls, ctx);
    expect(c.status).toBe('ok');
    expect(c.detail).toContain('user.max_user_namespaces=15000');
    expect(c.fix).toBeUndefined();
  });

  it('fails when the kernel has no user namespaces', () => {
    const c = evaluateUserNamespaces({ ...sysctls, maxUserNamespaces: null }, ctx);
    expect(c.status).toBe('fail');
    expect(c.detail).toContain('/proc/sys/user/max_user_namespaces');
  });

  it('fails on max_user_namespaces=0 with the sysctl and a persistent drop-in', () => {
    const c = evaluateUserNamespaces({ ...sysctls, maxUserNamespaces: '0' }, ctx);
    expect(c.status).toBe('fail');
    expect(c.detail).toContain('user.max_user_namespaces is 0');
    expect(c.fix).toContain('sudo sysctl -w user.max_user_namespaces=15000');
    expect(c.fix).toMatch(/echo 'user.max_user_namespaces=15000' \| sudo tee -a \/etc\/sysctl.d\/\S+\.conf/);
  });

  it('drops sudo from fixes for root', () => {
    const c = evaluateUserNamespaces({ ...sysctls, maxUserNamespaces: '0' }, { ...ctx, root: true });
    expect(c.status).toBe('fail');
    expect(c.fix).not.toContain('sudo');
  });

  it('fails on unprivileged_userns_clone=0 for a normal user', () => {
    const c = evaluateUserNamespaces({ ...sysctls, unprivilegedUsernsClone: '0' }, ctx);
    expect(c.status).toBe('fail');
    expect(c.detail).toContain('kernel.unprivileged_userns_clone is 0');
    expect(c.fix).toContain('sudo sysctl -w kernel.unprivileged_userns_clone=1');
  });

  it('reports unprivileged_userns_clone=1 as ok', () => {
    const c = evaluateUserNamespaces({ ...sysctls, unprivilegedUsernsClone: '1' }, ctx);
    expect(c.status).toBe('ok');
    expect(c.detail).toContain('kernel.unprivileged_userns_clone=1');
  });

  it('fails on the ubuntu apparmor restriction, offering the sysctl or a profile for the stage', () => {
    const c = evaluateUserNamespaces({ ...sysctls, apparmorRestrictUnprivilegedUserns: '1' }, ctx);
    expect(c.status).toBe('fail');
    expect(c.detail).toContain('kernel.apparmor_restrict_unprivileged_userns is 1');
    expect(c.fix).toContain('sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0');
    expect(c.fix).toContain(`profile rootless-sandbox-stage ${STAGE}`);
    expect(c.fix).toContain('sudo apparmor_parser -r /etc/apparmor.d/rootless-sandbox-stage');
  });

  it('is ok with the apparmor restriction off', () => {
    expect(evaluateUserNamespaces({ ...sysctls, apparmorRestrictUnprivilegedUserns: '0' }, ctx).status).toBe('ok');
  });

  it('ignores the unprivileged-only restrictions for root', () => {
    const c = evaluateUserNamespaces(
      { ...sysctls, unprivilegedUsernsClone: '0', apparmorRestrictUnprivilegedUserns: '1' }, { ...ctx, root: true });
    expect(c.status).toBe('ok');
    expect(c.detail).toContain('does not apply to root');
  });

  it('lists every problem at once', () => {
    const c = evaluateUserNamespaces({ maxUserNamespaces: '0', unprivilegedUsernsClone: '0', apparmorRestrictUnprivilegedUserns: '1' }, ctx);
    expect(c.status).toBe('fail');
    expect(c.fix?.split('\n').filter((l) => l.startsWith('sudo sysctl -w'))).toHaveLength(3);
  });

  it('renders an apparmor profile that survives odd paths', () => {
    const fix = renderAppArmorFix("/home/o'brien/100%/sandbox-stage", false);
    expect(fix).toContain('100%%');
    expect(fix.startsWith("printf '")).toBe(true);
  });
});

describe('subordinate id ranges', () => {
  const full = { start: 100000, count: 65536 };
  const free = { start: 300000, count: 65536 };

  it('parses all owners and picks a block that overlaps none', () => {
    const taken = parseAllSubIdRanges('alice:100000:65536\n# c\nbob:165536:65536\nbad line\n');
    expect(taken).toEqual([{ start: 100000, count: 65536 }, { start: 165536, count: 65536 }]);
    expect(pickFreeSubIdRange(taken)).toEqual({ start: 262144, count: 65536 });
    expect(pickFreeSubIdRange([])).toEqual({ start: 100000, count: 65536 });
    expect(pickFreeSubIdRange([{ start: 1000000, count: 65536 }])).toEqual({ start: 100000, count: 65536 });
  });

  it('is ok with full ranges and reports them', () => {
    const c = evaluateSubIds({ caller: alice, subuid: [full], subgid: [full], suggested: free });
    expect(c.status).toBe('ok');
    expect(c.detail).toContain('subuid 100000-165535 (65536 ids)');
    expect(c.detail).toContain('subgid 100000-165535 (65536 ids)');
  });

  it('warns without ranges: single-id mapping, with a usermod for the real user', () => {
    const c = evaluateSubIds({ caller: alice, subuid: [], subgid: [], suggested: full });
    expect(c.status).toBe('warn');
    expect(c.detail).toContain('single-id mapping');
    expect(c.detail).toContain('setgroups is denied');
    expect(c.fix).toBe('sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice');
  });

  it('warns when only one of the two files has a range and adds just that one', () => {
    const c = evaluateSubIds({ caller: alice, subuid: [full], subgid: [], suggested: free });
    expect(c.status).toBe('warn');
    expect(c.detail).toContain('no subgid range for alice');
    expect(c.fix).toBe('sudo usermod --add-subgids 300000-365535 alice');
  });

  it('warns for root without a range: the workload becomes nobody', () => {
    const c = evaluateSubIds({ caller: root, subuid: [], subgid: [], suggested: full });
    expect(c.status).toBe('warn');
    expect(c.detail).toContain('nobody (65534)');
    expect(c.fix).toBe('usermod --add-subuids 100000-165535 --add-subgids 100000-165535 root');
  });

  it('is ok for root with a range', () => {
    expect(evaluateSubIds({ caller: root, subuid: [full], subgid: [full], suggested: free }).status).toBe('ok');
  });

  it('writes numeric entries when the caller has no user name', () => {
    const c = evaluateSubIds({ caller: { uid: 4242, gid: 4242, name: null }, subuid: [], subgid: [], suggested: full });
    expect(c.status).toBe('warn');
    expect(c.fix).toContain("echo '4242:100000:65536' | sudo tee -a /etc/subuid");
    expect(c.fix).toContain("echo '4242:100000:65536' | sudo tee -a /etc/subgid");
  });

  it('warns when the first range is smaller than 65536 and replaces it', () => {
    const small = { start: 100000, count: 1000 };
    const c = evaluateSubIds({ caller: alice, subuid: [small], subgid: [full], suggested: free });
    expect(c.status).toBe('warn');
    expect(c.detail).toContain('subuid range 100000-100999 has 1000 ids');
    expect(c.fix).toBe('sudo usermod --del-subuids 100000-100999 --add-subuids 300000-365535 alice');
  });
});

describe('evaluateIdMapTools', () => {
  const setuid = (name: 'newuidmap' | 'newgidmap'): IdMapToolFacts =>
    ({ name, path: `/usr/bin/${name}`, mode: 0o104755, ownerUid: 0, caps: '' });
  const plain = (name: 'newuidmap' | 'newgidmap', caps: string | null): IdMapToolFacts =>
    ({ name, path: `/usr/bin/${name}`, mode: 0o100755, ownerUid: 0, caps });

  it('is info for root, which writes the maps itself', () => {
    const c = evaluateIdMapTools([{ name: 'newuidmap', path: null }, { name: 'newgidmap', path: null }], root);
    expect(c.status).toBe('info');
  });

  it('fails when missing, with apt and dnf packages', () => {
    const c = evaluateIdMapTools([{ name: 'newuidmap', path: null }, setuid('newgidmap')], alice);
    expect(c.status).toBe('fail');
    expect(c.detail).toContain('newuidmap not found');
    expect(c.fix).toContain('sudo apt-get install uidmap');
    expect(c.fix).toContain('shadow-utils');
  });

  it('is ok when setuid-root', () => {
    const c = evaluateIdMapTools([setuid('newuidmap'), setuid('newgidmap')], alice);
    expect(c.status).toBe('ok');
    expect(c.detail).toContain('/usr/bin/newuidmap is setuid-root');
  });

  it('does not count a setuid bit on a file not owned by root', () => {
    const c = evaluateIdMapTools([{ ...setuid('newuidmap'), ownerUid: 1000 }, setuid('newgidmap')], alice);
    expect(c.status).toBe('fail');
  });

  it('is ok with file capabilities', () => {
    const c = evaluateIdMapTools([plain('newuidmap', 'cap_setuid=ep'), plain('newgidmap', 'cap_setgid=ep')], alice);
    expect(c.status).toBe('ok');
    expect(c.detail).toContain('cap_setuid=ep');
  });

  it('fails with neither setuid nor capabilities, fixing with chmod u+s', () => {
    const c = evaluateIdMapTools([plain('newuidmap', ''), plain('newgidmap', '')], alice);
    expect(c.status).toBe('fail');
    expect(c.fix).toBe('sudo chmod u+s /usr/bin/newuidmap /usr/bin/newgidmap');
  });

  it('fails when the capability is the wrong one', () => {
    const c = evaluateIdMapTools([plain('newuidmap', 'cap_setgid=ep'), plain('newgidmap', 'cap_setgid=ep')], alice);
    expect(c.status).toBe('fail');
    expect(c.detail).toContain('/usr/bin/newuidmap is neither setuid-root nor has cap_setuid');
  });

  it('warns that it could not tell without getcap', () => {
    const c = evaluateIdMapTools([plain('newuidmap', null), setuid('newgidmap')], alice);
    expect(c.status).toBe('warn');
    expect(c.detail).toContain('could not tell');
    expect(c.fix).toContain('libcap2-bin');
  });

  it('parses both getcap output formats', () => {
    expect(parseGetcapOutput('/usr/bin/newuidmap cap_setuid=ep\n')).toBe('cap_setuid=ep');
    expect(parseGetcapOutput('/usr/bin/newuidmap = cap_setuid+ep\n')).toBe('cap_setuid+ep');
    expect(parseGetcapOutput('')).toBe('');
  });
});

describe('stage outcomes', () => {
  const exited = (waitStatus: number): StageOutcome =>
    ({ kind: 'exited', waitStatus, wallNs: 1n, userUs: 0n, systemUs: 0n, maxRssKiB: 0n });
  const failed: StageOutcome = { kind: 'failed', step: 0, errno: 1, detail: 'unshare(CLONE_NEWUSER)', what: 'create the user namespace' };

  it('names errnos and wait statuses', () => {
    expect(nameErrno(1)).toBe('EPERM');
    expect(nameErrno(13)).toBe('EACCES');
    expect(nameErrno(99999)).toBe('errno 99999');
    expect(describeWaitStatus(3 << 8)).toBe('exit status 3');
    expect(describeWaitStatus(9)).toBe('killed by signal 9');
  });

  it('describes failures as "what: ENAME (detail)"', () => {
    expect(describeStageOutcome(exited(0))).toBeNull();
    expect(describeStageOutcome(failed)).toBe('create the user namespace: EPERM (unshare(CLONE_NEWUSER))');
    expect(describeStageOutcome({ kind: 'lost', reason: 'gone' })).toBe('gone');
    expect(describeStageOutcome(exited(1 << 8), 'oops\n')).toBe('/bin/true ended with exit status 1: oops');
  });

  it('turns the user namespace run into ok or fail', () => {
    expect(evaluateUsernsRun(exited(0), '').status).toBe('ok');
    const c = evaluateUsernsRun(failed, '');
    expect(c.status).toBe('fail');
    expect(c.detail).toContain('create the user namespace: EPERM');
  });

  it('turns the overlay run into ok or a warning with the fuse fallback', () => {
    const base = { stderr: '', fuseOverlayfs: '/usr/bin/fuse-overlayfs', devFuseExists: true, devFuseUsable: true, root: false };
    expect(evaluateOverlayRun({ ...base, outcome: exited(0) }).status).toBe('ok');
    const mountFail: StageOutcome = { kind: 'failed', step: 8, errno: 22, detail: 'mount overlay', what: 'mount overlay on /tmp/m' };
    const usable = evaluateOverlayRun({ ...base, outcome: mountFail });
    expect(usable.status).toBe('warn');
    expect(usable.detail).toContain('mount overlay on /tmp/m: EINVAL (mount overlay)');
    expect(usable.detail).toContain('fuse-overlayfs can be used instead');
    const noFuse = evaluateOverlayRun({ ...base, outcome: mountFail, fuseOverlayfs: null, devFuseUsable: false });
    expect(noFuse.status).toBe('warn');
    expect(noFuse.fix).toContain('sudo apt-get install fuse-overlayfs');
    expect(noFuse.fix).toContain('sudo chmod 0666 /dev/fuse');
    const noDevice = evaluateOverlayRun({ ...base, outcome: mountFail, devFuseExists: false, devFuseUsable: false });
    expect(noDevice.fix).toContain('sudo modprobe fuse');
  });
});

describe('cgroups', () => {
  // the same made-up facts as test/unit/cgroup; the choice is the one prepareCgroup makes
  const evaluate = (facts: CgroupFacts, caller: Caller, manager?: CgroupCheckFacts['manager']) =>
    evaluateCgroups({ facts, choice: chooseCgroupBackend(facts), ...(manager ? { manager } : {}) }, caller);

  it('v1: ok for root, with the directories runs are made in', () => {
    const c = evaluate(v1RootFacts(), root);
    expect(c.status).toBe('ok');
    expect(c.detail).toContain('cgroup v1 controllers: memory, pids, cpuacct (hybrid: a cgroup2 hierarchy is mounted too)');
    expect(c.detail).toContain('/sys/fs/cgroup/memory/ci/job');
  });

  it('v1: warns for root when a controller is not mounted, with the mount command', () => {
    const f = v1RootFacts();
    const c = evaluate({ ...f, v1: f.v1.filter((h) => h.controller !== 'pids'), mounts: f.mounts.filter((m) => !m.controllers.includes('pids')) }, root);
    expect(c.status).toBe('warn');
    expect(c.detail).toContain('the pids controller is not mounted');
    expect(c.fix).toBe('mkdir -p /sys/fs/cgroup/pids && mount -t cgroup -o pids cgroup /sys/fs/cgroup/pids');
  });

  it('v1: warns for unprivileged users, falling back to rlimits', () => {
    const c = evaluate(v1RootFacts({ uid: 1000 }), alice);
    expect(c.status).toBe('warn');
    expect(c.detail).toContain('no cgroups for unprivileged users');
    expect(c.detail).toContain('limits fall back to rlimits');
    expect(c.fix).toContain('systemd.unified_cgroup_hierarchy=1');
  });

  it('v2 delegated: ok, no systemd call', () => {
    const c = evaluate(v2DesktopFacts({ own: { path: `${USER_MANAGER}/app.slice/run-r1.scope/supervisor` }, parent: { subtreeControl: ['memory', 'pids'] } }), alice);
    expect(c.status).toBe('ok');
    expect(c.detail).toContain(`sibling of this process's cgroup in /sys/fs/cgroup${USER_MANAGER}/app.slice/run-r1.scope`);
  });

  it('v2 scope: ok when the manager answers, explaining why the own cgroup is not used', () => {
    const c = evaluate(v2DesktopFacts(), alice, { version: '252.39-1~deb12u2' });
    expect(c.status).toBe('ok');
    expect(c.detail).toContain('cgroup v2 (systemd 252.39-1~deb12u2)');
    expect(c.detail).toContain("no-internal-processes rule");
    expect(c.detail).toContain('transient scope rootless-sandbox-ID.scope in app.slice with Delegate=yes');
  });

  it('v2 scope: warns when the manager does not answer', () => {
    const c = evaluate(v2DesktopFacts(), alice, { error: 'connect ECONNREFUSED /run/user/1000/systemd/private' });
    expect(c.status).toBe('warn');
    expect(c.detail).toContain('did not answer: connect ECONNREFUSED');
    expect(c.fix).toBe('systemctl --user status');
  });

  it('v2 without a user manager: linger, and the reason names the session', () => {
    const c = evaluate(v2DesktopFacts({
      own: { path: '/user.slice/user-1000.slice/session-3.scope', writable: false }, parent: { writable: false }, systemd: { socketExists: false },
    }), alice);
    expect(c.status).toBe('warn');
    expect(c.detail).toContain('session-3.scope is not delegated to uid 1000, and no systemd user manager answers');
    expect(c.fix).toContain('sudo loginctl enable-linger alice');
  });

  it('v2 without memory delegated to the user manager: the user@ drop-in', () => {
    const c = evaluate(v2DesktopFacts({ systemd: { managerControllers: ['cpu', 'pids'] } }), alice);
    expect(c.status).toBe('warn');
    expect(c.fix).toContain("printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf");
    expect(c.fix).toContain('sudo systemctl daemon-reload');
  });

  it('warns with no cgroup file system', () => {
    const c = evaluate({ uid: 1000, top: null, mounts: [], v1: [], v2: null, systemd: null }, alice);
    expect(c.status).toBe('warn');
    expect(c.fix).toBe('sudo mount -t cgroup2 none /sys/fs/cgroup');
  });
});

describe('network, libseccomp, stage binary', () => {
  it('network helpers are ok when found, warn with the package otherwise', () => {
    expect(evaluateNetworkHelper('pasta', '/usr/bin/pasta', false).status).toBe('ok');
    expect(evaluateNetworkHelper('pasta', null, false).fix).toContain('sudo apt-get install passt');
    expect(evaluateNetworkHelper('slirp4netns', null, false).fix).toContain('sudo apt-get install slirp4netns');
  });

  it('/dev/net/tun must exist and be read-writable', () => {
    expect(evaluateTun({ exists: true, usable: true }, false).status).toBe('ok');
    expect(evaluateTun({ exists: true, usable: false }, false).fix).toBe('sudo chmod 0666 /dev/net/tun');
    expect(evaluateTun({ exists: false, usable: false }, false).status).toBe('warn');
  });

  it('searches the multiarch directory of the current architecture first', () => {
    expect(listLibraryDirs('x64').slice(0, 2)).toEqual(['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu']);
    expect(listLibraryDirs('arm64')[0]).toBe('/usr/lib/aarch64-linux-gnu');
    expect(listLibraryDirs('riscv64')).toContain('/usr/lib64');
    expect(evaluateLibseccomp('/usr/lib64/libseccomp.so.2', [], false).status).toBe('ok');
    const missing = evaluateLibseccomp(null, listLibraryDirs('x64'), false);
    expect(missing.status).toBe('fail');
    expect(missing.fix).toContain('sudo apt-get install libseccomp2');
  });

  it('the stage must be built and executable', () => {
    const path = '/x/dist/sandbox-stage';
    expect(evaluateStageBinary({ path, exists: true, isFile: true, executable: true }).status).toBe('ok');
    const missing = evaluateStageBinary({ path, exists: false, isFile: false, executable: false });
    expect(missing.status).toBe('fail');
    expect(missing.fix).toContain('npm run build');
    expect(evaluateStageBinary({ path, exists: true, isFile: true, executable: false }).detail).toContain('not executable');
  });
});

describe('formatDoctor', () => {
  it('prints a tagged line per check, indented fixes and a summary', () => {
    const report: DoctorReport = {
      ok: false,
      idmap: 'single',
      user: 'alice',
      checks: [
        { id: 'a', title: 'first', status: 'ok', detail: 'fine' },
        { id: 'b', title: 'second', status: 'fail', detail: 'broken', fix: 'sudo one\n# or\nsudo two' },
        { id: 'c', title: 'third', status: 'warn', detail: 'meh' },
        { id: 'd', title: 'fourth', status: 'info', detail: 'fyi' },
      ],
    };
    expect(formatDoctor(report)).toBe([
      '[ ok ] first: fine',
      '[FAIL] second: broken',
      '       fix: sudo one',
      '            # or',
      '            sudo two',
      '[warn] third: meh',
      '[info] fourth: fyi',
      'alice cannot run rootless sandboxes on this host (1 failed, 1 warning)',
      '',
    ].join('\n'));
  });
});

describe('newuidmap/newgidmap without a range', () => {
  it('missing helpers only warn when the caller has no range (single-id mapping needs none)', async () => {
    const { evaluateIdMapTools } = await import('../../../src/doctor/checks/idmap-tools.js');
    const tools = [{ name: 'newuidmap' as const, path: null }, { name: 'newgidmap' as const, path: null }];
    const caller = { uid: 1000, gid: 1000, name: 'alice' };
    expect(evaluateIdMapTools(tools, caller, false).status).toBe('warn');
    expect(evaluateIdMapTools(tools, caller, true).status).toBe('fail');
  });
});
