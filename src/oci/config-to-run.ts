// config.json → OciRun: every field of the config is applied (an ExecOptions
// field), kept for the runner (OciExtras), or refused with a SandboxError
// that names its JSON pointer (`config.json#/process/rlimits/2/type`).
// Nothing is dropped. Pure: the bundle was read by read-bundle.ts, the
// caller's ids come in as data.
// Must not: touch the file system or apply the resolver's defaults.
import { posix } from 'node:path';
import { HOSTNAME_RE } from '../resolve/resolve-run-spec.js';
import { SandboxError } from '../errors.js';
import type { HostFacts } from '../host/probe-host.js';
import { ALL, normalizeCapability, type Capability } from '../resolve/capabilities.js';
import type { ExecOptions, LimitOptions } from '../resolve/exec-options.js';
import { parseSize } from '../resolve/parse-options.js';
import { isReservedTarget } from '../resolve/validate-run-spec.js';
import { UNCONFINED } from '../seccomp/load-policy.js';
import type { ProfileTmpfs, ProfileVolume } from '../config/profile.js';
import type {
  CapabilityKind, HookKind, NamespaceType, OciConfig, OciIdMapping, OciMount, OciRlimit,
} from './oci-config.js';
import type { KernelMount, NamespaceJoin, OciExtras, OciRun, PendingMountOptions } from './oci-run.js';

export interface OciContext {
  /** Canonical bundle directory: relative bind sources are relative to it. */
  readonly bundle: string;
  /** Canonical root directory (readBundle's rootPath). */
  readonly rootPath: string;
  /** The caller: its ids and subordinate ranges decide which id mappings and namespaces are possible. */
  readonly host: Pick<HostFacts, 'uid' | 'gid' | 'subuid' | 'subgid'>;
}

const FILE = 'config.json';

/** JSON pointer escaping (RFC 6901): sysctl keys and annotations may hold '/' and '~'. */
const esc = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

function refuse(pointer: string, message: string, hint: string): never {
  throw new SandboxError('config', `${FILE}#${pointer}: ${message}`, hint);
}

const isEmpty = (v: unknown) =>
  v === undefined || v === null || v === '' || v === false || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && Object.keys(v as object).length === 0);

/** Spec fields we know and cannot honour: refused unless empty. Pointer → why. */
const UNSUPPORTED: readonly [string, (c: OciConfig) => unknown, string][] = [
  ['/process/scheduler', (c) => c.process?.scheduler, 'sched_setattr(2) policies are not supported'],
  ['/process/ioPriority', (c) => c.process?.ioPriority, 'I/O priorities are not supported'],
  ['/process/execCPUAffinity', (c) => c.process?.execCPUAffinity, 'CPU affinity is not supported'],
  ['/process/apparmorProfile', (c) => c.process?.apparmorProfile, 'AppArmor profiles are not supported (the sandbox confines with namespaces and seccomp)'],
  ['/process/selinuxLabel', (c) => c.process?.selinuxLabel, 'SELinux labels are not supported'],
  ['/linux/mountLabel', (c) => c.linux?.mountLabel, 'SELinux mount labels are not supported'],
  ['/linux/timeOffsets', (c) => c.linux?.timeOffsets, 'time namespaces are not supported yet'],
  ['/linux/netDevices', (c) => c.linux?.netDevices, 'moving network devices into the sandbox is not supported'],
  ['/linux/intelRdt', (c) => c.linux?.intelRdt, 'Intel RDT is not supported'],
  ['/linux/memoryPolicy', (c) => c.linux?.memoryPolicy, 'NUMA memory policies are not supported'],
  ['/linux/resources/blockIO', (c) => c.linux?.resources?.blockIO, 'block I/O limits are not supported'],
  ['/linux/resources/hugepageLimits', (c) => c.linux?.resources?.hugepageLimits, 'huge page limits are not supported'],
  ['/linux/resources/network', (c) => c.linux?.resources?.network, 'network class ids and priorities are not supported'],
  ['/linux/resources/rdma', (c) => c.linux?.resources?.rdma, 'RDMA limits are not supported'],
  ['/linux/resources/unified', (c) => c.linux?.resources?.unified, 'raw cgroup v2 files are not supported'],
  ['/linux/resources/memory/reservation', (c) => c.linux?.resources?.memory?.reservation, 'memory reservations are not supported (only limit)'],
  ['/linux/resources/memory/kernel', (c) => c.linux?.resources?.memory?.kernel, 'kernel memory limits are not supported (only limit)'],
  ['/linux/resources/memory/kernelTCP', (c) => c.linux?.resources?.memory?.kernelTCP, 'kernel TCP memory limits are not supported (only limit)'],
  ['/linux/resources/memory/swappiness', (c) => c.linux?.resources?.memory?.swappiness, 'swappiness is not supported: the sandbox disables swap'],
  ['/linux/resources/memory/disableOOMKiller', (c) => c.linux?.resources?.memory?.disableOOMKiller, 'the OOM killer cannot be disabled'],
  ['/linux/resources/memory/useHierarchy', (c) => c.linux?.resources?.memory?.useHierarchy, 'memory.use_hierarchy (cgroup v1) is not supported'],
  ['/linux/resources/memory/checkBeforeUpdate', (c) => c.linux?.resources?.memory?.checkBeforeUpdate, 'updates are not supported'],
  ['/linux/resources/cpu/burst', (c) => c.linux?.resources?.cpu?.burst, 'CPU burst is not supported'],
  ['/linux/resources/cpu/realtimeRuntime', (c) => c.linux?.resources?.cpu?.realtimeRuntime, 'real-time scheduling is not supported'],
  ['/linux/resources/cpu/realtimePeriod', (c) => c.linux?.resources?.cpu?.realtimePeriod, 'real-time scheduling is not supported'],
  ['/linux/resources/cpu/idle', (c) => c.linux?.resources?.cpu?.idle, 'SCHED_IDLE cgroups are not supported'],
  ['/solaris', (c) => c.solaris, 'this runtime runs Linux containers only'],
  ['/windows', (c) => c.windows, 'this runtime runs Linux containers only'],
  ['/vm', (c) => c.vm, 'this runtime runs containers, not virtual machines'],
  ['/zos', (c) => c.zos, 'this runtime runs Linux containers only'],
];

