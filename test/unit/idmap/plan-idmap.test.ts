// Which ids exist inside the sandbox, for each kind of host.
import { describe, expect, it } from 'vitest';
import { SandboxError } from '../../../src/errors.js';
import { formatIdMap, isMapped, NOBODY, planIdMap, usesSubIds, type UidSlotRange } from '../../../src/idmap/plan-idmap.js';
import { aliceNoRange, aliceNoTools, aliceSubid, caught, refused, rootNoRange, rootSubid } from '../support/fixtures.js';


describe('planIdMap, non-root caller', () => {
  it('with subuid/subgid and newuidmap: 0 is the caller, 1.. the range', () => {
    expect(planIdMap(aliceSubid, { uid: 1000, gid: 1000 })).toStrictEqual({
      mode: 'subid', method: 'newidmap', setgroups: 'allow', setupUid: 0, setupGid: 0,
      uidMap: [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 100000, count: 65536 }],
      gidMap: [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 300000, count: 65536 }],
    });
  });

  it('with a range, the set-up identity is 0:0 whatever the workload', () => {
    const plan = planIdMap(aliceSubid, { uid: 65536, gid: 65536 });
    expect([plan.setupUid, plan.setupGid]).toEqual([0, 0]);
  });

  it('without a range: one id, the workload uid is the caller, setgroups denied', () => {
    expect(planIdMap(aliceNoRange, { uid: 1000, gid: 100 })).toStrictEqual({
      mode: 'single', method: 'direct', setgroups: 'deny', setupUid: 1000, setupGid: 100,
      uidMap: [{ inside: 1000, outside: 1000, count: 1 }],
      gidMap: [{ inside: 100, outside: 1000, count: 1 }],
      note: "alice has no range in /etc/subuid and /etc/subgid: single-id mapping, and the caller's supplementary groups stay attached (setgroups is denied); "
        + 'the workload runs as the caller, as does every other sandbox of the caller that runs at the same time',
    });
  });

  it('without a range and without a user name, the note names the uid', () => {
    const plan = planIdMap({ ...aliceNoRange, userName: null }, { uid: 0, gid: 0 });
    expect(plan.uidMap).toEqual([{ inside: 0, outside: 1000, count: 1 }]);
    expect(plan.note).toMatch(/^uid 1000 has no range in \/etc\/subuid/);
  });

  it('a subuid range without a subgid range counts as no range', () => {
    const plan = planIdMap({ ...aliceSubid, subgid: null }, { uid: 0, gid: 0 });
    expect(plan.mode).toBe('single');
    expect(plan.note).toContain('/etc/subuid');
  });

  it('with a range but no newuidmap/newgidmap: one id, and the note says why', () => {
    const plan = planIdMap(aliceNoTools, { uid: 0, gid: 0 });
    expect(plan).toMatchObject({
      mode: 'single', method: 'direct', setgroups: 'deny', setupUid: 0, setupGid: 0,
      uidMap: [{ inside: 0, outside: 1000, count: 1 }],
      gidMap: [{ inside: 0, outside: 1000, count: 1 }],
    });
    expect(plan.note).toMatch(/^newuidmap\/newgidmap are not installed: single-id mapping/);
    expect(planIdMap({ ...aliceSubid, newgidmap: null }, { uid: 0, gid: 0 }).mode).toBe('single');
  });

  it('refuses a workload uid outside the range, naming it and the mapped range', () => {
    const e = refused(() => planIdMap(aliceSubid, { uid: 65537, gid: 0 }));
    expect(e.code).toBe('usage');
    expect(e.message).toBe('uid 65537 does not exist inside the sandbox (-u): ids 0-65536 are mapped');
    expect(e.hint).toContain('alice');
  });

  it('refuses a workload gid outside the range, naming it', () => {
    const e = refused(() => planIdMap(aliceSubid, { uid: 0, gid: 70000 }));
    expect(e.code).toBe('usage');
    expect(e.message).toMatch(/^gid 70000 does not exist inside the sandbox \(-u\)/);
  });
});

describe('planIdMap, root caller', () => {
  it('with a range: direct, 0 is the first id of the range, never host root', () => {
    expect(planIdMap(rootSubid, { uid: 0, gid: 0 })).toStrictEqual({
      mode: 'subid', method: 'direct', setgroups: 'allow', setupUid: 0, setupGid: 0,
      uidMap: [{ inside: 0, outside: 200000, count: 65536 }],
      gidMap: [{ inside: 0, outside: 400000, count: 65536 }],
    });
  });

  it('with a range, refuses ids past its end', () => {
    expect(planIdMap(rootSubid, { uid: 65535, gid: 65535 }).mode).toBe('subid');
    const e = refused(() => planIdMap(rootSubid, { uid: 65536, gid: 0 }));
    expect(e.message).toBe('uid 65536 does not exist inside the sandbox (-u): ids 0-65535 are mapped');
    expect(e.hint).toContain('root');
  });

  it('without a range: the workload id maps to host nobody', () => {
    expect(NOBODY).toBe(65534);
    expect(planIdMap(rootNoRange, { uid: 1000, gid: 1001 })).toStrictEqual({
      mode: 'single', method: 'direct', setgroups: 'allow', setupUid: 1000, setupGid: 1001,
      uidMap: [{ inside: 1000, outside: 65534, count: 1 }],
      gidMap: [{ inside: 1001, outside: 65534, count: 1 }],
      note: 'root has no range in /etc/subuid and /etc/subgid: the workload runs as host nobody (65534), as does every other sandbox that runs at the same time',
    });
  });
});

