// The image store as the CLI and the library open it: removal of layers
// (failed unpacks, prune) goes through removeTreeInUserns, because layers
// unpacked with owners belong to subordinate ids the caller cannot remove
// by itself. Tests that only need the store use openStore directly.
// Must not: unpack (ensure-layers.ts) or decide the id map (image-idmap.ts).
import { probeHost, type HostFacts } from '../../host/probe-host.js';
import { layerTreeRemover } from '../unpack/remove-tree-in-userns.js';
import { openStore, type ImageStore, type StoreOptions } from './image-store.js';
import { storePaths, storeRoot } from './store-paths.js';

export async function openImageStore(root?: string, options: Omit<StoreOptions, 'removeTree'> & { host?: HostFacts } = {}): Promise<ImageStore> {
  const { host = probeHost(), ...rest } = options;
  const paths = storePaths(storeRoot(root));
  return openStore(paths.root, { ...rest, removeTree: layerTreeRemover(paths.layersDir, { host }) });
}
