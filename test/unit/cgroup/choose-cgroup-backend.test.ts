// Unit tests of the backend choice: made-up facts for v1 root and rootless,
// v2 delegated leaves, systemd scopes (user and system manager) and "none".
import { describe, expect, it } from 'vitest';
import { chooseCgroupBackend, isSystemdUnitName } from '../../../src/cgroup/choose-cgroup-backend.js';
import { userManagerPath } from '../../../src/cgroup/cgroup-facts.js';
import { parseCgroupMounts } from '../../../src/cgroup/parse-mountinfo.js';
import { USER_MANAGER, v1RootFacts, v2DesktopFacts } from './fixtures.js';

describe('cgroup v1', () => {
  it('root: a child of its own cgroup in memory, pids and cpuacct (co-mounted with cpu)', () => {
    expect(chooseCgroupBackend(v1RootFacts())).toEqual({
      kind: 'cgroup1',
      hierarchies: [
        { controllers: ['memory'], dir: '/sys/fs/cgroup/memory/ci/job' },
        { controllers: ['pids'], dir: '/sys/fs/cgroup/pids' },
        { controllers: ['cpuacct'], dir: '/sys/fs/cgroup/cpu,cpuacct' },
      ],
    });
  });

  it('co-mounted controllers share one directory', () => {
    const f = v1RootFacts();
    const same = f.v1.map((h) => ({ ...h, dir: '/sys/fs/cgroup/all' }));
    const c = chooseCgroupBackend({ ...f, v1: same });
    expect(c).toEqual({ kind: 'cgroup1', hierarchies: [{ controllers: ['memory', 'pids', 'cpuacct'], dir: '/sys/fs/cgroup/all' }] });
  });

  it('cpuacct is optional', () => {
    const f = v1RootFacts();
    const c = chooseCgroupBackend({ ...f, v1: f.v1.filter((h) => h.controller !== 'cpuacct') });
    expect(c.kind === 'cgroup1' && c.hierarchies.flatMap((h) => h.controllers)).toEqual(['memory', 'pids']);
  });

  it('unprivileged users get none', () => {
    expect(chooseCgroupBackend(v1RootFacts({ uid: 1001 }))).toEqual({
      kind: 'none', reason: 'cgroup v1: no cgroups for unprivileged users (only root can create them on a v1 host)',
    });
  });

  it('root without pids, with a hierarchy that hides its cgroup, or read-only: none with the reason', () => {
    const f = v1RootFacts();
    const noPids = { ...f, v1: f.v1.filter((h) => h.controller !== 'pids'), mounts: f.mounts.filter((m) => !m.controllers.includes('pids')) };
    expect(chooseCgroupBackend(noPids)).toMatchObject({ kind: 'none', reason: 'cgroup v1: the pids controller is not mounted (mounted: cpu, cpuacct, memory)' });
    const hidden = { ...f, v1: f.v1.filter((h) => h.controller !== 'pids') };
    expect(chooseCgroupBackend(hidden)).toMatchObject({ kind: 'none', reason: "cgroup v1: no mount of the pids hierarchy shows this process's cgroup" });
    const ro = { ...f, v1: f.v1.map((h) => (h.controller === 'memory' ? { ...h, writable: false } : h)) };
    expect(chooseCgroupBackend(ro)).toMatchObject({ kind: 'none', reason: 'cgroup v1: /sys/fs/cgroup/memory/ci/job is not writable' });
  });

  it('no cgroup file system at all', () => {
    expect(chooseCgroupBackend({ uid: 0, top: null, mounts: [], v1: [], v2: null, systemd: null }))
      .toEqual({ kind: 'none', reason: 'no cgroup file system is mounted at /sys/fs/cgroup' });
  });
});

