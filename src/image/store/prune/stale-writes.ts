// Prune sweep: records and names a crashed writer left half-written
// (.tmp-* in images/ and names/, untouched for a day).
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { readDirOrEmpty, statOrNull } from '../store-fs.js';
import type { StorePaths } from '../store-paths.js';
import { abandoned, type SweepClock } from './sweep-clock.js';

export async function sweepStaleWrites(paths: StorePaths, clock: SweepClock): Promise<void> {
  for (const dir of [paths.imagesDir, paths.namesDir]) {
    for (const file of await readDirOrEmpty(dir)) {
      if (!file.startsWith('.tmp-')) continue;
      const st = await statOrNull(join(dir, file));
      if (st && abandoned(st, clock)) await fsp.rm(join(dir, file), { force: true });
    }
  }
}