describe('planIdMap from a uid slot', () => {
  // slot 3 of 1024 ids: host ids start + 3072 .. start + 4095
  const slot3: UidSlotRange = { index: 3, count: 1, ids: 1024, uidStart: 100000 + 3072, gidStart: 300000 + 3072 };

  it('non-root: 0 is the caller, inside i is slot start + i (start + 0 unused), newuidmap', () => {
    expect(planIdMap(aliceSubid, { uid: 1000, gid: 1000 }, slot3)).toStrictEqual({
      mode: 'subid', method: 'newidmap', setgroups: 'allow', setupUid: 0, setupGid: 0,
      uidMap: [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 103073, count: 1023 }],
      gidMap: [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 303073, count: 1023 }],
      slot: { index: 3, count: 1 },
    });
  });

  it('root: inside i is slot start + i, from 0, written directly', () => {
    const slot = { index: 3, count: 1, ids: 1024, uidStart: 200000 + 3072, gidStart: 400000 + 3072 };
    expect(planIdMap(rootSubid, { uid: 0, gid: 0 }, slot)).toStrictEqual({
      mode: 'subid', method: 'direct', setgroups: 'allow', setupUid: 0, setupGid: 0,
      uidMap: [{ inside: 0, outside: 203072, count: 1024 }],
      gidMap: [{ inside: 0, outside: 403072, count: 1024 }],
      slot: { index: 3, count: 1 },
    });
  });

  it('two slots never share a host id (besides the caller\'s own, inside 0)', () => {
    const hostIds = (p: ReturnType<typeof planIdMap>) => p.uidMap.filter((l) => l.inside > 0).flatMap((l) => [l.outside, l.outside + l.count - 1]);
    const a = hostIds(planIdMap(aliceSubid, { uid: 1000, gid: 1000 }, { ...slot3, index: 0, uidStart: 100000, gidStart: 300000 }));
    const b = hostIds(planIdMap(aliceSubid, { uid: 1000, gid: 1000 }, { ...slot3, index: 1, uidStart: 101024, gidStart: 301024 }));
    expect(a).toEqual([100001, 101023]);
    expect(b).toEqual([101025, 102047]);
  });

  it('adjacent slots give larger ids', () => {
    const slots = { index: 10, count: 5, ids: 5120, uidStart: 100000 + 10240, gidStart: 300000 + 10240 };
    const plan = planIdMap(aliceSubid, { uid: 4242, gid: 4343 }, slots);
    expect(plan.uidMap).toEqual([{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 110241, count: 5119 }]);
    expect(plan.slot).toEqual({ index: 10, count: 5 });
  });

  it('refuses an id past the slot, saying the run holds that slot', () => {
    const e = refused(() => planIdMap(aliceSubid, { uid: 1024, gid: 0 }, slot3));
    expect(e.code).toBe('usage');
    expect(e.message).toBe('uid 1024 does not exist inside the sandbox (-u): ids 0-1023 are mapped');
    expect(e.hint).toContain('slot 3');
  });

  it('a slot outside the caller\'s ranges is a programming error', () => {
    for (const bad of [
      { ...slot3, uidStart: 99999 },
      { ...slot3, uidStart: 100000 + 65536 - 1023 },
      { ...slot3, gidStart: 300000 + 65536 },
      { ...slot3, ids: 1 },
    ]) expect(caught(() => planIdMap(aliceSubid, { uid: 0, gid: 0 }, bad)).code).toBe('internal');
  });

  it('a slot is ignored where no range is mapped (single-id mapping)', () => {
    expect(planIdMap(aliceNoRange, { uid: 1000, gid: 100 }, slot3)).toStrictEqual(planIdMap(aliceNoRange, { uid: 1000, gid: 100 }));
    expect(planIdMap(aliceNoTools, { uid: 0, gid: 0 }, slot3).mode).toBe('single');
    expect(planIdMap(rootNoRange, { uid: 0, gid: 0 }, slot3).mode).toBe('single');
  });

  it('usesSubIds: ranges, and for non-root the setuid helpers', () => {
    expect([aliceSubid, aliceNoRange, aliceNoTools, rootSubid, { ...rootSubid, newuidmap: null }, rootNoRange].map(usesSubIds))
      .toEqual([true, false, false, true, true, false]);
  });
});

describe('isMapped', () => {
  const map = [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 100000, count: 65536 }];
  it('is true inside each line, false past the ends', () => {
    expect(isMapped(map, 0)).toBe(true);
    expect(isMapped(map, 1)).toBe(true);
    expect(isMapped(map, 65536)).toBe(true);
    expect(isMapped(map, 65537)).toBe(false);
    expect(isMapped(map, -1)).toBe(false);
    expect(isMapped([{ inside: 5, outside: 1, count: 1 }], 4)).toBe(false);
    expect(isMapped([{ inside: 5, outside: 1, count: 1 }], 6)).toBe(false);
    expect(isMapped([], 0)).toBe(false);
  });
});

describe('formatIdMap', () => {
  it('writes one "inside outside count" line per entry', () => {
    expect(formatIdMap([{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 100000, count: 65536 }]))
      .toBe('0 1000 1\n1 100000 65536\n');
    expect(formatIdMap([])).toBe('');
  });
});
