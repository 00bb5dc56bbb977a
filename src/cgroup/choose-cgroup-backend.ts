// cgroup/choose-cgroup-backend: picks how runs get their cgroup from plain
// facts; prepareCgroup and `sandbox doctor` both call it, so they agree.
// Must not: read or write anything (cgroup-facts.ts reads the facts).
//
// In order:
// 1. cgroup v1 as root: a child of the caller's own cgroup in the memory, pids
//    and cpuacct hierarchies. Unprivileged users get nothing on v1.
// 2. cgroup v2, delegated: the caller sits in a leaf that is not a systemd
//    unit (so someone made it inside a delegated subtree, as `systemd-run -p
//    Delegate=yes` users and container managers do), and the leaf's parent is
//    writable and already hands memory and pids to its children. Runs become
//    siblings of the caller's leaf: no processes move but the stage, no
//    controller is switched on, no service manager is asked.
// 3. cgroup v2, systemd scope: otherwise the caller's cgroup cannot be used:
//    v2's no-internal-processes rule means a cgroup with processes (ours, our
//    shell's) cannot give controllers to child cgroups, and moving other
//    processes out of the way is not ours to do; a cgroup systemd manages
//    (app.slice, session-N.scope) is not ours to create children in. So each
//    run asks the caller's systemd manager for a transient scope around the
//    stage with Delegate=yes (podman does the same) and makes its cgroup inside.
// 4. none, with the reason.
import { missingControllers } from './cgroup-files.js';
import type { CgroupFacts, V1Controller } from './cgroup-facts.js';
import { cgroupBaseName } from './parse-proc-cgroup.js';

export type BackendChoice =
  | {
    readonly kind: 'cgroup1';
    /** One directory per hierarchy (co-mounted controllers share one), in which the run's cgroup is made. */
    readonly hierarchies: readonly { readonly controllers: readonly V1Controller[]; readonly dir: string }[];
  }
  | {
    readonly kind: 'cgroup2-delegated';
    /** The directory the run's cgroup is made in (the parent of the caller's leaf). */
    readonly parentDir: string;
    /** Controllers it already hands to children (cgroup.subtree_control). */
    readonly controllers: readonly string[];
  }
  | {
    readonly kind: 'cgroup2-scope';
    readonly manager: 'user' | 'system';
    readonly socket: string;
    readonly slice: string;
    /** cgroup path of the slice the scope goes to ("/user.slice/.../user@1000.service/app.slice"). */
    readonly slicePath: string;
    readonly mountPoint: string;
    /** What the manager can give the scope (cgroup.controllers of the manager's cgroup). */
    readonly controllers: readonly string[];
  }
  | { readonly kind: 'none'; readonly reason: string };

/** Controllers a v2 run needs; cpu is used when it is there (cpu.stat exists without it). */
export const V2_REQUIRED = ['memory', 'pids'] as const;

/** Unit types that own cgroups; a cgroup named like one belongs to systemd, not to a delegatee. */
export function isSystemdUnitName(name: string): boolean {
  return /\.(service|scope|slice|socket|mount|swap)$/.test(name);
}

function chooseV1(f: CgroupFacts): BackendChoice {
  if (f.uid !== 0) return { kind: 'none', reason: 'cgroup v1: no cgroups for unprivileged users (only root can create them on a v1 host)' };
  const need: V1Controller[] = ['memory', 'pids'];
  const missing = need.filter((c) => !f.v1.some((h) => h.controller === c));
  const hidden = missing.find((c) => f.mounts.some((m) => m.fstype === 'cgroup' && m.controllers.includes(c)));
  if (hidden) return { kind: 'none', reason: `cgroup v1: no mount of the ${hidden} hierarchy shows this process's cgroup` };
  if (missing.length > 0) {
    const mounted = [...new Set(f.mounts.flatMap((m) => m.controllers))].join(', ') || 'none';
    return { kind: 'none', reason: `cgroup v1: the ${missing.join(' and ')} controller${missing.length > 1 ? 's are' : ' is'} not mounted (mounted: ${mounted})` };
  }
  const unusable = f.v1.find((h) => (need as string[]).includes(h.controller) && (!h.dir || !h.writable));
  if (unusable) {
    return { kind: 'none', reason: `cgroup v1: ${unusable.dir ?? `the ${unusable.controller} hierarchy at ${unusable.mountPoint}`} is not writable` };
  }
  const hierarchies: { controllers: V1Controller[]; dir: string }[] = [];
  for (const h of f.v1) {
    if (!h.dir || !h.writable) continue; // cpuacct is optional
    const same = hierarchies.find((x) => x.dir === h.dir);
    if (same) same.controllers.push(h.controller);
    else hierarchies.push({ controllers: [h.controller], dir: h.dir });
  }
  return { kind: 'cgroup1', hierarchies };
}

