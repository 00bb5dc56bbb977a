// Each prune sweep alone, on a temporary store layout with hand-made entries:
// what it removes, what it keeps (referenced, young, locked), and what it
// reports. Layer trees are removed by a fake remover (rm), not the stage.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sweepFailedUnpacks } from '../../../../src/image/store/prune/failed-unpacks.js';
import { sweepLayerLeftovers } from '../../../../src/image/store/prune/layer-leftovers.js';
import { sweepOrphanNames } from '../../../../src/image/store/prune/orphan-names.js';
import { collectReferences } from '../../../../src/image/store/prune/references.js';
import { sweepStaleWrites } from '../../../../src/image/store/prune/stale-writes.js';
import { sweepUnreferencedBlobs } from '../../../../src/image/store/prune/unreferenced-blobs.js';
import { sweepUnreferencedLayers } from '../../../../src/image/store/prune/unreferenced-layers.js';
import { escapeName, storePaths, type StorePaths } from '../../../../src/image/store/store-paths.js';
import { tryLock } from '../../../../src/image/store/store-lock.js';

const DAY = 24 * 3600 * 1000;
const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function tempPaths(): StorePaths {
  const root = mkdtempSync(join(tmpdir(), 'prune-sweeps-'));
  roots.push(root);
  const paths = storePaths(join(root, 'store'));
  for (const d of [paths.blobsShaDir, paths.layersShaDir, paths.imagesDir, paths.namesDir]) mkdirSync(d, { recursive: true });
  return paths;
}

const hex = (c: string) => c.repeat(64);
const digest = (c: string) => `sha256:${hex(c)}`;
const removed: string[] = [];
const fakeRemove = async (dir: string) => {
  removed.push(dir);
  rmSync(dir, { recursive: true, force: true });
};
/** A clock at which everything made now is past any grace period and abandoned. */
const later = { now: Date.now() + 2 * DAY, graceMs: 3600_000 };
const rightNow = () => ({ now: Date.now(), graceMs: 3600_000 });

function writeRecord(paths: StorePaths, manifest: string, config: string, layers: [string, string][]) {
  writeFileSync(paths.image(manifest), JSON.stringify({
    schemaVersion: 1, manifestDigest: manifest, configDigest: config, config: {},
    layers: layers.map(([d, diffId]) => ({ digest: d, diffId, size: 1, mediaType: 'x' })),
    created: '2026-01-01T00:00:00Z', platform: 'linux/amd64',
  }));
}

describe('collectReferences', () => {
  it('collects records, the blobs and the layers they reference', async () => {
    const paths = tempPaths();
    writeRecord(paths, digest('a'), digest('b'), [[digest('c'), digest('d')]]);
    writeFileSync(join(paths.imagesDir, 'not-a-record'), '');
    const refs = await collectReferences(paths);
    expect([...refs.records]).toEqual([digest('a')]);
    expect([...refs.blobs].sort()).toEqual([hex('a'), hex('b'), hex('c')]);
    expect([...refs.layers]).toEqual([hex('d')]);
  });

  it('throws on a damaged record, so nothing it may reference is pruned', async () => {
    const paths = tempPaths();
    writeFileSync(paths.image(digest('a')), '{not json');
    await expect(collectReferences(paths)).rejects.toThrow(/not valid JSON/);
  });
});

describe('sweepOrphanNames', () => {
  it('removes names whose record is gone and keeps the others', async () => {
    const paths = tempPaths();
    writeFileSync(paths.name('alpine:3'), `${digest('a')}\n`);
    writeFileSync(paths.name('gone:1'), `${digest('e')}\n`);
    expect(await sweepOrphanNames(paths, new Set([digest('a')]))).toEqual(['gone:1']);
    expect(readdirSync(paths.namesDir)).toEqual([escapeName('alpine:3')]);
  });
});

describe('sweepStaleWrites', () => {
  it('removes half-written records and names only once they are a day old', async () => {
    const paths = tempPaths();
    const tmpRecord = join(paths.imagesDir, '.tmp-123-x.json');
    const tmpName = join(paths.namesDir, '.tmp-456-alpine');
    const record = paths.image(digest('a'));
    for (const f of [tmpRecord, tmpName, record]) writeFileSync(f, '{}');
    await sweepStaleWrites(paths, rightNow());
    expect([tmpRecord, tmpName, record].map(existsSync)).toEqual([true, true, true]);
    await sweepStaleWrites(paths, later);
    expect([tmpRecord, tmpName, record].map(existsSync)).toEqual([false, false, true]);
  });
});

