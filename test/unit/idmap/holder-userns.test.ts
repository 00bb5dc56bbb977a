// The held user namespace: which callers can nest, and a run's map written
// from inside it names the same host ids.
import { describe, expect, it } from 'vitest';
import { holderMaps, nestedIdMap, type HolderUserns } from '../../../src/idmap/holder-userns.js';
import { planUserns } from '../../../src/launch/plan-run.js';
import { Op } from '../../../src/stage/protocol.js';
import { aliceNoRange, aliceSubid, rootSubid, TOOLS } from '../support/fixtures.js';
import { planIdMap } from '../../../src/idmap/plan-idmap.js';

const holder: HolderUserns = {
  path: '/proc/4242/fd/21', uid: aliceSubid.uid, gid: aliceSubid.gid,
  subuidStart: aliceSubid.subuid!.start, subgidStart: aliceSubid.subgid!.start,
  count: Math.min(aliceSubid.subuid!.count, aliceSubid.subgid!.count),
};
const slot = { index: 3, count: 1, ids: 1024, uidStart: aliceSubid.subuid!.start + 3 * 1024, gidStart: aliceSubid.subgid!.start + 3 * 1024 };

describe('holder user namespace', () => {
  it('only a caller with a range and the helpers nests: root and a caller without a range do not', () => {
    expect(holderMaps(aliceSubid)).toEqual({
      uidMap: [{ inside: 0, outside: aliceSubid.uid, count: 1 }, { inside: 1, outside: aliceSubid.subuid!.start, count: 65536 }],
      gidMap: [{ inside: 0, outside: aliceSubid.gid, count: 1 }, { inside: 1, outside: aliceSubid.subgid!.start, count: 65536 }],
    });
    expect(holderMaps(rootSubid)).toBeNull();
    expect(holderMaps(aliceNoRange)).toBeNull();
    expect(holderMaps({ ...aliceSubid, newuidmap: null })).toBeNull();
  });

  it('translates a slot map into the holder: the caller is its 0, the range its 1..N; written directly', () => {
    const run = planIdMap(aliceSubid, { uid: 1000, gid: 1000 }, slot);
    const nested = nestedIdMap(run, holder);
    expect(nested.method).toBe('direct');
    expect(nested.uidMap).toEqual([{ inside: 0, outside: 0, count: 1 }, { inside: 1, outside: 3 * 1024 + 1 + 1, count: 1023 }]);
    // the same host ids: holder id h is host subuid.start + h - 1
    for (const [l, n] of run.uidMap.map((l, i) => [l, nested.uidMap[i]!] as const)) {
      if (l.outside === aliceSubid.uid) continue;
      expect(aliceSubid.subuid!.start + n.outside - 1).toBe(l.outside);
    }
    expect(() => nestedIdMap({ ...run, uidMap: [{ inside: 0, outside: 5, count: 1 }] }, holder)).toThrow(/outside the held user namespace/);
  });

  it('a nested run joins the holder first, then writes its maps itself (no MAP_EXEC)', () => {
    const run = planIdMap(aliceSubid, { uid: 1000, gid: 1000 }, slot);
    const plan = planUserns(run, TOOLS, holder);
    expect(plan.map((o) => o.code)).toEqual([Op.JOIN_USERNS, Op.USERNS, Op.MAP_WRITE, Op.MAP_WRITE, Op.SETUP_IDS]);
    expect(plan[0]!.strs).toEqual([holder.path]);
    expect(planUserns(run, TOOLS).map((o) => o.code)).toEqual([Op.USERNS, Op.MAP_EXEC, Op.MAP_EXEC, Op.SETUP_IDS]);
  });
});