function refuseUnsupported(config: OciConfig): void {
  for (const [pointer, get, why] of UNSUPPORTED) {
    if (!isEmpty(get(config))) refuse(pointer, why, `remove ${pointer.split('/').pop()} from ${FILE}; \`sandbox-oci features\` lists what is supported`);
  }
}

// ---- process ---------------------------------------------------------------

export const CAPABILITY_KINDS: readonly CapabilityKind[] = ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'];

function capabilities(config: OciConfig): Record<CapabilityKind, Capability[]> {
  const given = config.process?.capabilities ?? {};
  const sets = {} as Record<CapabilityKind, Capability[]>;
  for (const kind of CAPABILITY_KINDS) {
    sets[kind] = (given[kind] ?? []).map((name, j) => {
      const pointer = `/process/capabilities/${kind}/${j}`;
      let cap: Capability | typeof ALL;
      try {
        cap = normalizeCapability(name, `${FILE}#${pointer}`);
      } catch {
        refuse(pointer, `unknown capability "${name}"`, 'give a name from capabilities(7), e.g. CAP_NET_BIND_SERVICE');
      }
      if (cap === ALL || !name.toUpperCase().startsWith('CAP_')) refuse(pointer, `"${name}" is not a capability name`, 'write the full name, e.g. CAP_NET_BIND_SERVICE');
      return cap;
    });
  }
  // the bounding set caps every other: a capability outside it could not be held after exec
  for (const kind of ['effective', 'permitted', 'ambient'] as const) {
    sets[kind].forEach((cap, j) => {
      if (!sets.bounding.includes(cap)) {
        refuse(`/process/capabilities/${kind}/${j}`, `${cap} is not in the bounding set`, `add ${cap} to process.capabilities.bounding, or remove it here`);
      }
    });
  }
  return sets;
}

/** rlimits the stage sets as soft = hard from options.limits. */
const RLIMIT_TO_LIMIT: Partial<Record<OciRlimit['type'], 'nofile' | 'fsize' | 'stack' | 'addressSpace'>> = {
  RLIMIT_NOFILE: 'nofile', RLIMIT_FSIZE: 'fsize', RLIMIT_STACK: 'stack', RLIMIT_AS: 'addressSpace',
};

/**
 * Finite soft = hard limits of the four types the stage sets become limits;
 * the rest (RLIMIT_CPU too: the sandbox's cpuTime counts the whole tree, not
 * one process) stays in extras. RLIM_INFINITY (2^64-1) is not exact as a
 * double: any value past 2^53 is read as it.
 */
