// Finds a stored image the way a user names it: a name as pull records it
// (alpine means docker.io/library/alpine:latest), a full digest, or an image
// ID prefix (podman's IMAGE ID is the config digest; the manifest digest is
// accepted too). An ambiguous prefix is an error, never a guess.
// Must not: pull, load or change the store.
import { SandboxError } from '../errors.js';
import { parseDockerReference } from './registry/parse-reference.js';
import type { ImageStore, StoredImage } from './store/image-store.js';

const HEX_PREFIX = /^(?:sha256:)?([a-f0-9]{4,64})$/;

/** The store name a user's name stands for (normalised as pull records it), or null if it is no registry name. */
export function normaliseImageName(text: string): string | null {
  try {
    return parseDockerReference(text.startsWith('docker://') ? text.slice('docker://'.length) : text).canonical;
  } catch {
    return null;
  }
}

export async function findImage(store: ImageStore, text: string): Promise<StoredImage | null> {
  const name = normaliseImageName(text);
  if (name) {
    const byName = await store.getImage(name);
    if (byName) return byName;
  }
  const exact = await store.getImage(text).catch(() => null);
  if (exact) return exact;
  const m = HEX_PREFIX.exec(text);
  if (!m) return null;
  const prefix = m[1]!;
  const hits = (await store.listImages()).filter((i) =>
    i.configDigest.slice(7).startsWith(prefix) || i.manifestDigest.slice(7).startsWith(prefix));
  if (hits.length > 1) {
    throw new SandboxError('usage', `image ID "${text}" is ambiguous: ${hits.length} images start with it`, 'give more digits of the ID or a name');
  }
  return hits[0] ?? null;
}
