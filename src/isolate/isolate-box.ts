// A box of the isolate mode: <box_root>/<id>, whose box/ is the program's
// /box. --init (re)creates it, --cleanup removes it, --run holds it. A box is
// held through an flock on <box_root>/<id>.lock, so two isolate processes
// never use one box at once (--wait waits, else "busy").
//
// Who may reach it: a user's box root and boxes are 0700 (the stage binds
// box/ as the caller, in the run's user namespace), so no other user gets
// past them; root's are 0755 with box/ 0700. For each run the whole box is
// the workload's ids (isolate gives it to its box uid the same way), and
// afterwards the caller's again: for a user by the stage (CHOWN_TREE before
// and after the run, inside the namespace), for root here, as root.
// Files a run left are removed by the stage in a user namespace that maps the
// caller's range (clearDirs), so --cleanup works for what the program wrote.
import { chmodSync, closeSync, lchownSync, lstatSync, mkdirSync, opendirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tryLockPath } from '../idmap/flock.js';
import { planImageIdMap } from '../idmap/image-idmap.js';
import { clearDirs, FIRST_CLEAR_FD } from '../launch/clear-dirs.js';
import { planUserns } from '../launch/plan-run.js';
import { runStage } from '../launch/stage-client.js';
import { ops } from '../stage/plan.js';
import type { HostFacts } from '../host/probe-host.js';
import type { IsolateConfig } from './isolate-config.js';

export class IsolateBoxError extends Error {}

export interface Box {
  readonly id: number;
  /** <box_root>/<id>: what --init prints. */
  readonly dir: string;
  /** <dir>/box: the program's /box. */
  readonly box: string;
}

export function boxOf(config: IsolateConfig, id: number): Box {
  if (id >= config.numBoxes) {
    throw new IsolateBoxError(`Sandbox ID out of range (allowed: 0-${config.numBoxes - 1})${config.file ? `; num_boxes is set in ${config.file}` : ''}`);
  }
  const dir = join(config.boxRoot, String(id));
  return { id, dir, box: join(dir, 'box') };
}

const isRoot = () => process.getuid?.() === 0;
/** Mode of the box root and of <id>: private for a user, traversable for root (see the header). */
const dirMode = () => (isRoot() ? 0o755 : 0o700);

/** Creates the box root (and its parents) if needed; refuses one that others may write. */
function ensureBoxRoot(config: IsolateConfig): void {
  mkdirSync(config.boxRoot, { recursive: true, mode: dirMode() });
  const st = lstatSync(config.boxRoot);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o022) !== 0) {
    throw new IsolateBoxError(`refusing the box root ${config.boxRoot}: it must be a directory of uid ${uid} that no one else may write (set box_root in ${config.file ?? 'the configuration file'})`);
  }
  // root's runs bind the box as a subordinate id, which must be able to search every directory above it
  if (uid === 0) {
    for (let dir = dirname(config.boxRoot); ; dir = dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0) {
        throw new IsolateBoxError(`the box root ${config.boxRoot} cannot be reached by the sandbox: ${dir} is not searchable by others (o+x); `
          + `choose a box_root below directories of mode o+x (the default is /var/local/lib/isolate), or chmod o+x ${dir}`);
      }
      if (dir === '/') break;
    }
  }
}

/** The box's lock: an fd to close when done. Throws when busy (unless `wait`, which polls). */
export async function lockBox(config: IsolateConfig, box: Box, wait: boolean): Promise<number> {
  ensureBoxRoot(config);
  const path = join(config.boxRoot, `${box.id}.lock`);
  for (;;) {
    const fd = tryLockPath(path);
    if (typeof fd === 'number') return fd;
    if (!wait) throw new IsolateBoxError(`Box ${box.id} is currently in use by another process (use --wait to wait for it)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function unlockBox(fd: number): void {
  closeSync(fd);
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Empties and removes the box's directory (files of the run's ids included). Nothing there: nothing to do. */
export async function removeBox(box: Box, host: HostFacts): Promise<void> {
  if (!exists(box.dir)) return;
  if (!lstatSync(box.dir).isDirectory()) throw new IsolateBoxError(`${box.dir} is not a directory`);
  await clearDirs([box.dir], { idmap: planImageIdMap(host), host });
  rmdirSync(box.dir);
}

/** (Re)creates the box, empty; returns its directory. */
export async function initBox(config: IsolateConfig, box: Box, host: HostFacts): Promise<string> {
  await removeBox(box, host);
  mkdirSync(box.dir, { mode: dirMode() });
  chmodSync(box.dir, dirMode());
  mkdirSync(box.box, { mode: 0o700 });
  chmodSync(box.box, isRoot() ? 0o700 : 0o777);
  return box.dir;
}

/** Whether --init made this box. */
export function boxExists(box: Box): boolean {
  try {
    return statSync(box.box).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Root only: gives every file of the tree to uid:gid, never following a link.
 * Runs after the sandbox has ended (no process of it is left to swap a
 * directory for a link meanwhile); a directory is entered only after lstat
 * said it is one.
 */
export function chownTree(top: string, uid: number, gid: number): void {
  const stack = [top];
  while (stack.length) {
    const dir = stack.pop()!;
    lchownSync(dir, uid, gid);
    const d = opendirSync(dir);
    try {
      for (let e = d.readSync(); e; e = d.readSync()) {
        const path = join(dir, e.name);
        const st = lstatSync(path);
        if (st.isDirectory()) stack.push(path);
        else lchownSync(path, uid, gid);
      }
    } finally {
      d.closeSync();
    }
  }
}

/** Root only: box/ itself goes to the workload's host ids for the run (mode 0700: no one else's). */
export function giveBoxTo(box: Box, uid: number, gid: number): void {
  lchownSync(box.box, uid, gid);
  chmodSync(box.box, 0o700);
}

/**
 * A user's box back to the caller (inside 0 of the image id map, which maps
 * the whole range), best effort, never through a link: after a run whose
 * stage was killed before it could do it (isolate gives its box back after
 * an interrupt too).
 */
export async function giveBoxBack(box: Box, host: HostFacts): Promise<void> {
  await runStage([
    ops.openDir(box.box, FIRST_CLEAR_FD),
    ...planUserns(planImageIdMap(host), host),
    ops.chownTree(FIRST_CLEAR_FD, 0, 0, 'now-best-effort'),
  ]);
}