function rlimits(config: OciConfig): { limits: LimitOptions; rest: OciRlimit[] } {
  const limits: { -readonly [K in keyof LimitOptions]: LimitOptions[K] } = {};
  const rest: OciRlimit[] = [];
  const seen = new Set<string>();
  (config.process?.rlimits ?? []).forEach((r, i) => {
    if (seen.has(r.type)) refuse(`/process/rlimits/${i}/type`, `${r.type} is given twice`, 'give each rlimit once');
    seen.add(r.type);
    if (r.soft > r.hard) refuse(`/process/rlimits/${i}/soft`, `soft limit ${r.soft} is above the hard limit ${r.hard}`, 'make soft at most hard');
    const key = RLIMIT_TO_LIMIT[r.type];
    if (key && r.soft === r.hard && r.hard >= 1 && r.hard <= Number.MAX_SAFE_INTEGER) limits[key] = r.hard;
    else rest.push({ type: r.type, soft: Math.min(r.soft, Number.MAX_SAFE_INTEGER + 1), hard: Math.min(r.hard, Number.MAX_SAFE_INTEGER + 1) });
  });
  return { limits, rest };
}

function processEnv(config: OciConfig): string[] {
  return (config.process?.env ?? []).map((e, i) => {
    // the resolver reads a bare NAME as "copy the caller's value": never from a config
    if (e.indexOf('=') < 1) refuse(`/process/env/${i}`, `"${e}" is not NAME=value`, 'write each entry as NAME=value');
    if (e.includes('\0')) refuse(`/process/env/${i}`, 'contains a NUL byte', 'remove it');
    return e;
  });
}

// ---- namespaces and id mappings ----------------------------------------------

export const CREATED_NAMESPACES: readonly NamespaceType[] = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup'];

interface Namespaces {
  readonly joins: NamespaceJoin[];
  readonly added: NamespaceType[];
  readonly network: string;
  readonly user: 'new' | 'join' | 'none';
}

/**
 * The sandbox always creates pid, mount, ipc, uts, cgroup and user
 * namespaces (a config that leaves one out still gets it, recorded in
 * addedNamespaces): it never shares the host's, not even for root. The
 * network is the exception: left out, the run shares the host's (`--network
 * host`, which a user namespace allows); a new one is `none` (only lo, as
 * runc leaves it). Joining by path is for the runner (namespaceJoins).
 */
function namespaces(config: OciConfig, host: OciContext['host']): Namespaces {
  const list = config.linux?.namespaces ?? [];
  const seen = new Map<NamespaceType, 'new' | 'join'>();
  const joins: NamespaceJoin[] = [];
  list.forEach((ns, i) => {
    const pointer = `/linux/namespaces/${i}`;
    if (seen.has(ns.type)) refuse(`${pointer}/type`, `the ${ns.type} namespace is given twice`, 'give each namespace type once');
    if (ns.type === 'time') refuse(`${pointer}/type`, 'time namespaces are not supported yet', 'remove the time namespace');
    if (ns.path) {
      if (!ns.path.startsWith('/')) refuse(`${pointer}/path`, `"${ns.path}" is not an absolute path`, 'give /proc/PID/ns/TYPE or a bind-mounted namespace file');
      joins.push({ type: ns.type, path: ns.path });
      seen.set(ns.type, 'join');
    } else seen.set(ns.type, 'new');
  });
  const user = seen.get('user') ?? 'none';
  if (user === 'none' && host.uid !== 0) {
    refuse('/linux/namespaces', 'no user namespace: an unprivileged caller needs one to create the others',
      'add {"type": "user"} to linux.namespaces (`sandbox-oci spec --rootless` writes a config with one)');
  }
  const net = seen.get('network');
  return {
    joins,
    added: CREATED_NAMESPACES.filter((t) => t !== 'network' && !seen.has(t)),
    // a joined network is the runner's (namespaceJoins); 'none' until it joins
    network: net === undefined ? 'host' : 'none',
    user,
  };
}

function checkMappings(list: readonly OciIdMapping[], kind: 'uid' | 'gid', host: OciContext['host']): void {
  const range = kind === 'uid' ? host.subuid : host.subgid;
  const own = kind === 'uid' ? host.uid : host.gid;
  const file = kind === 'uid' ? '/etc/subuid' : '/etc/subgid';
  list.forEach((m, i) => {
    const pointer = `/linux/${kind}Mappings/${i}`;
    const inRange = range !== null && m.hostID >= range.start && m.hostID + m.size <= range.start + range.count;
    // newuidmap lets a user map its own id; root is never mapped to itself (the sandbox never runs as host root)
    const self = host.uid !== 0 && m.hostID === own && m.size === 1;
    if (!inRange && !self) {
      const have = range ? `${range.start}-${range.start + range.count - 1}` : 'none';
      refuse(pointer, `host ${kind}s ${m.hostID}-${m.hostID + m.size - 1} are not yours to map (your ${file} range: ${have}${host.uid !== 0 ? `, your own ${kind} ${own}` : ''})`,
        `map only ids of your range in ${file}${host.uid !== 0 ? ` or your own ${kind} (size 1)` : ''}`);
    }
    list.slice(0, i).forEach((o) => {
      if (m.containerID < o.containerID + o.size && o.containerID < m.containerID + m.size) {
        refuse(`${pointer}/containerID`, `container ${kind}s ${m.containerID}-${m.containerID + m.size - 1} overlap an earlier mapping`, 'map each container id once');
      }
    });
  });
}

