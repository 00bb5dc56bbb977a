// What every doctor check returns (DoctorCheck), who asks (Caller), and the
// small helpers the checks share to phrase their fixes. The checks are in
// checks/, one file each: a pure evaluate* helper (made-up facts in,
// DoctorCheck out, unit-tested) and a check* function that gathers the real
// facts (files, tools, a stage run).
// Must not: change the host. Fixes are printed for a human to run, never run.
import { readFileSync } from 'node:fs';

export type DoctorStatus = 'ok' | 'warn' | 'fail' | 'info';

export interface DoctorCheck {
  id: string;
  title: string;
  status: DoctorStatus;
  detail: string;
  /** Shell command(s) that fix the problem, one per line; prose lines are shell comments. */
  fix?: string;
}

/** Who runs the doctor: fixes drop `sudo` for root, and some checks do not apply to root. */
export interface Caller {
  uid: number;
  gid: number;
  /** Login name, or null without a passwd entry. */
  name: string | null;
}

export const isRoot = (c: Pick<Caller, 'uid'>) => c.uid === 0;

/** Prefixes a command with sudo unless the caller is root already. */
export function asAdmin(command: string, root: boolean): string {
  return root ? command : `sudo ${command}`;
}

/** Quotes a word for a POSIX shell when it needs it. */
export function quoteShell(word: string): string {
  return /^[A-Za-z0-9_/.,:+=@%-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function check(id: string, title: string, status: DoctorStatus, detail: string, fix?: string): DoctorCheck {
  return fix === undefined ? { id, title, status, detail } : { id, title, status, detail, fix };
}

/** A file's trimmed text, or null when it cannot be read. */
export function readTrimmed(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}