describe('sweepUnreferencedBlobs', () => {
  it('removes unreferenced blobs past the grace period and abandoned downloads, and counts their bytes', async () => {
    const paths = tempPaths();
    writeFileSync(paths.blob(digest('a')), 'kept');
    writeFileSync(paths.blob(digest('b')), 'unreferenced');
    writeFileSync(join(paths.blobsShaDir, '.tmp-1-bbbb'), 'partial');
    writeFileSync(join(paths.blobsShaDir, 'stray'), 'not ours');
    const keep = new Set([hex('a')]);
    expect(await sweepUnreferencedBlobs(paths, keep, rightNow())).toEqual({ removed: [], freedBytes: 0 });
    expect(await sweepUnreferencedBlobs(paths, keep, { now: Date.now(), graceMs: 0 })).toEqual({ removed: [digest('b')], freedBytes: 12 });
    expect(existsSync(join(paths.blobsShaDir, '.tmp-1-bbbb'))).toBe(true);
    expect(await sweepUnreferencedBlobs(paths, keep, later)).toEqual({ removed: [], freedBytes: 7 });
    expect(readdirSync(paths.blobsShaDir).sort()).toEqual([hex('a'), 'stray']);
  });
});

describe('sweepFailedUnpacks', () => {
  it('removes unpack directories whose layer lock is free, with their sidecars and lock files', async () => {
    const paths = tempPaths();
    const dead = join(paths.layersDir, `tmp-${hex('a')}-x1`);
    const live = join(paths.layersDir, `tmp-${hex('b')}-y2`);
    mkdirSync(join(dead, 'etc'), { recursive: true });
    mkdirSync(live);
    writeFileSync(`${dead}.whiteouts.json`, '[]');
    const held = tryLock(paths.layerLock(digest('b')))!;
    removed.length = 0;
    try {
      await sweepFailedUnpacks(paths, fakeRemove);
    } finally {
      held.release();
    }
    expect(removed).toEqual([dead]);
    expect(existsSync(dead) || existsSync(`${dead}.whiteouts.json`) || existsSync(paths.layerLock(digest('a')))).toBe(false);
    expect(existsSync(live)).toBe(true);
  });

  it('keeps the lock file of a layer that is there', async () => {
    const paths = tempPaths();
    mkdirSync(join(paths.layersDir, `tmp-${hex('a')}-x1`));
    mkdirSync(paths.layer(digest('a')));
    await sweepFailedUnpacks(paths, fakeRemove);
    expect(existsSync(paths.layerLock(digest('a')))).toBe(true);
  });
});

describe('sweepUnreferencedLayers', () => {
  it('removes unreferenced layers past the grace period, reports locked ones busy and keeps referenced ones', async () => {
    const paths = tempPaths();
    for (const c of ['a', 'b', 'c']) mkdirSync(join(paths.layer(digest(c)), 'usr'), { recursive: true });
    writeFileSync(paths.layerWhiteouts(digest('b')), '[]');
    const young = await sweepUnreferencedLayers(paths, new Set([hex('a')]), rightNow(), fakeRemove);
    expect(young).toEqual({ removed: [], busy: [] });
    const held = tryLock(paths.layerLock(digest('c')))!;
    removed.length = 0;
    let sweep;
    try {
      sweep = await sweepUnreferencedLayers(paths, new Set([hex('a')]), { now: Date.now(), graceMs: 0 }, fakeRemove);
    } finally {
      held.release();
    }
    expect(sweep).toEqual({ removed: [digest('b')], busy: [digest('c')] });
    // renamed out of sight before it was removed
    expect(removed).toHaveLength(1);
    expect(removed[0]).toMatch(new RegExp(`/layers/tmp-${hex('b')}-del[0-9a-f]+$`));
    expect(existsSync(paths.layer(digest('a')))).toBe(true);
    expect(existsSync(paths.layer(digest('c')))).toBe(true);
    expect([paths.layer(digest('b')), paths.layerWhiteouts(digest('b')), paths.layerLock(digest('b'))].some(existsSync)).toBe(false);
  });
});

describe('sweepLayerLeftovers', () => {
  it('removes sidecars and lock files of absent, unreferenced layers unless locked', async () => {
    const paths = tempPaths();
    writeFileSync(paths.layerWhiteouts(digest('a')), '[]'); // absent layer: goes
    writeFileSync(paths.layerLock(digest('a')), '');
    mkdirSync(paths.layer(digest('b'))); // present layer: stays
    writeFileSync(paths.layerWhiteouts(digest('b')), '[]');
    writeFileSync(paths.layerWhiteouts(digest('c')), '[]'); // referenced: stays
    writeFileSync(paths.layerLock(digest('d')), ''); // locked by another open file: stays
    const held = tryLock(paths.layerLock(digest('d')))!;
    try {
      await sweepLayerLeftovers(paths, new Set([hex('c')]));
    } finally {
      held.release();
    }
    expect(readdirSync(paths.layersShaDir).sort()).toEqual(
      [hex('b'), `${hex('b')}.whiteouts.json`, `${hex('c')}.whiteouts.json`, `${hex('d')}.lock`]);
  });
});
