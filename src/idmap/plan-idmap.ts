// idmap/: which ids exist inside the sandbox and what they are on the host.
// Pure: takes host facts as data.
// Must not: write maps (the stage does, through newuidmap/newgidmap or /proc).
import { SandboxError } from '../errors.js';
import type { HostFacts } from '../host/probe-host.js';

export interface IdMapLine {
  readonly inside: number;
  readonly outside: number;
  readonly count: number;
}

export interface IdMapPlan {
  /** "subid": a range from /etc/subuid; "single": one id only (no range). */
  readonly mode: 'subid' | 'single';
  readonly uidMap: readonly IdMapLine[];
  readonly gidMap: readonly IdMapLine[];
  /** "newidmap": setuid newuidmap/newgidmap write the maps; "direct": the stage writes /proc/PID/*_map. */
  readonly method: 'newidmap' | 'direct';
  /** "deny" is required for a single-id map written without privilege. */
  readonly setgroups: 'allow' | 'deny';
  /** Identity the stage takes inside while it sets up (must be mapped). */
  readonly setupUid: number;
  readonly setupGid: number;
  /** Why this mapping was chosen, when it is weaker than the normal one. */
  readonly note?: string;
}

/** Host "nobody": what root's workload becomes when root has no subordinate range. */
export const NOBODY = 65534;

export function isMapped(map: readonly IdMapLine[], id: number): boolean {
  return map.some((l) => id >= l.inside && id < l.inside + l.count);
}

function checkMapped(plan: IdMapPlan, uid: number, gid: number, host: HostFacts): IdMapPlan {
  const badUid = !isMapped(plan.uidMap, uid);
  if (badUid || !isMapped(plan.gidMap, gid)) {
    const [bad, map] = badUid ? [`uid ${uid}`, plan.uidMap] : [`gid ${gid}`, plan.gidMap];
    const last = Math.max(...map.map((l) => l.inside + l.count - 1));
    throw new SandboxError('usage', `${bad} does not exist inside the sandbox (-u): ids 0-${last} are mapped`,
      `choose an id in that range, or give ${host.userName ?? 'the caller'} a larger range in /etc/subuid and /etc/subgid`);
  }
  return plan;
}

export function planIdMap(host: HostFacts, workload: { uid: number; gid: number }): IdMapPlan {
  const { subuid, subgid } = host;
  if (host.uid === 0) {
    if (subuid && subgid) {
      // root writes the maps itself; inside 0 is the first id of root's range, never host root
      return checkMapped({
        mode: 'subid', method: 'direct', setgroups: 'allow', setupUid: 0, setupGid: 0,
        uidMap: [{ inside: 0, outside: subuid.start, count: subuid.count }],
        gidMap: [{ inside: 0, outside: subgid.start, count: subgid.count }],
      }, workload.uid, workload.gid, host);
    }
    return {
      mode: 'single', method: 'direct', setgroups: 'allow', setupUid: workload.uid, setupGid: workload.gid,
      uidMap: [{ inside: workload.uid, outside: NOBODY, count: 1 }],
      gidMap: [{ inside: workload.gid, outside: NOBODY, count: 1 }],
      note: 'root has no range in /etc/subuid and /etc/subgid: the workload runs as host nobody (65534)',
    };
  }
  if (subuid && subgid && host.newuidmap && host.newgidmap) {
    return checkMapped({
      mode: 'subid', method: 'newidmap', setgroups: 'allow', setupUid: 0, setupGid: 0,
      uidMap: [{ inside: 0, outside: host.uid, count: 1 }, { inside: 1, outside: subuid.start, count: subuid.count }],
      gidMap: [{ inside: 0, outside: host.gid, count: 1 }, { inside: 1, outside: subgid.start, count: subgid.count }],
    }, workload.uid, workload.gid, host);
  }
  const why = !(subuid && subgid)
    ? `${host.userName ?? `uid ${host.uid}`} has no range in /etc/subuid and /etc/subgid`
    : 'newuidmap/newgidmap are not installed';
  return {
    mode: 'single', method: 'direct', setgroups: 'deny', setupUid: workload.uid, setupGid: workload.gid,
    uidMap: [{ inside: workload.uid, outside: host.uid, count: 1 }],
    gidMap: [{ inside: workload.gid, outside: host.gid, count: 1 }],
    note: `${why}: single-id mapping, and the caller's supplementary groups stay attached (setgroups is denied)`,
  };
}

/** The lines of a uid_map/gid_map file. */
export function formatIdMap(map: readonly IdMapLine[]): string {
  return map.map((l) => `${l.inside} ${l.outside} ${l.count}\n`).join('');
}
