// Who may walk the image store's directories, and making them so. The store
// holds files of subordinate ids with whatever modes an image or a workload
// gave them (layers, the runs' writable layers): no other local user may
// reach any of it. Every directory is the caller's and 0700 (as podman's
// storage), except the ones on the way to the layers and the runs (the
// root, layers/, layers/sha256/, runs/ and each run's directory) when root
// inside the runs is another host id than the caller (a root caller's
// range, or nobody when root has none): those are 0710 with that id's group,
// because the kernel walks to the overlay's layers with the mounter's
// credentials, inside the user namespace. Nothing else gets in through that
// group: the ids of the range are only ever the sandboxes' own.
// Directories that are there already are fixed on every open, so a store
// made by an older version (0711, 0755) is closed on upgrade.
// Must not: change a directory the caller does not own (someone else's
// store), or follow a symlink below the store's root.
import { chmodSync, chownSync, lstatSync, mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { SandboxError } from '../../errors.js';
import { hostIdOf } from '../../idmap/image-idmap.js';
import type { IdMapPlan } from '../../idmap/plan-idmap.js';

export interface StoreAccess {
  /** The caller, who owns every directory. */
  readonly uid: number;
  /** Host uid and gid of root inside the runs when it is not the caller: it searches the 'walk' directories. null: nobody but the caller. */
  readonly walker: { readonly uid: number; readonly gid: number } | null;
}

/** 'walk': on the way to the layers or a run's writable layer; 'private': only the caller (blobs, records, names). */
export type StoreDirKind = 'walk' | 'private';

/** The access of a store whose images run with `idmap`, for the calling process: the run's set-up identity walks (root inside, for the image id map). */
export function storeAccess(idmap: IdMapPlan, uid = process.getuid?.() ?? 0): StoreAccess {
  const walker = { uid: hostIdOf(idmap.uidMap, idmap.setupUid), gid: hostIdOf(idmap.gidMap, idmap.setupGid) };
  // internal invariant: planImageIdMap gives every id map its set-up identity
  if (walker.uid === null || walker.gid === null) throw new Error('id map without its set-up identity');
  return { uid, walker: walker.uid === uid ? null : { uid: walker.uid, gid: walker.gid } };
}

function modeOf(kind: StoreDirKind, access: StoreAccess): number {
  return kind === 'walk' && access.walker ? 0o710 : 0o700;
}

function hostError(path: string, what: string, e: unknown): SandboxError {
  return new SandboxError('host', `cannot ${what} the image store directory ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`,
    'check that the image store is writable by you; set SANDBOX_STORE (or pass --store) to move it');
}

function statOrNull(path: string, follow: boolean): Stats | null {
  try {
    return follow ? statSync(path) : lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw hostError(path, 'inspect', e);
  }
}

/** Gives an existing directory of the caller's its mode and group (only what differs: one lstat per open). */
function fix(path: string, st: Stats, kind: StoreDirKind, access: StoreAccess): void {
  if (st.uid !== access.uid) return; // not ours: leave it as its owner made it
  const mode = modeOf(kind, access);
  const gid = kind === 'walk' && access.walker ? access.walker.gid : st.gid;
  try {
    if (st.gid !== gid) chownSync(path, st.uid, gid);
    if ((st.mode & 0o7777) !== mode) chmodSync(path, mode);
  } catch (e) {
    throw hostError(path, 'secure', e);
  }
}

/**
 * Makes `path` a directory of the store with its mode and group, or fixes
 * the ones it has. With `create: false` a missing directory stays missing.
 * The store's root may be a symlink (the caller's choice); below it nothing is followed.
 */
export function secureStoreDir(path: string, kind: StoreDirKind, access: StoreAccess, opts: { create?: boolean; isRoot?: boolean } = {}): void {
  const st = statOrNull(path, opts.isRoot ?? false);
  if (st && !st.isDirectory()) {
    throw new SandboxError('host', `the image store directory ${path} is not a directory`,
      `remove ${path} (or set SANDBOX_STORE or --store to another place)`);
  }
  if (st) return fix(path, st, kind, access);
  if (opts.create === false) return;
  if (opts.isRoot) makeParents(dirname(path), access);
  try {
    mkdirSync(path, 0o700);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw hostError(path, 'create', e);
  }
  fix(path, lstatSync(path), kind, access);
}

/** Missing parents of a new store: searchable by root inside the runs (0711), or only the caller's (0700). */
function makeParents(dir: string, access: StoreAccess): void {
  if (statOrNull(dir, true)) return;
  makeParents(dirname(dir), access);
  try {
    mkdirSync(dir, 0o700);
    chmodSync(dir, access.walker ? 0o711 : 0o700);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw hostError(dir, 'create', e);
  }
}

/**
 * Refuses a store that root inside the runs cannot reach (a parent without
 * search permission for it, such as /root): the mount would fail later with
 * a bare EACCES. Only for image runs; pulling and unpacking need no walk.
 */
export function checkWalkable(storeRoot: string, access: StoreAccess): void {
  const w = access.walker;
  if (!w) return;
  for (let dir = dirname(storeRoot); ; dir = dirname(dir)) {
    const st = statOrNull(dir, true);
    const searchable = st && ((st.mode & 0o001) || (st.gid === w.gid && st.mode & 0o010) || (st.uid === w.uid && st.mode & 0o100));
    if (!searchable) {
      throw new SandboxError('host', `the image store ${storeRoot} is below ${dir}${st ? ` (mode 0${(st.mode & 0o777).toString(8)})` : ''}, which root inside the sandbox (host uid ${w.uid}) cannot search`,
        `move the store below directories every user may search (--store or SANDBOX_STORE), or allow it: chmod o+x ${dir}`);
    }
    if (dir === '/') return;
  }
}
