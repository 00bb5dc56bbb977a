// The loaders against OCI layouts (directory and tar) and docker-archives
// built here, including hostile ones: a name in manifest.json that climbs
// out, a blob whose content is not its digest, an oversized manifest.json,
// diff IDs that do not match. A rejected image leaves nothing unpacked or
// recorded in the store.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadImage, loadImageFile } from '../../../../src/image/load/load-image.js';
import { parseImageReference } from '../../../../src/image/registry/parse-reference.js';
import { openStore, type ImageStore } from '../../../../src/image/store/image-store.js';
import { gzip, tarOf } from '../unpack/layer-archive.js';
import { buildImage, dockerArchive, layer, ociLayout, sha, tarFiles, writeTree, type BuiltImage } from './image-builder.js';

const work = mkdtempSync(join(tmpdir(), 'load-image-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const fresh = (what: string) => join(work, `${what}-${n++}`);

async function store(): Promise<ImageStore> {
  return openStore(fresh('store'));
}

function load(s: ImageStore, ref: string) {
  return loadImage(s, parseImageReference(ref) as any);
}

async function helloImage(marker = 'hi', opts: { gz?: boolean; arch?: string } = {}): Promise<BuiltImage> {
  const base = await layer({ hello: `${marker}\n` });
  const top = await layer({ 'etc/marker': marker });
  return buildImage([
    opts.gz ? { blob: gzip(base), tar: base, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' } : { blob: base, tar: base },
    { blob: top, tar: top },
  ], { arch: opts.arch ?? 'amd64' });
}

function nothingStored(s: ImageStore): void {
  expect(readdirSync(s.paths.imagesDir)).toEqual([]);
  expect(readdirSync(s.paths.layersShaDir).filter((f) => /^[a-f0-9]{64}$/.test(f))).toEqual([]);
}

async function writeTar(files: Map<string, Buffer>, extra: Parameters<typeof tarFiles>[1] = []): Promise<string> {
  const f = `${fresh('archive')}.tar`;
  writeFileSync(f, await tarFiles(files, extra));
  return f;
}

describe('oci: layouts', () => {
  it('loads the image a ref name picks, unpacks its layers and records the full name', async () => {
    const s = await store();
    const img = await helloImage('one', { gz: true });
    const dir = fresh('layout');
    writeTree(dir, ociLayout([{ image: img, ref: 'localhost/hello:v1' }, { image: await helloImage('two'), ref: 'other:v2' }]));
    const stored = await load(s, `oci:${dir}:localhost/hello:v1`);
    expect(stored.manifestDigest).toBe(img.manifestDigest);
    expect(stored.names).toEqual(['localhost/hello:v1']);
    expect(stored.layers.map((l) => l.diffId)).toEqual(img.tars.map(sha));
    expect(readFileSync(join(s.layerPath(stored.layers[0]!.diffId), 'hello'), 'utf8')).toBe('one\n');
    expect((await s.getImage('localhost/hello:v1'))?.config.config?.Cmd).toEqual(['/hello']);
    // two images and no ref: which one is ambiguous
    await expect(load(s, `oci:${dir}`)).rejects.toThrow(/holds 2 images/);
    await expect(load(s, `oci:${dir}:nope`)).rejects.toThrow(/no image named "nope"/);
  });

  it('follows a nested index to the platform asked for', async () => {
    const s = await store();
    const amd = await helloImage('amd', { arch: 'amd64' });
    const arm = await helloImage('arm', { arch: 'arm64' });
    const files = ociLayout([{ image: amd, platform: { os: 'linux', architecture: 'amd64' } }, { image: arm, platform: { os: 'linux', architecture: 'arm64' } }]);
    const inner = files.get('index.json')!;
    const innerDigest = sha(inner);
    files.set(`blobs/sha256/${innerDigest.slice(7)}`, inner);
    files.set('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{
      mediaType: 'application/vnd.oci.image.index.v1+json', digest: innerDigest, size: inner.length, annotations: { 'org.opencontainers.image.ref.name': 'multi' },
    }] })));
    const dir = fresh('layout');
    writeTree(dir, files);
    const a = await loadImage(s, { transport: 'oci', path: dir, ref: 'multi' }, { platform: 'linux/arm64' });
    expect(a.manifestDigest).toBe(arm.manifestDigest);
    expect(a.platform).toBe('linux/arm64');
    expect(a.names).toEqual([]); // "multi" is a tag, not a name
    const b = await loadImage(s, { transport: 'oci', path: dir, ref: null }, { platform: 'linux/amd64', names: ['localhost/multi:amd'] });
    expect(b.manifestDigest).toBe(amd.manifestDigest);
    expect(b.names).toEqual(['localhost/multi:amd']);
    await expect(loadImage(s, { transport: 'oci', path: dir, ref: null }, { platform: 'linux/s390x' })).rejects.toThrow(/no image for platform linux\/s390x/);
    // an index with one entry for another platform is not taken for this one
    const armOnly = ociLayout([{ image: arm, platform: { os: 'linux', architecture: 'arm64' } }]);
    const armIndex = armOnly.get('index.json')!;
    armOnly.set(`blobs/sha256/${sha(armIndex).slice(7)}`, armIndex);
    armOnly.set('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha(armIndex), size: armIndex.length }] })));
    const armDir = fresh('layout');
    writeTree(armDir, armOnly);
    await expect(loadImage(s, { transport: 'oci', path: armDir, ref: null }, { platform: 'linux/amd64' })).rejects.toThrow(/no image for platform linux\/amd64 \(there are: linux\/arm64\)/);
  });

  it('rejects a layer blob whose content is not its digest before unpacking anything', async () => {
    const s = await store();
    const img = await helloImage();
    const files = ociLayout([{ image: img }]);
    const victim = `blobs/sha256/${sha(img.layers[1]!).slice(7)}`;
    const evil = Buffer.from(files.get(victim)!);
    evil[600] = evil[600]! ^ 1; // same size, other content
    files.set(victim, evil);
    const dir = fresh('layout');
    writeTree(dir, files);
    await expect(load(s, `oci:${dir}`)).rejects.toThrow(/digest mismatch/);
    nothingStored(s);
  });

  it('rejects a config whose diff IDs do not match the layers', async () => {
    const s = await store();
    const base = await layer({ hello: 'x' });
    const img = buildImage([{ blob: gzip(base), tar: base }], { diffIds: [sha(Buffer.from('other'))] });
    const dir = fresh('layout');
    writeTree(dir, ociLayout([{ image: img }]));
    await expect(load(s, `oci:${dir}`)).rejects.toThrow(/rootfs\/diff_ids\/0.*uncompresses to/);
    nothingStored(s);
  });

  it('rejects a config with a wrong JSON type, naming the field (oci: and docker-archive:)', async () => {
    const s = await store();
    const base = await layer({ hello: 'x' });
    const img = buildImage([{ blob: base, tar: base }], { cmd: 5 as unknown as string[] });
    const dir = fresh('layout');
    writeTree(dir, ociLayout([{ image: img }]));
    const where = `blobs/${sha(img.config).replace(':', '/')}`;
    await expect(load(s, `oci:${dir}`)).rejects.toThrow(`oci:${dir} (${where}): invalid image config: /config/Cmd: must be array`);
    await expect(load(s, `docker-archive:${await writeTar(dockerArchive(img, ['bad:1']))}`)).rejects.toThrow(/\): invalid image config: \/config\/Cmd: must be array$/);
    nothingStored(s);
  });
});

