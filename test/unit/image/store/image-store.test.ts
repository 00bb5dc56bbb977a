// The image store with a temporary root: where the root is, blobs verified
// before they get their name, layers unpacked once (concurrent callers in
// one process; cross-process locking is in test/integration/image-store.test.ts),
// names and records, listing, removal and prune keeping shared layers.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { SandboxError } from '../../../../src/errors.js';
import { diffIdOf } from '../../../../src/image/store/diff-id.js';
import { openStore, type ImageStore, type ImageRecord } from '../../../../src/image/store/image-store.js';
import { escapeName, storeRoot, unescapeName } from '../../../../src/image/store/store-paths.js';
import { unpackLayer } from '../../../../src/image/unpack/unpack-layer.js';
import { removeTree } from '../../../../src/image/unpack/remove-tree.js';
import { gzip, HAVE_ZSTD, tarOf, zstd } from '../unpack/layer-archive.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) removeTree(r);
});

async function tempStore(): Promise<ImageStore> {
  const root = mkdtempSync(join(tmpdir(), 'image-store-'));
  roots.push(root);
  return openStore(join(root, 'store'));
}

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface TestLayer {
  blob: Buffer;
  digest: string;
  diffId: string;
}

async function makeLayer(files: Record<string, string>): Promise<TestLayer> {
  const tar = await tarOf(Object.entries(files).map(([name, body]) => ({ name, body, mode: 0o644 })));
  const blob = gzip(tar);
  return { blob, digest: sha(blob), diffId: sha(tar) };
}

