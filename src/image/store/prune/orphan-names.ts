// Prune sweep: names whose image record is gone.
import { promises as fsp } from 'node:fs';
import { readNames } from '../records.js';
import type { StorePaths } from '../store-paths.js';

/** Removes every name pointing at a manifest digest without a record; returns the names removed. */
export async function sweepOrphanNames(paths: StorePaths, records: ReadonlySet<string>): Promise<string[]> {
  const removed: string[] = [];
  for (const [name, digest] of await readNames(paths)) {
    if (records.has(digest)) continue;
    await fsp.rm(paths.name(name), { force: true });
    removed.push(name);
  }
  return removed;
}
