// Copies a blob from a loader's source into the store with progress events
// (the same events a pull sends, so one progress display serves both). The
// store verifies the digest before the blob gets its name.
// Must not: trust the source: size and digest are checked on the way.
import { Readable, Transform } from 'node:stream';
import type { PullProgress } from '../registry/pull-image.js';
import type { ImageStore } from '../store/image-store.js';
import { loadError } from './load-error.js';

export async function storeBlob(store: ImageStore, source: string, where: string, open: () => Readable,
  d: { digest: string; size: number }, onProgress?: (e: PullProgress) => void): Promise<void> {
  if (await store.hasBlob(d.digest)) {
    onProgress?.({ type: 'blob-cached', digest: d.digest, size: d.size, bytes: d.size });
    return;
  }
  onProgress?.({ type: 'blob-start', digest: d.digest, size: d.size, bytes: 0 });
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (bytes > d.size) {
        cb(loadError(source, where, `blob ${d.digest} is larger than the ${d.size} bytes its descriptor says`));
        return;
      }
      onProgress?.({ type: 'blob-data', digest: d.digest, size: d.size, bytes });
      cb(null, chunk);
    },
  });
  const input = open();
  input.on('error', (e) => count.destroy(e));
  // putBlob destroys what it reads on failure; the source (a file) must close with it
  count.on('close', () => input.destroy());
  await store.putBlob(input.pipe(count), d.digest);
  onProgress?.({ type: 'blob-done', digest: d.digest, size: d.size, bytes });
}
