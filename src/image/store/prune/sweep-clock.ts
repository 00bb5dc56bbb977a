// When a prune sweep may take something: a name (blob, layer) older than the
// grace period by its ctime (rename(2) sets ctime, and neither an archive nor
// a user can set it), so a pull that has not written its record yet keeps
// what it stored; half-written temporaries after a day by their mtime.
import type { Stats } from 'node:fs';
import { DAY_MS } from '../store-fs.js';

export interface SweepClock {
  /** Date.now() when the prune started. */
  readonly now: number;
  /** Keep unreferenced names younger than this; 0 or less: keep nothing. */
  readonly graceMs: number;
}

/** The entry got its name at least the grace period ago. */
export function pastGrace(st: Stats, clock: SweepClock): boolean {
  return clock.graceMs <= 0 || clock.now - st.ctimeMs >= clock.graceMs;
}

/** A temporary file nobody has written to for a day: its writer died. */
export function abandoned(st: Stats, clock: SweepClock): boolean {
  return clock.now - st.mtimeMs >= DAY_MS;
}
