// Prune sweep: blobs no record references (past the grace period) and
// abandoned partial downloads (.tmp-* in blobs/sha256, untouched for a day).
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { HEX64, readDirOrEmpty, statOrNull } from '../store-fs.js';
import type { StorePaths } from '../store-paths.js';
import { abandoned, pastGrace, type SweepClock } from './sweep-clock.js';

export interface BlobSweep {
  /** Digests of the blobs removed (not the partial downloads). */
  readonly removed: string[];
  /** Bytes of everything removed, partial downloads included. */
  readonly freedBytes: number;
}

/** `referenced`: hex of the blobs to keep. */
export async function sweepUnreferencedBlobs(paths: StorePaths, referenced: ReadonlySet<string>, clock: SweepClock): Promise<BlobSweep> {
  const removed: string[] = [];
  let freedBytes = 0;
  for (const file of await readDirOrEmpty(paths.blobsShaDir)) {
    const path = join(paths.blobsShaDir, file);
    const isBlob = HEX64.test(file);
    if (isBlob && referenced.has(file)) continue;
    if (!isBlob && !file.startsWith('.tmp-')) continue;
    const st = await statOrNull(path);
    if (!st || !st.isFile()) continue;
    // a download in progress keeps writing: its mtime stays fresh
    if (isBlob ? !pastGrace(st, clock) : !abandoned(st, clock)) continue;
    await fsp.rm(path, { force: true });
    if (isBlob) removed.push(`sha256:${file}`);
    freedBytes += st.size;
  }
  return { removed, freedBytes };
}
