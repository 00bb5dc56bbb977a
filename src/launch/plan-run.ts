// The whole stage plan of a run: namespaces and id maps (stage), root file
// system (pid 1), then the workload's own steps down to exec.
// Must not: decide anything the RunSpec does not already say.
import { formatIdMap, isMapped, type IdMapLine, type IdMapPlan } from '../idmap/plan-idmap.js';
import type { RunSpec } from '../resolve/run-spec.js';
import { planRootfs } from '../rootfs/plan-rootfs.js';
import { planWritableLayerFds, type WritableLayer } from '../rootfs/overlay-root.js';
import type { CgroupChoice } from '../cgroup/cgroup-run.js';
import { CLONE, ops, type StageOp } from '../stage/plan.js';
import { nestedIdMap, type HolderUserns } from '../idmap/holder-userns.js';
import { CpuUsageFormat, ForkFlag, LimitFlag, Op } from '../stage/protocol.js';
import { capabilityMask } from '../resolve/capabilities.js';
import { RUN_CHOICES } from '../stage/stage-choices.js';

const NAMESPACES = CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWCGROUP;

/** The id of each SYNC op: the stage echoes it in NS_READY and the sandbox routes by it. */
export const SyncPoint = {
  cgroup: 1,
  network: 2,
  /** The holder user namespace's stage waits while it is opened (run/held-userns.ts). */
  holder: 3,
} as const;

/** What each SYNC op waits for, in words (error messages). */
export const SYNC_WHAT = {
  cgroup: 'wait while the sandbox puts the stage in its cgroup (GO)',
  network: 'wait while the sandbox starts the network helper (GO)',
} as const;

/** podman's default: any group of the run may open ICMP echo sockets (ping without CAP_NET_RAW) in a network namespace it owns. */
const PING_GROUP_RANGE = { file: '/proc/sys/net/ipv4/ping_group_range', value: '0 0' };

/** --network host keeps the host's network namespace; every other mode gets a new one. */
function planNamespaces(spec: RunSpec): StageOp[] {
  const host = spec.network.mode === 'host';
  if (host) return [ops.unshare(NAMESPACES, 'mount, pid, uts, ipc and cgroup namespaces')];
  const unshare = ops.unshare(NAMESPACES | CLONE.NEWNET, 'mount, pid, net, uts, ipc and cgroup namespaces');
  // the stage is in the new network namespace now: its net sysctls are the run's own (the kernel takes
  // only groups mapped in the run's user namespace: a single-id mapping keeps the kernel's default)
  const ping = isMapped(spec.idmap.gidMap, 0) ? [ops.writeFile(PING_GROUP_RANGE.file, PING_GROUP_RANGE.value)] : [];
  // the helper joins the new network namespace before the workload exists
  const helper = spec.network.mode === 'pasta' || spec.network.mode === 'slirp4netns';
  return [unshare, ...ping, ...(helper ? [ops.sync(SyncPoint.network, SYNC_WHAT.network)] : [])];
}

function mapArgs(map: readonly IdMapLine[]): string[] {
  return map.flatMap((l) => [String(l.inside), String(l.outside), String(l.count)]);
}

export function planIdMaps(idmap: IdMapPlan, tools: { newuidmap: string | null; newgidmap: string | null }): StageOp[] {
  if (idmap.method === 'newidmap') {
    if (!tools.newuidmap || !tools.newgidmap) throw new Error('idmap plan needs newuidmap/newgidmap');
    return [ops.mapExec(tools.newuidmap, mapArgs(idmap.uidMap)), ops.mapExec(tools.newgidmap, mapArgs(idmap.gidMap))];
  }
  return [
    ...(idmap.setgroups === 'deny' ? [ops.mapWrite('setgroups', 'deny')] : []),
    ops.mapWrite('uid_map', formatIdMap(idmap.uidMap)),
    ops.mapWrite('gid_map', formatIdMap(idmap.gidMap)),
  ];
}

/** The stage enters a new user namespace with the run's maps and takes its set-up identity there. */
export function planUserns(idmap: IdMapPlan, tools: { newuidmap: string | null; newgidmap: string | null }, holder?: HolderUserns | null): StageOp[] {
  // inside a held user namespace that maps the range, the same host ids are written directly
  if (holder) return [ops.joinUserns(holder.path), ops.userns(), ...planIdMaps(nestedIdMap(idmap, holder), tools), ops.setupIds(idmap.setupUid, idmap.setupGid)];
  return [ops.userns(), ...planIdMaps(idmap, tools), ops.setupIds(idmap.setupUid, idmap.setupGid)];
}