/** Why the caller's own v2 cgroup cannot hold the runs (path 2 above), for messages. */
export function explainOwnCgroup(f: CgroupFacts): string {
  if (f.v2 === null) return 'this process has no cgroup v2 path';
  const v2 = f.v2;
  const own = v2.own.path;
  const name = cgroupBaseName(own);
  if (v2.parent === null) return `${own} is the root of the hierarchy`;
  if (isSystemdUnitName(name)) {
    return v2.own.writable
      ? `${own} is systemd's and holds this process (v2's no-internal-processes rule: a cgroup with processes cannot give controllers to child cgroups)`
      : `${own} is not delegated to uid ${f.uid}`;
  }
  if (!v2.parent.writable) return `${v2.parent.path} is not writable by uid ${f.uid}`;
  const missing = missingControllers(v2.parent.subtreeControl, V2_REQUIRED);
  return `${v2.parent.dir}/cgroup.subtree_control lacks ${missing.join(' and ')}`;
}

function whyNoManager(f: CgroupFacts): string | null {
  const s = f.systemd;
  if (!s || !s.booted) return 'systemd is not the init system (/run/systemd/system is missing)';
  const who = s.manager === 'user' ? `no systemd user manager answers for uid ${f.uid}` : 'the systemd manager does not answer';
  if (!s.socketExists) return `${who} (${s.socket} does not exist)`;
  const missing = missingControllers(s.managerControllers, V2_REQUIRED);
  if (missing.length > 0) {
    const unit = s.manager === 'user' ? `user@${f.uid}.service` : 'the root cgroup';
    return `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not delegated to ${unit} (cgroup.controllers: ${s.managerControllers?.join(' ') || 'empty'})`;
  }
  return null;
}

function chooseV2(f: CgroupFacts): BackendChoice {
  const v2 = f.v2;
  if (v2 === null) return { kind: 'none', reason: 'cgroup v2: /proc/self/cgroup has no 0:: line for this process' };
  const ownName = cgroupBaseName(v2.own.path);
  if (v2.parent && !isSystemdUnitName(ownName) && v2.parent.writable
    && missingControllers(v2.parent.subtreeControl, V2_REQUIRED).length === 0) {
    return { kind: 'cgroup2-delegated', parentDir: v2.parent.dir, controllers: v2.parent.subtreeControl ?? [] };
  }
  const noManager = whyNoManager(f);
  if (noManager === null) {
    const s = f.systemd!;
    return {
      kind: 'cgroup2-scope',
      manager: s.manager,
      socket: s.socket,
      slice: s.slice,
      slicePath: `${s.managerPath === '/' ? '' : s.managerPath}/${s.slice}`,
      mountPoint: v2.mountPoint,
      controllers: s.managerControllers ?? [],
    };
  }
  return { kind: 'none', reason: `cgroup v2: ${explainOwnCgroup(f)}, and ${noManager}` };
}

export function chooseCgroupBackend(f: CgroupFacts): BackendChoice {
  if (f.top === 'cgroup2') return chooseV2(f);
  if (f.v1.length > 0 || f.mounts.some((m) => m.fstype === 'cgroup' && m.controllers.length > 0)) return chooseV1(f);
  return { kind: 'none', reason: 'no cgroup file system is mounted at /sys/fs/cgroup' };
}
