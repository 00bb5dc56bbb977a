// Prune sweep: unpacks left by processes that died, layers/tmp-<hex>-* (and
// their whiteouts sidecars) whose layer lock is free; the lock file goes too
// when the layer itself is not there.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { RemoveLayerTree } from '../layers.js';
import { readDirOrEmpty, statOrNull } from '../store-fs.js';
import { tryLock } from '../store-lock.js';
import type { StorePaths } from '../store-paths.js';

export async function sweepFailedUnpacks(paths: StorePaths, remove: RemoveLayerTree): Promise<void> {
  for (const file of await readDirOrEmpty(paths.layersDir)) {
    const m = /^tmp-([a-f0-9]{64})-[^.]+$/.exec(file);
    if (!m) continue;
    const lock = tryLock(paths.layerLock(`sha256:${m[1]}`));
    if (!lock) continue;
    try {
      await remove(join(paths.layersDir, file));
      await fsp.rm(join(paths.layersDir, `${file}.whiteouts.json`), { force: true });
      if (!(await statOrNull(paths.layer(`sha256:${m[1]}`)))) lock.releaseAndRemove();
    } finally {
      lock.release();
    }
  }
}
