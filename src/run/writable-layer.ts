// The writable layer of an image run: <store>/runs/<pid>-<start>-<random>/
// with the overlay's upper/ and work/, and scratch/ (an empty mount point for
// pid 1's scratch root). The stage empties both when the
// sandbox ends (their files belong to ids inside, which only it may
// remove); this module makes the directories and removes what is left.
// A run whose process died (kill -9) leaves its directory behind: its name
// says which process made it, so the next run finds it stale and clears it
// (clean-stale-layers.ts) — no lock files to leak.
// The workload may chmod anything in upper/ (4755, 0777) while it runs:
// no other local user can reach it, because runs/ and the run's directory
// are the caller's, 0700, or 0710 for the group of root inside
// (store-access.ts).
// Must not: follow a symlink or remove anything outside <store>/runs.
import { lstatSync, promises as fsp, readdirSync } from 'node:fs';
import { processStartTime } from '../host/process-start.js';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { SandboxError, isSandboxError } from '../errors.js';
import type { IdMapPlan } from '../idmap/plan-idmap.js';
import type { WritableLayer } from '../rootfs/overlay-root.js';
import { checkWalkable, secureStoreDir, storeAccess } from '../image/store/store-access.js';
import { runsDir } from '../image/store/store-paths.js';

let ownStart: number | null | undefined;

function layerDir(dir: string): WritableLayer {
  return { dir, upper: join(dir, 'upper'), work: join(dir, 'work'), scratch: join(dir, 'scratch') };
}

/**
 * Makes a fresh writable layer. Its directories belong to inside root (the
 * overlay's root directory is upper/'s, and the kernel creates work/work as
 * the mounter), which for a root caller is the first id of its range. The
 * three are made at once (the thread pool overlaps the file system's work).
 */
export async function createWritableLayer(storeRoot: string, idmap: IdMapPlan): Promise<WritableLayer> {
  ownStart ??= processStartTime('self');
  const runs = runsDir(storeRoot);
  const layer = layerDir(join(runs, `${process.pid}-${ownStart ?? 0}-${randomBytes(4).toString('hex')}`));
  const uid = idmap.uidMap.find((l) => l.inside === 0)?.outside;
  const gid = idmap.gidMap.find((l) => l.inside === 0)?.outside;
  const chown = uid !== undefined && gid !== undefined && (uid !== process.getuid?.() || gid !== process.getgid?.());
  const access = storeAccess(idmap);
  // a `dir` image opens no store: the root and runs/ are made (or fixed) here too
  secureStoreDir(storeRoot, 'walk', access, { isRoot: true });
  checkWalkable(storeRoot, access);
  secureStoreDir(runs, 'walk', access);
  try {
    await fsp.mkdir(layer.dir, { mode: 0o700 });
    secureStoreDir(layer.dir, 'walk', access);
    await Promise.all([
      fsp.mkdir(layer.scratch, { mode: 0o755 }),
      ...[layer.upper, layer.work].map(async (d) => {
        await fsp.mkdir(d, { mode: 0o755 });
        if (chown) await fsp.chown(d, uid!, gid!);
      }),
    ]);
  } catch (e) {
    await removeWritableLayer(layer);
    if (isSandboxError(e)) throw e;
    throw new SandboxError('host', `cannot make the run's writable layer in ${runs}: ${(e as NodeJS.ErrnoException).code ?? e}`,
      'check that the image store is writable by you; set SANDBOX_STORE to move it');
  }
  return layer;
}

/**
 * Removes the (emptied) directories of a writable layer. False when
 * something is left (the stage did not get to clear it): the directory then
 * stays for the next run's stale clean-up.
 */
export async function removeWritableLayer(layer: WritableLayer): Promise<boolean> {
  const rmdir = (d: string) => fsp.rmdir(d).then(() => true, (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  const inner = await Promise.all([layer.upper, layer.work, layer.scratch].map(rmdir));
  return inner.every(Boolean) && rmdir(layer.dir);
}

/** Writable layers under <store>/runs whose process is gone. */
export function staleWritableLayers(storeRoot: string): WritableLayer[] {
  const runs = runsDir(storeRoot);
  let names: string[];
  try {
    names = readdirSync(runs);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const m = /^(\d+)-(\d+)-[0-9a-f]+$/.exec(name);
    if (!m) return [];
    if (String(processStartTime(Number(m[1]))) === m[2]) return []; // still running
    const dir = join(runs, name);
    try {
      if (!lstatSync(dir).isDirectory()) return [];
    } catch {
      return [];
    }
    return [layerDir(dir)];
  });
}
