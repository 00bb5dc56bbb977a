// One entry for every local image source: oci:DIR[:REF],
// oci-archive:FILE[:REF], docker-archive:FILE[:NAME], and a plain archive
// path whose kind is told by what it holds (manifest.json: docker-archive,
// else index.json: OCI layout). Registry references are pulled, not loaded.
// Must not: guess a kind the archive does not show.
import { promises as fsp } from 'node:fs';
import { SandboxError } from '../../errors.js';
import type { ImageReference } from '../registry/parse-reference.js';
import type { ImageStore, StoredImage } from '../store/image-store.js';
import { scanArchive } from './archive-scan.js';
import { loadScannedDockerArchive } from './load-docker-archive.js';
import { loadError } from './load-error.js';
import type { LoadOptions } from './load-options.js';
import { loadOciLayout } from './load-oci-layout.js';
import { loadScannedOciArchive } from './load-oci-archive.js';

export type LoadableReference = Extract<ImageReference, { transport: 'oci' | 'oci-archive' | 'docker-archive' }>;

export function isLoadable(ref: ImageReference): ref is LoadableReference {
  return ref.transport === 'oci' || ref.transport === 'oci-archive' || ref.transport === 'docker-archive';
}

export async function loadImage(store: ImageStore, ref: LoadableReference, opts: LoadOptions = {}): Promise<StoredImage> {
  if (ref.transport === 'oci') return loadOciLayout(store, ref.path, ref.ref, opts);
  const scan = await scanArchive(ref.path);
  if (ref.transport === 'oci-archive') return loadScannedOciArchive(store, ref.path, scan, ref.ref, opts);
  return loadScannedDockerArchive(store, ref.path, scan, ref.name ?? null, opts);
}

/** Loads an archive or OCI layout directory given by path: the kind is sniffed. */
export async function loadImageFile(store: ImageStore, path: string, opts: LoadOptions = {}): Promise<StoredImage> {
  const st = await fsp.stat(path).catch((e: NodeJS.ErrnoException) => {
    throw new SandboxError('usage', `cannot load ${path}: ${e.code ?? e.message}`, 'name an image archive (podman save, docker save) or an OCI layout directory');
  });
  if (st.isDirectory()) return loadOciLayout(store, path, null, opts);
  const scan = await scanArchive(path);
  if (scan.entries.has('manifest.json')) return loadScannedDockerArchive(store, path, scan, null, opts);
  if (scan.entries.has('index.json')) return loadScannedOciArchive(store, path, scan, null, opts);
  throw loadError(path, null, 'neither manifest.json (docker-archive) nor index.json (oci-archive) is in the archive',
    'give an archive written by `podman save`, `docker save` or `skopeo copy`');
}

