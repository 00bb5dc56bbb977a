// Loads an image from an OCI image layout directory (oci:DIR[:REF]) into
// the store: blobs copied after their digest is checked, then recorded.
// Must not: write into DIR, follow a blob that is not a regular file.
import { createReadStream, promises as fsp } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { StoredImage, ImageStore } from '../store/image-store.js';
import { loadError } from './load-error.js';
import { loadPlatform, storeNames, type LoadOptions } from './load-options.js';
import { readOciImage, type OciBlobSource } from './oci-image.js';
import { recordImage } from './record-image.js';
import { storeBlob } from './store-blobs.js';

async function readSmall(name: string, path: string, rel: string, maxBytes: number): Promise<Buffer | null> {
  let st;
  try {
    st = await fsp.lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw loadError(name, rel, `cannot read: ${(e as NodeJS.ErrnoException).code}`, 'check that you may read the layout');
  }
  if (!st.isFile()) throw loadError(name, rel, 'not a regular file');
  if (st.size > maxBytes) throw loadError(name, rel, `${st.size} bytes, more than the ${maxBytes} allowed`);
  return fsp.readFile(path);
}

function blobRel(digest: string): string {
  return join('blobs', ...digest.split(':'));
}

export async function loadOciLayout(store: ImageStore, dir: string, ref: string | null, opts: LoadOptions = {}): Promise<StoredImage> {
  const root = resolve(dir);
  const name = `oci:${dir}`;
  const st = await fsp.stat(root).catch(() => null);
  if (!st?.isDirectory()) throw loadError(name, null, 'not a directory', 'oci: takes the directory of an OCI image layout (with index.json); for a tar file use oci-archive:FILE');
  const source: OciBlobSource = {
    name,
    readFile: (p, max) => readSmall(name, join(root, p), p, max),
    readBlob: (d, max) => readSmall(name, join(root, blobRel(d)), blobRel(d), max),
  };
  const image = await readOciImage(source, ref, loadPlatform(opts));
  await storeBlob(store, name, blobRel(image.manifestDigest), () => Readable.from([image.manifestRaw]), { digest: image.manifestDigest, size: image.manifestRaw.length });
  await storeBlob(store, name, blobRel(image.configDigest), () => Readable.from([image.configRaw]), { digest: image.configDigest, size: image.configRaw.length });
  for (const [i, l] of image.manifest.layers.entries()) {
    opts.signal?.throwIfAborted();
    const rel = blobRel(l.digest);
    const where = `${rel} (/layers/${i} of manifest ${image.manifestDigest})`;
    const lst = await fsp.lstat(join(root, rel)).catch(() => null);
    if (!lst) throw loadError(name, where, 'the layer blob is missing');
    if (!lst.isFile()) throw loadError(name, where, 'the layer blob is not a regular file');
    if (lst.size !== l.size) throw loadError(name, where, `${lst.size} bytes, the manifest says ${l.size}`);
    await storeBlob(store, name, where, () => createReadStream(join(root, rel)), l, opts.onProgress);
  }
  return recordImage(store, {
    source: name, manifestDigest: image.manifestDigest, configDigest: image.configDigest, config: image.config,
    layers: image.manifest.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size })),
  }, storeNames(ref ? [...image.refNames, ref] : image.refNames, opts.names), opts.signal ? { signal: opts.signal } : {});
}
