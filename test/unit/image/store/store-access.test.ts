// Who may walk the store's directories: the caller alone (0700), or the
// group of root inside the runs on the way to the layers and runs (0710);
// old modes are fixed, other users' directories left alone, and a store
// root inside cannot walk to is refused with a hint.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkWalkable, secureStoreDir, storeAccess } from '../../../../src/image/store/store-access.js';
import type { IdMapPlan } from '../../../../src/idmap/plan-idmap.js';
import { refused } from '../../support/fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'store-access-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;
const me = process.getuid?.() ?? 0;

const map = (uid: number, gid: number, setup = 0): IdMapPlan => ({
  mode: 'subid', method: 'direct', setgroups: 'allow', setupUid: setup, setupGid: setup,
  uidMap: [{ inside: setup, outside: uid, count: 1 }], gidMap: [{ inside: setup, outside: gid, count: 1 }],
});
const mode = (p: string) => statSync(p).mode & 0o7777;

describe('storeAccess', () => {
  it('root inside is walked for when it is another id than the caller, by its set-up identity', () => {
    expect(storeAccess(map(1_000_000, 1_000_000), 0)).toEqual({ uid: 0, walker: { uid: 1_000_000, gid: 1_000_000 } });
    expect(storeAccess(map(1001, 1001), 1001)).toEqual({ uid: 1001, walker: null });
    // a run without a range maps only its user (here 1000) to the caller
    expect(storeAccess(map(1001, 1001, 1000), 1001)).toEqual({ uid: 1001, walker: null });
  });
});

describe('secureStoreDir', () => {
  const priv = { uid: me, walker: null };

  it('makes 0700 directories, and closes existing ones made 0755 or 0711', () => {
    const d = join(work, 'a');
    secureStoreDir(d, 'walk', priv);
    expect(mode(d)).toBe(0o700);
    chmodSync(d, 0o755);
    secureStoreDir(d, 'private', priv);
    expect(mode(d)).toBe(0o700);
  });

  it('leaves a missing directory missing with create: false, and refuses a file where a directory belongs', () => {
    secureStoreDir(join(work, 'missing'), 'walk', priv, { create: false });
    expect(() => statSync(join(work, 'missing'))).toThrow();
    writeFileSync(join(work, 'file'), '');
    expect(refused(() => secureStoreDir(join(work, 'file'), 'private', priv), 'host').message).toBe(`the image store directory ${join(work, 'file')} is not a directory`);
  });

  it.skipIf(!isRoot)('gives the walk directories group search for root inside (0710), keeps private ones 0700, makes missing parents 0711', () => {
    const access = { uid: 0, walker: { uid: 1_000_000, gid: 1_000_000 } };
    const root = join(work, 'p', 'q', 'store');
    secureStoreDir(root, 'walk', access, { isRoot: true });
    expect([statSync(root).gid, mode(root)]).toEqual([1_000_000, 0o710]);
    expect(mode(join(work, 'p'))).toBe(0o711);
    secureStoreDir(join(root, 'names'), 'private', access);
    expect([statSync(join(root, 'names')).gid, mode(join(root, 'names'))]).toEqual([0, 0o700]);
  });

  it.skipIf(!isRoot)('leaves another user\'s directory as it is', () => {
    const d = join(work, 'theirs');
    mkdirSync(d, 0o755);
    chownSync(d, 65534, 65534);
    secureStoreDir(d, 'private', { uid: 0, walker: null });
    expect(mode(d)).toBe(0o755);
  });
});

describe.skipIf(!isRoot)('checkWalkable', () => {
  const access = { uid: 0, walker: { uid: 1_000_000, gid: 1_000_000 } };

  it('refuses a store below a directory root inside cannot search, naming it', () => {
    const closed = join(work, 'closed');
    mkdirSync(join(closed, 'store'), { recursive: true });
    chmodSync(work, 0o755);
    chmodSync(closed, 0o700);
    const e = refused(() => checkWalkable(join(closed, 'store'), access), 'host');
    expect(e.message).toBe(`the image store ${join(closed, 'store')} is below ${closed} (mode 0700), which root inside the sandbox (host uid 1000000) cannot search`);
    expect(e.hint).toContain(`chmod o+x ${closed}`);
    chmodSync(closed, 0o711);
    checkWalkable(join(closed, 'store'), access);
    expect(() => checkWalkable(join(closed, 'store'), { uid: 0, walker: null })).not.toThrow();
  });
});
