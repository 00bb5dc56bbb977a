// PLACEHOLDER, to be replaced at merge by the user-namespace unpacker (owned
// by another engineer): makes sure every layer of an image is unpacked in
// the store and returns the layer directories, bottom layer first.
// This version unpacks in-process without chown (everything belongs to the
// caller, setuid bits stripped): enough for images whose files need no owner.
import { createReadStream } from 'node:fs';
import type { ImageStore, StoredImage } from './store/image-store.js';
import { unpackLayer } from './unpack/unpack-layer.js';

export async function ensureImageLayers(store: ImageStore, image: StoredImage, opts: { signal?: AbortSignal } = {}): Promise<string[]> {
  const dirs: string[] = [];
  for (const layer of image.layers) {
    opts.signal?.throwIfAborted();
    dirs.push(await store.ensureLayer(layer.digest, layer.diffId, (dir, ctx) =>
      unpackLayer(createReadStream(ctx.blobPath), dir, { chown: false })));
  }
  return dirs;
}
