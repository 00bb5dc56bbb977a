// The unpacked layers of an image, bottom first, unpacking the missing ones
// (at most two at a time) the one way the host allows:
//  - a subordinate range: inside the user namespace with the image id map,
//    owners and modes kept (unpack-in-userns.ts);
//  - no range: in this process, everything the caller's (the map has one
//    id: nothing else could be inside anyway).
// Either way no file keeps a setuid/setgid bit or a world-writable mode
// (unpack-layer.ts), and the store's directories keep other users out
// (store-access.ts).
// Whiteouts become overlay marks either way (mknod 0/0 and user.* xattrs
// need no privilege). A failed unpack is removed by the store (inside the
// user namespace, through descriptors: remove-tree-in-userns.ts).
// Must not: download, verify blobs (the store names only verified ones) or
// mount anything (the run side mounts the returned dirs as lowerdirs).
import { chmodSync, createReadStream } from 'node:fs';
import { probeHost, type HostFacts } from '../host/probe-host.js';
import { planImageIdMap } from '../idmap/image-idmap.js';
import type { IdMapPlan } from '../idmap/plan-idmap.js';
import type { ImageRecord, ImageStore } from './store/image-store.js';
import { unpackLayerInUserns } from './unpack/unpack-in-userns.js';
import { unpackLayer, type UnpackReport } from './unpack/unpack-layer.js';

/** Layers unpacked at the same time: each is one decompressing process, and hosts here have 2 cores. */
const PARALLEL = 2;

export interface EnsureLayersOptions {
  readonly signal?: AbortSignal;
  /** Host facts (default: probeHost()); tests pass their own. */
  readonly host?: HostFacts;
}

/** How this host unpacks image layers: with owners (in the user namespace) or without. */
export function layerUnpacker(host: HostFacts, idmap: IdMapPlan = planImageIdMap(host), signal?: AbortSignal) {
  return async (dir: string, ctx: { blobPath: string; diffId: string }): Promise<UnpackReport> => {
    // the diff ID is checked while unpacking: the store shares layers by it
    if (idmap.mode === 'subid') return unpackLayerInUserns(ctx.blobPath, dir, { host, idmap, signal, expectDiffId: ctx.diffId });
    chmodSync(dir, 0o755); // mkdtemp's 0700 would hide the image's root from its own non-root users
    return unpackLayer(createReadStream(ctx.blobPath), dir, { chown: false, whiteouts: 'overlay', expectDiffId: ctx.diffId });
  };
}

/**
 * The image's unpacked layer directories, bottom layer first (overlay
 * lowerdirs are listed top first: reverse them). Missing layers are unpacked
 * into the store, each once across processes.
 */
export async function ensureImageLayers(store: ImageStore, image: Pick<ImageRecord, 'layers'>, opts: EnsureLayersOptions = {}): Promise<string[]> {
  const host = opts.host ?? probeHost();
  const idmap = planImageIdMap(host);
  const unpack = layerUnpacker(host, idmap, opts.signal);
  const layers = image.layers;
  const out: string[] = new Array(layers.length);
  let next = 0;
  const worker = async () => {
    while (next < layers.length) {
      opts.signal?.throwIfAborted();
      const i = next++;
      const l = layers[i]!;
      out[i] = await store.ensureLayer(l.digest, l.diffId, unpack);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, layers.length) }, worker));
  return out;
}
