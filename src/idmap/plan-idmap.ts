// idmap/: which ids exist inside the sandbox and what they are on the host,
// and (uid-slots.ts) which part of the caller's subordinate range a run may
// use while it runs.
// This file is pure: it takes host facts (and a uid slot) as data.
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
  /** The uid slot(s) of the range this run holds (see uid-slots.ts); absent: the whole range, shared. */
  readonly slot?: { readonly index: number; readonly count: number };
  /** Why this mapping was chosen, when it is weaker than the normal one. */
  readonly note?: string;
}

/**
 * Adjacent slots of the caller's subordinate ranges, as data (a held UidSlot
 * from uid-slots.ts is one). Inside ids 0..ids-1 exist, and inside id i is
 * host uid `uidStart + i` and host gid `gidStart + i` — except inside 0 of a
 * non-root caller, which is the caller itself (so `uidStart` is then unused).
 */
export interface UidSlotRange {
  /** First slot (0-based, counted from the start of the range). */
  readonly index: number;
  /** How many adjacent slots. */
  readonly count: number;
  /** Inside ids that exist: count × the slot size. */
  readonly ids: number;
  readonly uidStart: number;
  readonly gidStart: number;
}

/** Host "nobody": what root's workload becomes when root has no subordinate range. */
export const NOBODY = 65534;

export function isMapped(map: readonly IdMapLine[], id: number): boolean {
  return map.some((l) => id >= l.inside && id < l.inside + l.count);
}

function checkMapped(plan: IdMapPlan, uid: number, gid: number, host: HostFacts, hint?: string): IdMapPlan {
  const badUid = !isMapped(plan.uidMap, uid);
  if (badUid || !isMapped(plan.gidMap, gid)) {
    const [bad, map] = badUid ? [`uid ${uid}`, plan.uidMap] : [`gid ${gid}`, plan.gidMap];
    const last = Math.max(...map.map((l) => l.inside + l.count - 1));
    throw new SandboxError('usage', `${bad} does not exist inside the sandbox (-u): ids 0-${last} are mapped`,
      hint ?? `choose an id in that range, or give ${host.userName ?? 'the caller'} a larger range in /etc/subuid and /etc/subgid`);
  }
  return plan;
}

/** Whether this host maps a subordinate range (and so can give each run a slot of it). */
export function usesSubIds(host: HostFacts): boolean {
  if (!host.subuid || !host.subgid) return false;
  return host.uid === 0 || Boolean(host.newuidmap && host.newgidmap);
}

function slotMaps(host: HostFacts, slot: UidSlotRange): Pick<IdMapPlan, 'uidMap' | 'gidMap'> {
  const { subuid, subgid } = host;
  const fits = (r: { start: number; count: number }, start: number) => start >= r.start && start + slot.ids <= r.start + r.count;
  if (!subuid || !subgid || !fits(subuid, slot.uidStart) || !fits(subgid, slot.gidStart) || slot.ids < 2 || slot.count < 1) {
    throw new SandboxError('internal', `uid slot ${slot.index} (${slot.ids} ids from ${slot.uidStart}:${slot.gidStart}) is not inside the caller's subordinate ranges`,
      'acquire the slot with acquireUidSlot() for the same host facts');
  }
  if (host.uid === 0) {
    return {
      uidMap: [{ inside: 0, outside: slot.uidStart, count: slot.ids }],
      gidMap: [{ inside: 0, outside: slot.gidStart, count: slot.ids }],
    };
  }
  // inside 0 stays the caller (files root writes in a volume are the caller's); inside i is uidStart + i
  return {
    uidMap: [{ inside: 0, outside: host.uid, count: 1 }, { inside: 1, outside: slot.uidStart + 1, count: slot.ids - 1 }],
    gidMap: [{ inside: 0, outside: host.gid, count: 1 }, { inside: 1, outside: slot.gidStart + 1, count: slot.ids - 1 }],
  };
}

/**
 * The id maps of a run. With `slot` (held through acquireUidSlot), the run
 * maps only that part of the caller's range, so runs that hold different
 * slots never share a host id (except the caller's own, inside 0, for a
 * non-root caller). Without it (undefined), the whole range: what a run
 * that is only planned, not started, reports; with null (the range is too
 * small to divide into slots), the whole range, shared, and said so.
 */
export function planIdMap(host: HostFacts, workload: { uid: number; gid: number }, slot?: UidSlotRange | null): IdMapPlan {
  const plan = planWholeOrSlot(host, workload, slot);
  if (slot === null && plan.mode === 'subid' && !plan.note) {
    return { ...plan, note: 'the subordinate range is too small to divide into uid slots: sandboxes that run at the same time share its ids' };
  }
  return plan;
}

function planWholeOrSlot(host: HostFacts, workload: { uid: number; gid: number }, slot: UidSlotRange | null | undefined): IdMapPlan {
  const { subuid, subgid } = host;
  if (slot && usesSubIds(host)) {
    const root = host.uid === 0;
    const slots = slot.count === 1 ? `slot ${slot.index}` : `slots ${slot.index}-${slot.index + slot.count - 1}`;
    return checkMapped({
      mode: 'subid', method: root ? 'direct' : 'newidmap', setgroups: 'allow', setupUid: 0, setupGid: 0,
      ...slotMaps(host, slot),
      slot: { index: slot.index, count: slot.count },
    }, workload.uid, workload.gid, host,
    `choose an id in that range (this run holds uid ${slots}); a larger id needs more adjacent slots of ${host.userName ?? 'the caller'}'s range`);
  }
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
      note: 'root has no range in /etc/subuid and /etc/subgid: the workload runs as host nobody (65534), as does every other sandbox that runs at the same time',
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
    note: `${why}: single-id mapping, and the caller's supplementary groups stay attached (setgroups is denied); `
      + 'the workload runs as the caller, as does every other sandbox of the caller that runs at the same time',
  };
}

/** The lines of a uid_map/gid_map file. */
export function formatIdMap(map: readonly IdMapLine[]): string {
  return map.map((l) => `${l.inside} ${l.outside} ${l.count}\n`).join('');
}
