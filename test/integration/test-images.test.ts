// Checks the locally built test images (scripts/build-test-images.sh) for
// what the image tests rely on: every blob matches its digest and size,
// diff_ids are the sha256 of the uncompressed layers, the configs carry the
// fields the specs set, `layered` shares busybox's base layer and has its
// whiteout and opaque markers (also as our unpacker reports them), and the
// `podman save` archives hold the same layers. No sandbox is run here.
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { pullImage } from '../../src/image/registry/pull-image.js';
import { unpackLayer } from '../../src/image/unpack/unpack-layer.js';
import {
  haveTestImages, pushTestImage, readTestImage, TEST_IMAGE_NAMES, TEST_IMAGE_TAGS, testImagePaths, type TestImageLayout,
} from '../images/test-images.js';
import { hasRegistry, registrySkipReason, startRegistry, stopAll } from './registry/test-registry.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

async function sha256OfStream(stream: Readable): Promise<{ digest: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${h.digest('hex')}`, size };
}

interface TarEntry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  linkname: string | null;
  data: Buffer;
}

/** All entries of a (gzip-compressed or plain) tar stream, by name without "./"; data kept up to 4 MiB. */
async function readTar(source: Readable, gzip: boolean): Promise<Map<string, TarEntry>> {
  const entries = new Map<string, TarEntry>();
  const extract = tar.extract();
  const reading = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      const h = entry.header;
      for await (const c of entry) if ((h.size ?? 0) <= 4 * 1024 * 1024) chunks.push(c as Buffer);
      entries.set(h.name.replace(/^\.\//, '').replace(/\/$/, ''), {
        type: h.type ?? 'unknown', mode: h.mode ?? 0, uid: h.uid ?? 0, gid: h.gid ?? 0, linkname: h.linkname ?? null, data: Buffer.concat(chunks),
      });
    }
  })();
  await Promise.all([gzip ? pipeline(source, createGunzip(), extract) : pipeline(source, extract), reading]);
  return entries;
}

const layerEntries = (image: TestImageLayout, i: number) => readTar(createReadStream(image.blobPath(image.manifest.layers[i]!.digest)), true);

const temps: string[] = [];
afterAll(async () => {
  await stopAll();
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!haveTestImages())('test images (scripts/build-test-images.sh)', () => {
  describe.each(TEST_IMAGE_NAMES)('%s: OCI layout', (name) => {
    it('has oci-layout, one tagged manifest, and blobs that match their digests and sizes', async () => {
      const image = readTestImage(name);
      expect(JSON.parse(readFileSync(join(image.dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
      expect(image.index.schemaVersion).toBe(2);
      expect(image.index.manifests).toHaveLength(1);
      expect(image.manifestDescriptor.annotations?.['org.opencontainers.image.ref.name']).toBe(TEST_IMAGE_TAGS[name]);
      expect(image.manifestDescriptor.mediaType).toBe(OCI_MANIFEST);
      expect(image.manifest.mediaType).toBe(OCI_MANIFEST);
      expect(image.manifest.config.mediaType).toBe(OCI_CONFIG);

      const described = [image.manifestDescriptor, image.manifest.config, ...image.manifest.layers];
      for (const d of described) {
        const { digest, size } = await sha256OfStream(createReadStream(image.blobPath(d.digest)));
        expect(digest, `blob ${d.digest}`).toBe(d.digest);
        expect(size, `size of ${d.digest}`).toBe(d.size);
      }
      // nothing unreferenced (a half-written layer would be left as a stray file)
      const onDisk = readdirSync(join(image.dir, 'blobs/sha256')).map((f) => `sha256:${f}`).sort();
      expect(onDisk).toEqual([...new Set(described.map((d) => d.digest))].sort());
    });

    it('has gzip layers whose diff_ids are the sha256 of the uncompressed tar', async () => {
      const image = readTestImage(name);
      expect(image.config.rootfs.type).toBe('layers');
      expect(image.config.rootfs.diff_ids).toHaveLength(image.manifest.layers.length);
      for (const [i, layer] of image.manifest.layers.entries()) {
        expect(layer.mediaType).toBe(OCI_LAYER_GZIP);
        const { digest } = await sha256OfStream(createReadStream(image.blobPath(layer.digest)).pipe(createGunzip()));
        expect(digest, `layer ${i}`).toBe(image.config.rootfs.diff_ids[i]);
      }
    });

    it('has a config for this machine with PATH and labels', () => {
      const { config } = readTestImage(name);
      expect(config.os).toBe('linux');
      expect(config.architecture).toBe(process.arch === 'x64' ? 'amd64' : process.arch);
      expect(config.config.Env?.find((e) => e.startsWith('PATH='))).toMatch(/(^|:)\/bin(:|$)/);
      expect(config.config.Labels?.['test.image']).toBe(name);
    });
  });

  describe('busybox', () => {
    it('has busybox-static, applet symlinks, /etc/passwd and a sticky /tmp', async () => {
      const image = readTestImage('busybox');
      expect(image.config.config.Cmd).toEqual(['/bin/sh']);
      expect(image.manifest.layers).toHaveLength(1);
      const entries = await layerEntries(image, 0);
      const busybox = entries.get('bin/busybox');
      expect(busybox?.type).toBe('file');
      expect(busybox?.mode).toBe(0o755);
      expect(busybox?.data.equals(readFileSync('/bin/busybox'))).toBe(true);
      expect(entries.get('bin/sh')).toMatchObject({ type: 'symlink', linkname: 'busybox' });
      expect(entries.get('usr/bin/env')).toMatchObject({ type: 'symlink', linkname: '../../bin/busybox' });
      expect(entries.get('tmp')).toMatchObject({ type: 'directory', mode: 0o1777 });
      expect(entries.get('etc/passwd')?.data.toString()).toMatch(/^root:x:0:0:/m);
      expect(entries.get('etc/passwd')?.data.toString()).toMatch(/^user:x:1000:1000:/m);
      expect(entries.get('etc/group')?.data.toString()).toMatch(/^root:x:0:/m);
      expect(entries.get('home/user')).toMatchObject({ type: 'directory', uid: 1000, gid: 1000 });
    });
  });

  describe('layered', () => {
    it('has the config defaults the tests check', () => {
      const { config } = readTestImage('layered').config;
      expect(config.Entrypoint).toEqual(['/bin/echo', 'entry']);
      expect(config.Cmd).toEqual(['default-cmd']);
      expect(config.WorkingDir).toBe('/data');
      expect(config.User).toBe('1000:1000');
      expect(config.Env).toContain('FOO=bar');
    });

    it('shares the busybox base layer blob and adds a whiteout, an opaque directory and a file', async () => {
      const layered = readTestImage('layered');
      const busybox = readTestImage('busybox');
      expect(layered.manifest.layers).toHaveLength(3);
      expect(layered.manifest.layers[0]!.digest).toBe(busybox.manifest.layers[0]!.digest);
      expect(layered.config.rootfs.diff_ids[0]).toBe(busybox.config.rootfs.diff_ids[0]);

      const base = await layerEntries(layered, 0);
      expect(base.get('etc/motd')?.type).toBe('file');
      expect(base.get('data/old.txt')?.type).toBe('file');
      const second = await layerEntries(layered, 1);
      expect(second.get('etc/.wh.motd')).toMatchObject({ type: 'file', data: Buffer.alloc(0) });
      expect(second.get('data/.wh..wh..opq')).toMatchObject({ type: 'file', data: Buffer.alloc(0) });
      expect(second.get('data/new.txt')?.data.toString()).toBe('from layer 2\n');
      const third = await layerEntries(layered, 2);
      expect(third.get('data/layer3.txt')?.data.toString()).toBe('from layer 3\n');
    });

    it('unpacks with our unpacker, which reports /etc/motd deleted and /data opaque', async () => {
      const layered = readTestImage('layered');
      const root = mkdtempSync(join(tmpdir(), 'sandbox-test-images-'));
      temps.push(root);
      const reports = [];
      for (const [i, layer] of layered.manifest.layers.entries()) {
        const dir = join(root, String(i));
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
        reports.push(await unpackLayer(createReadStream(layered.blobPath(layer.digest)), dir));
      }
      expect(reports[0]!.whiteouts).toEqual([]);
      expect(reports[0]!.counts.symlink).toBeGreaterThan(100);
      expect(statSync(join(root, '0/bin/busybox')).mode & 0o777).toBe(0o755);
      expect(reports[1]!.whiteouts).toEqual(['/etc/motd']);
      expect(reports[1]!.opaqueDirs).toEqual(['/data']);
      expect(readFileSync(join(root, '1/data/new.txt'), 'utf8')).toBe('from layer 2\n');
      expect(reports[2]!.counts.file).toBe(1);
    });
  });

  describe('debian', () => {
    it('is a debootstrap minbase bookworm rootfs in one large layer', async () => {
      const image = readTestImage('debian');
      expect(image.manifest.layers).toHaveLength(1);
      expect(image.config.config.Cmd).toEqual(['/bin/bash']);
      const { size } = await sha256OfStream(createReadStream(image.blobPath(image.manifest.layers[0]!.digest)).pipe(createGunzip()));
      expect(size).toBeGreaterThan(100 * 1024 * 1024); // the unpack benchmark's layer
      const entries = await layerEntries(image, 0);
      expect(entries.get('etc/debian_version')?.data.toString()).toMatch(/^12\./);
      expect(entries.get('usr/bin/bash')?.type).toBe('file');
      expect(entries.get('bin')).toMatchObject({ type: 'symlink', linkname: 'usr/bin' }); // merged /usr
      expect([...entries.keys()].filter((n) => n.startsWith('dev/'))).toEqual([]); // no device nodes
    });
  });

  describe('podman save archives of busybox', () => {
    it('docker-archive: manifest.json, config and layers that match their digests and busybox diff_ids', async () => {
      const entries = await readTar(createReadStream(testImagePaths.busyboxDockerArchive), false);
      const manifest = JSON.parse(entries.get('manifest.json')!.data.toString()) as { Config: string; RepoTags: string[]; Layers: string[] }[];
      expect(manifest).toHaveLength(1);
      expect(manifest[0]!.RepoTags).toEqual(['localhost/rootless-sandbox-test/busybox:latest']);
      const configRaw = entries.get(manifest[0]!.Config)!.data;
      expect(sha256(configRaw)).toBe(`sha256:${manifest[0]!.Config.replace(/\.json$/, '')}`);
      const config = JSON.parse(configRaw.toString()) as { rootfs: { diff_ids: string[] }; config: { Cmd: string[] } };
      expect(config.config.Cmd).toEqual(['/bin/sh']);
      expect(manifest[0]!.Layers.map((l) => sha256(entries.get(l)!.data))).toEqual(config.rootfs.diff_ids);
      expect(config.rootfs.diff_ids).toEqual(readTestImage('busybox').config.rootfs.diff_ids);
    });

    it('oci-archive: an OCI layout whose blobs match their digests and busybox diff_ids', async () => {
      const entries = await readTar(createReadStream(testImagePaths.busyboxOciArchive), false);
      expect(JSON.parse(entries.get('oci-layout')!.data.toString())).toEqual({ imageLayoutVersion: '1.0.0' });
      const blobs = [...entries].filter(([n, e]) => n.startsWith('blobs/sha256/') && e.type === 'file');
      expect(blobs.length).toBeGreaterThanOrEqual(3);
      for (const [n, e] of blobs) expect(sha256(e.data), n).toBe(`sha256:${n.slice('blobs/sha256/'.length)}`);
      const blob = (d: string) => entries.get(`blobs/sha256/${d.replace(/^sha256:/, '')}`)!.data;
      const index = JSON.parse(entries.get('index.json')!.data.toString()) as { manifests: { digest: string }[] };
      expect(index.manifests).toHaveLength(1);
      const manifest = JSON.parse(blob(index.manifests[0]!.digest).toString()) as { config: { digest: string }; layers: { digest: string; mediaType: string }[] };
      const config = JSON.parse(blob(manifest.config.digest).toString()) as { rootfs: { diff_ids: string[] } };
      expect(config.rootfs.diff_ids).toEqual(readTestImage('busybox').config.rootfs.diff_ids);
      expect(manifest.layers).toHaveLength(config.rootfs.diff_ids.length);
    });
  });

  describe.skipIf(!hasRegistry)('pushTestImage', () => {
    if (!hasRegistry) console.warn(registrySkipReason);
    it('pushes a layout unchanged: the pulled manifest digest and diff_ids are the layout\'s', async () => {
      const registry = await startRegistry('plain');
      for (const name of ['busybox', 'layered'] as const) {
        const pushed = await pushTestImage(registry, name);
        const layout = readTestImage(name);
        expect(pushed.digest).toBe(layout.manifestDescriptor.digest);
        const blobDir = mkdtempSync(join(tmpdir(), 'sandbox-test-images-blobs-'));
        temps.push(blobDir);
        const pulled = await pullImage(pushed.ref, { blobDir, tlsVerify: false });
        expect(pulled.manifestDigest).toBe(layout.manifestDescriptor.digest);
        expect(pulled.config.rootfs?.diff_ids).toEqual(layout.config.rootfs.diff_ids);
      }
    });
  });
});
