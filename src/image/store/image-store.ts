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
// Must not: download (registry/pull-image.ts, with blobDir = blobsDir),
// decide how a layer is unpacked (the caller's callback: unpackLayer, in
// the stage for chown), or remove a tree by path.
import { randomBytes, createHash } from 'node:crypto';
import { promises as fsp, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isSandboxError, SandboxError } from '../../errors.js';
import { probeHost, type HostFacts } from '../../host/probe-host.js';
import { planImageIdMap } from '../../idmap/image-idmap.js';
import type { ImageConfig } from '../registry/pull-image.js';
import { layerTreeRemover } from '../unpack/remove-tree-in-userns.js';
import { secureStoreDir, storeAccess, type StoreDirKind } from './store-access.js';
import { acquireLock, tryLock, type HeldLock } from './store-lock.js';
import { digestHex, escapeName, isDigest, runsDir, storePaths, storeRoot, unescapeName, type StorePaths } from './store-paths.js';

export interface StoredLayer {
  /** Digest of the (compressed) layer blob, as the manifest lists it. */
  readonly digest: string;
  /** sha256 of the uncompressed tar, as the config's rootfs.diff_ids lists it. */
  readonly diffId: string;
  readonly size: number;
  readonly mediaType: string;
}

export interface ImageRecord {
  readonly manifestDigest: string;
  readonly configDigest: string;
  /** The OCI image config JSON. */
  readonly config: ImageConfig;
  readonly layers: readonly StoredLayer[];
  /** ISO 8601; default: when putImage ran. */
  readonly created?: string;
  /** "os/arch[/variant]"; default: from the config. */
  readonly platform?: string;
}

export interface StoredImage extends ImageRecord {
  readonly created: string;
  readonly platform: string;
  /** The names pointing at this image now (names/ is the only source of truth for them). */
  readonly names: string[];
}

export interface StoreOptions {
  /** Wait for store.lock at most this long (default 60 s). */
  readonly lockTimeoutMs?: number;
  /** Wait for a layer's lock (another process unpacking it) at most this long (default 30 min). */
  readonly layerLockTimeoutMs?: number;
  /** The caller's host facts (default: probeHost()): the image id map, for the directories' modes and for removing layer trees. */
  readonly host?: HostFacts;
}

export interface PruneOptions {
  /** Keep unreferenced blobs and layers whose name is younger than this (default 1 h: a pull in progress has not written its record yet). */
  readonly graceMs?: number;
}

export interface PruneReport {
  readonly removedBlobs: string[];
  readonly removedLayers: string[];
  /** Unreferenced layers another process held the lock of: left alone. */
  readonly busyLayers: string[];
  readonly removedNames: string[];
  readonly freedBytes: number;
}

export interface EnsureLayerContext {
  /** The diff ID being unpacked. */
  readonly diffId: string;
  /** Where the layer's blob is (or would be) in the store. */
  readonly blobPath: string;
}

export interface ImageStore {
  readonly root: string;
  readonly paths: StorePaths;
  /** Stores a blob under its digest after verifying it; a stream or a file path. Returns the blob's path. */
  putBlob(source: Readable | string, expectedDigest: string): Promise<string>;
  hasBlob(digest: string): Promise<boolean>;
  blobPath(digest: string): string;
  /** The unpacked layer's directory, unpacking it (once, across processes) with `unpack` into an empty directory if needed. */
  ensureLayer(blobDigest: string, diffId: string, unpack: (dir: string, ctx: EnsureLayerContext) => Promise<unknown>): Promise<string>;
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

const DAY_MS = 24 * 3600 * 1000;
const HEX64 = /^[a-f0-9]{64}$/;

function random(): string {
  return randomBytes(6).toString('hex');
}

async function statOrNull(path: string): Promise<Stats | null> {
  try {
    return await fsp.lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw hostError(`cannot inspect ${path}`, e);
  }
}

function hostError(what: string, e: unknown, hint = 'check that the image store is writable by you; set SANDBOX_STORE to move it'): SandboxError {
  if (isSandboxError(e)) return e;
  const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message ?? String(e);
  return new SandboxError('host', `${what}: ${code}`, hint);
}

async function readDirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw hostError(`cannot read ${dir}`, e);
  }
}

