// Prune sweep: whiteouts sidecars and lock files of layers that are not
// there (and no record references), unless another process holds the lock.
import { promises as fsp } from 'node:fs';
import { HEX64, readDirOrEmpty, statOrNull } from '../store-fs.js';
import { tryLock } from '../store-lock.js';
import type { StorePaths } from '../store-paths.js';

/** `referenced`: hex of the diff IDs to keep. */
export async function sweepLayerLeftovers(paths: StorePaths, referenced: ReadonlySet<string>): Promise<void> {
  const entries = await readDirOrEmpty(paths.layersShaDir);
  const dirs = new Set(entries.filter((f) => HEX64.test(f)));
  for (const file of entries) {
    const m = /^([a-f0-9]{64})\.(whiteouts\.json|lock)$/.exec(file);
    if (!m || dirs.has(m[1]!) || referenced.has(m[1]!)) continue;
    const diffId = `sha256:${m[1]}`;
    const lock = tryLock(paths.layerLock(diffId));
    if (!lock) continue;
    if (await statOrNull(paths.layer(diffId))) {
      lock.release();
      continue;
    }
    await fsp.rm(paths.layerWhiteouts(diffId), { force: true });
    lock.releaseAndRemove();
  }
}
