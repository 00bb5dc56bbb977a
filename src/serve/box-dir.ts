// The boxes of `sandbox serve`: one fresh directory per request, bound
// read-write as the workload's working directory (/box), removed after.
//
// Layout: ROOT/N/box. ROOT (mkdtemp under the temporary directory, named
// after the server's uid, pid and start time, so that the next server
// clears what one killed with SIGKILL left) is the server's: 0700, or 0711
// for root, whose runs' root inside is a host id of its range (the id of the
// run's uid slot) that must walk to the box to bind it. N is 0700 and belongs to that id (given in SpawnOptions.beforeStart,
// once the run's id map is known; the caller's own otherwise): no other
// local user and no other sandbox can enter it, whatever it learns of the
// path. box itself is 0777: the workload runs as a subordinate id.
//
// Files the workload made belong to ids of the run's user namespace: the box
// is emptied with the stage's CLEAR_DIR (launch/clear-dirs.ts, strictly
// through descriptors, inside a user namespace with the caller's whole
// range), then the emptied directories are removed.
// Returned files are opened component by component relative to the box
// (O_PATH|O_NOFOLLOW through /proc/self/fd, i.e. openat without following):
// a symbolic link the workload made is reported, never followed.
// Must not: follow a link below the box, or read more than the size cap.
import { chmodSync, chownSync, closeSync, constants, fstatSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SandboxError } from '../errors.js';
import type { HostFacts } from '../host/probe-host.js';
import { processStartTime, stillRunning } from '../host/process-start.js';
import { O_PATH, openBelow } from '../host/open-below.js';
import { hostIdOf } from '../idmap/image-idmap.js';
import { planIdMap, type IdMapPlan } from '../idmap/plan-idmap.js';
import { clearDirs } from '../launch/clear-dirs.js';
import type { RunSpec } from '../resolve/run-spec.js';
import type { ServeFile } from './request-schema.js';

/** Where the box is inside the sandbox (the working directory). */
export const BOX_TARGET = '/box';


export interface BoxRoot {
  readonly dir: string;
  readonly host: HostFacts;
  /** The map the boxes are emptied in: the caller's whole range, which every run's slot is part of. */
  readonly clearMap: IdMapPlan;
}

export interface Box {
  /** ROOT/N: the run's root inside owns it. */
  readonly wrap: string;
  /** ROOT/N/box: bound at BOX_TARGET. */
  readonly dir: string;
}

export interface ReturnedFile {
  readonly path: string;
  /** The bytes, when the file could be read. */
  readonly data?: Buffer;
  /** Its size in bytes (also when it was too large to return). */
  readonly size?: number;
  /** Why it is not returned: missing, not a regular file, a symbolic link, too large, not readable. */
  readonly error?: string;
}

const ROOT_PREFIX = 'rootless-sandbox-serve-';
/** ROOT_PREFIX UID-PID-STARTTIME- and mkdtemp's six characters. */
const ROOT_NAME = /^rootless-sandbox-serve-(\d+)-(\d+)-(\d+)-[A-Za-z0-9]{6}$/;

/**
 * Root's runs bind their box as an id of root's range: every directory above
 * the box root must be searchable by others (the box's own directory keeps
 * them out). Refused here, with the fix, rather than as EACCES in each run.
 */
function checkSearchable(parent: string): void {
  for (let dir = parent; ; dir = dirname(dir)) {
    const st = statSync(dir);
    if (!(st.mode & 0o001)) {
      throw new SandboxError('host', `the boxes would be below ${dir} (mode 0${(st.mode & 0o777).toString(8)}), which the runs' root inside (an id of root's subordinate range) cannot search`,
        `choose --boxes below directories every user may search (the default is $TMPDIR, else /tmp), or allow it: chmod o+x ${dir}`);
    }
    if (dir === '/') return;
  }
}

/** The server's box root, made in `parent` (default: the temporary directory). */
export function createBoxRoot(host: HostFacts, parent = tmpdir()): BoxRoot {
  let dir: string;
  try {
    mkdirSync(parent, { recursive: true, mode: host.uid === 0 ? 0o711 : 0o700 });
    if (host.uid === 0) checkSearchable(parent);
    dir = mkdtempSync(join(parent, `${ROOT_PREFIX}${host.uid}-${process.pid}-${processStartTime('self') ?? 0}-`));
  } catch (e) {
    if (e instanceof SandboxError) throw e;
    throw new SandboxError('host', `cannot make the box directory in ${parent}: ${(e as NodeJS.ErrnoException).code ?? e}`,
      'choose a directory you may write (--boxes)');
  }
  // root's runs walk to their box as an id of root's range; each box's own directory keeps everyone else out
  chmodSync(dir, host.uid === 0 ? 0o711 : 0o700);
  return { dir, host, clearMap: planIdMap(host, { uid: 0, gid: 0 }) };
}


/**
 * Clears and removes the box roots of this user's servers that are gone
 * (killed before they could: their stages and workloads died with them,
 * PR_SET_PDEATHSIG). Returns the directories removed; one that cannot be is
 * reported through `log` and left.
 */