/** Writes `data` to a temporary file next to `path`, syncs it and renames it into place. */
async function writeFileAtomic(path: string, data: string): Promise<void> {
  // a leading dot: no escaped name and no record starts with one
  const tmp = join(dirname(path), `.tmp-${random()}-${basename(path)}`);
  try {
    const fh = await fsp.open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw hostError(`cannot write ${path}`, e);
  }
}

function platformOf(config: ImageConfig): string {
  const parts = [config.os ?? 'linux', config.architecture ?? 'unknown'];
  if (config.variant) parts.push(config.variant);
  return parts.join('/');
}

/** Checks a record's digests and that the config's diff_ids (if any) are the layers' diff IDs. */
function validateRecord(record: ImageRecord): void {
  digestHex(record.manifestDigest, 'manifest digest');
  digestHex(record.configDigest, 'config digest');
  if (!record.config || typeof record.config !== 'object') {
    throw new SandboxError('config', `image ${record.manifestDigest}: the record has no image config`, 'pass the parsed OCI image config');
  }
  for (const l of record.layers) {
    digestHex(l.digest, 'layer digest');
    digestHex(l.diffId, 'layer diff ID');
  }
  const diffIds = record.config.rootfs?.diff_ids;
  if (diffIds && (diffIds.length !== record.layers.length || diffIds.some((d, i) => d !== record.layers[i]!.diffId))) {
    throw new SandboxError('config', `image ${record.manifestDigest}: the layers' diff IDs do not match the config's rootfs.diff_ids`,
      'the image is malformed, or the layers were given in another order than the manifest lists them');
  }
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

  async function hasBlob(digest: string): Promise<boolean> {
    const st = await statOrNull(paths.blob(digest));
    return st !== null && st.isFile();
  }

  async function hasLayer(diffId: string): Promise<boolean> {
    const st = await statOrNull(paths.layer(diffId));
    return st !== null && st.isDirectory();
  }

  async function putBlob(source: Readable | string, expectedDigest: string): Promise<string> {
    const hex = digestHex(expectedDigest, 'blob digest');
    const dest = paths.blob(expectedDigest);
    const from = typeof source === 'string' ? source : 'the stream';
    if (await hasBlob(expectedDigest)) {
      // only verified blobs get their name: nothing to do
      if (typeof source !== 'string') source.destroy();
      return dest;
    }
    const tmp = join(paths.blobsShaDir, `.tmp-${random()}-${hex.slice(0, 12)}`);
    const hash = createHash('sha256');
    let input: Readable | undefined = typeof source === 'string' ? undefined : source;
    try {
      // both files are opened before the copy starts: a stream that opens
      // lazily could create tmp after a failure had already removed it
      input ??= (await fsp.open(source as string, 'r')).createReadStream();
      const out = await fsp.open(tmp, 'wx', 0o644);
      await pipeline(input, async function* (chunks: AsyncIterable<Buffer | string>) {
        for await (const c of chunks) {
          const b = typeof c === 'string' ? Buffer.from(c) : c;
          hash.update(b);
          yield b;
        }
      }, out.createWriteStream());
      const fh = await fsp.open(tmp, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (e) {
      input?.destroy();
      await fsp.rm(tmp, { force: true }).catch(() => {});
      throw hostError(`cannot store blob ${expectedDigest} from ${from}`, e,
        typeof source === 'string' ? `check that ${source} is readable and the image store is writable` : 'check that the image store is writable; set SANDBOX_STORE to move it');
    }
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== expectedDigest) {
      await fsp.rm(tmp, { force: true }).catch(() => {});
      throw new SandboxError('config', `blob digest mismatch for ${from}: expected ${expectedDigest}, got ${actual}`,
        'the blob is corrupt or was tampered with; nothing was stored: download it again');
    }
    try {
      await fsp.rename(tmp, dest);
    } catch (e) {
      await fsp.rm(tmp, { force: true }).catch(() => {});
      throw hostError(`cannot store blob ${dest}`, e);
    }
    return dest;
  }

  async function unpackOnce(blobDigest: string, diffId: string,
    unpack: (dir: string, ctx: EnsureLayerContext) => Promise<unknown>): Promise<string> {
    const final = paths.layer(diffId);
    if (await hasLayer(diffId)) return final;
    const lock = await acquireLock(paths.layerLock(diffId), `layer ${diffId}`, layerLockTimeoutMs);
    try {
      // another process may have unpacked it while we waited
      if (await hasLayer(diffId)) return final;
      let tmp: string;
      try {
        tmp = await fsp.mkdtemp(join(paths.layersDir, `tmp-${digestHex(diffId)}-`));
      } catch (e) {
        throw hostError(`cannot create a directory to unpack layer ${diffId} in ${paths.layersDir}`, e);
      }
      const tmpSidecar = `${tmp}.whiteouts.json`;
      try {
        await unpack(tmp, { diffId, blobPath: paths.blob(blobDigest) });
        // a stale sidecar (of a layer pruned halfway) must not stand for this one
        await fsp.rm(paths.layerWhiteouts(diffId), { force: true });
        if (await statOrNull(tmpSidecar)) await fsp.rename(tmpSidecar, paths.layerWhiteouts(diffId));
        await fsp.rename(tmp, final);
      } catch (e) {
        try {
          await remove(tmp);
          await fsp.rm(tmpSidecar, { force: true });
        } catch {
          /* prune removes what is left: tmp-<hex>-* whose lock is free */
        }
        if (isSandboxError(e)) throw e;
        throw hostError(`cannot unpack layer ${diffId} into ${tmp}`, e);
      }
      return final;
    } finally {
      lock.release();
    }
  }

  function ensureLayer(blobDigest: string, diffId: string,
    unpack: (dir: string, ctx: EnsureLayerContext) => Promise<unknown>): Promise<string> {
    digestHex(blobDigest, 'layer digest');
    const key = digestHex(diffId, 'layer diff ID');
    const running = inflight.get(key);
    if (running) return running;
    const p = unpackOnce(blobDigest, diffId, unpack).finally(() => inflight.delete(key));
    inflight.set(key, p);
    return p;
  }

  async function readRecord(digest: string): Promise<StoredImage | null> {
    const file = paths.image(digest);
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw hostError(`cannot read image record ${file}`, e);
    }
    try {
      const r = JSON.parse(text) as StoredImage;
      return { ...r, names: [] };
    } catch (e) {
      throw new SandboxError('config', `image record ${file} is not valid JSON: ${(e as Error).message}`,
        `remove ${file} (the image is lost; pull it again)`);
    }
  }

  /** name -> manifest digest, for every well-formed name file. */
  async function readNames(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const file of await readDirOrEmpty(paths.namesDir)) {
      if (file.startsWith('.')) continue; // temporary files
      let name: string;
      try {
        name = unescapeName(file);
      } catch {
        continue;
      }
      let digest: string;
      try {
        digest = (await fsp.readFile(join(paths.namesDir, file), 'utf8')).trim();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw hostError(`cannot read ${join(paths.namesDir, file)}`, e);
      }
      if (isDigest(digest)) out.set(name, digest);
    }
    return out;
  }

  function namesOf(names: Map<string, string>, digest: string): string[] {
    return [...names].filter(([, d]) => d === digest).map(([n]) => n).sort();
  }

  async function resolveDigest(nameOrDigest: string): Promise<string | null> {
    if (isDigest(nameOrDigest)) return nameOrDigest;
    if (HEX64.test(nameOrDigest)) return `sha256:${nameOrDigest}`;
    const file = paths.name(nameOrDigest);
    try {
      const d = (await fsp.readFile(file, 'utf8')).trim();
      return isDigest(d) ? d : null;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw hostError(`cannot read ${file}`, e);
    }
  }

  async function getImage(nameOrDigest: string, opts: { names?: boolean } = {}): Promise<StoredImage | null> {
    const digest = await resolveDigest(nameOrDigest);
    if (!digest) return null;
    const record = await readRecord(digest);
    if (!record) return null;
    // the names are found by reading every name file: a run does not need them
    return { ...record, names: opts.names === false ? [] : namesOf(await readNames(), digest) };
  }

  async function listImages(): Promise<StoredImage[]> {
    const names = await readNames();
    const out: StoredImage[] = [];
    for (const file of await readDirOrEmpty(paths.imagesDir)) {
      const m = /^([a-f0-9]{64})\.json$/.exec(file);
      if (!m) continue;
      const digest = `sha256:${m[1]}`;
      const record = await readRecord(digest);
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
      if (!(await hasBlob(record.configDigest))) missing.push(`config blob ${record.configDigest}`);
      for (const l of record.layers) {
        if (!(await hasBlob(l.digest))) missing.push(`layer blob ${l.digest}`);
        if (!(await hasLayer(l.diffId))) missing.push(`unpacked layer ${l.diffId}`);
      }
      if (missing.length) {
        throw new SandboxError('host', `image ${record.manifestDigest} cannot be recorded in ${paths.root}: missing ${missing.join(', ')}`,
          'store every blob (putBlob) and unpack every layer (ensureLayer) first; a concurrent prune may have removed them: pull again');
      }
      await writeFileAtomic(paths.image(record.manifestDigest), `${JSON.stringify({ schemaVersion: 1, ...stored }, null, 2)}\n`);
      for (const n of names) await writeFileAtomic(paths.name(n), `${record.manifestDigest}\n`);
      return { ...stored, names: namesOf(await readNames(), record.manifestDigest) };
    });
  }

  async function removeImage(nameOrDigest: string): Promise<string> {
    return withStoreLock(async () => {
      const digest = await resolveDigest(nameOrDigest);
      const exists = digest ? await statOrNull(paths.image(digest)) : null;
      if (!digest || !exists) {
        throw new SandboxError('config', `no image '${nameOrDigest}' in the store ${paths.root}`,
          'list the stored images by name and digest, and name one of them');
      }
      // names first: a crash in between leaves a nameless record, never a name without its image
      for (const n of namesOf(await readNames(), digest)) {
        await fsp.rm(paths.name(n), { force: true }).catch((e) => { throw hostError(`cannot remove ${paths.name(n)}`, e); });
      }
      await fsp.rm(paths.image(digest), { force: true }).catch((e) => { throw hostError(`cannot remove ${paths.image(digest)}`, e); });
      return digest;
    });
  }

  async function removeName(name: string): Promise<string> {
    return withStoreLock(async () => {
      const digest = isDigest(name) ? null : await resolveDigest(name);
      if (!digest) {
        throw new SandboxError('config', `no image named '${name}' in the store ${paths.root}`, 'list the stored images by name and digest, and name one of them');
      }
      await fsp.rm(paths.name(name), { force: true }).catch((e) => { throw hostError(`cannot remove ${paths.name(name)}`, e); });
      return digest;
    });
  }

  async function prune(opts: PruneOptions = {}): Promise<PruneReport> {
    const graceMs = opts.graceMs ?? 3600_000;
    const now = Date.now();
    // rename(2) sets ctime, and ctime cannot be set by an archive or a user: the age of the name
    const old = (st: Stats, ms: number) => ms <= 0 || now - st.ctimeMs >= ms;
    return withStoreLock(async () => {
      const report = { removedBlobs: [] as string[], removedLayers: [] as string[], busyLayers: [] as string[], removedNames: [] as string[], freedBytes: 0 };
      const blobs = new Set<string>();
      const layers = new Set<string>();
      const records = new Set<string>();
      for (const file of await readDirOrEmpty(paths.imagesDir)) {
        const m = /^([a-f0-9]{64})\.json$/.exec(file);
        if (!m) continue;
        const r = await readRecord(`sha256:${m[1]}`); // a damaged record throws: never prune what it may reference
        if (!r) continue;
        records.add(r.manifestDigest);
        blobs.add(digestHex(r.manifestDigest)).add(digestHex(r.configDigest));
        for (const l of r.layers) {
          blobs.add(digestHex(l.digest));
          layers.add(digestHex(l.diffId));
        }
      }
      // names whose image is gone
      for (const [name, digest] of await readNames()) {
        if (!records.has(digest)) {
          await fsp.rm(paths.name(name), { force: true });
          report.removedNames.push(name);
        }
      }
      // records and names a crashed writer left half-written
      for (const dir of [paths.imagesDir, paths.namesDir]) {
        for (const file of await readDirOrEmpty(dir)) {
          if (!file.startsWith('.tmp-')) continue;
          const st = await statOrNull(join(dir, file));
          if (st && now - st.mtimeMs >= DAY_MS) await fsp.rm(join(dir, file), { force: true });
        }
      }
      // blobs
      for (const file of await readDirOrEmpty(paths.blobsShaDir)) {
        const path = join(paths.blobsShaDir, file);
        const isBlob = HEX64.test(file);
        if (isBlob && blobs.has(file)) continue;
        if (!isBlob && !file.startsWith('.tmp-')) continue;
        const st = await statOrNull(path);
        if (!st || !st.isFile()) continue;
        // a download in progress keeps writing: its mtime stays fresh
        if (isBlob ? !old(st, graceMs) : now - st.mtimeMs < DAY_MS) continue;
        await fsp.rm(path, { force: true });
        if (isBlob) report.removedBlobs.push(`sha256:${file}`);
        report.freedBytes += st.size;
      }
      // unpacks left by processes that died: tmp-<hex>-* whose layer lock is free
      for (const file of await readDirOrEmpty(paths.layersDir)) {
        const m = /^tmp-([a-f0-9]{64})-[^.]+$/.exec(file);
        if (!m) continue;
        const lock = tryLock(paths.layerLock(`sha256:${m[1]}`));
        if (!lock) continue;
        try {
          await remove(join(paths.layersDir, file));
          await fsp.rm(join(paths.layersDir, `${file}.whiteouts.json`), { force: true });
          if (!(await statOrNull(paths.layer(`sha256:${m[1]}`)))) lock.releaseAndRemove();
        } finally {
          lock.release();
        }
      }
      // layers
      const entries = await readDirOrEmpty(paths.layersShaDir);
      const dirs = new Set(entries.filter((f) => HEX64.test(f)));
      for (const hex of dirs) {
        if (layers.has(hex)) continue;
        const diffId = `sha256:${hex}`;
        const dir = paths.layer(diffId);
        const st = await statOrNull(dir);
        if (!st || !st.isDirectory() || !old(st, graceMs)) continue;
        let lock: HeldLock | null;
        if (!(lock = tryLock(paths.layerLock(diffId)))) {
          report.busyLayers.push(diffId);
          continue;
        }
        try {
          // out of sight first (one rename), then removed at leisure
          const doomed = join(paths.layersDir, `tmp-${hex}-del${random()}`);
          await fsp.rename(dir, doomed);
          await fsp.rm(paths.layerWhiteouts(diffId), { force: true });
          report.removedLayers.push(diffId);
          await remove(doomed);
          lock.releaseAndRemove();
        } catch (e) {
          throw hostError(`cannot remove layer ${dir}`, e);
        } finally {
          lock.release();
        }
      }
      // sidecars and lock files of layers that are not there
      for (const file of entries) {
        const m = /^([a-f0-9]{64})\.(whiteouts\.json|lock)$/.exec(file);
        if (!m || dirs.has(m[1]!) || layers.has(m[1]!)) continue;
        const lock = tryLock(paths.layerLock(`sha256:${m[1]}`));
        if (!lock) continue;
        if (await statOrNull(paths.layer(`sha256:${m[1]}`))) {
          lock.release();
          continue;
        }
        await fsp.rm(paths.layerWhiteouts(`sha256:${m[1]}`), { force: true });
        lock.releaseAndRemove();
      }
      return report;
    });
  }

  return {
    root: paths.root,
    paths,
    putBlob,
    hasBlob,
    blobPath: (d) => paths.blob(d),
    ensureLayer,
    hasLayer,
    layerPath: (d) => paths.layer(d),
    putImage,
    getImage,
    listImages,
    removeImage,
    removeName,
    prune,
  };
}
