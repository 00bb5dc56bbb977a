// When a process started (field 22 of /proc/PID/stat, clock ticks since
// boot): with its pid, it names one process for good, so a record left by a
// process that died is told apart from a live one that reused the pid.
import { readFileSync } from 'node:fs';

/** Field 22 (starttime) of a /proc/PID/stat line; the command name (field 2) may hold spaces and parentheses. */
export function procStartTime(stat: string): number | null {
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const fields = stat.slice(close + 2).split(' '); // field 3 onwards
  const v = Number(fields[22 - 3]);
  return Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** The start time of a running process; null when it is gone (or /proc is not there). */
export function processStartTime(pid: number | 'self'): number | null {
  try {
    return procStartTime(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** Whether the process recorded as pid + start time still runs: the same process (not a reused pid) and not a zombie. */
export function stillRunning(pid: number, startTime: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const close = stat.lastIndexOf(')');
  const state = stat.slice(close + 2, close + 3);
  return state !== 'Z' && state !== 'X' && procStartTime(stat) === startTime;
}
