// A user namespace that maps the caller's whole subordinate range, made once
// per process and kept by a descriptor, so that each later run's own user
// namespace is made as its child and its maps are written directly: no setuid
// newuidmap/newgidmap per run (two execs of setuid helpers, most of a run's
// id-map time for a user). Each run keeps its own user namespace and its own
// uid slot; the host ids are the same as without (the holder maps inside 0 to
// the caller and 1..N to the range, and runs' maps are translated into it).
// Only for a caller with a range and newuidmap/newgidmap (root writes its maps
// directly anyway), and made at a process's second run, in the background, so
// a process that runs once (the CLI) never pays for it; until it is ready,
// and if it cannot be made, runs map through the helpers as before.
// SANDBOX_NESTED_USERNS=0 turns it off.
// Must not: decide the maps of a run (plan-idmap.ts does; this only translates them).
import { openSync } from 'node:fs';
import type { HostFacts } from '../host/probe-host.js';
import type { IdMapLine, IdMapPlan } from './plan-idmap.js';

/** A user namespace held open, and how host ids are named in it. */
export interface HolderUserns {
  /** Where a stage opens it: this process's descriptor, by /proc path. */
  readonly path: string;
  readonly uid: number;
  readonly gid: number;
  /** First host id of the range (inside 1 of the holder) and how many ids it maps from there. */
  readonly subuidStart: number;
  readonly subgidStart: number;
  readonly count: number;
}

/** Plans of the holder's own stage: its maps (the caller's whole range) and a pause while it is opened. */
export interface HolderPlanInput {
  readonly uidMap: readonly IdMapLine[];
  readonly gidMap: readonly IdMapLine[];
}

/** The holder's maps for `host`, or null when runs of this caller cannot nest (root, no range, no helpers). */
export function holderMaps(host: HostFacts): HolderPlanInput | null {
  const { subuid, subgid } = host;
  if (host.uid === 0 || !subuid || !subgid || !host.newuidmap || !host.newgidmap) return null;
  const count = Math.min(subuid.count, subgid.count);
  if (count < 1) return null;
  return {
    uidMap: [{ inside: 0, outside: host.uid, count: 1 }, { inside: 1, outside: subuid.start, count }],
    gidMap: [{ inside: 0, outside: host.gid, count: 1 }, { inside: 1, outside: subgid.start, count }],
  };
}

function translateLine(l: IdMapLine, own: number, start: number, count: number): IdMapLine {
  if (l.outside === own && l.count === 1) return { ...l, outside: 0 };
  if (l.outside >= start && l.outside + l.count <= start + count) return { ...l, outside: l.outside - start + 1 };
  // internal invariant: a run's map lies in the caller's range, which the holder maps whole
  throw new Error(`the id map line ${l.inside} ${l.outside} ${l.count} is outside the held user namespace`);
}

/** A run's id map (host ids) as maps written from inside the holder: the same host ids, written directly. */
export function nestedIdMap(idmap: IdMapPlan, holder: HolderUserns): IdMapPlan {
  return {
    ...idmap,
    method: 'direct',
    uidMap: idmap.uidMap.map((l) => translateLine(l, holder.uid, holder.subuidStart, holder.count)),
    gidMap: idmap.gidMap.map((l) => translateLine(l, holder.gid, holder.subgidStart, holder.count)),
  };
}

/** Opens the user namespace of a process (the holder's stage, paused at its SYNC); the descriptor is this process's for good. */
export function holdUserns(stagePid: number, host: HostFacts): HolderUserns {
  const fd = openSync(`/proc/${stagePid}/ns/user`, 'r');
  return {
    path: `/proc/${process.pid}/fd/${fd}`,
    uid: host.uid,
    gid: host.gid,
    subuidStart: host.subuid!.start,
    subgidStart: host.subgid!.start,
    count: Math.min(host.subuid!.count, host.subgid!.count),
  };
}