describe('oci-archive: tars of layouts', () => {
  it('loads through two streamed passes and shares layers with an image already stored', async () => {
    const s = await store();
    const img = await helloImage('shared', { gz: true });
    const f = await writeTar(ociLayout([{ image: img, ref: 'docker.io/library/hello:1' }]));
    const events: string[] = [];
    const a = await loadImage(s, { transport: 'oci-archive', path: f, ref: null }, { onProgress: (e) => events.push(e.type) });
    expect(a.names).toEqual(['docker.io/library/hello:1']);
    expect(events).toContain('blob-done');
    // the same archive again: every blob is cached
    const again: string[] = [];
    await loadImage(s, { transport: 'oci-archive', path: f, ref: null }, { onProgress: (e) => again.push(e.type) });
    expect(again.every((t) => t === 'blob-cached')).toBe(true);
    expect(readdirSync(s.paths.layersShaDir).filter((x) => /^[a-f0-9]{64}$/.test(x))).toHaveLength(2);
    // sniffed from a plain path
    expect((await loadImageFile(s, f)).manifestDigest).toBe(img.manifestDigest);
  });

  it('rejects a blob entry whose content does not match its name, before storing anything', async () => {
    const s = await store();
    const img = await helloImage();
    const files = ociLayout([{ image: img }]);
    files.set(`blobs/sha256/${sha(img.layers[0]!).slice(7)}`, await layer({ hello: 'evil\n' }));
    const f = await writeTar(files);
    const err = await load(s, `oci-archive:${f}`).catch((e) => e);
    expect(err.message).toMatch(new RegExp(`entry blobs/sha256/${sha(img.layers[0]!).slice(7)}.*does not match its name`));
    expect(err.hint).toMatch(/nothing was stored/);
    nothingStored(s);
    expect(readdirSync(s.paths.blobsShaDir)).toEqual([]);
  });

  it('rejects a layer the unpacker refuses (a path out of the layer): nothing recorded, nothing written outside', async () => {
    const s = await store();
    const outside = join(work, `escaped-${n++}`);
    const rel = `../../../../../../../../..${outside}`;
    const evil = await tarOf([{ name: 'ok', body: 'x' }, { name: rel, body: 'pwned' }]);
    const img = buildImage([{ blob: evil, tar: evil }]);
    const f = await writeTar(ociLayout([{ image: img, ref: 'localhost/evil:1' }]));
    await expect(load(s, `oci-archive:${f}`)).rejects.toThrow(/parent directory traversal/);
    expect(existsSync(outside)).toBe(false);
    nothingStored(s);
    expect(readdirSync(s.paths.layersDir).filter((x) => x.startsWith('tmp-'))).toEqual([]);
  });

  it('refuses entries that climb out and names given twice', async () => {
    const s = await store();
    const img = await helloImage();
    const f = await writeTar(ociLayout([{ image: img }]), [{ name: '../../etc/evil', body: 'x' }]);
    await expect(load(s, `oci-archive:${f}`)).rejects.toThrow(/climbs out of the archive/);
    const g = await writeTar(ociLayout([{ image: img }]), [{ name: 'index.json', body: '{}' }]);
    await expect(load(s, `oci-archive:${g}`)).rejects.toThrow(/index.json.*appears twice/);
    nothingStored(s);
  });

  it('says what is wrong with a file that is no archive or no layout', async () => {
    const s = await store();
    const f = `${fresh('junk')}.tar`;
    writeFileSync(f, 'not a tar at all, just text that is long enough '.repeat(20));
    await expect(loadImageFile(s, f)).rejects.toThrow(/not a readable tar archive|neither manifest.json/);
    await expect(load(s, `oci-archive:${fresh('missing')}`)).rejects.toThrow(/cannot read the archive: ENOENT/);
  });
});

