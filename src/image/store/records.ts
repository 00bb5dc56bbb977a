// Image records and names in the store: images/<hex>.json (the manifest
// digest's record: config, layers, platform) and names/<escaped name> (one
// manifest digest each). Reading, checking and resolving them; writing is
// record-writes.ts's, under store.lock.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { SandboxError } from '../../errors.js';
import type { ImageConfig } from '../registry/pull-image.js';
import { HEX64, hostError, readDirOrEmpty } from './store-fs.js';
import { digestHex, isDigest, unescapeName, type StorePaths } from './store-paths.js';

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

export function platformOf(config: ImageConfig): string {
  const parts = [config.os ?? 'linux', config.architecture ?? 'unknown'];
  if (config.variant) parts.push(config.variant);
  return parts.join('/');
}

/** Checks a record's digests and that the config's diff_ids (if any) are the layers' diff IDs. */
export function validateRecord(record: ImageRecord): void {
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

/** The record of a manifest digest (names left empty), or null if there is none; a damaged record throws. */
export async function readRecord(paths: StorePaths, digest: string): Promise<StoredImage | null> {
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

/** The manifest digests that have a record file, in directory order. */
export async function listRecordDigests(paths: StorePaths): Promise<string[]> {
  const out: string[] = [];
  for (const file of await readDirOrEmpty(paths.imagesDir)) {
    const m = /^([a-f0-9]{64})\.json$/.exec(file);
    if (m) out.push(`sha256:${m[1]}`);
  }
  return out;
}

/** name -> manifest digest, for every well-formed name file. */
export async function readNames(paths: StorePaths): Promise<Map<string, string>> {
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

/** The names pointing at `digest`, sorted. */
export function namesOf(names: Map<string, string>, digest: string): string[] {
  return [...names].filter(([, d]) => d === digest).map(([n]) => n).sort();
}

/** A name, "sha256:<hex>" or bare 64-hex to a manifest digest; null for a name that is not there. */
export async function resolveDigest(paths: StorePaths, nameOrDigest: string): Promise<string | null> {
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

/** An image by name, "sha256:<hex>" or bare 64-hex manifest digest, with its names unless `names: false`; null if not there. */
export async function getImage(paths: StorePaths, nameOrDigest: string, opts: { names?: boolean } = {}): Promise<StoredImage | null> {
  const digest = await resolveDigest(paths, nameOrDigest);
  if (!digest) return null;
  const record = await readRecord(paths, digest);
  if (!record) return null;
  // the names are found by reading every name file: a run does not need them
  return { ...record, names: opts.names === false ? [] : namesOf(await readNames(paths), digest) };
}

/** Every recorded image with its names, oldest first. */
export async function listImages(paths: StorePaths): Promise<StoredImage[]> {
  const names = await readNames(paths);
  const out: StoredImage[] = [];
  for (const digest of await listRecordDigests(paths)) {
    const record = await readRecord(paths, digest);
    if (record) out.push({ ...record, names: namesOf(names, digest) });
  }
  return out.sort((a, b) => a.created.localeCompare(b.created) || a.manifestDigest.localeCompare(b.manifestDigest));
}