/** BPF programs to load last, before exec (none: unconfined). */
export interface SeccompPrograms {
  readonly programs: readonly Uint8Array[];
  readonly flags: number;
}

// <sys/resource.h> on x86_64 and aarch64
const RLIMIT = { CPU: 0, FSIZE: 1, DATA: 2, STACK: 3, CORE: 4, NPROC: 6, NOFILE: 7, AS: 9 } as const;

/** rlimits of the workload: core dumps off, the spec's limits, and the fallbacks when no cgroup holds the tree. */
function planRlimits(spec: RunSpec, cgroup: CgroupChoice): StageOp[] {
  const l = spec.limits;
  const out = [ops.rlimit(RLIMIT.CORE, 0, 0, 'no core dumps')];
  if (l.cpuTimeUs !== null) {
    // a backstop: the stage ends the run at the exact limit, the kernel a little later
    const soft = Math.ceil(l.cpuTimeUs / 1e6) + 1;
    out.push(ops.rlimit(RLIMIT.CPU, soft, soft + 1, `RLIMIT_CPU ${soft}s`));
  }
  if (cgroup.backend === 'none' && l.memoryBytes !== null) out.push(ops.rlimit(RLIMIT.DATA, l.memoryBytes, l.memoryBytes, `RLIMIT_DATA ${l.memoryBytes}`));
  // the workload's own processes, exactly, also under a cgroup (whose pids.max also counts the sandbox's)
  if (l.pids !== null) out.push(ops.rlimit(RLIMIT.NPROC, l.pids, l.pids, `RLIMIT_NPROC ${l.pids}`));
  if (l.fsizeBytes !== null) out.push(ops.rlimit(RLIMIT.FSIZE, l.fsizeBytes, l.fsizeBytes, `RLIMIT_FSIZE ${l.fsizeBytes}`));
  if (l.nofile !== null) out.push(ops.rlimit(RLIMIT.NOFILE, l.nofile, l.nofile, `RLIMIT_NOFILE ${l.nofile}`));
  if (l.stackBytes === 'infinity') out.push(ops.rlimit(RLIMIT.STACK, -1, -1, 'RLIMIT_STACK unlimited'));
  else if (l.stackBytes !== null) out.push(ops.rlimit(RLIMIT.STACK, l.stackBytes, l.stackBytes, `RLIMIT_STACK ${l.stackBytes}`));
  if (l.addressSpaceBytes !== null) out.push(ops.rlimit(RLIMIT.AS, l.addressSpaceBytes, l.addressSpaceBytes, `RLIMIT_AS ${l.addressSpaceBytes}`));
  return out;
}

/** Joins the run's cgroup first (or waits while the sandbox puts the stage in a scope). */
function planCgroup(cgroup: CgroupChoice): StageOp[] {
  if (cgroup.backend === 'none') return [];
  return [...(cgroup.attach ? [ops.sync(SyncPoint.cgroup, SYNC_WHAT.cgroup)] : []), ...cgroup.joinFiles.map((f) => ops.joinCgroup(f))];
}

function planLimits(spec: RunSpec, cgroup: CgroupChoice): StageOp[] {
  const { limits: l, output } = spec;
  const flags = (output.relay ? LimitFlag.RELAY_OUTPUT : 0) | (output.mergeStderr ? LimitFlag.MERGE_STDERR : 0);
  if (l.cpuTimeUs === null && l.wallTimeUs === null && l.outputBytes === null && flags === 0) return [];
  const usage = cgroup.backend !== 'none' && cgroup.cpuUsage
    ? { file: cgroup.cpuUsage.file, format: cgroup.cpuUsage.format === 'cgroup2' ? CpuUsageFormat.CGROUP2_CPU_STAT : CpuUsageFormat.CGROUP1_CPUACCT }
    : { file: '', format: CpuUsageFormat.PROC };
  return [ops.limits(l.cpuTimeUs ?? -1, l.wallTimeUs ?? -1, l.outputBytes ?? -1, flags, usage.file, usage.format)];
}

/** The start FIFO's fd (OPEN_GATE, WAIT_START): above the ones of the trees given back. */
export const START_GATE_FD = 202;

/**
 * A run that waits at a start gate (sandbox-oci create/start): the stage opens
 * the FIFO first, with the caller's rights, and the workload waits on it just
 * before exec, after its identity and capabilities are set; a filter loaded
 * last (after no_new_privs) comes after the gate, as in runc, so the gate's own
 * calls are not filtered. Without a gate the plan is unchanged.
 */
