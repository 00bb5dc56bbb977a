// Made-up cgroup facts for the pure cgroup code and doctor's cgroup check:
// mountinfo lines, a v1 root host like the CI machines, a v2 systemd desktop.
// Nothing here touches the host.
import type { CgroupFacts, SystemdFacts, V1HierarchyFacts, V2DirFacts } from '../../../src/cgroup/cgroup-facts.js';
import { parseCgroupMounts } from '../../../src/cgroup/parse-mountinfo.js';

/** One /proc/self/mountinfo line. */
export const mountLine = (id: number, target: string, fstype: string, superOpts: string, root = '/', mountOpts = 'rw,nosuid,nodev,noexec,relatime') =>
  `${id} 23 0:${id} ${root} ${target} ${mountOpts} shared:${id} - ${fstype} ${fstype} ${superOpts}`;

export const V1_MOUNTINFO = [
  mountLine(22, '/', 'ext4', 'rw'),
  mountLine(31, '/sys/fs/cgroup', 'tmpfs', 'rw,mode=755'),
  mountLine(32, '/sys/fs/cgroup/cpu,cpuacct', 'cgroup', 'rw,cpu,cpuacct'),
  mountLine(35, '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory'),
  mountLine(39, '/sys/fs/cgroup/pids', 'cgroup', 'rw,pids'),
  mountLine(40, '/sys/fs/cgroup/systemd', 'cgroup', 'rw,xattr,name=systemd'),
  mountLine(41, '/sys/fs/cgroup/unified', 'cgroup2', 'rw,nsdelegate'),
].join('\n');

export const V2_MOUNTINFO = [
  mountLine(22, '/', 'ext4', 'rw'),
  mountLine(31, '/sys/fs/cgroup', 'cgroup2', 'rw,nsdelegate,memory_recursiveprot'),
].join('\n');

const v1Hierarchy = (controller: V1HierarchyFacts['controller'], mountPoint: string, controllers: string[], ownPath = '/'): V1HierarchyFacts =>
  ({ controller, controllers, mountPoint, dir: ownPath === '/' ? mountPoint : `${mountPoint}${ownPath}`, writable: true });

/** Root on a v1 host: memory, pids, cpu+cpuacct mounted; the caller sits in /ci/job in memory. */
export function v1RootFacts(over: Partial<CgroupFacts> = {}): CgroupFacts {
  const { top, mounts } = parseCgroupMounts(V1_MOUNTINFO);
  return {
    uid: 0, top, mounts,
    v1: [
      v1Hierarchy('memory', '/sys/fs/cgroup/memory', ['memory'], '/ci/job'),
      v1Hierarchy('pids', '/sys/fs/cgroup/pids', ['pids']),
      v1Hierarchy('cpuacct', '/sys/fs/cgroup/cpu,cpuacct', ['cpu', 'cpuacct']),
    ],
    v2: null, systemd: null,
    ...over,
  };
}

export const USER_MANAGER = '/user.slice/user-1000.slice/user@1000.service';

export const v2Dir = (path: string, over: Partial<V2DirFacts> = {}): V2DirFacts => ({
  path, dir: `/sys/fs/cgroup${path === '/' ? '' : path}`,
  controllers: ['cpuset', 'cpu', 'io', 'memory', 'pids'], subtreeControl: [], writable: true, ...over,
});

export const userSystemd = (over: Partial<SystemdFacts> = {}): SystemdFacts => ({
  booted: true, manager: 'user', socket: '/run/user/1000/systemd/private', socketExists: true,
  managerPath: USER_MANAGER, managerControllers: ['cpuset', 'cpu', 'io', 'memory', 'pids'], slice: 'app.slice', ...over,
});

/** uid 1000 on a v2 systemd machine, in a terminal's scope (systemd's, with processes), user manager running. */
export function v2DesktopFacts(over: { own?: Partial<V2DirFacts> & { path?: string }; parent?: Partial<V2DirFacts> & { path?: string } | null; systemd?: Partial<SystemdFacts> | null; uid?: number } = {}): CgroupFacts {
  const { top, mounts } = parseCgroupMounts(V2_MOUNTINFO);
  const ownPath = over.own?.path ?? `${USER_MANAGER}/app.slice/vte-spawn-1234.scope`;
  const parentPath = over.parent === null ? null : over.parent?.path ?? ownPath.slice(0, ownPath.lastIndexOf('/'));
  return {
    uid: over.uid ?? 1000, top, mounts, v1: [],
    v2: {
      mountPoint: '/sys/fs/cgroup',
      own: v2Dir(ownPath, over.own),
      parent: parentPath === null ? null : v2Dir(parentPath, { subtreeControl: ['cpu', 'memory', 'pids'], ...over.parent }),
    },
    systemd: over.systemd === null ? null : userSystemd(over.systemd),
  };
}
