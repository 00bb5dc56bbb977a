// The one id mapping of an image: its layers are unpacked (chown'ed) through
// it, and every run of the image must use the same map, or the files' owners
// mean something else inside (podman's rootless default):
//  - a caller with a subordinate range (and newuidmap/newgidmap): inside 0 is
//    the caller, inside 1..N is the range (N = range count, 65536 ids in all);
//  - root with a range: inside 0..N-1 is root's own range (never host root);
//  - anyone else: one id (inside 0 is the caller, or nobody for root), and
//    ownership cannot be kept: layers are unpacked without chown.
// Pure: takes host facts as data.
// Must not: write maps (the stage does) or hand out uid slots (uid-slots.ts:
// per-run slots would give one image's files different owners per run).
import type { HostFacts } from '../host/probe-host.js';
import { NOBODY, type IdMapPlan } from './plan-idmap.js';

/** Inside ids an image may use: 0..65535, what OCI images assume. */
export const IMAGE_IDS = 65536;

/** The id map of image layers and of every run of an image, for the caller `host` describes. */
export function planImageIdMap(host: HostFacts): IdMapPlan {
  const { subuid, subgid } = host;
  if (host.uid === 0 && subuid && subgid) {
    const count = Math.min(subuid.count, subgid.count, IMAGE_IDS);
    return {
      mode: 'subid', method: 'direct', setgroups: 'allow', setupUid: 0, setupGid: 0,
      uidMap: [{ inside: 0, outside: subuid.start, count }],
      gidMap: [{ inside: 0, outside: subgid.start, count }],
    };
  }
  if (host.uid !== 0 && subuid && subgid && host.newuidmap && host.newgidmap) {
    const count = Math.min(subuid.count, subgid.count, IMAGE_IDS - 1);
    return {
      mode: 'subid', method: 'newidmap', setgroups: 'allow', setupUid: 0, setupGid: 0,
      uidMap: [{ inside: 0, outside: host.uid, count: 1 }, { inside: 1, outside: subuid.start, count }],
      gidMap: [{ inside: 0, outside: host.gid, count: 1 }, { inside: 1, outside: subgid.start, count }],
    };
  }
  const who = host.uid === 0 ? 'root' : (host.userName ?? `uid ${host.uid}`);
  const why = !(subuid && subgid) ? `${who} has no range in /etc/subuid and /etc/subgid` : 'newuidmap/newgidmap are not installed';
  // root without a range must not be inside 0 of an image: its files would be host root's
  const [uid, gid] = host.uid === 0 ? [NOBODY, NOBODY] : [host.uid, host.gid];
  return {
    mode: 'single', method: 'direct', setgroups: host.uid === 0 ? 'allow' : 'deny', setupUid: 0, setupGid: 0,
    uidMap: [{ inside: 0, outside: uid, count: 1 }],
    gidMap: [{ inside: 0, outside: gid, count: 1 }],
    note: `${why}: image layers are unpacked without their owners (every file belongs to ${host.uid === 0 ? 'root' : 'the caller'}, setuid/setgid bits are dropped)`,
  };
}

/** The host uid/gid that inside 0 of `map` is (the owner the unpack target must have). */
export function hostRootOf(map: IdMapPlan): { uid: number; gid: number } {
  const u = map.uidMap.find((l) => l.inside === 0);
  const g = map.gidMap.find((l) => l.inside === 0);
  // internal invariant: every planned image id map maps inside 0
  if (!u || !g) throw new Error('image id map without inside 0');
  return { uid: u.outside, gid: g.outside };
}

/** The host id that inside `id` is under `map`, or null when it is not mapped. */
export function hostIdOf(lines: IdMapPlan['uidMap'], id: number): number | null {
  const l = lines.find((x) => id >= x.inside && id < x.inside + x.count);
  return l ? l.outside + (id - l.inside) : null;
}
