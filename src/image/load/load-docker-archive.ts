// Loads an image from what `docker save` and `podman save` write
// (docker-archive:FILE[:NAME]): manifest.json lists, per image, the config
// file, the RepoTags and the layer tars (plain or compressed; the legacy
// layout names them <id>/layer.tar and links repeated ones). Streamed twice,
// never extracted. There is no manifest in the archive: one is written for
// the store (docker schema 2) so the image has a digest like a pulled one.
// Must not: follow a name in manifest.json out of the archive, or accept a
// layer the config's rootfs.diff_ids does not name.
import { Readable } from 'node:stream';
import { parseDockerReference } from '../registry/parse-reference.js';
import { MEDIA_TYPES } from '../oci-types.js';
import { sniffCompression } from '../unpack/decompress.js';
import type { ImageStore, StoredImage } from '../store/image-store.js';
import { normaliseArchiveName, resolveArchiveName } from './archive-entries.js';
import { scanArchive, type ArchiveScan, type ScannedEntry } from './archive-scan.js';
import { copyArchiveBlobs, type WantedEntry } from './copy-archive-blobs.js';
import { LOAD_LIMITS, loadError, pointer } from './load-error.js';
import { storeNames, type LoadOptions } from './load-options.js';
import { checkConfig } from '../image-json.js';
import { sha256 } from './oci-image.js';
import { recordImage } from './record-image.js';
import { storeBlob } from './store-blobs.js';

interface ManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

const LAYER_TYPES = {
  gzip: MEDIA_TYPES.dockerLayerGzip,
  zstd: MEDIA_TYPES.ociLayerZstd,
  none: 'application/vnd.docker.image.rootfs.diff.tar',
} as const;