const mapped = (list: readonly OciIdMapping[], id: number) => list.some((m) => id >= m.containerID && id < m.containerID + m.size);

function idMappings(config: OciConfig, user: Namespaces['user'], host: OciContext['host']): OciExtras['idMappings'] {
  const uid = config.linux?.uidMappings ?? [];
  const gid = config.linux?.gidMappings ?? [];
  if (!uid.length && !gid.length) return null;
  const pointer = uid.length ? '/linux/uidMappings' : '/linux/gidMappings';
  if (user !== 'new') {
    refuse(pointer, user === 'join' ? 'id mappings with a joined user namespace (it has its own)' : 'id mappings without a user namespace',
      user === 'join' ? 'remove the mappings' : 'add {"type": "user"} to linux.namespaces');
  }
  if (!uid.length || !gid.length) refuse(pointer, 'uidMappings and gidMappings must be given together', 'give both, or neither (the sandbox maps your range)');
  checkMappings(uid, 'uid', host);
  checkMappings(gid, 'gid', host);
  const u = config.process?.user ?? { uid: 0, gid: 0 };
  if (!mapped(uid, u.uid)) refuse('/process/user/uid', `uid ${u.uid} is not in linux.uidMappings`, 'map it, or run as a mapped uid');
  if (!mapped(gid, u.gid)) refuse('/process/user/gid', `gid ${u.gid} is not in linux.gidMappings`, 'map it, or run as a mapped gid');
  (config.process?.user?.additionalGids ?? []).forEach((g, i) => {
    if (!mapped(gid, g)) refuse(`/process/user/additionalGids/${i}`, `gid ${g} is not in linux.gidMappings`, 'map it, or remove it');
  });
  return { uid: [...uid], gid: [...gid] };
}

// ---- mounts ------------------------------------------------------------------

/** Kernel file systems the sandbox mounts itself, at the only place it mounts them, with the options it accepts as its own. */
const PROVIDED: Readonly<Record<string, { type: string; options: RegExp }>> = {
  '/proc': { type: 'proc', options: /^(rw|nosuid|nodev|noexec|relatime)$/ },
  // the sandbox's /sys is always read-only (and a bind of the host's with --network host)
  '/sys': { type: 'sysfs', options: /^(ro|nosuid|nodev|noexec|relatime)$/ },
  '/dev': { type: 'tmpfs', options: /^(rw|nosuid|noexec|strictatime|relatime|mode=0?755|size=[0-9]+[kmg]?)$/ },
  '/dev/pts': { type: 'devpts', options: /^(rw|nosuid|noexec|newinstance|ptmxmode=0?666|mode=0?620|gid=5)$/ },
};

/** Kernel file systems the sandbox does not mount yet: kept for the runner. */
const KERNEL: Readonly<Record<string, { types: readonly KernelMount['type'][]; options: RegExp }>> = {
  '/dev/mqueue': { types: ['mqueue'], options: /^(rw|ro|nosuid|nodev|noexec|relatime)$/ },
  '/sys/fs/cgroup': { types: ['cgroup', 'cgroup2'], options: /^(rw|ro|nosuid|nodev|noexec|relatime|r?private)$/ },
};

const ATIME = /^(relatime|norelatime|strictatime|nostrictatime|noatime|atime|nodiratime|diratime)$/;
const PROPAGATION_OK = /^r?private$/;
const PROPAGATION = /^r?(shared|slave|unbindable)$/;

/** Every mount option sandbox-oci accepts somewhere (features.ts lists them). */
export const MOUNT_OPTIONS = [
  'bind', 'rbind', 'ro', 'rw', 'nosuid', 'nodev', 'noexec', 'exec', 'private', 'rprivate',
  'relatime', 'norelatime', 'strictatime', 'nostrictatime', 'noatime', 'atime', 'nodiratime', 'diratime',
  'newinstance', 'ptmxmode', 'mode', 'size', 'gid', 'uid', 'nr_inodes',
] as const;

interface Mounts {
  volumes: ProfileVolume[];
  tmpfs: ProfileTmpfs[];
  kernel: KernelMount[];
  pending: PendingMountOptions[];
}

