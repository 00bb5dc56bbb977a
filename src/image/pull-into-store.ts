// Pulls a registry image into the store: blobs downloaded straight into the
// store's blob directory (pullImage verifies each), then the diff IDs
// checked, layers unpacked and the image recorded under its canonical name.
// Must not: talk to the registry itself (pull-image.ts does).
import { recordImage } from './load/record-image.js';
import type { DockerReference } from './registry/parse-reference.js';
import { pullImage } from './registry/pull-image.js';
import type { ImageStore, StoredImage } from './store/image-store.js';
import type { ImageFetchOptions } from './image-fetch-options.js';

/** The pull policy is the caller's business: this pulls. */
export type PullIntoStoreOptions = Omit<ImageFetchOptions, 'pull'>;

export async function pullIntoStore(store: ImageStore, ref: DockerReference, opts: PullIntoStoreOptions = {}): Promise<StoredImage> {
  const pulled = await pullImage(ref, {
    blobDir: store.paths.blobsDir,
    ...(opts.platform !== undefined ? { platform: opts.platform } : {}),
    ...(opts.tlsVerify !== undefined ? { tlsVerify: opts.tlsVerify } : {}),
    ...(opts.progress ? { onProgress: opts.progress } : {}),
  });
  opts.signal?.throwIfAborted();
  return recordImage(store, {
    source: `docker://${ref.canonical}`,
    manifestDigest: pulled.manifestDigest,
    configDigest: pulled.configDigest,
    config: pulled.config,
    layers: pulled.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size })),
  }, [ref.canonical], opts.signal ? { signal: opts.signal } : {});
}
