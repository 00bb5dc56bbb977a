// cgroup/parse-mountinfo: the cgroup file systems in the text of
// /proc/self/mountinfo (v1 hierarchies with their controllers, cgroup2), what
// is mounted at /sys/fs/cgroup, and where a cgroup path lives on disk.
// Must not: read files (the caller passes the text) or decide a backend.

export interface CgroupMount {
  /** Where it is mounted ("/sys/fs/cgroup/memory"), octal escapes undone. */
  readonly mountPoint: string;
  /** The cgroup the mount shows at its top ("/", or a subtree a container was given). */
  readonly root: string;
  readonly fstype: 'cgroup' | 'cgroup2';
  /** v1: the controllers of the hierarchy ("rw,cpu,cpuacct" gives cpu, cpuacct; name=systemd is none). v2: empty. */
  readonly controllers: readonly string[];
  /** Mounted read-only: nothing can be created below it. */
  readonly readOnly: boolean;
}

export interface CgroupMountTable {
  /** File system type of the (last) mount at /sys/fs/cgroup: "cgroup2" (unified), "tmpfs" (v1/hybrid), or null. */
  readonly top: string | null;
  /** Every visible cgroup and cgroup2 mount, later mounts on the same point replacing earlier ones. */
  readonly mounts: readonly CgroupMount[];
}

export const CGROUP_BASE = '/sys/fs/cgroup';

const V1_CONTROLLERS = new Set(['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio',
  'blkio', 'perf_event', 'hugetlb', 'pids', 'rdma', 'misc']);

/** Undoes the octal escapes (\040 for a space, ...) of mountinfo paths. */
export function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Reads the cgroup mounts from the text of /proc/self/mountinfo. */
export function parseCgroupMounts(mountinfo: string, base = CGROUP_BASE): CgroupMountTable {
  let top: string | null = null;
  const byPoint = new Map<string, CgroupMount>();
  for (const line of mountinfo.split('\n')) {
    // "36 25 0:32 / /sys/fs/cgroup/memory rw,nosuid master:1 - cgroup cgroup rw,memory"
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fields = line.slice(0, sep).split(' ');
    const tail = line.slice(sep + 3).split(' ');
    if (fields.length < 6) continue;
    const root = unescapeMountPath(fields[3]!);
    const mountPoint = unescapeMountPath(fields[4]!);
    const fstype = tail[0] ?? '';
    if (mountPoint === base) top = fstype;
    byPoint.delete(mountPoint); // a later mount on the same point hides the earlier one
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const readOnly = fields[5]!.split(',').includes('ro');
    const controllers = fstype === 'cgroup' ? (tail[2] ?? '').split(',').filter((o) => V1_CONTROLLERS.has(o)) : [];
    byPoint.set(mountPoint, { mountPoint, root, fstype, controllers, readOnly });
  }
  return { top, mounts: [...byPoint.values()] };
}

/**
 * The directory of cgroup `path` (as /proc/self/cgroup names it) under a mount
 * of its hierarchy, or null when the mount does not show that cgroup.
 */
export function locateCgroupDir(mount: Pick<CgroupMount, 'mountPoint' | 'root'>, path: string): string | null {
  const root = mount.root === '/' ? '' : mount.root.replace(/\/+$/, '');
  if (root !== '' && path !== root && !path.startsWith(`${root}/`)) return null;
  const rel = path.slice(root.length).replace(/\/+$/, '');
  return rel === '' ? mount.mountPoint : `${mount.mountPoint}${rel.startsWith('/') ? '' : '/'}${rel}`;
}
