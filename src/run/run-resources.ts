// What a run holds on the host besides its processes, and gives back after:
// for a `host` image run, the uid slot of the caller's range it was resolved
// with (so concurrent runs never share host ids); for an image run, its
// writable layer (image runs map the whole range: the layers' owners are
// fixed in it, as in podman). Stale writable layers of killed runs are
// cleared first.
import type { HostFacts } from '../host/probe-host.js';
import type { UidSlot } from '../idmap/uid-slots.js';
import type { RunSpec } from '../resolve/run-spec.js';
import type { WritableLayer } from '../rootfs/overlay-root.js';

export interface RunResources {
  readonly writable?: WritableLayer;
  /** Gives everything back (once the stage has ended). */
  release(): Promise<void>;
}

export async function acquireRunResources(
  resolved: RunSpec, host: HostFacts, options: { store?: string }, slot: UidSlot | null | undefined,
): Promise<RunResources> {
  if (resolved.image.kind !== 'oci') return { release: async () => slot?.release() };
  // the store's code (and node:crypto) is loaded only for an image: start-up of host runs
  const [{ storeRoot }, { cleanStaleLayers, clearInside }, { createWritableLayer, removeWritableLayer }] = await Promise.all([
    import('../image/store/store-paths.js'), import('./clean-stale-layers.js'), import('./writable-layer.js'),
  ]);
  const root = storeRoot(options.store);
  await cleanStaleLayers(root, resolved.idmap, host);
  const writable = await createWritableLayer(root, resolved.idmap);
  return {
    writable,
    async release() {
      // the stage empties the layer when the sandbox ends; one that was killed could not
      if (await removeWritableLayer(writable)) return;
      if (await clearInside(writable, resolved.idmap, host)) await removeWritableLayer(writable);
    },
  };
}
