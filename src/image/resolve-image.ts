// The one way `exec` (and the library) turns an image reference into a
// stored image whose layers are unpacked: a name already in the store is
// used as is (pull: 'missing'), a registry reference is pulled when
// missing (or always, or never), a local archive or layout is loaded (its
// blobs are not copied twice), and every layer is made sure of at the end.
// Must not: decide how layers are unpacked (ensure-layers.ts) or handle
// `host` and plain directories (they are no stored images).
import { SandboxError } from '../errors.js';
import type { HostFacts } from '../host/probe-host.js';
import { ensureImageLayers } from './ensure-layers.js';
import { findImage } from './find-image.js';
import { isLoadable, loadImage } from './load/load-image.js';
import { pullIntoStore } from './pull-into-store.js';
import { parseImageReference, type ImageReference } from './registry/parse-reference.js';
import { fetchOptions, type ImageFetchOptions } from './image-fetch-options.js';
import { formatPlatform, parsePlatform } from './platform.js';
import { type ImageStore, type StoredImage } from './store/image-store.js';
import { openStore } from './store/image-store.js';

export interface ResolveImageOptions extends ImageFetchOptions {
  /** Default: openStore() at storeRoot() ($SANDBOX_STORE, $XDG_DATA_HOME/...). */
  readonly store?: ImageStore;
  /** Host facts for unpacking layers (default: probeHost()). */
  readonly host?: HostFacts;
}

function localOnly(ref: ImageReference, text: string): never {
  throw new SandboxError('usage', `"${text}" is not an image for the store (${ref.transport === 'host' ? 'the host image' : 'a plain directory'})`,
    'use it as a root file system directly; resolveImage takes registry references, oci:, oci-archive: and docker-archive:');
}

export async function resolveImage(ref: string, opts: ResolveImageOptions = {}): Promise<StoredImage> {
  const policy = opts.pull ?? 'missing';
  if (!['missing', 'always', 'never'].includes(policy)) {
    throw new SandboxError('usage', `unknown pull policy "${String(policy)}"`, 'use missing, always or never');
  }
  const store = opts.store ?? await openStore();
  opts.signal?.throwIfAborted();
  let image: StoredImage | null = null;
  // an image ID or digest of a stored image is no reference to parse
  if (/^(?:sha256:)?[a-f0-9]{12,64}$/.test(ref)) image = await findImage(store, ref);
  if (!image) {
    const parsed = parseImageReference(ref);
    if (parsed.transport === 'host' || parsed.transport === 'dir') localOnly(parsed, ref);
    if (isLoadable(parsed)) {
      // the file may have changed since it was last loaded: load again (stored blobs are not copied twice)
      image = await loadImage(store, parsed, {
        ...(opts.platform !== undefined ? { platform: opts.platform } : {}),
        ...(opts.progress ? { onProgress: opts.progress } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } else if (parsed.transport === 'docker') {
      if (policy !== 'always') image = await store.getImage(parsed.canonical, { names: false });
      // a stored image for another platform is not the one asked for
      if (image && opts.platform && image.platform !== formatPlatform(parsePlatform(opts.platform))) image = null;
      if (!image && policy === 'never') {
        throw new SandboxError('config', `image ${parsed.canonical} is not in the store ${store.root} (pull policy: never)`,
          `pull it first: sandbox image pull ${ref}`);
      }
      const { pull: _policy, ...pullOptions } = fetchOptions(opts);
      image ??= await pullIntoStore(store, parsed, pullOptions);
    }
  }
  if (!image) throw new SandboxError('config', `no image "${ref}" in the store ${store.root}`, 'list the stored images: sandbox image ls');
  // a record is only written with its layers, but a layer may have been removed by hand
  await ensureImageLayers(store, image, { ...(opts.signal && { signal: opts.signal }), ...(opts.host && { host: opts.host }) });
  return image;
}
