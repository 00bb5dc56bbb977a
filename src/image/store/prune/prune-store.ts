// prune/: removing from the store what no image record references, one
// sweep per kind of leftover, each a function over the store's paths. This
// file runs them in order; the caller holds store.lock (so no record or name
// changes meanwhile).
import type { RemoveLayerTree } from '../layers.js';
import type { StorePaths } from '../store-paths.js';
import { sweepFailedUnpacks } from './failed-unpacks.js';
import { sweepLayerLeftovers } from './layer-leftovers.js';
import { sweepOrphanNames } from './orphan-names.js';
import { collectReferences } from './references.js';
import { sweepStaleWrites } from './stale-writes.js';
import type { SweepClock } from './sweep-clock.js';
import { sweepUnreferencedBlobs } from './unreferenced-blobs.js';
import { sweepUnreferencedLayers } from './unreferenced-layers.js';

export interface PruneOptions {
  /** Keep unreferenced blobs and layers whose name is younger than this (default 1 h: a pull in progress has not written its record yet). */
  readonly graceMs?: number;
}

export interface PruneReport {
  readonly removedBlobs: string[];
  readonly removedLayers: string[];
  /** Unreferenced layers another process held the lock of: left alone. */
  readonly busyLayers: string[];
  readonly removedNames: string[];
  readonly freedBytes: number;
}

/** Runs every sweep; call it holding store.lock. */
export async function pruneStore(paths: StorePaths, remove: RemoveLayerTree, opts: PruneOptions = {}): Promise<PruneReport> {
  const clock: SweepClock = { now: Date.now(), graceMs: opts.graceMs ?? 3600_000 };
  const refs = await collectReferences(paths);
  const removedNames = await sweepOrphanNames(paths, refs.records);
  await sweepStaleWrites(paths, clock);
  const blobs = await sweepUnreferencedBlobs(paths, refs.blobs, clock);
  await sweepFailedUnpacks(paths, remove);
  const layers = await sweepUnreferencedLayers(paths, refs.layers, clock, remove);
  await sweepLayerLeftovers(paths, refs.layers);
  return {
    removedBlobs: blobs.removed, removedLayers: layers.removed, busyLayers: layers.busy, removedNames, freedBytes: blobs.freedBytes,
  };
}
