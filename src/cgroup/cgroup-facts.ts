// cgroup/cgroup-facts: the plain facts a backend is chosen from (mounts, the
// caller's cgroups, what is writable, what the systemd manager offers), and
// probeCgroupFacts, which reads them from this machine.
// Must not: decide (choose-cgroup-backend.ts does) or write anything.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { parseControllerList } from './cgroup-files.js';
import { CGROUP_BASE, locateCgroupDir, parseCgroupMounts, type CgroupMount } from './parse-mountinfo.js';
import { findUnifiedPath, findV1Path, parentCgroupPath, parseProcCgroup } from './parse-proc-cgroup.js';

/** v1 controllers a run uses: memory and pids are required, cpuacct is for CPU time. */
export const V1_WANTED = ['memory', 'pids', 'cpuacct'] as const;
export type V1Controller = (typeof V1_WANTED)[number];

export interface V1HierarchyFacts {
  readonly controller: V1Controller;
  /** All controllers of its hierarchy (cpu,cpuacct are often mounted together). */
  readonly controllers: readonly string[];
  readonly mountPoint: string;
  /** The caller's cgroup in this hierarchy, as a directory; null when no mount shows it. */
  readonly dir: string | null;
  /** dir exists and the caller may create cgroups in it. */
  readonly writable: boolean;
}

export interface V2DirFacts {
  /** Path in the hierarchy ("/user.slice/..."). */
  readonly path: string;
  readonly dir: string;
  /** cgroup.controllers; null when unreadable. */
  readonly controllers: readonly string[] | null;
  /** cgroup.subtree_control; null when unreadable. */
  readonly subtreeControl: readonly string[] | null;
  /** The caller may create cgroups here (write on the directory) and move processes (write on cgroup.procs). */
  readonly writable: boolean;
}

export interface V2Facts {
  readonly mountPoint: string;
  /** The caller's own cgroup ("0::" line). */
  readonly own: V2DirFacts;
  /** Its parent; null when own is the root of the hierarchy (or of a cgroup namespace). */
  readonly parent: V2DirFacts | null;
}

export interface SystemdFacts {
  /** systemd is the init system (/run/systemd/system exists). */
  readonly booted: boolean;
  /** Which manager would make the scope: the caller's user manager, or the system manager for root. */
  readonly manager: 'user' | 'system';
  /** Its private socket (/run/user/UID/systemd/private, /run/systemd/private). */
  readonly socket: string;
  readonly socketExists: boolean;
  /** The manager's own cgroup path ("/user.slice/user-1000.slice/user@1000.service", "/" for the system). */
  readonly managerPath: string;
  /** cgroup.controllers of the manager's cgroup: what it can give a scope with Delegate=yes. */
  readonly managerControllers: readonly string[] | null;
  /** Slice the scopes go to. */
  readonly slice: string;
}

export interface CgroupFacts {
  readonly uid: number;
  /** File system type at /sys/fs/cgroup ("cgroup2", "tmpfs", ...), null with nothing there. */
  readonly top: string | null;
  readonly mounts: readonly CgroupMount[];
  /** v1 (or hybrid): one entry per wanted controller that is mounted. Empty on v2-only machines. */
  readonly v1: readonly V1HierarchyFacts[];
  /** Present when /sys/fs/cgroup is cgroup2 and the caller has a 0:: line. */
  readonly v2: V2Facts | null;
  /** Present on cgroup v2 machines. */
  readonly systemd: SystemdFacts | null;
}

function readOptional(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function canWrite(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function listOptional(path: string): string[] | null {
  const t = readOptional(path);
  return t === null ? null : parseControllerList(t);
}

function probeV2Dir(mountPoint: string, path: string): V2DirFacts {
  const dir = path === '/' ? mountPoint : `${mountPoint}${path}`;
  return {
    path,
    dir,
    controllers: listOptional(`${dir}/cgroup.controllers`),
    subtreeControl: listOptional(`${dir}/cgroup.subtree_control`),
    writable: canWrite(dir) && canWrite(`${dir}/cgroup.procs`),
  };
}

/** The user manager's cgroup: the user@UID.service prefix of our own path, or where systemd puts it. */
export function userManagerPath(ownPath: string | null, uid: number): string {
  const unit = `/user@${uid}.service`;
  const at = ownPath?.indexOf(`${unit}/`) ?? -1;
  if (ownPath && at >= 0) return ownPath.slice(0, at + unit.length);
  if (ownPath?.endsWith(unit)) return ownPath;
  return `/user.slice/user-${uid}.slice/user@${uid}.service`;
}

export function probeCgroupFacts(env: NodeJS.ProcessEnv = process.env): CgroupFacts {
  const uid = process.getuid?.() ?? -1;
  const { top, mounts } = parseCgroupMounts(readOptional('/proc/self/mountinfo') ?? '');
  const lines = parseProcCgroup(readOptional('/proc/self/cgroup') ?? '');

  const v1: V1HierarchyFacts[] = [];
  for (const controller of V1_WANTED) {
    const path = findV1Path(lines, controller);
    const mount = mounts.find((m) => m.fstype === 'cgroup' && m.controllers.includes(controller)
      && path !== null && locateCgroupDir(m, path) !== null);
    if (!mount || path === null) continue;
    const dir = locateCgroupDir(mount, path);
    v1.push({
      controller,
      controllers: mount.controllers,
      mountPoint: mount.mountPoint,
      dir,
      writable: dir !== null && !mount.readOnly && existsSync(dir) && canWrite(dir),
    });
  }

  let v2: V2Facts | null = null;
  let systemd: SystemdFacts | null = null;
  if (top === 'cgroup2') {
    const mount = mounts.find((m) => m.fstype === 'cgroup2' && m.mountPoint === CGROUP_BASE);
    const own = findUnifiedPath(lines);
    const ownDir = mount && own !== null ? locateCgroupDir(mount, own) : null;
    if (mount && own !== null && ownDir !== null) {
      // paths below are relative to the mount, so the mount's root is "/" for them
      const rel = mount.root === '/' ? own : own.slice(mount.root.replace(/\/+$/, '').length) || '/';
      const parent = parentCgroupPath(rel);
      v2 = {
        mountPoint: mount.mountPoint,
        own: probeV2Dir(mount.mountPoint, rel),
        parent: parent === null ? null : probeV2Dir(mount.mountPoint, parent),
      };
    }
    const root = uid === 0;
    const runtimeDir = env.XDG_RUNTIME_DIR || `/run/user/${uid}`;
    const managerPath = root ? '/' : userManagerPath(own, uid);
    const socket = root ? '/run/systemd/private' : `${runtimeDir}/systemd/private`;
    systemd = {
      booted: existsSync('/run/systemd/system'),
      manager: root ? 'system' : 'user',
      socket,
      socketExists: existsSync(socket),
      managerPath,
      managerControllers: listOptional(`${CGROUP_BASE}${managerPath === '/' ? '' : managerPath}/cgroup.controllers`),
      slice: root ? 'system.slice' : 'app.slice',
    };
  }
  return { uid, top, mounts, v1, v2, systemd };
}