function optionHint(kind: string): string {
  return `${kind} mounts take ${kind === 'bind' ? 'bind, rbind, ro, rw, noexec, exec, nosuid, nodev, private, rprivate and atime flags'
    : 'size=, mode=, uid=, gid=, nr_inodes=, ro, rw, noexec, exec, nosuid, nodev and atime flags'}; \`sandbox-oci features\` lists them`;
}

function bindMount(m: OciMount, i: number, dest: string, bundle: string, out: Mounts): void {
  const pointer = `/mounts/${i}`;
  if (!m.source) refuse(`${pointer}/source`, 'a bind mount needs a source', 'give the host path to bind');
  let writable = true; // OCI binds are read-write unless "ro"
  let noexec = false;
  const pending: string[] = [];
  (m.options ?? []).forEach((o, k) => {
    const at = `${pointer}/options/${k}`;
    if (o === 'rbind') return;
    // a directory volume is always bound recursively: a plain bind is the runner's to honour
    if (o === 'bind') pending.push(o);
    else if (o === 'ro' || o === 'rw') writable = o === 'rw';
    else if (o === 'noexec' || o === 'exec') noexec = o === 'noexec';
    else if (o === 'nosuid' || o === 'nodev' || PROPAGATION_OK.test(o)) { /* what every volume is */ }
    else if (o === 'suid' || o === 'dev') refuse(at, `"${o}": volumes are always nosuid and nodev`, 'remove it');
    else if (PROPAGATION.test(o)) refuse(at, `"${o}": mounts are private to the sandbox`, 'use rprivate (or leave propagation out)');
    else if (ATIME.test(o)) pending.push(o);
    else refuse(at, `unknown or unsupported option "${o}" for a bind mount`, optionHint('bind'));
  });
  const source = posix.resolve(bundle, m.source); // relative sources are relative to the bundle
  out.volumes.push({ source, target: dest, writable, ...(noexec ? { noexec } : {}) });
  if (pending.length) out.pending.push({ destination: dest, options: pending });
}

function tmpfsMount(m: OciMount, i: number, dest: string, out: Mounts): void {
  const pointer = `/mounts/${i}`;
  const t: { path: string; size?: string; mode?: string } = { path: dest };
  const pending: string[] = [];
  (m.options ?? []).forEach((o, k) => {
    const at = `${pointer}/options/${k}`;
    const [key, value] = o.includes('=') ? [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)] : [o, undefined];
    if (key === 'size' && value !== undefined) {
      try {
        parseSize(value, `${FILE}#${at}`);
      } catch {
        refuse(at, `tmpfs size "${value}" is not a size`, 'give bytes or a k, m or g suffix (a percentage of memory is not supported)');
      }
      t.size = value;
    } else if (key === 'mode' && value !== undefined) {
      if (!/^[0-7]{1,4}$/.test(value)) refuse(at, `tmpfs mode "${value}" is not octal`, 'give e.g. mode=1777');
      t.mode = value.padStart(4, '0');
    } else if (['uid', 'gid', 'nr_inodes'].includes(key) && value !== undefined && /^[0-9]+[kmg]?$/.test(value)) pending.push(o);
    else if (o === 'rw' || o === 'nosuid' || o === 'nodev' || o === 'exec' || PROPAGATION_OK.test(o)) { /* what every tmpfs is */ }
    else if (o === 'ro' || o === 'noexec' || ATIME.test(o)) pending.push(o);
    else if (o === 'suid' || o === 'dev') refuse(at, `"${o}": tmpfs mounts are always nosuid and nodev`, 'remove it');
    else refuse(at, `unknown or unsupported option "${o}" for a tmpfs mount`, optionHint('tmpfs'));
  });
  out.tmpfs.push(t);
  if (pending.length) out.pending.push({ destination: dest, options: pending });
}

