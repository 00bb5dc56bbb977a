// Pulls from real registries (Debian's docker-registry on 127.0.0.1): images
// pushed by our own client, two layers (one gzip, one plain tar), without
// auth, with htpasswd Basic auth, with Bearer tokens, over HTTPS with a
// self-signed certificate, from an index with two platforms, and from a
// registry whose storage was tampered with.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullImage } from '../../../src/image/registry/pull-image.js';
import { pushImage, pushIndex } from '../../../src/image/registry/push-image.js';
import { MEDIA_TYPES } from '../../../src/image/oci-types.js';
import { RegistryClient } from '../../../src/image/registry/registry-client.js';
import {
  hasRegistry, registrySkipReason, startRegistry, stopAll, TEST_PASSWORD, TEST_USER, type TestRegistry,
} from './test-registry.js';

if (!hasRegistry) console.warn(registrySkipReason);

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

interface TestImage {
  config: object;
  layers: { data: Buffer; mediaType: string }[];
}

async function makeImage(arch: string, marker: string): Promise<TestImage> {
  const base = await tarOf({ 'etc/os-release': `ID=test\n`, 'bin/hello': `#!/bin/sh\necho ${marker}\n` });
  const top = await tarOf({ 'app/marker': `${marker}\n` });
  const gz = gzipSync(base);
  return {
    config: {
      architecture: arch, os: 'linux', config: { Env: ['PATH=/bin'], Cmd: ['/bin/hello'] },
      rootfs: { type: 'layers', diff_ids: [sha(base), sha(top)] },
    },
    layers: [{ data: gz, mediaType: MEDIA_TYPES.ociLayerGzip }, { data: top, mediaType: MEDIA_TYPES.ociLayer }],
  };
}

const blobDirs: string[] = [];
function newBlobDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sandbox-blobs-'));
  blobDirs.push(d);
  return d;
}

function blobFiles(dir: string): string[] {
  const s = join(dir, 'sha256');
  return existsSync(s) ? readdirSync(s) : [];
}

const creds = { username: TEST_USER, password: TEST_PASSWORD };

