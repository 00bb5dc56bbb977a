// removeName: one name goes, the image and its other names stay (podman's
// untag); a name that is not there is an error naming it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { loadImage } from '../../../../src/image/load/load-image.js';
import { openStore } from '../../../../src/image/store/image-store.js';
import { buildImage, layer, ociLayout, writeTree } from '../load/image-builder.js';

const work = mkdtempSync(join(tmpdir(), 'remove-name-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('removes one name and keeps the image', async () => {
  const store = await openStore(join(work, 'store'));
  const base = await layer({ a: '1' });
  const img = buildImage([{ blob: base, tar: base }]);
  writeTree(join(work, 'layout'), ociLayout([{ image: img, ref: 'localhost/a:1' }]));
  await loadImage(store, { transport: 'oci', path: join(work, 'layout'), ref: null }, { names: ['localhost/b:1'] });
  expect(await store.removeName('localhost/b:1')).toBe(img.manifestDigest);
  expect((await store.getImage(img.manifestDigest))?.names).toEqual(['localhost/a:1']);
  await expect(store.removeName('localhost/b:1')).rejects.toThrow(/no image named 'localhost\/b:1'/);
  await store.removeName('localhost/a:1');
  expect((await store.getImage(img.manifestDigest))?.names).toEqual([]);
  await expect(store.removeName(img.manifestDigest)).rejects.toThrow(/no image named/);
});