export async function clearStaleBoxRoots(host: HostFacts, log: (line: string) => void, parent = tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  const clearMap = planIdMap(host, { uid: 0, gid: 0 });
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return removed; // not made yet: nothing left in it
  }
  for (const name of names) {
    const m = ROOT_NAME.exec(name);
    if (!m || Number(m[1]) !== host.uid) continue;
    const dir = join(parent, name);
    const st = lstatSync(dir, { throwIfNoEntry: false });
    if (!st?.isDirectory() || st.uid !== host.uid) continue;
    if (stillRunning(Number(m[2]), Number(m[3]))) continue; // its server still runs
    try {
      await removeBoxRoot({ dir, host, clearMap });
      removed.push(dir);
    } catch (e) {
      log(`cannot remove the boxes a stopped server left in ${dir}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return removed;
}

/** Removes the (empty) root; what a box left is cleared first. */
export async function removeBoxRoot(root: BoxRoot): Promise<void> {
  for (const name of readdirSync(root.dir)) await removeBox(root, { wrap: join(root.dir, name), dir: join(root.dir, name, 'box') });
  rmdirSync(root.dir);
}

let boxCounter = 0;

/** A fresh, empty box (removeBox removes it, also when placing files in it failed). */
export function createBox(root: BoxRoot): Box {
  const wrap = join(root.dir, String(++boxCounter));
  mkdirSync(wrap, 0o700);
  const dir = join(wrap, 'box');
  mkdirSync(dir);
  chmodSync(dir, 0o777);
  return { wrap, dir };
}

/** Writes the request's files (paths already checked: relative, no "." or "..", none twice). */
export function placeFiles(box: Box, files: readonly ServeFile[]): void {
  // the box is new and nothing runs in it yet: paths are safe here; the workload may write in the directories made
  try {
    for (const f of files) {
      const parts = f.path.split('/');
      for (let n = 1; n < parts.length; n++) {
        const sub = join(box.dir, ...parts.slice(0, n));
        try {
          mkdirSync(sub);
          chmodSync(sub, 0o777);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
      }
      const target = join(box.dir, f.path);
      writeFileSync(target, f.base64 !== undefined ? Buffer.from(f.base64, 'base64') : f.content ?? '', { flag: 'wx' });
      chmodSync(target, f.mode ?? 0o644);
    }
  } catch (e) {
    throw new SandboxError('host', `cannot place the request's files in the box ${box.dir}: ${(e as NodeJS.ErrnoException).code ?? e}`,
      'check the space left in the temporary directory (TMPDIR)');
  }
}

/** SpawnOptions.beforeStart: the run's root inside (another id than the caller's for root) gets the box's own directory. */
export function giveBox(box: Box, spec: RunSpec): void {
  const uid = hostIdOf(spec.idmap.uidMap, spec.idmap.setupUid);
  const gid = hostIdOf(spec.idmap.gidMap, spec.idmap.setupGid);
  if (uid !== null && gid !== null && uid !== process.getuid?.()) chownSync(box.wrap, uid, gid);
}

function why(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return 'is a symbolic link (not followed)';
  if (code === 'ENOENT') return 'does not exist';
  if (code === 'ENOTDIR') return 'a directory on its path is not one (or is a symbolic link)';
  if (code === 'EACCES') return 'not readable by the server (EACCES)';
  return code ?? String(e);
}

/** Reads the files the request asks back, each at most `maxBytes`, regular files only. */
export function readReturnFiles(box: Box, paths: readonly string[], maxBytes: number): ReturnedFile[] {
  if (paths.length === 0) return [];
  const boxFd = openSync(box.dir, O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    return paths.map((path) => {
      let fd: number;
      try {
        fd = openBelow(boxFd, path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
      } catch (e) {
        return { path, error: why(e) };
      }
      try {
        const st = fstatSync(fd);
        if (!st.isFile()) return { path, error: st.isDirectory() ? 'is a directory' : 'not a regular file' };
        if (st.size > maxBytes) return { path, size: st.size, error: `larger than ${maxBytes} bytes` };
        const buf = Buffer.alloc(st.size);
        let got = 0;
        while (got < buf.length) {
          const n = readSync(fd, buf, got, buf.length - got, got);
          if (n === 0) break;
          got += n;
        }
        return { path, size: got, data: buf.subarray(0, got) };
      } catch (e) {
        return { path, error: why(e) };
      } finally {
        closeSync(fd);
      }
    });
  } finally {
    closeSync(boxFd);
  }
}

/** Empties the box (as root of a user namespace with the caller's range: its files belong to the run's ids) and removes it. */
export async function removeBox(root: BoxRoot, box: Box): Promise<void> {
  let entries: string[] = [];
  try {
    entries = readdirSync(box.dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  // a box given back after its run (or root's) is removed as it is, links never followed; what the
  // server may not remove (files of the run's ids) is emptied by the stage in the namespace
  if (entries.length > 0) {
    try {
      for (const name of entries) rmSync(join(box.dir, name), { recursive: true, force: true });
    } catch {
      await clearDirs([box.dir], { idmap: root.clearMap, host: root.host });
    }
  }
  try {
    rmdirSync(box.dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  rmdirSync(box.wrap);
}