describe.skipIf(!hasRegistry)('registry pulls (docker-registry on 127.0.0.1)', () => {
  let plain: TestRegistry;
  let basic: TestRegistry;
  let tls: TestRegistry;
  let token: TestRegistry;
  let image: TestImage;

  beforeAll(async () => {
    [plain, basic, tls, token] = await Promise.all([startRegistry('plain'), startRegistry('basic'), startRegistry('tls'), startRegistry('token')]);
    image = await makeImage('amd64', 'amd64-image');
  });
  afterAll(async () => {
    await stopAll();
    for (const d of blobDirs) rmSync(d, { recursive: true, force: true });
  });

  it('pulls a 2-layer image (gzip + plain tar) without auth into a content-addressed blob dir', async () => {
    const pushed = await pushImage(`${plain.host}/test/two-layers:v1`, image, { tlsVerify: false });
    const blobDir = newBlobDir();
    const events: string[] = [];
    const r = await pullImage(`docker://${plain.host}/test/two-layers:v1`, {
      blobDir, tlsVerify: false, platform: 'linux/amd64', onProgress: (e) => events.push(e.type),
    });
    expect(r.manifestDigest).toBe(pushed.digest);
    expect(r.config.architecture).toBe('amd64');
    expect(r.config.config?.Cmd).toEqual(['/bin/hello']);
    expect(r.layers.map((l) => l.mediaType)).toEqual([MEDIA_TYPES.ociLayerGzip, MEDIA_TYPES.ociLayer]);
    for (const [i, l] of r.layers.entries()) {
      expect(l.digest).toBe(sha(image.layers[i]!.data));
      expect(l.path).toBe(join(blobDir, 'sha256', l.digest.slice(7)));
      expect(readFileSync(l.path).equals(image.layers[i]!.data)).toBe(true);
    }
    expect(blobFiles(blobDir).sort()).toEqual([r.configDigest, ...r.layers.map((l) => l.digest)].map((d) => d.slice(7)).sort());
    expect(events).toContain('blob-done');

    // a second pull finds every blob and downloads nothing
    const again: string[] = [];
    await pullImage(`${plain.host}/test/two-layers:v1`, { blobDir, tlsVerify: false, onProgress: (e) => again.push(e.type) });
    expect(again.filter((t) => t === 'blob-cached')).toHaveLength(3);
    expect(again).not.toContain('blob-start');

    // by digest, as a Docker schema 2 manifest too
    const byDigest = await pullImage(`${plain.host}/test/two-layers@${pushed.digest}`, { blobDir: newBlobDir(), tlsVerify: false });
    expect(byDigest.layers).toHaveLength(2);
    const docker = await pushImage(`${plain.host}/test/docker-format:v1`, { ...image, format: 'docker' }, { tlsVerify: false });
    const d = await pullImage(`${plain.host}/test/docker-format:v1`, { blobDir: newBlobDir(), tlsVerify: false });
    expect(d.manifestMediaType).toBe(MEDIA_TYPES.dockerManifest);
    expect(d.manifestDigest).toBe(docker.digest);
  });

  it('names the reference and the registry message for an unknown tag', async () => {
    await expect(pullImage(`${plain.host}/test/nothing:here`, { blobDir: newBlobDir(), tlsVerify: false }))
      .rejects.toThrow(new RegExp(`${plain.host.replace(/\./g, '\\.')}/test/nothing:here.*HTTP 404.*the registry says "manifest unknown`));
    // a plain-HTTP registry with TLS verification on (the default): said so, with the way out
    const err = await pullImage(`${plain.host}/test/nothing:here`, { blobDir: newBlobDir() }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/does not answer with TLS .*plain-HTTP registry/);
    expect((err as { hint?: string }).hint).toMatch(/tlsVerify: false/);
  });

  it('with basic auth: pulls with credentials, refuses a wrong password and anonymous access with the registry message', async () => {
    await pushImage(`${basic.host}/test/private:v1`, image, { tlsVerify: false, credentials: creds });
    const r = await pullImage(`${basic.host}/test/private:v1`, { blobDir: newBlobDir(), tlsVerify: false, credentials: creds });
    expect(r.layers).toHaveLength(2);

    const blobDir = newBlobDir();
    const wrong = pullImage(`${basic.host}/test/private:v1`, { blobDir, tlsVerify: false, credentials: { username: TEST_USER, password: 'wrong' } });
    await expect(wrong).rejects.toThrow(/refused the credentials of user "testuser" \(HTTP 401\): the registry says "authentication required"/);
    await expect(pullImage(`${basic.host}/test/private:v1`, { blobDir, tlsVerify: false, credentials: null }))
      .rejects.toThrow(/requires authentication and no credentials were found/);
    expect(blobFiles(blobDir)).toEqual([]);
  });

  it('reads credentials from $XDG_RUNTIME_DIR/containers/auth.json', async () => {
    await pushImage(`${basic.host}/test/private:v2`, image, { tlsVerify: false, credentials: creds });
    const runtime = mkdtempSync(join(tmpdir(), 'sandbox-xdg-'));
    blobDirs.push(runtime);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(runtime, 'containers'));
    writeFileSync(join(runtime, 'containers', 'auth.json'), JSON.stringify({ auths: { [basic.host]: { auth: Buffer.from(`${TEST_USER}:${TEST_PASSWORD}`).toString('base64') } } }));
    const saved = { XDG_RUNTIME_DIR: process.env['XDG_RUNTIME_DIR'], REGISTRY_AUTH_FILE: process.env['REGISTRY_AUTH_FILE'] };
    process.env['XDG_RUNTIME_DIR'] = runtime;
    delete process.env['REGISTRY_AUTH_FILE'];
    try {
      const r = await pullImage(`${basic.host}/test/private:v2`, { blobDir: newBlobDir(), tlsVerify: false });
      expect(r.layers).toHaveLength(2);
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  });

  it('with token auth: gets a Bearer token from the realm with basic credentials', async () => {
    await pushImage(`${token.host}/test/tokened:v1`, image, { tlsVerify: false, credentials: creds });
    const r = await pullImage(`${token.host}/test/tokened:v1`, { blobDir: newBlobDir(), tlsVerify: false, credentials: creds });
    expect(r.layers).toHaveLength(2);
    await expect(pullImage(`${token.host}/test/tokened:v1`, { blobDir: newBlobDir(), tlsVerify: false, credentials: { username: TEST_USER, password: 'nope' } }))
      .rejects.toThrow(/token server of 127\.0\.0\.1:\d+ refused the credentials of user "testuser" \(HTTP 401\): the registry says "invalid username or password"/);
    // an anonymous token without access: the registry refuses it
    await expect(pullImage(`${token.host}/test/tokened:v1`, { blobDir: newBlobDir(), tlsVerify: false, credentials: null }))
      .rejects.toThrow(/refused anonymous access \(HTTP 401\)/);
  });

  it('over HTTPS with a self-signed certificate: tlsVerify false pulls, verification on fails clearly', async () => {
    await pushImage(`${tls.host}/test/secure:v1`, image, { tlsVerify: false });
    const r = await pullImage(`${tls.host}/test/secure:v1`, { blobDir: newBlobDir(), tlsVerify: false });
    expect(r.layers).toHaveLength(2);
    const client = new RegistryClient({ registry: tls.host, tlsVerify: false, credentials: null });
    expect(client.baseUrl).toBe(`https://${tls.host}`); // TLS was used, not the plain-HTTP fallback
    client.close();
    const err = await pullImage(`${tls.host}/test/secure:v1`, { blobDir: newBlobDir(), tlsVerify: true }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/TLS error talking to 127\.0\.0\.1:\d+: self[- ]signed certificate/);
    expect((err as { hint?: string }).hint).toMatch(/tlsVerify: false/);
  });

  it('picks the platform from an image index (linux/amd64 and linux/arm64)', async () => {
    const arm = await makeImage('arm64', 'arm64-image');
    const repo = `${plain.host}/test/multi`;
    const amdManifest = await pushImage(`${repo}:amd64`, image, { tlsVerify: false, byDigestOnly: true });
    const armManifest = await pushImage(`${repo}:arm64`, arm, { tlsVerify: false, byDigestOnly: true });
    const index = await pushIndex(`${repo}:v1`, [
      { manifest: amdManifest, platform: { os: 'linux', architecture: 'amd64' } },
      { manifest: armManifest, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ], { tlsVerify: false });
    const a = await pullImage(`${repo}:v1`, { blobDir: newBlobDir(), tlsVerify: false, platform: 'linux/amd64' });
    expect(a.manifestDigest).toBe(amdManifest.digest);
    expect(a.indexDigest).toBe(index.digest);
    expect(a.config.architecture).toBe('amd64');
    const b = await pullImage(`${repo}:v1`, { blobDir: newBlobDir(), tlsVerify: false, platform: 'linux/arm64' });
    expect(b.manifestDigest).toBe(armManifest.digest);
    expect(b.config.architecture).toBe('arm64');
    expect(readFileSync(b.layers[1]!.path).includes('arm64-image')).toBe(true);
    // default: the host's platform
    if (process.arch === 'x64') {
      expect((await pullImage(`${repo}:v1`, { blobDir: newBlobDir(), tlsVerify: false })).manifestDigest).toBe(amdManifest.digest);
    }
    // a Docker manifest list works the same way
    await pushIndex(`${repo}:list`, [
      { manifest: amdManifest, platform: { os: 'linux', architecture: 'amd64' } },
      { manifest: armManifest, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ], { tlsVerify: false, format: 'docker' });
    expect((await pullImage(`${repo}:list`, { blobDir: newBlobDir(), tlsVerify: false, platform: 'linux/arm64/v8' })).manifestDigest).toBe(armManifest.digest);
    await expect(pullImage(`${repo}:v1`, { blobDir: newBlobDir(), tlsVerify: false, platform: 'linux/s390x' }))
      .rejects.toThrow(/has no image for linux\/s390x \(it has: linux\/amd64, linux\/arm64\/v8\)/);
  });

  it('a corrupted blob in the registry storage: digest mismatch naming the digest and registry, nothing left in blobDir', async () => {
    const own = await makeImage('amd64', 'to-be-corrupted');
    await pushImage(`${plain.host}/test/corrupt:v1`, own, { tlsVerify: false });
    const victim = sha(own.layers[0]!.data);
    const file = plain.blobFile(victim);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff; // same size, different content
    writeFileSync(file, bytes);
    const blobDir = newBlobDir();
    const err = await pullImage(`${plain.host}/test/corrupt:v1`, { blobDir, tlsVerify: false, concurrency: 1 }).catch((e: unknown) => e);
    expect(String(err)).toMatch(new RegExp(`digest mismatch for blob ${victim} of 127\\.0\\.0\\.1:\\d+/test/corrupt`));
    const left = blobFiles(blobDir);
    expect(left).not.toContain(victim.slice(7));
    expect(left.filter((f) => f.startsWith('.tmp-'))).toEqual([]);
  });
});
