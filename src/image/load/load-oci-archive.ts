// Loads an image from an OCI layout packed in a tar (oci-archive:FILE[:REF],
// what `podman save --format oci-archive` and `skopeo copy` write), streamed
// twice and never extracted: a scan that checks every blob against its
// name, then a copy of the blobs the chosen image needs into the store.
// Must not: extract the archive or read it into memory whole.
import { Readable } from 'node:stream';
import type { ImageStore, StoredImage } from '../store/image-store.js';
import { resolveArchiveName } from './archive-entries.js';
import { scanArchive, type ArchiveScan } from './archive-scan.js';
import { copyArchiveBlobs, type WantedEntry } from './copy-archive-blobs.js';
import { loadError } from './load-error.js';
import { loadPlatform, storeNames, type LoadOptions } from './load-options.js';
import { readOciImage, type OciBlobSource } from './oci-image.js';
import { recordImage } from './record-image.js';
import { storeBlob } from './store-blobs.js';

const blobName = (digest: string) => `blobs/${digest.replace(':', '/')}`;

/** Reads small files of the layout out of a scan. */
export function scanBlobSource(name: string, scan: ArchiveScan): OciBlobSource {
  const read = (path: string, max: number): Buffer | null => {
    const real = resolveArchiveName(name, scan.entries, path, `entry ${path}`);
    if (!real) return null;
    const e = scan.entries.get(real)!;
    if (e.size > max) throw loadError(name, `entry ${path}`, `${e.size} bytes, more than the ${max} allowed`);
    if (!e.data) throw loadError(name, `entry ${path}`, 'too many small files in the archive to hold in memory');
    return e.data;
  };
  return {
    name,
    readFile: async (p, max) => read(p, max),
    readBlob: async (d, max) => read(blobName(d), max),
  };
}

/** The OCI image in a scanned archive, its blobs copied into the store and recorded. */
export async function loadScannedOciArchive(store: ImageStore, file: string, scan: ArchiveScan, ref: string | null, opts: LoadOptions = {}): Promise<StoredImage> {
  const name = `oci-archive:${file}`;
  const image = await readOciImage(scanBlobSource(name, scan), ref, loadPlatform(opts));
  await storeBlob(store, name, blobName(image.manifestDigest), () => Readable.from([image.manifestRaw]), { digest: image.manifestDigest, size: image.manifestRaw.length });
  await storeBlob(store, name, blobName(image.configDigest), () => Readable.from([image.configRaw]), { digest: image.configDigest, size: image.configRaw.length });
  const wanted = new Map<string, WantedEntry>();
  for (const [i, l] of image.manifest.layers.entries()) {
    const where = `entry ${blobName(l.digest)} (/layers/${i} of manifest ${image.manifestDigest})`;
    const real = resolveArchiveName(name, scan.entries, blobName(l.digest), where);
    if (!real) throw loadError(name, where, 'the layer blob is missing from the archive');
    const e = scan.entries.get(real)!;
    // the scan checked the content of every blobs/sha256/<hex> against its name
    if (e.digest !== l.digest) throw loadError(name, where, `the entry's sha256 is ${e.digest}, not ${l.digest}`);
    if (e.size !== l.size) throw loadError(name, where, `${e.size} bytes, the manifest says ${l.size}`);
    wanted.set(real, { digest: l.digest, size: l.size });
  }
  await copyArchiveBlobs(store, name, file, wanted, opts.onProgress, opts.signal);
  return recordImage(store, {
    source: name, manifestDigest: image.manifestDigest, configDigest: image.configDigest, config: image.config,
    layers: image.manifest.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size })),
  }, storeNames(ref ? [...image.refNames, ref] : image.refNames, opts.names), opts.signal ? { signal: opts.signal } : {});
}

export async function loadOciArchive(store: ImageStore, file: string, ref: string | null, opts: LoadOptions = {}): Promise<StoredImage> {
  return loadScannedOciArchive(store, file, await scanArchive(file), ref, opts);
}
