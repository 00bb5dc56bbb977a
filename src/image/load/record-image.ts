// The last step of every way an image enters the store (pull and the
// loaders): the layers' diff IDs (sha256 of the uncompressed tar) checked
// against the config's rootfs.diff_ids, the layers unpacked
// (ensureImageLayers), then the record and its names written.
// Must not: fetch or read blobs from outside the store; every blob named
// here is already in the store, verified by its digest.
import { SandboxError } from '../../errors.js';
import { ensureImageLayers } from '../ensure-layers.js';
import type { ImageConfig } from '../registry/pull-image.js';
import { diffIdOf } from '../store/diff-id.js';
import type { ImageStore, StoredImage, StoredLayer } from '../store/image-store.js';
import { loadError } from './load-error.js';

export interface ImageParts {
  /** The image, for messages: "oci-archive:/x.tar", "docker://...". */
  readonly source: string;
  readonly manifestDigest: string;
  readonly configDigest: string;
  readonly config: ImageConfig;
  readonly layers: readonly { digest: string; mediaType: string; size: number }[];
  /** The config must list diff IDs (docker-archive: nothing else ties layers to the config). */
  readonly requireDiffIds?: boolean;
}

export interface RecordOptions {
  readonly signal?: AbortSignal;
}

/** The layers with their diff IDs, each checked against the config. */
export async function layerDiffIds(store: ImageStore, parts: ImageParts): Promise<StoredLayer[]> {
  const claimed = parts.config.rootfs?.diff_ids;
  if (!claimed && parts.requireDiffIds) {
    throw loadError(parts.source, `config ${parts.configDigest} /rootfs/diff_ids`, 'missing: the layers cannot be tied to the config');
  }
  const out: StoredLayer[] = [];
  for (const [i, l] of parts.layers.entries()) {
    const want = claimed?.[i];
    // a layer already unpacked under the config's diff ID is exactly what the (digest-bound) config asks for
    const diffId = want && (await store.hasLayer(want)) ? want : await diffIdOf(store.blobPath(l.digest));
    if (want && diffId !== want) {
      throw loadError(parts.source, `config ${parts.configDigest} /rootfs/diff_ids/${i}`,
        `layer ${l.digest} uncompresses to ${diffId}, not ${want}`, 'the image is corrupt or was tampered with; nothing was recorded');
    }
    out.push({ digest: l.digest, diffId, size: l.size, mediaType: l.mediaType });
  }
  return out;
}

/** Unpacks the image's layers and records it under `names` (normalised already). */
export async function recordImage(store: ImageStore, parts: ImageParts, names: readonly string[], opts: RecordOptions = {}): Promise<StoredImage> {
  opts.signal?.throwIfAborted();
  const layers = await layerDiffIds(store, parts);
  const record = { manifestDigest: parts.manifestDigest, configDigest: parts.configDigest, config: parts.config, layers };
  // ensureImageLayers takes an image; putImage wants the layers unpacked first
  const candidate: StoredImage = {
    ...record,
    created: new Date().toISOString(),
    platform: `${parts.config.os ?? 'linux'}/${parts.config.architecture ?? 'unknown'}${parts.config.variant ? `/${parts.config.variant}` : ''}`,
    names: [],
  };
  await ensureImageLayers(store, candidate, opts.signal ? { signal: opts.signal } : {});
  opts.signal?.throwIfAborted();
  try {
    return await store.putImage(record, names);
  } catch (e) {
    if (e instanceof SandboxError) throw new SandboxError(e.code, `recording ${parts.source}: ${e.message}`, e.hint);
    throw e;
  }
}
