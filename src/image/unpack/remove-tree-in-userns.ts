// Removes trees whose files belong to subordinate ids (layers unpacked with
// owners, what a failed unpack or a prune left): never by path as the
// caller, and never as host root by path. The stage empties each tree
// inside the user namespace of the image id map, strictly relative to
// descriptors (launch/clear-dirs.ts: a process holding one of the ids that
// swaps a directory for a symlink mid-way gets nothing outside the tree
// removed); then the emptied top directories are removed here (rmdir: they
// sit in store directories no subordinate id may write). One stage start
// empties many directories.
// Must not: touch anything that is not strictly below one of the base
// directories the caller names, or follow a symlink in the last component.
import { lstatSync, realpathSync, rmdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { SandboxError } from '../../errors.js';
import { probeHost, type HostFacts } from '../../host/probe-host.js';
import { planImageIdMap } from '../../idmap/image-idmap.js';
import type { IdMapPlan } from '../../idmap/plan-idmap.js';
import { clearDirs } from '../../launch/clear-dirs.js';

export interface RemoveInUsernsOptions {
  /** Base directories (the store's layers dir, a runs dir): every dir must be strictly below one of them. */
  readonly within: readonly string[];
  readonly host?: HostFacts;
  readonly idmap?: IdMapPlan;
  readonly signal?: AbortSignal;
}

function realpathOrNull(p: string): string | null {
  try {
    return realpathSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** `dir` with its parent resolved (symlinks there are the host's own layout), checked to be below a base; null when its parent is gone. */
function placeBelow(dir: string, bases: readonly { given: string; real: string }[]): string | null {
  if (!isAbsolute(dir)) throw new SandboxError('internal', `refusing to remove '${dir}': not an absolute path`, 'pass absolute paths');
  const parent = realpathOrNull(dirname(dir));
  if (parent === null) return null;
  const name = basename(dir);
  for (const b of bases) {
    const rel = relative(b.real, join(parent, name));
    if (rel && !rel.startsWith('..') && !isAbsolute(rel) && name !== '.' && name !== '..') return join(parent, name);
  }
  throw new SandboxError('internal', `refusing to remove ${dir}: it is not below ${bases.map((b) => b.given).join(' or ')}`,
    'only directories inside the image store or the runs directory are removed this way');
}

function lstatOrNull(p: string) {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Removes every directory in `dirs` (missing ones are fine; a link or file there is unlinked, never followed). */
export async function removeTreeInUserns(dirs: readonly string[], options: RemoveInUsernsOptions): Promise<void> {
  const bases = options.within.map((given) => ({ given, real: realpathOrNull(given) }))
    .filter((b): b is { given: string; real: string } => b.real !== null);
  const placed = dirs.map((d) => ({ given: d, path: placeBelow(d, bases) }))
    .filter((p): p is { given: string; path: string } => p.path !== null);
  const fail = (p: { given: string }, e: unknown) => new SandboxError('host', `cannot remove ${p.given}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    'check the permissions of the image store (it must be yours); set SANDBOX_STORE to move it');
  const trees: typeof placed = [];
  for (const p of placed) {
    try {
      const st = lstatOrNull(p.path);
      if (st?.isDirectory()) trees.push(p);
      else if (st) unlinkSync(p.path);
    } catch (e) {
      throw fail(p, e);
    }
  }
  if (trees.length === 0) return;
  const host = options.host ?? probeHost();
  const idmap = options.idmap ?? planImageIdMap(host);
  await clearDirs(trees.map((t) => t.path), { idmap, host, signal: options.signal });
  for (const t of trees) {
    try {
      rmdirSync(t.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fail(t, e);
    }
  }
}

/** The store's hook for removing layer trees (failed unpacks, prune). */
export function layerTreeRemover(layersDir: string, opts: Omit<RemoveInUsernsOptions, 'within'> = {}): (dir: string) => Promise<void> {
  return (dir) => removeTreeInUserns([dir], { ...opts, within: [layersDir] });
}
