// Prune sweep: unpacked layers no record references, past the grace period
// and not locked by another process (which may be about to use it): each is
// renamed out of sight, then removed with its sidecar and lock file.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { RemoveLayerTree } from '../layers.js';
import { HEX64, hostError, random, readDirOrEmpty, statOrNull } from '../store-fs.js';
import { tryLock } from '../store-lock.js';
import type { StorePaths } from '../store-paths.js';
import { pastGrace, type SweepClock } from './sweep-clock.js';

export interface LayerSweep {
  /** Diff IDs of the layers removed. */
  readonly removed: string[];
  /** Unreferenced layers another process held the lock of: left alone. */
  readonly busy: string[];
}

/** `referenced`: hex of the diff IDs to keep. */
export async function sweepUnreferencedLayers(paths: StorePaths, referenced: ReadonlySet<string>, clock: SweepClock,
  remove: RemoveLayerTree): Promise<LayerSweep> {
  const removed: string[] = [];
  const busy: string[] = [];
  for (const hex of await readDirOrEmpty(paths.layersShaDir)) {
    if (!HEX64.test(hex) || referenced.has(hex)) continue;
    const diffId = `sha256:${hex}`;
    const dir = paths.layer(diffId);
    const st = await statOrNull(dir);
    if (!st || !st.isDirectory() || !pastGrace(st, clock)) continue;
    const lock = tryLock(paths.layerLock(diffId));
    if (!lock) {
      busy.push(diffId);
      continue;
    }
    try {
      // out of sight first (one rename), then removed at leisure
      const doomed = join(paths.layersDir, `tmp-${hex}-del${random()}`);
      await fsp.rename(dir, doomed);
      await fsp.rm(paths.layerWhiteouts(diffId), { force: true });
      removed.push(diffId);
      await remove(doomed);
      lock.releaseAndRemove();
    } catch (e) {
      throw hostError(`cannot remove layer ${dir}`, e);
    } finally {
      lock.release();
    }
  }
  return { removed, busy };
}