export function withStartGate(plan: readonly StageOp[], fifo: string | undefined, noNewPrivileges: boolean): StageOp[] {
  if (fifo === undefined) return [...plan];
  const exec = plan.findIndex((o) => o.code === Op.EXEC);
  if (exec < 0) throw new Error('a start gate needs an EXEC op');
  const nnp = plan.findIndex((o) => o.code === Op.NO_NEW_PRIVS);
  const lastFilter = noNewPrivileges && nnp >= 0 ? plan.findIndex((o, i) => i > nnp && o.code === Op.SECCOMP) : -1;
  const at = lastFilter >= 0 ? lastFilter : exec;
  return [ops.openGate(fifo, START_GATE_FD), ...plan.slice(0, at), ops.waitStart(START_GATE_FD), ...plan.slice(at)];
}

/** The fd of a tree given back after the run: above the writable layer's (overlay-root.ts) and the clearing ones. */
const CHOWN_AFTER_RUN_FD = 200;
/** The same tree, given to the workload before the run (chownAfterRun.workloadFirst). */
const CHOWN_BEFORE_RUN_FD = 201;

export function planRun(
  spec: RunSpec,
  tools: { newuidmap: string | null; newgidmap: string | null },
  seccomp: SeccompPrograms = { programs: [], flags: 0 },
  cgroup: CgroupChoice = { backend: 'none', reason: 'not asked for' },
  writable?: WritableLayer,
  holder?: HolderUserns | null,
): StageOp[] {
  const { idmap, user, image } = spec;
  if (image.kind === 'oci' && !writable) throw new Error('an OCI image run needs its writable layer');
  const ttyFlags = spec.tty ? ForkFlag.TTY | (spec.interactive ? ForkFlag.TTY_STDIN : 0) : 0;
  return [
    // the stage
    ...planCgroup(cgroup),
    ...(image.kind === 'oci' ? planWritableLayerFds(image, writable!) : []),
    ...(spec.chownAfterRun ? [ops.openDir(spec.chownAfterRun.source, CHOWN_AFTER_RUN_FD)] : []),
    ...(spec.chownAfterRun?.workloadFirst ? [ops.openDir(spec.chownAfterRun.source, CHOWN_BEFORE_RUN_FD)] : []),
    ...planUserns(idmap, tools, holder),
    ...(spec.chownAfterRun?.workloadFirst ? [ops.chownTree(CHOWN_BEFORE_RUN_FD, user.uid, user.gid, 'now-best-effort')] : []),
    ...(spec.chownAfterRun ? [ops.chownTree(CHOWN_AFTER_RUN_FD, spec.chownAfterRun.uid, spec.chownAfterRun.gid, 'after-run')] : []),
    ...planNamespaces(spec),
    ...planLimits(spec, cgroup),
    ops.forkInit(ttyFlags, RUN_CHOICES),
    // pid 1
    ...planRootfs(spec, writable),
    ops.sethostname(spec.hostname),
    ...(spec.network.mode === 'host' ? [] : [ops.loopbackUp()]),
    ...(spec.tty ? [ops.pty('/dev/pts/ptmx')] : []),
    ops.forkWorkload(spec.tty ? ForkFlag.TTY : 0),
    // the workload
    ops.chdir(spec.cwd),
    // under a memory limit the OOM killer must pick the workload, never the stage or pid 1
    ...(spec.limits.memoryBytes !== null ? [ops.oomScoreAdj(1000)] : []),
    ...planRlimits(spec, cgroup),
    ...planPrivileges(spec, seccomp),
    ops.exec(spec.argv[0]!, spec.searchPath, [...spec.argv], [...spec.env]),
  ];
}

/**
 * The workload's identity, capabilities and filter. The filter comes last,
 * after no_new_privs. Without no_new_privs the kernel loads a filter only for
 * a process with CAP_SYS_ADMIN, so it comes first, while the stage still holds
 * it; the filter must then allow what SET_IDS and DROP_CAPS call (setresuid,
 * setgroups, prctl, capset), as Docker's and podman's policies do.
 */
function planPrivileges(spec: RunSpec, seccomp: SeccompPrograms): StageOp[] {
  const { user, idmap } = spec;
  const filters = seccomp.programs.map((bpf) => ops.seccomp(bpf, seccomp.flags));
  const caps = capabilityMask(spec.capabilities);
  // root holds its set across exec; any other user has it only in the bounding set (a setuid root file would raise it)
  const identity = [ops.setIds(user.uid, user.gid, idmap.setgroups === 'allow'), ops.dropCaps(caps, user.uid === 0 ? caps : 0n)];
  return spec.noNewPrivileges ? [...identity, ops.noNewPrivs(), ...filters] : [...filters, ...identity];
}
