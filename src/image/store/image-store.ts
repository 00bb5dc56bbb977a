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
// layers.ts, records.ts (with putImage and the removals here, under
// store.lock) and prune/ (one sweep per file).
// Must not: download (registry/pull-image.ts, with blobDir = blobsDir),
// decide how a layer is unpacked (the caller's callback: unpackLayer, in
// the stage for chown), or remove a tree by path.
import { promises as fsp } from 'node:fs';
import type { Readable } from 'node:stream';
import { SandboxError } from '../../errors.js';
import { probeHost, type HostFacts } from '../../host/probe-host.js';
import { planImageIdMap } from '../../idmap/image-idmap.js';
import { layerTreeRemover } from '../unpack/remove-tree-in-userns.js';
import { hasBlob, putBlob } from './blobs.js';
import { hasLayer, unpackLayerOnce, type UnpackLayer } from './layers.js';
import { pruneStore, type PruneOptions, type PruneReport } from './prune/prune-store.js';
import {
  listRecordDigests, namesOf, platformOf, readNames, readRecord, resolveDigest, validateRecord, type ImageRecord, type StoredImage,
} from './records.js';
import { secureStoreDir, storeAccess, type StoreDirKind } from './store-access.js';
import { hostError, statOrNull, writeFileAtomic } from './store-fs.js';
import { acquireLock } from './store-lock.js';
import { digestHex, escapeName, isDigest, runsDir, storePaths, storeRoot, type StorePaths } from './store-paths.js';

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

  async function getImage(nameOrDigest: string, opts: { names?: boolean } = {}): Promise<StoredImage | null> {
    const digest = await resolveDigest(paths, nameOrDigest);
    if (!digest) return null;
    const record = await readRecord(paths, digest);
    if (!record) return null;
    // the names are found by reading every name file: a run does not need them
    return { ...record, names: opts.names === false ? [] : namesOf(await readNames(paths), digest) };
  }

  async function listImages(): Promise<StoredImage[]> {
    const names = await readNames(paths);
    const out: StoredImage[] = [];
    for (const digest of await listRecordDigests(paths)) {
      const record = await readRecord(paths, digest);
      if (record) out.push({ ...record, names: namesOf(names, digest) });
    }
    return out.sort((a, b) => a.created.localeCompare(b.created) || a.manifestDigest.localeCompare(b.manifestDigest));
  }

  async function putImage(record: ImageRecord, names: readonly string[]): Promise<StoredImage> {
    validateRecord(record);
    for (const n of names) escapeName(n);
    const stored: Omit<StoredImage, 'names'> = {
      manifestDigest: record.manifestDigest,
      configDigest: record.configDigest,
      config: record.config,
      layers: record.layers.map((l) => ({ digest: l.digest, diffId: l.diffId, size: l.size, mediaType: l.mediaType })),
      created: record.created ?? new Date().toISOString(),
      platform: record.platform ?? platformOf(record.config),
    };
    return withStoreLock(async () => {
      // under the lock prune cannot run: what is here now stays while the record exists
      const missing: string[] = [];
      if (!(await hasBlob(paths, record.configDigest))) missing.push(`config blob ${record.configDigest}`);
      for (const l of record.layers) {
        if (!(await hasBlob(paths, l.digest))) missing.push(`layer blob ${l.digest}`);
        if (!(await hasLayer(paths, l.diffId))) missing.push(`unpacked layer ${l.diffId}`);
      }
      if (missing.length) {
        throw new SandboxError('host', `image ${record.manifestDigest} cannot be recorded in ${paths.root}: missing ${missing.join(', ')}`,
          'store every blob (putBlob) and unpack every layer (ensureLayer) first; a concurrent prune may have removed them: pull again');
      }
      await writeFileAtomic(paths.image(record.manifestDigest), `${JSON.stringify({ schemaVersion: 1, ...stored }, null, 2)}\n`);
      for (const n of names) await writeFileAtomic(paths.name(n), `${record.manifestDigest}\n`);
      return { ...stored, names: namesOf(await readNames(paths), record.manifestDigest) };
    });
  }

  async function removeImage(nameOrDigest: string): Promise<string> {
    return withStoreLock(async () => {
      const digest = await resolveDigest(paths, nameOrDigest);
      const exists = digest ? await statOrNull(paths.image(digest)) : null;
      if (!digest || !exists) {
        throw new SandboxError('config', `no image '${nameOrDigest}' in the store ${paths.root}`,
          'list the stored images by name and digest, and name one of them');
      }
      // names first: a crash in between leaves a nameless record, never a name without its image
      for (const n of namesOf(await readNames(paths), digest)) {
        await fsp.rm(paths.name(n), { force: true }).catch((e) => { throw hostError(`cannot remove ${paths.name(n)}`, e); });
      }
      await fsp.rm(paths.image(digest), { force: true }).catch((e) => { throw hostError(`cannot remove ${paths.image(digest)}`, e); });
      return digest;
    });
  }

  async function removeName(name: string): Promise<string> {
    return withStoreLock(async () => {
      const digest = isDigest(name) ? null : await resolveDigest(paths, name);
      if (!digest) {
        throw new SandboxError('config', `no image named '${name}' in the store ${paths.root}`, 'list the stored images by name and digest, and name one of them');
      }
      await fsp.rm(paths.name(name), { force: true }).catch((e) => { throw hostError(`cannot remove ${paths.name(name)}`, e); });
      return digest;
    });
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
    getImage,
    listImages,
    removeImage,
    removeName,
    prune,
  };
}