function mounts(config: OciConfig, bundle: string): Mounts {
  const out: Mounts = { volumes: [], tmpfs: [], kernel: [], pending: [] };
  const seen = new Set<string>();
  (config.mounts ?? []).forEach((m, i) => {
    const pointer = `/mounts/${i}`;
    if (!isEmpty(m.uidMappings) || !isEmpty(m.gidMappings)) {
      refuse(`${pointer}/${isEmpty(m.uidMappings) ? 'gidMappings' : 'uidMappings'}`, 'id-mapped mounts are not supported', 'remove the mount\'s mappings');
    }
    if (!m.destination.startsWith('/')) refuse(`${pointer}/destination`, `"${m.destination}" is not an absolute path`, 'write it from /');
    const dest = posix.normalize(m.destination).replace(/(.)\/+$/, '$1');
    // runc stacks a later mount on an earlier one; the sandbox mounts one per target
    if (seen.has(dest)) refuse(`${pointer}/destination`, `a second mount on ${dest}`, 'give each mount its own destination');
    seen.add(dest);
    const options = m.options ?? [];
    if (m.type === 'bind' || options.includes('bind') || options.includes('rbind')) {
      if (m.type !== undefined && !['bind', 'none', ''].includes(m.type)) {
        refuse(`${pointer}/type`, `"${m.type}" with bind options`, 'a bind mount has type "bind" or "none"');
      }
      if (isReservedTarget(dest)) refuse(`${pointer}/destination`, `cannot bind over ${dest}`, 'the sandbox provides /, /proc and /dev itself; choose another destination');
      return bindMount(m, i, dest, bundle, out);
    }
    const type = m.type ?? '';
    const provided = PROVIDED[dest];
    if (provided?.type === type) {
      options.forEach((o, k) => {
        if (!provided.options.test(o)) refuse(`${pointer}/options/${k}`, `"${o}" is not how the sandbox mounts its ${dest}`, `remove it; the sandbox mounts ${dest} itself`);
      });
      return; // the sandbox mounts it itself
    }
    if (type === 'tmpfs') {
      if (isReservedTarget(dest)) refuse(`${pointer}/destination`, `cannot mount a tmpfs on ${dest}`, 'the sandbox provides /, /proc and /dev itself; choose another destination');
      return tmpfsMount(m, i, dest, out);
    }
    const kernel = KERNEL[dest];
    if (kernel && (kernel.types as readonly string[]).includes(type)) {
      options.forEach((o, k) => {
        if (!kernel.options.test(o)) refuse(`${pointer}/options/${k}`, `unsupported option "${o}" for ${type} on ${dest}`, 'remove it');
      });
      out.kernel.push({ type: type as KernelMount['type'], destination: dest, options: [...options] });
      return;
    }
    if (provided || kernel || ['proc', 'sysfs', 'devpts', 'mqueue', 'cgroup', 'cgroup2'].includes(type)) {
      refuse(`${pointer}/destination`, `a ${type || 'mount without a type'} on ${dest}: the sandbox mounts ${type || 'it'} only at its standard place`,
        'mount proc on /proc, sysfs on /sys, devpts on /dev/pts, mqueue on /dev/mqueue, cgroup on /sys/fs/cgroup');
    }
    refuse(`${pointer}/type`, `unsupported mount type "${type}"`, 'use bind (or rbind), tmpfs, proc, sysfs, devpts, mqueue or cgroup');
  });
  return out;
}

// ---- linux: the rest -----------------------------------------------------------

/** sysctls of namespaces the sandbox owns (sysctl keys as runc and podman allow them). */
const NAMESPACED_SYSCTL = /^(net\..+|kernel\.shm[a-z_]+|kernel\.msg[a-z_]+|kernel\.sem|fs\.mqueue\..+|kernel\.hostname|kernel\.domainname)$/;

function sysctls(config: OciConfig, network: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [raw, value] of Object.entries(config.linux?.sysctl ?? {})) {
    const pointer = `/linux/sysctl/${esc(raw)}`;
    const key = raw.replace(/\//g, '.');
    if (!NAMESPACED_SYSCTL.test(key)) {
      refuse(pointer, `${key} is not a namespaced sysctl: it would change the host`, 'only net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, kernel.hostname and kernel.domainname are allowed');
    }
    if (key.startsWith('net.') && network === 'host') {
      refuse(pointer, `${key} needs a network namespace of the sandbox's own (without one it is the host's)`, 'add {"type": "network"} to linux.namespaces');
    }
    out[key] = value;
  }
  return out;
}

/** The device nodes every sandbox has (bound from the host): the only ones a config may list. */
export const DEFAULT_DEVICES: readonly { path: string; major: number; minor: number }[] = [
  { path: '/dev/null', major: 1, minor: 3 }, { path: '/dev/zero', major: 1, minor: 5 }, { path: '/dev/full', major: 1, minor: 7 },
  { path: '/dev/random', major: 1, minor: 8 }, { path: '/dev/urandom', major: 1, minor: 9 }, { path: '/dev/tty', major: 5, minor: 0 },
];
/** Character devices a device rule may allow: the defaults, /dev/ptmx and the pseudo-terminals. */
const ALLOWABLE = [...DEFAULT_DEVICES.map((d) => [d.major, d.minor] as const), [5, 2] as const];