function readManifestJson(name: string, scan: ArchiveScan): ManifestEntry[] {
  const e = scan.entries.get('manifest.json');
  if (e?.type === 'symlink') {
    throw loadError(name, 'manifest.json', `a symlink (to '${e.linkname}'), not a file: docker save writes it as a regular file`,
      'the archive was made or changed by something else: save the image again (docker save / podman save --format docker-archive)');
  }
  if (e && e.type !== 'file') {
    throw loadError(name, 'manifest.json', 'not a regular file: this is not a docker-archive as docker save writes it', 'save the image again (docker save / podman save --format docker-archive)');
  }
  if (!e) {
    throw loadError(name, 'manifest.json', 'missing: this is not a docker-archive', 'for an OCI layout archive use oci-archive:FILE');
  }
  if (e.size > LOAD_LIMITS.maxJsonBytes || !e.data) {
    throw loadError(name, 'manifest.json', `${e.size} bytes, more than the ${LOAD_LIMITS.maxJsonBytes} allowed`);
  }
  let value: unknown;
  try {
    value = JSON.parse(e.data.toString('utf8'));
  } catch (err) {
    throw loadError(name, 'manifest.json', `not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(value) || value.length === 0) throw loadError(name, 'manifest.json /', 'not a non-empty array of images');
  value.forEach((m: Partial<ManifestEntry> | null, i) => {
    if (!m || typeof m !== 'object') throw loadError(name, `manifest.json ${pointer(i)}`, 'not an object');
    if (typeof m.Config !== 'string') throw loadError(name, `manifest.json ${pointer(i, 'Config')}`, 'missing the config file name');
    if (!Array.isArray(m.Layers) || m.Layers.some((l) => typeof l !== 'string')) throw loadError(name, `manifest.json ${pointer(i, 'Layers')}`, 'not a list of file names');
    if (m.Layers.length > LOAD_LIMITS.maxLayers) throw loadError(name, `manifest.json ${pointer(i, 'Layers')}`, `${m.Layers.length} layers, more than the ${LOAD_LIMITS.maxLayers} allowed`);
    if (m.RepoTags != null && (!Array.isArray(m.RepoTags) || m.RepoTags.some((t) => typeof t !== 'string'))) {
      throw loadError(name, `manifest.json ${pointer(i, 'RepoTags')}`, 'not a list of names');
    }
  });
  return value as ManifestEntry[];
}

function pickImage(name: string, entries: ManifestEntry[], wanted: string | null): { entry: ManifestEntry; index: number } {
  if (wanted !== null) {
    const want = parseDockerReference(wanted).canonical;
    const index = entries.findIndex((m) => (m.RepoTags ?? []).some((t) => {
      try {
        return parseDockerReference(t).canonical === want;
      } catch {
        return false;
      }
    }));
    if (index < 0) {
      const tags = entries.flatMap((m) => m.RepoTags ?? []);
      throw loadError(name, 'manifest.json', `no image tagged "${wanted}"`, tags.length ? `the archive holds: ${tags.join(', ')}` : 'the archive names no image; leave the name out');
    }
    return { entry: entries[index]!, index };
  }
  if (entries.length > 1) {
    const tags = entries.flatMap((m) => m.RepoTags ?? []);
    throw loadError(name, 'manifest.json', `the archive holds ${entries.length} images`, `name one: docker-archive:FILE:NAME${tags.length ? ` (${tags.join(', ')})` : ''}`);
  }
  return { entry: entries[0]!, index: 0 };
}

/** The file entry a name in manifest.json stands for (never outside the archive). */
function entryFor(name: string, scan: ArchiveScan, raw: string, where: string): ScannedEntry {
  const norm = normaliseArchiveName(name, raw, `manifest.json ${where}`);
  const real = resolveArchiveName(name, scan.entries, norm, `manifest.json ${where}`);
  if (!real) throw loadError(name, `manifest.json ${where}`, `"${raw}" is not a file in the archive`);
  return scan.entries.get(real)!;
}

export async function loadScannedDockerArchive(store: ImageStore, file: string, scan: ArchiveScan, wanted: string | null, opts: LoadOptions = {}): Promise<StoredImage> {
  const name = `docker-archive:${file}`;
  const { entry, index } = pickImage(name, readManifestJson(name, scan), wanted);
  const configEntry = entryFor(name, scan, entry.Config, pointer(index, 'Config'));
  if (!configEntry.data) throw loadError(name, `entry ${configEntry.name}`, `the config is ${configEntry.size} bytes, more than the ${LOAD_LIMITS.maxJsonBytes} allowed`);
  const config = checkConfig(name, `entry ${configEntry.name}`, configEntry.data, entry.Layers.length);
  const configDigest = sha256(configEntry.data);
  const want = new Map<string, WantedEntry>();
  const layers = entry.Layers.map((raw, i) => {
    const e = entryFor(name, scan, raw, pointer(index, 'Layers', i));
    want.set(e.name, { digest: e.digest!, size: e.size });
    return { digest: e.digest!, size: e.size, mediaType: LAYER_TYPES[sniffCompression(e.head)] };
  });
  const manifestRaw = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.dockerManifest,
    config: { mediaType: MEDIA_TYPES.dockerConfig, size: configEntry.size, digest: configDigest },
    layers,
  }));
  const manifestDigest = sha256(manifestRaw);
  await storeBlob(store, name, 'manifest', () => Readable.from([manifestRaw]), { digest: manifestDigest, size: manifestRaw.length });
  await storeBlob(store, name, `entry ${configEntry.name}`, () => Readable.from([configEntry.data!]), { digest: configDigest, size: configEntry.size });
  await copyArchiveBlobs(store, name, file, want, opts.onProgress, opts.signal);
  return recordImage(store, { source: name, manifestDigest, configDigest, config, layers, requireDiffIds: true },
    storeNames(entry.RepoTags ?? [], opts.names), opts.signal ? { signal: opts.signal } : {});
}

export async function loadDockerArchive(store: ImageStore, file: string, wanted: string | null, opts: LoadOptions = {}): Promise<StoredImage> {
  return loadScannedDockerArchive(store, file, await scanArchive(file), wanted, opts);
}
