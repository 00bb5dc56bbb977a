// The second pass over an image archive: the entries the image needs
// streamed into the store (which checks each digest again: the file may
// have changed since the scan).
// Must not: store an entry that was not asked for.
import type { PullProgress } from '../registry/pull-image.js';
import type { ImageStore } from '../store/image-store.js';
import { forEachArchiveEntry } from './archive-entries.js';
import { loadError } from './load-error.js';
import { storeBlob } from './store-blobs.js';

export interface WantedEntry {
  readonly digest: string;
  readonly size: number;
}

/** Stores every entry named in `wanted` (entry name → digest and size) that the store does not have yet. */
export async function copyArchiveBlobs(store: ImageStore, source: string, file: string, wanted: ReadonlyMap<string, WantedEntry>,
  onProgress?: (e: PullProgress) => void, signal?: AbortSignal): Promise<void> {
  const missing = new Map<string, WantedEntry>();
  for (const [name, w] of wanted) {
    if (await store.hasBlob(w.digest)) onProgress?.({ type: 'blob-cached', digest: w.digest, size: w.size, bytes: w.size });
    else missing.set(name, w);
  }
  if (missing.size === 0) return;
  const stored = new Set<string>();
  await forEachArchiveEntry(file, async (entry, data) => {
    signal?.throwIfAborted();
    const w = missing.get(entry.name);
    if (!w || entry.type !== 'file') return;
    await storeBlob(store, source, `entry ${entry.name}`, () => data, w, onProgress);
    stored.add(entry.name);
  });
  for (const name of missing.keys()) {
    if (!stored.has(name)) throw loadError(source, `entry ${name}`, 'gone from the archive since it was read', 'the archive changed while it was loaded; load it again');
  }
}
