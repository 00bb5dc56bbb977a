// The pure parts of uid slots: how a range divides, which slots a run needs
// and tries, where the locks live, and what a lock file says.
import { describe, expect, it } from 'vitest';
import {
  acquireUidSlot, acquireUidSlotSync, candidateStarts, chooseSlotDir, formatOwnerRecord, ownerState, parseOwnerRecord,
  privateDirProblem, procStartTime, retryDelayMs, sameFile, SLOT_SIZE, slotGeometry, slotRange, slotsNeeded, type DirFacts,
} from '../../../src/idmap/uid-slots.js';
import { SandboxError } from '../../../src/errors.js';
import { planIdMap } from '../../../src/idmap/plan-idmap.js';
import { aliceNoRange, aliceNoTools, aliceSubid, rootNoRange, rootSubid } from '../support/fixtures.js';

describe('slotGeometry', () => {
  it('cuts a 65536-id range into 64 slots of 1024', () => {
    expect(SLOT_SIZE).toBe(1024);
    expect(slotGeometry(aliceSubid)).toEqual({ size: 1024, slots: 64, uidStart: 100000, gidStart: 300000 });
    expect(slotGeometry(rootSubid)).toEqual({ size: 1024, slots: 64, uidStart: 200000, gidStart: 400000 });
  });

  it('counts whole slots of the smaller of the two ranges', () => {
    const host = { ...aliceSubid, subuid: { start: 100000, count: 10_000 }, subgid: { start: 300000, count: 5000 } };
    expect(slotGeometry(host)).toMatchObject({ size: 1024, slots: 4 });
    expect(slotGeometry({ ...aliceSubid, subuid: { start: 1, count: 1_000_000 }, subgid: { start: 1, count: 1_000_000 } })!.slots).toBe(976);
  });

  it('a range smaller than a slot is one slot of its size', () => {
    const host = { ...aliceSubid, subuid: { start: 100000, count: 500 }, subgid: { start: 300000, count: 600 } };
    expect(slotGeometry(host)).toEqual({ size: 500, slots: 1, uidStart: 100000, gidStart: 300000 });
    expect(slotGeometry({ ...host, subuid: { start: 100000, count: 1 } })).toBeNull();
  });

  it('no slots without a mapped range (single-id mapping)', () => {
    for (const host of [aliceNoRange, aliceNoTools, rootNoRange, { ...aliceSubid, subgid: null }]) expect(slotGeometry(host)).toBeNull();
    expect(slotGeometry({ ...rootSubid, newuidmap: null, newgidmap: null })).not.toBeNull(); // root writes its maps itself
  });
});

describe('slotsNeeded and slotRange', () => {
  it('one slot holds ids 0-1023; larger ids need adjacent slots', () => {
    expect([0, 1000, 1023, 1024, 4242, 65535].map((id) => slotsNeeded({ uid: id, gid: 0 }, 1024))).toEqual([1, 1, 1, 2, 5, 64]);
    expect(slotsNeeded({ uid: 0, gid: 2048 }, 1024)).toBe(3);
  });

  it('slot n starts n × size into each range', () => {
    const g = slotGeometry(aliceSubid)!;
    expect(slotRange(g, 0)).toEqual({ index: 0, count: 1, ids: 1024, uidStart: 100000, gidStart: 300000 });
    expect(slotRange(g, 63)).toEqual({ index: 63, count: 1, ids: 1024, uidStart: 100000 + 63 * 1024, gidStart: 300000 + 63 * 1024 });
    expect(slotRange(g, 10, 5)).toEqual({ index: 10, count: 5, ids: 5120, uidStart: 110240, gidStart: 310240 });
    expect(() => slotRange(g, 64)).toThrow(RangeError);
    expect(() => slotRange(g, 60, 5)).toThrow(RangeError);
    expect(() => slotRange(g, -1)).toThrow(RangeError);
  });
});

