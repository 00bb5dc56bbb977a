// The whole stage plan of a run: namespaces and id maps (stage), root file
// system (pid 1), then the workload's own steps down to exec.
// Must not: decide anything the RunSpec does not already say.
import { formatIdMap, type IdMapLine, type IdMapPlan } from '../idmap/plan-idmap.js';
import type { RunSpec } from '../resolve/run-spec.js';
import { planRootfs } from '../rootfs/plan-rootfs.js';
import { CLONE, ops, type StageOp } from '../stage/plan.js';
import { ForkFlag } from '../stage/protocol.js';

const NAMESPACES = CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWCGROUP;

function mapArgs(map: readonly IdMapLine[]): string[] {
  return map.flatMap((l) => [String(l.inside), String(l.outside), String(l.count)]);
}

function planIdMaps(idmap: IdMapPlan, tools: { newuidmap: string | null; newgidmap: string | null }): StageOp[] {
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

/** BPF programs to load last, before exec (none: unconfined). */
export interface SeccompPrograms {
  readonly programs: readonly Uint8Array[];
  readonly flags: number;
}

export function planRun(
  spec: RunSpec,
  tools: { newuidmap: string | null; newgidmap: string | null },
  seccomp: SeccompPrograms = { programs: [], flags: 0 },
): StageOp[] {
  const { idmap, user } = spec;
  const ttyFlags = spec.tty ? ForkFlag.TTY | (spec.interactive ? ForkFlag.TTY_STDIN : 0) : 0;
  return [
    // the stage
    ops.userns(),
    ...planIdMaps(idmap, tools),
    ops.setupIds(idmap.setupUid, idmap.setupGid),
    ops.unshare(NAMESPACES, 'mount, pid, net, uts, ipc and cgroup namespaces'),
    ops.forkInit(ttyFlags),
    // pid 1
    ...planRootfs(spec),
    ops.sethostname(spec.hostname),
    ops.loopbackUp(),
    ...(spec.tty ? [ops.pty('/dev/pts/ptmx')] : []),
    ops.forkWorkload(spec.tty ? ForkFlag.TTY : 0),
    // the workload
    ops.chdir(spec.cwd),
    ops.setIds(user.uid, user.gid, idmap.setgroups === 'allow'),
    ops.dropCaps(),
    ops.noNewPrivs(),
    ...seccomp.programs.map((bpf) => ops.seccomp(bpf, seccomp.flags)),
    ops.exec(spec.argv[0]!, spec.searchPath, [...spec.argv], [...spec.env]),
  ];
}
