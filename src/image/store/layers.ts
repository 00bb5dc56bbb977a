// Unpacked layers in the store: layers/sha256/<hex> by diff ID, unpacked once
// across processes (under layers/sha256/<hex>.lock, into layers/tmp-<hex>-*,
// then renamed), with the overlay whiteouts sidecar <hex>.whiteouts.json.
// Must not: decide how a layer is unpacked (the caller's callback), or
// remove a tree by path (the caller's remover, in the user namespace).
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { isSandboxError } from '../../errors.js';
import { acquireLock } from './store-lock.js';
import { hostError, statOrNull } from './store-fs.js';
import { digestHex, type StorePaths } from './store-paths.js';

export interface EnsureLayerContext {
  /** The diff ID being unpacked. */
  readonly diffId: string;
  /** Where the layer's blob is (or would be) in the store. */
  readonly blobPath: string;
}

export type UnpackLayer = (dir: string, ctx: EnsureLayerContext) => Promise<unknown>;

/** Removes a layer tree (the stage, through descriptors: remove-tree-in-userns.ts). */
export type RemoveLayerTree = (dir: string) => Promise<void>;

export async function hasLayer(paths: StorePaths, diffId: string): Promise<boolean> {
  const st = await statOrNull(paths.layer(diffId));
  return st !== null && st.isDirectory();
}

/** The layer's directory, unpacked with `unpack` unless it is there; waits for another process unpacking it. */
export async function unpackLayerOnce(paths: StorePaths, blobDigest: string, diffId: string, unpack: UnpackLayer,
  opts: { remove: RemoveLayerTree; lockTimeoutMs: number }): Promise<string> {
  const final = paths.layer(diffId);
  if (await hasLayer(paths, diffId)) return final;
  const lock = await acquireLock(paths.layerLock(diffId), `layer ${diffId}`, opts.lockTimeoutMs);
  try {
    // another process may have unpacked it while we waited
    if (await hasLayer(paths, diffId)) return final;
    let tmp: string;
    try {
      tmp = await fsp.mkdtemp(join(paths.layersDir, `tmp-${digestHex(diffId)}-`));
    } catch (e) {
      throw hostError(`cannot create a directory to unpack layer ${diffId} in ${paths.layersDir}`, e);
    }
    const tmpSidecar = `${tmp}.whiteouts.json`;
    try {
      await unpack(tmp, { diffId, blobPath: paths.blob(blobDigest) });
      // a stale sidecar (of a layer pruned halfway) must not stand for this one
      await fsp.rm(paths.layerWhiteouts(diffId), { force: true });
      if (await statOrNull(tmpSidecar)) await fsp.rename(tmpSidecar, paths.layerWhiteouts(diffId));
      await fsp.rename(tmp, final);
    } catch (e) {
      try {
        await opts.remove(tmp);
        await fsp.rm(tmpSidecar, { force: true });
      } catch {
        /* prune removes what is left: tmp-<hex>-* whose lock is free */
      }
      if (isSandboxError(e)) throw e;
      throw hostError(`cannot unpack layer ${diffId} into ${tmp}`, e);
    }
    return final;
  } finally {
    lock.release();
  }
}