describe('candidateStarts', () => {
  it('tries every slot once, from the first on, wrapping', () => {
    expect(candidateStarts(5, 1, 3)).toEqual([3, 4, 0, 1, 2]);
    expect(candidateStarts(5, 1, 0)).toEqual([0, 1, 2, 3, 4]);
    expect(candidateStarts(5, 1, 12)).toEqual([2, 3, 4, 0, 1]);
    expect(candidateStarts(5, 1, -1)).toEqual([4, 0, 1, 2, 3]);
  });

  it('for adjacent slots, every start where they fit', () => {
    expect(candidateStarts(5, 3, 1)).toEqual([1, 2, 0]);
    expect(candidateStarts(5, 5, 4)).toEqual([0]);
    expect(candidateStarts(5, 6, 0)).toEqual([]);
  });
});

describe('retryDelayMs', () => {
  it('starts at 10 ms, grows by half each round, stops at 250 ms, ±25 %', () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3, 10, 100].map((n) => retryDelayMs(n, mid))).toEqual([10, 15, 23, 34, 250, 250]);
    expect(retryDelayMs(0, () => 0)).toBe(8);
    expect(retryDelayMs(100, () => 0.999999)).toBe(312);
  });
});

describe('privateDirProblem', () => {
  const dir = (over: Partial<DirFacts> = {}): DirFacts => ({ isDirectory: true, isSymbolicLink: false, uid: 1000, mode: 0o40700, ...over });
  it('accepts a directory of the caller that only it can write', () => {
    expect(privateDirProblem('/d', dir(), 1000)).toBeNull();
    expect(privateDirProblem('/d', dir({ mode: 0o40755 }), 1000)).toBeNull();
  });
  it('refuses anything else, saying why', () => {
    expect(privateDirProblem('/d', null, 1000)).toBe('/d does not exist');
    expect(privateDirProblem('/d', dir({ isSymbolicLink: true, isDirectory: false }), 1000)).toBe('/d is a symbolic link');
    expect(privateDirProblem('/d', dir({ isDirectory: false }), 1000)).toBe('/d is not a directory');
    expect(privateDirProblem('/d', dir({ uid: 0 }), 1000)).toBe('/d belongs to uid 0, not 1000');
    expect(privateDirProblem('/d', dir({ mode: 0o41777 }), 1000)).toBe('/d is writable by others (mode 1777)');
    expect(privateDirProblem('/d', dir({ mode: 0o40770 }), 1000)).toBe('/d is writable by others (mode 0770)');
  });
});

