// The id map of image layers (and of every run of an image), for each kind of caller.
import { describe, expect, it } from 'vitest';
import { hostIdOf, hostRootOf, planImageIdMap } from '../../../src/idmap/image-idmap.js';
import { aliceNoRange, aliceNoTools, aliceSubid, rootNoRange, rootSubid } from '../support/fixtures.js';

describe('planImageIdMap', () => {
  it('non-root with a range: 0 is the caller, 1..65535 the range (65536 ids in all)', () => {
    const m = planImageIdMap(aliceSubid);
    expect(m).toMatchObject({ mode: 'subid', method: 'newidmap', setgroups: 'allow', setupUid: 0, setupGid: 0 });
    expect(m.uidMap).toEqual([{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 100000, count: 65535 }]);
    expect(m.gidMap).toEqual([{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 300000, count: 65535 }]);
    expect(hostIdOf(m.uidMap, 33)).toBe(100032);
    expect(hostIdOf(m.uidMap, 65536)).toBeNull();
  });

  it('a smaller range maps only what it has', () => {
    const m = planImageIdMap({ ...aliceSubid, subuid: { start: 100000, count: 1000 }, subgid: { start: 300000, count: 2000 } });
    expect(m.uidMap[1]).toEqual({ inside: 1, outside: 100000, count: 1000 });
    expect(m.gidMap[1]).toEqual({ inside: 1, outside: 300000, count: 1000 });
  });

  it("root with a range: 0..65535 is root's range, never host root", () => {
    const m = planImageIdMap(rootSubid);
    expect(m).toMatchObject({ mode: 'subid', method: 'direct' });
    expect(m.uidMap).toEqual([{ inside: 0, outside: 200000, count: 65536 }]);
    expect(m.gidMap).toEqual([{ inside: 0, outside: 400000, count: 65536 }]);
    expect(hostRootOf(m)).toEqual({ uid: 200000, gid: 400000 });
  });

  it('no range, or no newuidmap: one id, ownership not kept, and it says why', () => {
    for (const [host, why] of [[aliceNoRange, /alice has no range/], [aliceNoTools, /newuidmap\/newgidmap are not installed/]] as const) {
      const m = planImageIdMap(host);
      expect(m).toMatchObject({ mode: 'single', method: 'direct', setgroups: 'deny' });
      expect(m.uidMap).toEqual([{ inside: 0, outside: 1000, count: 1 }]);
      expect(m.note).toMatch(why);
      expect(m.note).toMatch(/without their owners/);
    }
  });

  it('root without a range is nobody inside, not host root', () => {
    const m = planImageIdMap(rootNoRange);
    expect(m.mode).toBe('single');
    expect(m.uidMap).toEqual([{ inside: 0, outside: 65534, count: 1 }]);
  });
});