function devices(config: OciConfig): void {
  (config.linux?.devices ?? []).forEach((d, i) => {
    const ours = DEFAULT_DEVICES.find((x) => x.path === d.path);
    if (!ours || d.type !== 'c' || d.major !== ours.major || d.minor !== ours.minor) {
      refuse(`/linux/devices/${i}`, `device ${d.path} (${d.type} ${d.major ?? '?'}:${d.minor ?? '?'}) is not one the sandbox provides`,
        `only ${DEFAULT_DEVICES.map((x) => x.path).join(', ')} exist in the sandbox (device nodes cannot be made in a user namespace)`);
    }
    if ((d.fileMode !== undefined && (d.fileMode & 0o7777) !== 0o666) || (d.uid ?? 0) !== 0 || (d.gid ?? 0) !== 0) {
      refuse(`/linux/devices/${i}`, `device ${d.path} with another mode or owner than the host's (0666, root)`, 'leave fileMode, uid and gid out');
    }
  });
  // deny rules may say anything: the sandbox's own devices stay usable, as runc's default ones do
  (config.linux?.resources?.devices ?? []).forEach((r, i) => {
    if (!r.allow) return;
    const any = (v: number | null | undefined) => v === undefined || v === null || v === -1;
    const type = r.type ?? 'a';
    const onlyMknod = (r.access ?? 'rwm').replace(/m/g, '') === '';
    // mknod is harmless in a user namespace: a node made there is unusable
    if (onlyMknod) return;
    const pts = type === 'c' && r.major === 136;
    const ok = pts || (type === 'c' && !any(r.major) && !any(r.minor) && ALLOWABLE.some(([ma, mi]) => ma === r.major && mi === r.minor));
    if (!ok) {
      refuse(`/linux/resources/devices/${i}`, `allows device ${type} ${any(r.major) ? '*' : r.major}:${any(r.minor) ? '*' : r.minor} (${r.access ?? 'rwm'}), beyond the sandbox's default set`,
        'only the default devices (null, zero, full, random, urandom, tty, ptmx, pts) can be used in the sandbox');
    }
  });
}

function memoryAndPids(config: OciConfig): LimitOptions {
  const res = config.linux?.resources;
  const limits: { -readonly [K in keyof LimitOptions]: LimitOptions[K] } = {};
  const mem = res?.memory;
  // runc: 0 is "not set", -1 "unlimited"
  const limit = mem?.limit !== undefined && mem.limit > 0 ? mem.limit : undefined;
  if (limit !== undefined) limits.memory = limit;
  if (mem?.swap !== undefined && mem.swap !== 0 && mem.swap !== limit) {
    refuse('/linux/resources/memory/swap', limit === undefined ? 'a swap limit without a memory limit' : `memory+swap ${mem.swap} is not the memory limit ${limit}: the sandbox disables swap`,
      'set swap equal to limit (podman: --memory-swap equal to --memory), or leave it out');
  }
  const pids = res?.pids?.limit;
  if (pids !== undefined && pids > 0) limits.pids = pids;
  return limits;
}

function cpu(config: OciConfig): OciExtras['cpu'] {
  const c = config.linux?.resources?.cpu;
  if (!c) return null;
  const out = {
    ...(c.shares !== undefined && { shares: c.shares }), ...(c.quota !== undefined && { quota: c.quota }),
    ...(c.period !== undefined && { period: c.period }), ...(c.cpus !== undefined && { cpus: c.cpus }), ...(c.mems !== undefined && { mems: c.mems }),
  };
  return Object.keys(out).length ? out : null;
}

function checkLinux(config: OciConfig): void {
  const l = config.linux ?? {};
  const prop = l.rootfsPropagation;
  if (prop !== undefined && prop !== '' && !PROPAGATION_OK.test(prop)) {
    refuse('/linux/rootfsPropagation', `"${prop}": the sandbox's root is private to it`, 'use private or rprivate, or leave it out');
  }
  if (l.personality) {
    if (l.personality.domain !== 'LINUX') refuse('/linux/personality/domain', `${l.personality.domain} is not supported`, 'use LINUX, or leave personality out');
    if (l.personality.flags?.length) refuse('/linux/personality/flags', 'personality flags are not supported', 'leave flags out');
  }
  for (const key of ['maskedPaths', 'readonlyPaths'] as const) {
    (l[key] ?? []).forEach((p, i) => {
      if (!p.startsWith('/')) refuse(`/linux/${key}/${i}`, `"${p}" is not an absolute path`, 'write it from /');
    });
  }
  const seccomp = l.seccomp;
  if (seccomp) {
    if (seccomp.listenerPath) refuse('/linux/seccomp/listenerPath', 'seccomp listeners (SCMP_ACT_NOTIFY) are not supported', 'remove listenerPath and use SCMP_ACT_ERRNO rules');
    if (seccomp.listenerMetadata) refuse('/linux/seccomp/listenerMetadata', 'seccomp listeners are not supported', 'remove listenerMetadata');
    if (seccomp.defaultAction === 'SCMP_ACT_NOTIFY') refuse('/linux/seccomp/defaultAction', 'SCMP_ACT_NOTIFY needs a seccomp listener, which is not supported', 'use SCMP_ACT_ERRNO');
    (seccomp.syscalls ?? []).forEach((r, i) => {
      if (r.action === 'SCMP_ACT_NOTIFY') refuse(`/linux/seccomp/syscalls/${i}/action`, 'SCMP_ACT_NOTIFY needs a seccomp listener, which is not supported', 'use SCMP_ACT_ERRNO');
    });
  }
}