describe('chooseSlotDir', () => {
  const mine: DirFacts = { isDirectory: true, isSymbolicLink: false, uid: 1000, mode: 0o40700 };
  const stats = (known: Record<string, DirFacts>) => (p: string) => known[p] ?? null;

  it('$XDG_RUNTIME_DIR/rootless-sandbox/slots when it is the caller\'s private directory', () => {
    expect(chooseSlotDir({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000, stats({ '/run/user/1000': mine }))).toEqual({
      dir: '/run/user/1000/rootless-sandbox/slots',
      create: ['/run/user/1000/rootless-sandbox', '/run/user/1000/rootless-sandbox/slots'],
      source: 'XDG_RUNTIME_DIR',
    });
  });

  it('unset, /run/user/UID if it exists, so that cron and su runs agree with the session', () => {
    expect(chooseSlotDir({}, 1000, stats({ '/run/user/1000': mine })).dir).toBe('/run/user/1000/rootless-sandbox/slots');
  });

  it('else /tmp/rootless-sandbox-UID/slots', () => {
    expect(chooseSlotDir({}, 1000, stats({}))).toEqual({
      dir: '/tmp/rootless-sandbox-1000/slots',
      create: ['/tmp/rootless-sandbox-1000', '/tmp/rootless-sandbox-1000/slots'],
      source: '/tmp',
    });
  });

  it('passes over a runtime directory that is relative, missing, another user\'s or shared', () => {
    expect(chooseSlotDir({ XDG_RUNTIME_DIR: 'run' }, 1000, stats({ run: mine })).source).toBe('/tmp');
    expect(chooseSlotDir({ XDG_RUNTIME_DIR: '/run/user/1000' }, 0, stats({ '/run/user/1000': mine })).dir).toBe('/tmp/rootless-sandbox-0/slots');
    expect(chooseSlotDir({ XDG_RUNTIME_DIR: '/x' }, 1000, stats({ '/x': { ...mine, mode: 0o41777 }, '/run/user/1000': mine })).source).toBe('/run/user');
  });
});

describe('lock file records', () => {
  it('pid and start time, fixed width, round trip', () => {
    const text = formatOwnerRecord({ pid: 4242, startTime: 123456789 });
    expect(text).toBe('      4242            123456789\n');
    expect(formatOwnerRecord({ pid: 4194304, startTime: 2 ** 53 - 1 })).toHaveLength(text.length);
    expect(parseOwnerRecord(text)).toEqual({ pid: 4242, startTime: 123456789 });
    expect(parseOwnerRecord('7 9')).toEqual({ pid: 7, startTime: 9 });
  });

  it('anything else is no record', () => {
    for (const bad of ['', '\n', '12\n', 'x 1\n', '0 5\n', '1 2 3\n', '-1 2\n']) expect(parseOwnerRecord(bad)).toBeNull();
  });

  it('procStartTime reads field 22, whatever the command name holds', () => {
    const rest = (start: number) => `S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 ${start} 20 21 22`;
    expect(procStartTime(`4242 (node) ${rest(987654)}`)).toBe(987654);
    expect(procStartTime(`4242 (a b) (c) ${rest(55)}`)).toBe(55);
    expect(procStartTime('garbage')).toBeNull();
    expect(procStartTime('1 (x) S 1')).toBeNull();
  });

  it('ownerState: running only when the pid exists with the same start time (pid reuse is "gone")', () => {
    const rec = { pid: 4242, startTime: 987654 };
    const stat = (start: number) => `4242 (node) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 ${start} 20`;
    expect(ownerState(rec, stat(987654))).toBe('running');
    expect(ownerState(rec, stat(987655))).toBe('gone');
    expect(ownerState(rec, null)).toBe('gone');
  });

  it('sameFile compares device and inode', () => {
    expect(sameFile({ dev: 1n, ino: 2n }, { dev: 1n, ino: 2n })).toBe(true);
    expect(sameFile({ dev: 1n, ino: 2n }, { dev: 1n, ino: 3n })).toBe(false);
    expect(sameFile({ dev: 1n, ino: 2n }, { dev: 4n, ino: 2n })).toBe(false);
    expect(sameFile({ dev: 1n, ino: 2n }, null)).toBe(false);
  });
});

describe('acquiring without a range (nothing on disk)', () => {
  it('no slot and the single-id plan, whose note says the id is shared', async () => {
    expect(await acquireUidSlot(aliceNoRange)).toBeNull();
    expect(acquireUidSlotSync(rootNoRange)).toBeNull();
    const workload = { uid: 1000, gid: 1000 };
    const slot = await acquireUidSlot(aliceNoTools, { workload });
    expect(slot).toBeNull();
    const plan = planIdMap(aliceNoTools, workload, slot);
    expect(plan.mode).toBe('single');
    expect(plan.note).toMatch(/every other sandbox of the caller that runs at the same time/);
  });

  it('an id no slots can hold is a usage error before any lock is taken', async () => {
    const e = await acquireUidSlot(aliceSubid, { workload: { uid: 70000, gid: 0 }, dir: '/nonexistent/never-created' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SandboxError);
    expect((e as SandboxError).code).toBe('usage');
    expect((e as SandboxError).message).toBe('uid 70000 does not exist inside the sandbox (-u): ids 0-65535 can be mapped');
    expect((e as SandboxError).hint).toContain('alice');
    const g = await acquireUidSlot(rootSubid, { workload: { uid: 0, gid: 65536 }, dir: '/nonexistent/never-created' }).catch((x: unknown) => x);
    expect((g as SandboxError).message).toMatch(/^gid 65536 does not exist inside the sandbox/);
  });

  it('an aborted signal rejects at once', async () => {
    await expect(acquireUidSlot(aliceSubid, { signal: AbortSignal.abort(new Error('stop')) })).rejects.toThrow('stop');
  });
});
