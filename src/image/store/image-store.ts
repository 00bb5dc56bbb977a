// The image store: verified blobs by sha256, layers unpacked once by diff ID
// and shared by every image that has them, image records by manifest digest
// and names pointing at them (layout in store-paths.ts). Safe under
// concurrent sandbox processes:
//  - every file and directory gets its final name by rename(2) only when
//    complete (blobs after verification, layers after unpacking, records and
//    names after writing), so whatever has its name is complete;
//  - store.lock (flock) is held while records or names change and by prune;
//  - layers/sha256/<hex>.lock is held while that layer is unpacked (in
//    layers/tmp-<hex>-*, then renamed) or pruned, so it is unpacked once;
//  - prune removes only what no record references, whose name is older than
//    a grace period (a concurrent pull has not written its record yet), and
//    never a layer whose lock another process holds; putImage re-checks,
//    under store.lock, that everything it references is still there.
// Layer trees (failed unpacks, prune) belong to subordinate ids: they are
// removed by the stage inside the user namespace, through descriptors only
// (remove-tree-in-userns.ts), never by a path walk. Who may walk the store's
// directories is store-access.ts's, applied on every open.
// This file opens the store and binds its parts to its paths: blobs.ts,
// layers.ts, records.ts, record-writes.ts (under store.lock) and prune/
// (one sweep per file).
// Must not: download (registry/pull-image.ts, with blobDir = blobsDir),
// decide how a layer is unpacked (the caller's callback: unpackLayer, in
// the stage for chown), or remove a tree by path.
import type { Readable } from 'node:stream';
import { probeHost, type HostFacts } from '../../host/probe-host.js';
import { planImageIdMap } from '../../idmap/image-idmap.js';
import { layerTreeRemover } from '../unpack/remove-tree-in-userns.js';
import { hasBlob, putBlob } from './blobs.js';
import { hasLayer, unpackLayerOnce, type UnpackLayer } from './layers.js';
import { pruneStore, type PruneOptions, type PruneReport } from './prune/prune-store.js';
import { deleteImage, deleteName, writeImage } from './record-writes.js';
import { getImage, listImages, validateRecord, type ImageRecord, type StoredImage } from './records.js';
import { secureStoreDir, storeAccess, type StoreDirKind } from './store-access.js';
import { acquireLock } from './store-lock.js';
import { digestHex, escapeName, runsDir, storePaths, storeRoot, type StorePaths } from './store-paths.js';

export type { EnsureLayerContext } from './layers.js';
export type { PruneOptions, PruneReport } from './prune/prune-store.js';
export type { ImageRecord, StoredImage, StoredLayer } from './records.js';

export interface StoreOptions {
  /** Wait for store.lock at most this long (default 60 s). */
  readonly lockTimeoutMs?: number;
  /** Wait for a layer's lock (another process unpacking it) at most this long (default 30 min). */
  readonly layerLockTimeoutMs?: number;
  /** The caller's host facts (default: probeHost()): the image id map, for the directories' modes and for removing layer trees. */
  readonly host?: HostFacts;
}

export interface ImageStore {
  readonly root: string;
  readonly paths: StorePaths;
  /** Stores a blob under its digest after verifying it; a stream or a file path. Returns the blob's path. */
  putBlob(source: Readable | string, expectedDigest: string): Promise<string>;
  hasBlob(digest: string): Promise<boolean>;
  blobPath(digest: string): string;
  /** The unpacked layer's directory, unpacking it (once, across processes) with `unpack` into an empty directory if needed. */
  ensureLayer(blobDigest: string, diffId: string, unpack: UnpackLayer): Promise<string>;
  hasLayer(diffId: string): Promise<boolean>;
  layerPath(diffId: string): string;
  /** Writes the record and points every name at it (a name that pointed at another image moves). */
  putImage(record: ImageRecord, names: readonly string[]): Promise<StoredImage>;
  /** By name, "sha256:<hex>" or the bare 64-hex manifest digest; null if not there. `names: false` leaves `names` empty (cheaper). */
  getImage(nameOrDigest: string, opts?: { names?: boolean }): Promise<StoredImage | null>;
  listImages(): Promise<StoredImage[]>;
  /** Removes the image's record and every name pointing at it (not its blobs or layers: prune). Returns the manifest digest. */
  removeImage(nameOrDigest: string): Promise<string>;
  /** Removes one name (the image stays, also when it has no name left). Returns the manifest digest it pointed at. */
  removeName(name: string): Promise<string>;
  prune(options?: PruneOptions): Promise<PruneReport>;
}

export async function openStore(root?: string, options: StoreOptions = {}): Promise<ImageStore> {
  const paths = storePaths(storeRoot(root));
  const lockTimeoutMs = options.lockTimeoutMs ?? 60_000;
  const layerLockTimeoutMs = options.layerLockTimeoutMs ?? 30 * 60_000;
  const host = options.host ?? probeHost();
  const idmap = planImageIdMap(host);
  const remove = layerTreeRemover(paths.layersDir, { host, idmap });
  // every run opens the store: one lstat each when it is right, mkdir or chmod only when not
  const access = storeAccess(idmap, host.uid);
  const dirs: [string, StoreDirKind][] = [[paths.blobsDir, 'private'], [paths.blobsShaDir, 'private'], [paths.layersDir, 'walk'],
    [paths.layersShaDir, 'walk'], [paths.imagesDir, 'private'], [paths.namesDir, 'private']];
  secureStoreDir(paths.root, 'walk', access, { isRoot: true });
  for (const [d, kind] of dirs) secureStoreDir(d, kind, access);
  secureStoreDir(runsDir(paths.root), 'walk', access, { create: false }); // made by the first image run

  /** Layers being ensured by this process: a second caller waits for the first instead of polling the lock. */
  const inflight = new Map<string, Promise<string>>();

  async function withStoreLock<T>(fn: () => Promise<T>): Promise<T> {
    const lock = await acquireLock(paths.lockFile, 'the image store', lockTimeoutMs);
    try {
      return await fn();
    } finally {
      lock.release();
    }
  }

  function ensureLayer(blobDigest: string, diffId: string, unpack: UnpackLayer): Promise<string> {
    digestHex(blobDigest, 'layer digest');
    const key = digestHex(diffId, 'layer diff ID');
    const running = inflight.get(key);
    if (running) return running;
    const p = unpackLayerOnce(paths, blobDigest, diffId, unpack, { remove, lockTimeoutMs: layerLockTimeoutMs }).finally(() => inflight.delete(key));
    inflight.set(key, p);
    return p;
  }

  async function putImage(record: ImageRecord, names: readonly string[]): Promise<StoredImage> {
    validateRecord(record);
    for (const n of names) escapeName(n);
    return withStoreLock(() => writeImage(paths, record, names));
  }

  function prune(opts: PruneOptions = {}): Promise<PruneReport> {
    return withStoreLock(() => pruneStore(paths, remove, opts));
  }

  return {
    root: paths.root,
    paths,
    putBlob: (source, digest) => putBlob(paths, source, digest),
    hasBlob: (digest) => hasBlob(paths, digest),
    blobPath: (d) => paths.blob(d),
    ensureLayer,
    hasLayer: (diffId) => hasLayer(paths, diffId),
    layerPath: (d) => paths.layer(d),
    putImage,
    getImage: (nameOrDigest, opts) => getImage(paths, nameOrDigest, opts),
    listImages: () => listImages(paths),
    removeImage: (nameOrDigest) => withStoreLock(() => deleteImage(paths, nameOrDigest)),
    removeName: (name) => withStoreLock(() => deleteName(paths, name)),
    prune,
  };
}
