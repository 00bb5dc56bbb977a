// Clears the writable layers of image runs whose process died before its
// stage could (kill -9 of `sandbox`): a stage plan that only enters the
// user namespace with the same maps and empties each directory, then the
// emptied directories are removed. Runs at the start of every image run;
// costs one readdir when nothing is stale.
import { existsSync } from 'node:fs';
import type { HostFacts } from '../host/probe-host.js';
import type { IdMapPlan } from '../idmap/plan-idmap.js';
import { launchStage } from '../launch/launch-stage.js';
import { planUserns } from '../launch/plan-run.js';
import { planClearWritableLayer, type WritableLayer } from '../rootfs/overlay-root.js';
import { removeWritableLayer, staleWritableLayers } from './writable-layer.js';

/** Empties a writable layer from inside the user namespace it was written in; true when that worked. */
export async function clearInside(layer: WritableLayer, idmap: IdMapPlan, host: HostFacts): Promise<boolean> {
  const { open, clear } = planClearWritableLayer(layer, existsSync);
  const plan = [...open, ...planUserns(idmap, host), ...clear(false)];
  const stage = launchStage(plan, ['ignore', 'ignore', 'ignore']);
  const [outcome, code] = await Promise.all([stage.outcome, new Promise<number | null>((r) => stage.child.once('close', r))]);
  return outcome.kind === 'lost' && code === 0; // a plan without FORK_INIT ends with exit 0 and no frame
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