/** Stores the layers' blobs and a config, unpacks the layers and records the image under `names`. */
async function putTestImage(store: ImageStore, layers: TestLayer[], names: string[], tag: string) {
  for (const l of layers) {
    await store.putBlob(Readable.from([l.blob]), l.digest);
    await store.ensureLayer(l.digest, l.diffId, async (dir, ctx) => unpackLayer(Readable.from([readFileSync(ctx.blobPath)]), dir));
  }
  const config = { architecture: 'amd64', os: 'linux', tag, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } };
  const configJson = Buffer.from(JSON.stringify(config));
  await store.putBlob(Readable.from([configJson]), sha(configJson));
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, config: sha(configJson), layers: layers.map((l) => l.digest) }));
  await store.putBlob(Readable.from([manifest]), sha(manifest));
  const record: ImageRecord = {
    manifestDigest: sha(manifest),
    configDigest: sha(configJson),
    config,
    layers: layers.map((l) => ({ digest: l.digest, diffId: l.diffId, size: l.blob.length, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' })),
  };
  return store.putImage(record, names);
}

function caught(fn: () => unknown): SandboxError {
  try {
    fn();
  } catch (e) {
    return e as SandboxError;
  }
  throw new Error('did not throw');
}

describe('store root', () => {
  it('is the option, then $SANDBOX_STORE, then $XDG_DATA_HOME, then ~/.local/share', () => {
    const env = { SANDBOX_STORE: '/s', XDG_DATA_HOME: '/x', HOME: '/h' };
    expect(storeRoot('/opt', env, 1000)).toBe('/opt');
    expect(storeRoot(undefined, env, 1000)).toBe('/s');
    expect(storeRoot(undefined, { XDG_DATA_HOME: '/x', HOME: '/h' }, 1000)).toBe('/x/rootless-sandbox/store');
    expect(storeRoot(undefined, { XDG_DATA_HOME: 'relative', HOME: '/h' }, 1000)).toBe('/h/.local/share/rootless-sandbox/store');
    expect(storeRoot(undefined, { HOME: '/h' }, 1000)).toBe('/h/.local/share/rootless-sandbox/store');
  });

  it('for root, is /var/lib/rootless-sandbox/store unless the option or $SANDBOX_STORE says otherwise (root\'s home is 0700)', () => {
    expect(storeRoot(undefined, { XDG_DATA_HOME: '/x', HOME: '/root' }, 0)).toBe('/var/lib/rootless-sandbox/store');
    expect(storeRoot(undefined, { SANDBOX_STORE: '/s' }, 0)).toBe('/s');
    expect(storeRoot('/opt', {}, 0)).toBe('/opt');
  });

  it('escapes names into single file names, reversibly', () => {
    for (const n of ['docker.io/library/alpine:3.19', '..', '.hidden', 'a b/ü@sha256:x', 'registry:5000/x/y']) {
      const e = escapeName(n);
      expect(e).not.toMatch(/[/]/);
      expect(e.startsWith('.')).toBe(false);
      expect(unescapeName(e)).toBe(n);
    }
    expect(caught(() => escapeName('x'.repeat(300))).code).toBe('config');
  });
});

describe('blobs', () => {
  it('stores a stream or a file under its digest after verifying it', async () => {
    const store = await tempStore();
    const data = Buffer.from('hello blob');
    const path = await store.putBlob(Readable.from([data]), sha(data));
    expect(path).toBe(join(store.root, 'blobs', 'sha256', sha(data).slice(7)));
    expect(readFileSync(path, 'utf8')).toBe('hello blob');
    expect(await store.hasBlob(sha(data))).toBe(true);

    const file = join(store.root, '..', 'src-file');
    writeFileSync(file, 'from a file');
    const p2 = await store.putBlob(file, sha('from a file'));
    expect(readFileSync(p2, 'utf8')).toBe('from a file');
    // a second put of a blob that is there is a no-op
    expect(await store.putBlob(file, sha('from a file'))).toBe(p2);
  });

  it('refuses a wrong digest and leaves nothing behind', async () => {
    const store = await tempStore();
    const claimed = sha('something else');
    const err = await store.putBlob(Readable.from([Buffer.from('actual bytes')]), claimed).catch((e) => e);
    expect(err).toBeInstanceOf(SandboxError);
    expect(err.code).toBe('config');
    expect(err.message).toContain('digest mismatch');
    expect(err.message).toContain(sha('actual bytes'));
    expect(err.hint).toBeTruthy();
    expect(await store.hasBlob(claimed)).toBe(false);
    expect(readdirSync(store.paths.blobsShaDir)).toEqual([]);
  });

  it('refuses a malformed digest as a config error', async () => {
    const store = await tempStore();
    const err = await store.putBlob(Readable.from([Buffer.from('x')]), 'md5:abc').catch((e) => e);
    expect(err.code).toBe('config');
    expect(err.message).toContain('md5:abc');
  });

  it('names a missing source file in a host error and leaves nothing', async () => {
    const store = await tempStore();
    const err = await store.putBlob('/nonexistent/blob', sha('x')).catch((e) => e);
    expect(err.code).toBe('host');
    expect(err.message).toContain('/nonexistent/blob');
    expect(readdirSync(store.paths.blobsShaDir)).toEqual([]);
  });
});

describe('diffIdOf', () => {
  it('is the sha256 of the uncompressed tar, for gzip, zstd and plain blobs', async () => {
    const store = await tempStore();
    const tar = await tarOf([{ name: 'a', body: 'aaa' }]);
    const forms = [gzip(tar), tar, ...(HAVE_ZSTD ? [zstd(tar)] : [])];
    for (const blob of forms) {
      const p = await store.putBlob(Readable.from([blob]), sha(blob));
      expect(await diffIdOf(p)).toBe(sha(tar));
    }
  });

  it('names a corrupt blob', async () => {
    const store = await tempStore();
    const blob = gzip(await tarOf([{ name: 'a', body: 'aaa' }])).subarray(0, 20);
    const p = await store.putBlob(Readable.from([blob]), sha(blob));
    const err = await diffIdOf(p).catch((e) => e);
    expect(err).toBeInstanceOf(SandboxError);
    expect(err.message).toContain(p);
  });
});

describe('layers', () => {
  it('unpacks a layer once when two callers ask at the same time', async () => {
    const store = await tempStore();
    const l = await makeLayer({ 'etc/os-release': 'ID=test\n', '.wh.gone': '' });
    await store.putBlob(Readable.from([l.blob]), l.digest);
    let calls = 0;
    const unpack = async (dir: string) => {
      calls++;
      await new Promise((r) => setTimeout(r, 50));
      await unpackLayer(Readable.from([l.blob]), dir);
    };
    const [a, b] = await Promise.all([store.ensureLayer(l.digest, l.diffId, unpack), store.ensureLayer(l.digest, l.diffId, unpack)]);
    expect(calls).toBe(1);
    expect(a).toBe(b);
    expect(a).toBe(join(store.root, 'layers', 'sha256', l.diffId.slice(7)));
    expect(readFileSync(join(a, 'etc/os-release'), 'utf8')).toBe('ID=test\n');
    // the sidecar moved with the layer
    expect(JSON.parse(readFileSync(store.paths.layerWhiteouts(l.diffId), 'utf8'))).toBeTruthy();
    // later callers find it without unpacking
    expect(await store.ensureLayer(l.digest, l.diffId, unpack)).toBe(a);
    expect(calls).toBe(1);
    expect(readdirSync(store.paths.layersDir).filter((f) => f.startsWith('tmp-'))).toEqual([]);
  });

  it('removes the half-unpacked directory when unpacking fails, and a later call unpacks again', async () => {
    const store = await tempStore();
    const l = await makeLayer({ a: 'a' });
    const err = await store.ensureLayer(l.digest, l.diffId, async (dir) => {
      writeFileSync(join(dir, 'partial'), 'x');
      throw new SandboxError('config', 'layer: broken');
    }).catch((e) => e);
    expect(err.message).toBe('layer: broken');
    expect(await store.hasLayer(l.diffId)).toBe(false);
    expect(readdirSync(store.paths.layersDir).filter((f) => f.startsWith('tmp-'))).toEqual([]);
    const dir = await store.ensureLayer(l.digest, l.diffId, async (d) => unpackLayer(Readable.from([l.blob]), d));
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('a');
  });
});

describe('images', () => {
  it('round-trips names to digests, by name, digest and bare hex', async () => {
    const store = await tempStore();
    const l = await makeLayer({ a: 'a' });
    const img = await putTestImage(store, [l], ['example.com/a:1', 'example.com/a:latest'], 'a');
    expect(img.names).toEqual(['example.com/a:1', 'example.com/a:latest']);
    expect(img.platform).toBe('linux/amd64');
    for (const ref of ['example.com/a:1', 'example.com/a:latest', img.manifestDigest, img.manifestDigest.slice(7)]) {
      const got = await store.getImage(ref);
      expect(got?.manifestDigest).toBe(img.manifestDigest);
      expect(got?.names).toEqual(img.names);
      expect(got?.layers[0]?.diffId).toBe(l.diffId);
      expect(got?.config.rootfs?.diff_ids).toEqual([l.diffId]);
    }
    expect(await store.getImage('example.com/none:1')).toBeNull();
    // a name that looks like a temporary file is a name like any other
    await store.putImage(img, ['x.tmp-0123456789ab']);
    expect((await store.getImage(img.manifestDigest))?.names).toContain('x.tmp-0123456789ab');
    expect(readdirSync(store.paths.namesDir).filter((f) => f.startsWith('.'))).toEqual([]);
    expect(existsSync(join(store.root, 'names', escapeName('example.com/a:1')))).toBe(true);
    expect(readFileSync(store.paths.name('example.com/a:1'), 'utf8').trim()).toBe(img.manifestDigest);
  });

  it('moves a name to the image recorded last and lists every image', async () => {
    const store = await tempStore();
    const a = await putTestImage(store, [await makeLayer({ a: 'a' })], ['x:latest', 'x:1'], 'a');
    const b = await putTestImage(store, [await makeLayer({ b: 'b' })], ['x:latest', 'x:2'], 'b');
    const list = await store.listImages();
    expect(list.map((i) => i.manifestDigest).sort()).toEqual([a.manifestDigest, b.manifestDigest].sort());
    expect(list.find((i) => i.manifestDigest === a.manifestDigest)?.names).toEqual(['x:1']);
    expect(list.find((i) => i.manifestDigest === b.manifestDigest)?.names).toEqual(['x:2', 'x:latest']);
  });

  it('refuses a record whose blobs or layers are not in the store, naming them', async () => {
    const store = await tempStore();
    const l = await makeLayer({ a: 'a' });
    const err = await store.putImage({
      manifestDigest: sha('m'), configDigest: sha('c'), config: { os: 'linux' },
      layers: [{ digest: l.digest, diffId: l.diffId, size: 1, mediaType: 'x' }],
    }, ['y:1']).catch((e) => e);
    expect(err.code).toBe('host');
    expect(err.message).toContain(sha('c'));
    expect(err.message).toContain(`unpacked layer ${l.diffId}`);
    expect(await store.getImage('y:1')).toBeNull();
  });

  it("refuses layers that do not match the config's diff_ids", async () => {
    const store = await tempStore();
    const err = await store.putImage({
      manifestDigest: sha('m'), configDigest: sha('c'), config: { rootfs: { type: 'layers', diff_ids: [sha('other')] } },
      layers: [{ digest: sha('l'), diffId: sha('d'), size: 1, mediaType: 'x' }],
    }, []).catch((e) => e);
    expect(err.code).toBe('config');
    expect(err.message).toContain('diff_ids');
  });

  it('removeImage removes the record and its names only; prune then removes what nothing references and keeps shared layers', async () => {
    const store = await tempStore();
    const shared = await makeLayer({ 'shared/file': 'base' });
    const onlyA = await makeLayer({ a: 'a' });
    const onlyB = await makeLayer({ b: 'b' });
    const a = await putTestImage(store, [shared, onlyA], ['a:1'], 'a');
    const b = await putTestImage(store, [shared, onlyB], ['b:1'], 'b');

    expect(await store.removeImage('a:1')).toBe(a.manifestDigest);
    expect(await store.getImage('a:1')).toBeNull();
    expect(await store.getImage(a.manifestDigest)).toBeNull();
    // nothing else yet
    expect(await store.hasBlob(onlyA.digest)).toBe(true);
    expect(await store.hasLayer(onlyA.diffId)).toBe(true);

    // the default grace period keeps what was just written
    const kept = await store.prune();
    expect(kept.removedBlobs).toEqual([]);
    expect(kept.removedLayers).toEqual([]);

    const report = await store.prune({ graceMs: 0 });
    expect(report.removedLayers).toEqual([onlyA.diffId]);
    expect(report.removedBlobs.sort()).toEqual([onlyA.digest, a.manifestDigest, a.configDigest].sort());
    expect(await store.hasLayer(onlyA.diffId)).toBe(false);
    expect(existsSync(store.paths.layerWhiteouts(onlyA.diffId))).toBe(false);
    expect(existsSync(store.paths.layerLock(onlyA.diffId))).toBe(false);
    for (const l of [shared, onlyB]) {
      expect(await store.hasLayer(l.diffId)).toBe(true);
      expect(await store.hasBlob(l.digest)).toBe(true);
    }
    expect(readFileSync(join(store.layerPath(shared.diffId), 'shared/file'), 'utf8')).toBe('base');
    expect((await store.getImage('b:1'))?.manifestDigest).toBe(b.manifestDigest);
    expect(readdirSync(store.paths.layersDir).filter((f) => f.startsWith('tmp-'))).toEqual([]);

    await store.removeImage(b.manifestDigest);
    const all = await store.prune({ graceMs: 0 });
    expect(all.removedLayers.sort()).toEqual([shared.diffId, onlyB.diffId].sort());
    expect(readdirSync(store.paths.blobsShaDir)).toEqual([]);
    expect(readdirSync(store.paths.layersShaDir)).toEqual([]);
    expect(await store.listImages()).toEqual([]);
  });

  it('removeImage of an unknown name is a config error naming it', async () => {
    const store = await tempStore();
    const err = await store.removeImage('nope:1').catch((e) => e);
    expect(err.code).toBe('config');
    expect(err.message).toContain('nope:1');
    expect(err.hint).toBeTruthy();
  });

  it('prune leaves a layer whose lock another open file holds, and removes stale unpack directories', async () => {
    const store = await tempStore();
    const l = await makeLayer({ a: 'a' });
    await store.putBlob(Readable.from([l.blob]), l.digest);
    await store.ensureLayer(l.digest, l.diffId, async (d) => unpackLayer(Readable.from([l.blob]), d));
    const { tryLock } = await import('../../../../src/image/store/store-lock.js');
    const held = tryLock(store.paths.layerLock(l.diffId))!;
    expect(held).not.toBeNull();
    const stale = join(store.paths.layersDir, `tmp-${l.diffId.slice(7)}-abc123`);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(stale, 'sub'), { recursive: true });
    try {
      const r = await store.prune({ graceMs: 0 });
      expect(r.busyLayers).toEqual([l.diffId]);
      expect(await store.hasLayer(l.diffId)).toBe(true);
      expect(existsSync(stale)).toBe(true); // its lock is held: maybe an unpack in progress
    } finally {
      held.release();
    }
    const r = await store.prune({ graceMs: 0 });
    expect(r.removedLayers).toEqual([l.diffId]);
    expect(existsSync(stale)).toBe(false);
  });
});
