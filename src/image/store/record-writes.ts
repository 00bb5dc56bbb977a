// Writing image records and names: a record is written only when every blob
// and layer it references is there, and a name moves to the image recorded
// last; removal takes names first. Each function expects the caller to hold
// store.lock (so prune cannot run meanwhile).
import { promises as fsp } from 'node:fs';
import { SandboxError } from '../../errors.js';
import { hasBlob } from './blobs.js';
import { hasLayer } from './layers.js';
import { namesOf, platformOf, readNames, resolveDigest, type ImageRecord, type StoredImage } from './records.js';
import { hostError, statOrNull, writeFileAtomic } from './store-fs.js';
import { isDigest, type StorePaths } from './store-paths.js';

/** Writes the record and points every name at it, after checking its blobs and layers are there. Hold store.lock. */
export async function writeImage(paths: StorePaths, record: ImageRecord, names: readonly string[]): Promise<StoredImage> {
  const stored: Omit<StoredImage, 'names'> = {
    manifestDigest: record.manifestDigest,
    configDigest: record.configDigest,
    config: record.config,
    layers: record.layers.map((l) => ({ digest: l.digest, diffId: l.diffId, size: l.size, mediaType: l.mediaType })),
    created: record.created ?? new Date().toISOString(),
    platform: record.platform ?? platformOf(record.config),
  };
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
}

/** Removes the image's record and every name pointing at it (not its blobs or layers: prune). Hold store.lock. */
export async function deleteImage(paths: StorePaths, nameOrDigest: string): Promise<string> {
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
}

/** Removes one name; returns the manifest digest it pointed at. Hold store.lock. */
export async function deleteName(paths: StorePaths, name: string): Promise<string> {
  const digest = isDigest(name) ? null : await resolveDigest(paths, name);
  if (!digest) {
    throw new SandboxError('config', `no image named '${name}' in the store ${paths.root}`, 'list the stored images by name and digest, and name one of them');
  }
  await fsp.rm(paths.name(name), { force: true }).catch((e) => { throw hostError(`cannot remove ${paths.name(name)}`, e); });
  return digest;
}
