// The unpacked layers of an image, bottom first, unpacking the missing ones
// (at most two at a time) the one way the host allows:
//  - a subordinate range: inside the user namespace with the image id map,
//    owners and modes kept (unpack-in-userns.ts);
//  - no range: in this process, everything the caller's, setuid/setgid
//    dropped (the map has one id: nothing else could be inside anyway).
// Whiteouts become overlay marks either way (mknod 0/0 and user.* xattrs
// need no privilege). A failed unpack is removed here, with the same power
// it was written with, before the store sees the error.
// Must not: download, verify blobs (the store names only verified ones) or
// mount anything (the run side mounts the returned dirs as lowerdirs).
import { chmodSync, chownSync, createReadStream, lstatSync } from 'node:fs';
import { probeHost, type HostFacts } from '../host/probe-host.js';
import { hostRootOf, planImageIdMap } from '../idmap/image-idmap.js';
import type { IdMapPlan } from '../idmap/plan-idmap.js';
import type { ImageRecord, ImageStore } from './store/image-store.js';
import { removeTreeInUserns } from './unpack/remove-tree-in-userns.js';
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
  return async (dir: string, ctx: { blobPath: string; diffId: string }, layersDir: string): Promise<UnpackReport> => {
    try {
      // the diff ID is checked while unpacking: the store shares layers by it
      if (idmap.mode === 'subid') return await unpackLayerInUserns(ctx.blobPath, dir, { host, idmap, signal, expectDiffId: ctx.diffId });
      chmodSync(dir, 0o755); // mkdtemp's 0700 would hide the image's root from its own non-root users
      return await unpackLayer(createReadStream(ctx.blobPath), dir, { chown: false, whiteouts: 'overlay', expectDiffId: ctx.diffId });
    } catch (e) {
      // the store removes the directory too, but may not have the namespace's power over it
      await removeTreeInUserns([dir], { within: [layersDir], host, idmap }).catch(() => {});
      throw e;
    }
  };
}

/**
 * Root's layers belong to root's range, but the store's directories to host
 * root (0700): the namespace's root could not reach a layer to mount it. The
 * directory holding the layers gets that id as its group, search only (0710):
 * a mount inside the namespace then resolves `<hex>` relative to it (the
 * stage chdir's there first), and no other host user gains anything.
 */
export function grantLayerSearch(layersShaDir: string, idmap: IdMapPlan): void {
  if (idmap.mode !== 'subid') return;
  const st = lstatSync(layersShaDir);
  const { uid, gid } = hostRootOf(idmap);
  if (st.uid === uid) return; // the caller is the namespace's root: it owns the directory
  if (st.mode & 0o001) return; // already searchable by everyone (a store made 0711 for this)
  if (st.gid !== gid) chownSync(layersShaDir, st.uid, gid);
  if ((st.mode & 0o7777) !== 0o710) chmodSync(layersShaDir, 0o710);
}

/**
 * The image's unpacked layer directories, bottom layer first (overlay
 * lowerdirs are listed top first: reverse them). Missing layers are unpacked
 * into the store, each once across processes.
 */
export async function ensureImageLayers(store: ImageStore, image: Pick<ImageRecord, 'layers'>, opts: EnsureLayersOptions = {}): Promise<string[]> {
  const host = opts.host ?? probeHost();
  const idmap = planImageIdMap(host);
  if (host.uid === 0) grantLayerSearch(store.paths.layersShaDir, idmap);
  const unpack = layerUnpacker(host, idmap, opts.signal);
  const layers = image.layers;
  const out: string[] = new Array(layers.length);
  let next = 0;
  const worker = async () => {
    while (next < layers.length) {
      opts.signal?.throwIfAborted();
      const i = next++;
      const l = layers[i]!;
      out[i] = await store.ensureLayer(l.digest, l.diffId, (dir, ctx) => unpack(dir, ctx, store.paths.layersDir));
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, layers.length) }, worker));
  return out;
}
