// Clears the writable layers of image runs whose process died before its
// stage could (kill -9 of `sandbox`): the stage empties upper/ and work/
// inside the user namespace with the same maps, strictly through
// descriptors (clear-dirs.ts), then the emptied directories are removed.
// Runs at the start of every image run; costs one readdir when nothing is stale.
import { existsSync } from 'node:fs';
import type { HostFacts } from '../host/probe-host.js';
import type { IdMapPlan } from '../idmap/plan-idmap.js';
import { clearDirs } from '../launch/clear-dirs.js';
import type { WritableLayer } from '../rootfs/overlay-root.js';
import { removeWritableLayer, staleWritableLayers } from './writable-layer.js';

/** Empties a writable layer from inside the user namespace it was written in; true when that worked. */
export async function clearInside(layer: WritableLayer, idmap: IdMapPlan, host: HostFacts): Promise<boolean> {
  // a run killed while its layer was being made may lack one of them
  const dirs = [layer.work, layer.upper].filter((d) => existsSync(d));
  return clearDirs(dirs, { idmap, host }).then(() => true, () => false);
}

/** Clears and removes stale writable layers under the store; returns the directories removed. */
export async function cleanStaleLayers(storeRoot: string, idmap: IdMapPlan, host: HostFacts): Promise<string[]> {
  const removed: string[] = [];
  for (const layer of staleWritableLayers(storeRoot)) {
    // a layer the run left already empty needs no stage
    if (await removeWritableLayer(layer) || ((await clearInside(layer, idmap, host)) && await removeWritableLayer(layer))) {
      removed.push(layer.dir);
    }
  }
  return removed;
}
