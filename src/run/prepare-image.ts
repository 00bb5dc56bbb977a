// Turns an image reference into what a run needs (ResolvedImage): unpacked
// layer directories, the config and the image's users. `host` needs nothing;
// a directory is a one-layer image with no config; anything else comes from
// the image store.
// Must not: plan or start the run.
import { realpathSync, statSync } from 'node:fs';
import { SandboxError } from '../errors.js';
import { openStore } from '../image/store/image-store.js';
import { formatImageReference, parseImageReference } from '../image/registry/parse-reference.js';
import type { ResolvedImage } from '../resolve/image-defaults.js';
import { readImageFile } from './image-etc.js';

export interface PrepareImageOptions {
  /** Image store directory (default: $SANDBOX_STORE, else under $XDG_DATA_HOME). */
  readonly store?: string;
  readonly signal?: AbortSignal;
}

function withUsers(image: Omit<ResolvedImage, 'passwd' | 'group'>): ResolvedImage {
  return { ...image, passwd: readImageFile(image.layers, '/etc/passwd'), group: readImageFile(image.layers, '/etc/group') };
}

function directoryImage(ref: string, path: string): ResolvedImage {
  let real: string;
  try {
    real = realpathSync(path);
    if (!statSync(real).isDirectory()) throw Object.assign(new Error(), { code: 'ENOTDIR' });
  } catch (e) {
    throw new SandboxError('usage', `image ${ref}: ${path} is not a directory (${(e as NodeJS.ErrnoException).code ?? e})`,
      'give the path of a root file system directory, or an image name');
  }
  return withUsers({ ref, digest: '', layers: [real], config: {} });
}

/** null for `host`. */
export async function prepareImage(ref: string, options: PrepareImageOptions = {}): Promise<ResolvedImage | null> {
  const parsed = parseImageReference(ref);
  if (parsed.transport === 'host') return null;
  if (parsed.transport === 'dir') return directoryImage(ref, parsed.path);
  const store = await openStore(options.store);
  const name = parsed.transport === 'docker' ? parsed.canonical : formatImageReference(parsed);
  const image = await store.getImage(name) ?? await store.getImage(ref);
  if (!image) {
    throw new SandboxError('usage', `image ${ref} is not in the store (${store.root})`, `pull or load it first: sandbox image pull ${ref}`);
  }
  const layers = await Promise.all(image.layers.map(async (l) => {
    if (!(await store.hasLayer(l.diffId))) {
      throw new SandboxError('usage', `image ${ref}: layer ${l.diffId} is not unpacked`, `pull it again: sandbox image pull ${ref}`);
    }
    return store.layerPath(l.diffId);
  }));
  return withUsers({ ref, digest: image.manifestDigest, layers, config: image.config.config ?? {} });
}
