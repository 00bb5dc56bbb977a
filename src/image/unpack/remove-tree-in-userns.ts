// Removes trees whose files belong to subordinate ids (layers unpacked with
// owners, a run's writable layer): the caller cannot, uid 0 of a user
// namespace with the image id map can (CAP_DAC_OVERRIDE and CAP_FOWNER over
// every mapped id). One worker start removes many directories under one base.
// Root needs no namespace (it has those capabilities on the host), nor does a
// caller without a range (everything is its own): both remove in-process.
// Afterwards every directory is removed in-process too: that takes what the
// namespace may not (the top directory in a base it cannot write, ids it
// does not map) and fails loudly if anything is left.
// Must not: follow a symlink (removeTree never does) or touch anything that
// is not strictly below one of the base directories the caller names.
import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { SandboxError } from '../../errors.js';
import { probeHost, type HostFacts } from '../../host/probe-host.js';
import { planImageIdMap } from '../../idmap/image-idmap.js';
import type { IdMapPlan } from '../../idmap/plan-idmap.js';
import { removeTree } from './remove-tree.js';
import { runWorker } from './userns-worker.js';

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

/** `dir` as (resolved base, path relative to it); null when its parent is gone (nothing to remove). */
function placeBelow(dir: string, bases: readonly { given: string; real: string }[]): { base: string; rel: string } | null {
  if (!isAbsolute(dir)) throw new SandboxError('internal', `refusing to remove '${dir}': not an absolute path`, 'pass absolute paths');
  // the parent resolved (symlinks in it are the host's own layout); the last component never followed
  const parent = realpathOrNull(dirname(dir));
  if (parent === null) return null;
  const name = basename(dir);
  for (const b of bases) {
    const rel = relative(b.real, join(parent, name));
    if (rel && !rel.startsWith('..') && !isAbsolute(rel) && name !== '.' && name !== '..') return { base: b.real, rel };
  }
  throw new SandboxError('internal', `refusing to remove ${dir}: it is not below ${bases.map((b) => b.given).join(' or ')}`,
    'only directories inside the image store or the runs directory are removed this way');
}

/** Removes every directory in `dirs` (missing ones are fine), never following a symlink. */
export async function removeTreeInUserns(dirs: readonly string[], options: RemoveInUsernsOptions): Promise<void> {
  const bases = options.within.map((given) => ({ given, real: realpathOrNull(given) }))
    .filter((b): b is { given: string; real: string } => b.real !== null);
  const placed = dirs.map((d) => ({ dir: d, at: placeBelow(d, bases) })).filter((p) => p.at !== null);
  if (placed.length === 0) return;
  const host = options.host ?? probeHost();
  const idmap = options.idmap ?? planImageIdMap(host);
  if (host.uid !== 0 && idmap.mode === 'subid') {
    const byBase = new Map<string, string[]>();
    for (const p of placed) byBase.set(p.at!.base, [...(byBase.get(p.at!.base) ?? []), p.at!.rel.split(sep).join('/')]);
    for (const [base, names] of byBase) {
      await runWorker({ op: 'remove', names }, { cwd: base, idmap, host, signal: options.signal, what: `remove ${names.length} tree(s) in ${base}` });
    }
  }
  for (const p of placed) {
    options.signal?.throwIfAborted();
    try {
      removeTree(join(p.at!.base, p.at!.rel));
    } catch (e) {
      throw new SandboxError('host', `cannot remove ${p.dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        idmap.mode === 'subid' ? 'files owned by ids outside the image id map are in it: remove them as root' : 'check the permissions of the directory');
    }
  }
}

/** The store's removeTree hook (StoreOptions.removeTree) for layers unpacked with owners. */
export function layerTreeRemover(layersDir: string, opts: Omit<RemoveInUsernsOptions, 'within'> = {}): (dir: string) => Promise<void> {
  return (dir) => removeTreeInUserns([dir], { ...opts, within: [layersDir] });
}