describe('docker-archive: docker save / podman save', () => {
  it('loads the legacy layout (gzip and plain layers, a symlinked repeated layer) under its RepoTags', async () => {
    const s = await store();
    const img = await helloImage('docker', { gz: true });
    const files = dockerArchive(img, ['hello:latest', 'localhost/hello:2'], ['aaa/layer.tar', 'bbb/layer.tar']);
    const f = await writeTar(files);
    const a = await load(s, `docker-archive:${f}`);
    expect(a.names).toEqual(['docker.io/library/hello:latest', 'localhost/hello:2']);
    expect(a.configDigest).toBe(sha(img.config));
    expect(a.layers.map((l) => l.mediaType)).toEqual(['application/vnd.docker.image.rootfs.diff.tar.gzip', 'application/vnd.docker.image.rootfs.diff.tar']);
    expect(readFileSync(join(s.layerPath(a.layers[0]!.diffId), 'hello'), 'utf8')).toBe('docker\n');
    expect((await loadImageFile(s, f)).manifestDigest).toBe(a.manifestDigest);
    expect((await load(s, `docker-archive:${f}:localhost/hello:2`)).manifestDigest).toBe(a.manifestDigest);
    await expect(load(s, `docker-archive:${f}:other:1`)).rejects.toThrow(/no image tagged "other:1"/);

    // docker save links a layer that appears twice
    const base = await layer({ same: 'x' });
    const twice = buildImage([{ blob: base, tar: base }, { blob: base, tar: base }]);
    const linked = dockerArchive(twice, ['twice:1'], ['l1/layer.tar', 'l2/layer.tar']);
    linked.delete('l2/layer.tar');
    const g = await writeTar(linked, [{ name: 'l2/layer.tar', type: 'symlink', linkname: '../l1/layer.tar' }]);
    const t = await load(s, `docker-archive:${g}`);
    expect(t.layers).toHaveLength(2);
    expect(t.layers[0]!.diffId).toBe(t.layers[1]!.diffId);
  });

  it('refuses a name in manifest.json that escapes the archive, pointing at it', async () => {
    const s = await store();
    const img = await helloImage();
    const files = dockerArchive(img, ['evil:1']);
    const m = JSON.parse(files.get('manifest.json')!.toString());
    m[0].Layers[1] = '../../etc/passwd';
    files.set('manifest.json', Buffer.from(JSON.stringify(m)));
    const err = await load(s, `docker-archive:${await writeTar(files)}`).catch((e) => e);
    expect(err.message).toMatch(/manifest.json \/0\/Layers\/1.*"\.\.\/\.\.\/etc\/passwd".*climbs out/);
    expect(err.hint).toMatch(/hostile/);
    // and a symlink entry that leaves it
    const linked = dockerArchive(img, ['evil:2'], ['a/layer.tar', 'b/layer.tar']);
    linked.delete('b/layer.tar');
    const g = await writeTar(linked, [{ name: 'b/layer.tar', type: 'symlink', linkname: '../../../etc/passwd' }]);
    await expect(load(s, `docker-archive:${g}`)).rejects.toThrow(/symlink to "..\/..\/..\/etc\/passwd" leaves the archive/);
    nothingStored(s);
  });

  it('refuses an oversized manifest.json, layers the config does not name, and a missing config', async () => {
    const s = await store();
    const img = await helloImage();
    const big = dockerArchive(img, ['big:1']);
    big.set('manifest.json', Buffer.alloc(5 * 1024 * 1024, 0x20));
    await expect(load(s, `docker-archive:${await writeTar(big)}`)).rejects.toThrow(/manifest.json.*more than the 4194304 allowed/);

    const base = await layer({ hello: 'x' });
    const wrong = buildImage([{ blob: base, tar: base }], { diffIds: [sha(Buffer.from('not this layer'))] });
    await expect(load(s, `docker-archive:${await writeTar(dockerArchive(wrong, ['wrong:1']))}`)).rejects.toThrow(/diff_ids\/0.*uncompresses to/);

    const noConfig = dockerArchive(img, ['nc:1']);
    noConfig.delete([...noConfig.keys()].find((k) => k.endsWith('.json') && k !== 'manifest.json')!);
    await expect(load(s, `docker-archive:${await writeTar(noConfig)}`)).rejects.toThrow(/manifest.json \/0\/Config.*is not a file in the archive/);
    nothingStored(s);
  });
});
