// resolveImage without a registry: local layouts and archives are loaded
// (again each time: the file may have changed), stored images are found by
// name or ID, `pull: never` refuses a registry name that is not stored, and
// host / directories are no stored images.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveImage } from '../../../src/image/resolve-image.js';
import { openStore } from '../../../src/image/store/image-store.js';
import { buildImage, dockerArchive, layer, ociLayout, sha, tarFiles, writeTree } from './load/image-builder.js';

const work = mkdtempSync(join(tmpdir(), 'resolve-image-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('resolveImage', () => {
  it('loads local images, finds stored ones, and refuses what it cannot resolve', async () => {
    const store = await openStore(join(work, 'store'));
    const base = await layer({ hello: 'hi\n' });
    const img = buildImage([{ blob: base, tar: base }]);
    const dir = join(work, 'layout');
    writeTree(dir, ociLayout([{ image: img, ref: 'localhost/hello:1' }]));
    const a = await resolveImage(`oci:${dir}`, { store });
    expect(a.names).toEqual(['localhost/hello:1']);
    expect(await store.hasLayer(sha(base))).toBe(true);
    const events: string[] = [];
    await resolveImage(`oci:${dir}:localhost/hello:1`, { store, progress: (e) => events.push(e.type) });
    expect(events).toEqual(['blob-cached']);
    const archive = join(work, 'docker.tar');
    writeFileSync(archive, await tarFiles(dockerArchive(img, ['localhost/hello:docker'])));
    expect((await resolveImage(`docker-archive:${archive}`, { store })).names).toEqual(['localhost/hello:docker']);

    expect((await resolveImage('localhost/hello:1', { store, pull: 'never' })).manifestDigest).toBe(img.manifestDigest);
    expect((await resolveImage(img.manifestDigest, { store })).manifestDigest).toBe(img.manifestDigest);
    await expect(resolveImage('localhost/absent:1', { store, pull: 'never' })).rejects.toThrow(/localhost\/absent:1 is not in the store .*pull policy: never/);
    await expect(resolveImage('host', { store })).rejects.toThrow(/not an image for the store/);
    await expect(resolveImage('./rootfs', { store })).rejects.toThrow(/a plain directory/);
    await expect(resolveImage('x', { store, pull: 'sometimes' as 'never' })).rejects.toThrow(/unknown pull policy/);
    const aborted = new AbortController();
    aborted.abort();
    await expect(resolveImage(`oci:${dir}`, { store, signal: aborted.signal })).rejects.toThrow(/abort/i);
  });
});
