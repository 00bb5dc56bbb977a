// What the store's records reference: the sweeps remove only what no record
// names. A damaged record throws, so nothing it may reference is pruned.
import { digestHex, type StorePaths } from '../store-paths.js';
import { listRecordDigests, readRecord } from '../records.js';

export interface StoreReferences {
  /** Manifest digests that have a record. */
  readonly records: ReadonlySet<string>;
  /** Hex of every blob a record needs: manifest, config, layer blobs. */
  readonly blobs: ReadonlySet<string>;
  /** Hex of every layer diff ID a record needs. */
  readonly layers: ReadonlySet<string>;
}

export async function collectReferences(paths: StorePaths): Promise<StoreReferences> {
  const records = new Set<string>();
  const blobs = new Set<string>();
  const layers = new Set<string>();
  for (const digest of await listRecordDigests(paths)) {
    const r = await readRecord(paths, digest);
    if (!r) continue;
    records.add(r.manifestDigest);
    blobs.add(digestHex(r.manifestDigest)).add(digestHex(r.configDigest));
    for (const l of r.layers) {
      blobs.add(digestHex(l.digest));
      layers.add(digestHex(l.diffId));
    }
  }
  return { records, blobs, layers };
}
