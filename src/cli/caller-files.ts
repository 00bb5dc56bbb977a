// The files `exec` opens for its caller: --stdin, --stdout, --stderr (handed
// to the workload) and the reports --result and --meta (written after the
// run). All are opened before the workload starts, with the caller's rights
// and O_NOFOLLOW: a path in a writable volume may hold a link a workload
// planted, and a report written by path after the run would follow a link
// planted during it. Reports are written through the descriptor opened here.
// Must not: open anything once the workload runs.
import {
  closeSync, constants as fsc, fstatSync, ftruncateSync, lstatSync, openSync, unlinkSync, writeSync, type BigIntStats,
} from 'node:fs';
import { SandboxError } from '../errors.js';

/** input: --stdin; output: --stdout/--stderr (created or truncated); report: --result/--meta (a regular file, written after the run). */
export type CallerFileKind = 'input' | 'output' | 'report';

export interface CallerFile {
  readonly flag: string;
  readonly path: string;
  readonly fd: number;
  /** This open made the file (it is removed again if the run does not start). */
  readonly created: boolean;
}

// libuv adds O_CLOEXEC to every open: none of these reaches the stage unless passed as its stdio
const NOFOLLOW = fsc.O_NOFOLLOW;
// a report must not block on a planted FIFO (open without a reader blocks; O_NONBLOCK gives ENXIO);
// it stays set on the descriptor, which only matters for FIFOs and devices, both refused
const FLAGS: Record<CallerFileKind, number> = {
  input: fsc.O_RDONLY | NOFOLLOW,
  output: fsc.O_WRONLY | fsc.O_TRUNC | NOFOLLOW,
  report: fsc.O_WRONLY | NOFOLLOW | fsc.O_NONBLOCK,
};

function openError(flag: string, path: string, code: string | undefined): SandboxError {
  if (code === 'ELOOP') {
    return new SandboxError('usage', `cannot open ${path} (${flag}): it is a symbolic link`,
      'give the file itself: links are not followed, since a workload with a writable volume can plant them');
  }
  if (code === 'ENXIO') return notRegular(flag, path, 'a FIFO or socket');
  return new SandboxError('usage', `cannot open ${path} (${flag}): ${code ?? 'unknown error'}`,
    flag === '--stdin' ? 'check that the file exists and is readable' : 'check that the directory exists and is writable');
}

function notRegular(flag: string, path: string, what: string): SandboxError {
  return new SandboxError('usage', `${path} (${flag}) is not a regular file but ${what}`, 'give the path of a regular file, or of one that does not exist yet');
}

function kindOf(st: BigIntStats): string {
  return st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket'
    : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'something else';
}

function sameFile(a: BigIntStats, b: BigIntStats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** Opens `path` for `flag`; nothing is truncated or written yet for a report. */
export function openCallerFile(flag: string, path: string, kind: CallerFileKind): CallerFile {
  let fd: number;
  let created = false;
  try {
    if (kind === 'input') fd = openSync(path, FLAGS.input);
    else {
      try {
        // O_EXCL never follows a link either; knowing the file is new lets a failed start remove it
        fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | NOFOLLOW, 0o644);
        created = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        fd = openSync(path, FLAGS[kind]);
      }
    }
  } catch (e) {
    throw openError(flag, path, (e as NodeJS.ErrnoException).code);
  }
  if (kind === 'report') {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile()) {
      closeSync(fd);
      throw notRegular(flag, path, kindOf(st));
    }
  }
  return { flag, path, fd, created };
}

/** Closes the files of a run that did not start; those this run created are removed again. */
export function discardCallerFiles(files: readonly CallerFile[]): void {
  for (const f of files) {
    try {
      // no workload has run: the path is still the file opened, but make sure before unlinking
      const here = f.created ? lstatSync(f.path, { bigint: true, throwIfNoEntry: false }) : undefined;
      if (here && sameFile(here, fstatSync(f.fd, { bigint: true }))) unlinkSync(f.path);
    } catch { /* best effort: the run's own error is what the caller needs */ }
    closeSync(f.fd);
  }
}

/**
 * Replaces the content of a report through its descriptor and closes it.
 * A workload with write access to the directory may have renamed or
 * replaced the path meanwhile: the text then went to the file that was
 * opened, and the caller is told (a forged report may sit at the path).
 */
export function writeReport(f: CallerFile, text: string): void {
  let opened: BigIntStats;
  try {
    ftruncateSync(f.fd, 0);
    const data = Buffer.from(text);
    for (let at = 0; at < data.length;) at += writeSync(f.fd, data, at, data.length - at, at);
    opened = fstatSync(f.fd, { bigint: true });
  } catch (e) {
    throw new SandboxError('host', `cannot write ${f.path} (${f.flag}): ${(e as NodeJS.ErrnoException).code ?? e}`, 'check the free space of its file system');
  } finally {
    closeSync(f.fd);
  }
  const now = lstatSync(f.path, { bigint: true, throwIfNoEntry: false });
  if (!now || !sameFile(now, opened)) {
    throw new SandboxError('setup', `${f.path} (${f.flag}) was replaced or removed while the workload ran: the report went to the file opened before the run, not to what is there now`,
      `write ${f.flag} outside every volume the workload can write`);
  }
}