describe('cgroup v2', () => {
  const leaf = `${USER_MANAGER}/app.slice/run-r1.scope/supervisor`;

  it('delegated: a leaf that is not a unit, under a writable parent that hands out memory and pids', () => {
    const f = v2DesktopFacts({ own: { path: leaf, writable: true }, parent: { subtreeControl: ['memory', 'pids'] } });
    expect(chooseCgroupBackend(f)).toEqual({
      kind: 'cgroup2-delegated',
      parentDir: `/sys/fs/cgroup${USER_MANAGER}/app.slice/run-r1.scope`,
      controllers: ['memory', 'pids'],
    });
  });

  it('delegated parent without pids in subtree_control: a scope instead', () => {
    const f = v2DesktopFacts({ own: { path: leaf }, parent: { subtreeControl: ['memory'] } });
    expect(chooseCgroupBackend(f).kind).toBe('cgroup2-scope');
  });

  it('a terminal scope under app.slice (systemd\'s, even though writable and app.slice hands out controllers): a scope per run', () => {
    expect(chooseCgroupBackend(v2DesktopFacts())).toEqual({
      kind: 'cgroup2-scope',
      manager: 'user',
      socket: '/run/user/1000/systemd/private',
      slice: 'app.slice',
      slicePath: `${USER_MANAGER}/app.slice`,
      mountPoint: '/sys/fs/cgroup',
      controllers: ['cpuset', 'cpu', 'io', 'memory', 'pids'],
    });
  });

  it('root asks the system manager, scopes in system.slice', () => {
    const f = v2DesktopFacts({
      uid: 0, own: { path: '/user.slice/user-0.slice/session-1.scope' },
      systemd: { manager: 'system', socket: '/run/systemd/private', managerPath: '/', slice: 'system.slice' },
    });
    expect(chooseCgroupBackend(f)).toMatchObject({ kind: 'cgroup2-scope', manager: 'system', slicePath: '/system.slice' });
  });

  it('an ssh session scope and no user manager: none, saying both', () => {
    const f = v2DesktopFacts({
      own: { path: '/user.slice/user-1000.slice/session-3.scope', writable: false },
      parent: { writable: false, subtreeControl: ['memory', 'pids'] },
      systemd: { socketExists: false },
    });
    expect(chooseCgroupBackend(f)).toEqual({
      kind: 'none',
      reason: 'cgroup v2: /user.slice/user-1000.slice/session-3.scope is not delegated to uid 1000, and no systemd user manager answers for uid 1000 (/run/user/1000/systemd/private does not exist)',
    });
  });

  it('a user manager without the memory controller: none', () => {
    const f = v2DesktopFacts({ systemd: { managerControllers: ['cpu', 'pids'] } });
    const c = chooseCgroupBackend(f);
    expect(c.kind).toBe('none');
    expect(c.kind === 'none' && c.reason).toContain('memory is not delegated to user@1000.service (cgroup.controllers: cpu pids)');
    expect(c.kind === 'none' && c.reason).toContain("is systemd's and holds this process (v2's no-internal-processes rule");
  });

  it('no systemd (a container with a private cgroup namespace): none', () => {
    const f = v2DesktopFacts({ own: { path: '/' }, parent: null, systemd: { booted: false } });
    expect(chooseCgroupBackend(f)).toEqual({
      kind: 'none',
      reason: 'cgroup v2: / is the root of the hierarchy, and systemd is not the init system (/run/systemd/system is missing)',
    });
  });

  it('the dind pattern: a non-unit leaf (/init) under a namespace root that hands out controllers', () => {
    const f = v2DesktopFacts({ own: { path: '/init' }, parent: { path: '/', subtreeControl: ['cpu', 'memory', 'pids'] }, systemd: null });
    expect(chooseCgroupBackend(f)).toMatchObject({ kind: 'cgroup2-delegated', parentDir: '/sys/fs/cgroup' });
  });

  it('no 0:: line', () => {
    const { top, mounts } = parseCgroupMounts('31 23 0:31 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw');
    expect(chooseCgroupBackend({ uid: 1000, top, mounts, v1: [], v2: null, systemd: null }))
      .toEqual({ kind: 'none', reason: 'cgroup v2: /proc/self/cgroup has no 0:: line for this process' });
  });
});

describe('helpers', () => {
  it('systemd unit names own their cgroups', () => {
    for (const n of ['session-3.scope', 'app.slice', 'user@1000.service', 'init.scope', 'dbus.socket']) expect(isSystemdUnitName(n)).toBe(true);
    for (const n of ['supervisor', 'init', 'payload', 'rootless-sandbox-1-2', 'scope']) expect(isSystemdUnitName(n)).toBe(false);
  });

  it('the user manager\'s cgroup', () => {
    expect(userManagerPath(`${USER_MANAGER}/app.slice/x.scope`, 1000)).toBe(USER_MANAGER);
    expect(userManagerPath(USER_MANAGER, 1000)).toBe(USER_MANAGER);
    expect(userManagerPath('/user.slice/user-1000.slice/session-3.scope', 1000)).toBe(USER_MANAGER);
    expect(userManagerPath(null, 1000)).toBe(USER_MANAGER);
  });
});