// ---- the whole config ------------------------------------------------------------

export const HOOK_KINDS: readonly HookKind[] = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

export function configToRun(config: OciConfig, ctx: OciContext): OciRun {
  if (!/^1\.[0-9]+\.[0-9]+/.test(config.ociVersion)) refuse('/ociVersion', `version ${config.ociVersion} is not supported`, 'give a 1.x config (runtime-spec 1.0 to 1.2)');
  refuseUnsupported(config);
  const proc = config.process;
  if (!proc) refuse('/process', 'missing', 'give the process to run');
  const args = proc.args ?? [];
  if (!args.length || args[0] === '') refuse('/process/args', 'no program to run', 'give e.g. ["sh"]');
  args.forEach((a, i) => { if (a.includes('\0')) refuse(`/process/args/${i}`, 'contains a NUL byte', 'remove it'); });
  if (!proc.cwd.startsWith('/')) refuse('/process/cwd', `"${proc.cwd}" is not an absolute path`, 'write it from /');
  if (config.hostname && !HOSTNAME_RE.test(config.hostname)) {
    refuse('/hostname', `"${config.hostname}" is not a valid hostname`, 'use letters, digits, dots and dashes, at most 63 characters');
  }
  if (!config.root) refuse('/root', 'missing', 'give "root": {"path": "rootfs"}');

  const ns = namespaces(config, ctx.host);
  const idmaps = idMappings(config, ns.user, ctx.host);
  const caps = capabilities(config);
  const rl = rlimits(config);
  const m = mounts(config, ctx.bundle);
  const env = processEnv(config);
  checkLinux(config);
  devices(config);
  const sysctl = sysctls(config, ns.network);
  const user = proc.user ?? { uid: 0, gid: 0 };

  const options: ExecOptions = {
    image: `dir:${ctx.rootPath}`,
    command: [...args],
    // the OCI environment is the whole environment: no PATH, HOME or HOSTNAME of the sandbox's
    env,
    cleanEnv: true,
    workdir: proc.cwd,
    user: { uid: user.uid, gid: user.gid },
    // an empty hostname leaves the sandbox's ("sandbox"): never a copy of the host's, as runc's new UTS namespace would have
    ...(config.hostname ? { hostname: config.hostname } : {}),
    readOnly: config.root.readonly ?? false,
    network: ns.network,
    volumes: m.volumes,
    tmpfs: m.tmpfs,
    // runc loads no filter without linux.seccomp; with one, extras.seccomp is the filter
    ...(config.linux?.seccomp ? {} : { seccomp: UNCONFINED }),
    // the bounding set exactly: everything dropped, the config's added back
    capDrop: [ALL],
    capAdd: [...caps.bounding],
    // OCI's default is false, the sandbox's true
    noNewPrivileges: proc.noNewPrivileges ?? false,
    tty: proc.terminal ?? false,
    // runc hands the process its stdin
    interactive: true,
    limits: { ...rl.limits, ...memoryAndPids(config) },
  };
  const extras: OciExtras = {
    umask: user.umask ?? null,
    additionalGids: [...(user.additionalGids ?? [])],
    capabilities: caps,
    rlimits: rl.rest,
    consoleSize: proc.consoleSize ? { ...proc.consoleSize } : null,
    oomScoreAdj: proc.oomScoreAdj ?? null,
    domainname: config.domainname || null,
    maskedPaths: [...(config.linux?.maskedPaths ?? [])],
    readonlyPaths: [...(config.linux?.readonlyPaths ?? [])],
    namespaceJoins: ns.joins,
    addedNamespaces: ns.added,
    idMappings: idmaps,
    sysctl,
    seccomp: config.linux?.seccomp ? structuredClone(config.linux.seccomp) : null,
    kernelMounts: m.kernel,
    mountOptions: m.pending,
    cpu: cpu(config),
    cgroupsPath: config.linux?.cgroupsPath || null,
    hooks: Object.fromEntries(HOOK_KINDS.map((k) => [k, [...(config.hooks?.[k] ?? [])]])) as unknown as OciExtras['hooks'],
    annotations: { ...(config.annotations ?? {}) },
  };
  return { options, extras };
}
