// Where the image store lives and how it is laid out. Owns: the choice of
// the root (option > $SANDBOX_STORE > $XDG_DATA_HOME/rootless-sandbox/store >
// ~/.local/share/rootless-sandbox/store), every path inside it, digest
// parsing and the escaping of image names into file names.
// Must not: create, read or lock anything (image-store.ts does; the modes
// of the directories are store-access.ts's).
//
// Layout under the root:
//   store.lock                              flock: held while names or records change, and by prune
//   blobs/sha256/<hex>                      blobs (manifests, configs, compressed layers), verified before they get their name
//   blobs/sha256/.tmp-*                     downloads in progress (putBlob and the registry client)
//   layers/sha256/<diffid-hex>/             an unpacked layer; exists only when complete (renamed into place)
//   runs/<pid>-<start>-<random>/            a run's writable layer (run/writable-layer.ts)
//   layers/sha256/<diffid-hex>.whiteouts.json  its whiteout sidecar (written by unpackLayer)
//   layers/sha256/<diffid-hex>.lock         flock: held while that layer is unpacked or pruned
//   layers/tmp-<diffid-hex>-<random>/       an unpack in progress (its sidecar next to it)
//   images/<manifest-digest-hex>.json       image records
//   names/<escaped name>                    one file per name: the manifest digest it points to
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { SandboxError } from '../../errors.js';

export const STORE_ENV = 'SANDBOX_STORE';

/** Where root's store is by default (as podman's /var/lib/containers): root's home is 0700, and root inside the runs must walk to the layers. */
export const ROOT_STORE = '/var/lib/rootless-sandbox/store';

/**
 * The store root: `option`, else $SANDBOX_STORE, else (root) /var/lib/rootless-sandbox/store,
 * else $XDG_DATA_HOME/rootless-sandbox/store, else ~/.local/share/rootless-sandbox/store.
 */
export function storeRoot(option?: string, env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.()): string {
  if (option) return resolve(option);
  const fromEnv = env[STORE_ENV];
  if (fromEnv) return resolve(fromEnv);
  if (uid === 0) return ROOT_STORE;
  const xdg = env.XDG_DATA_HOME;
  // the XDG spec: a relative $XDG_DATA_HOME is invalid and must be ignored
  if (xdg && isAbsolute(xdg)) return join(xdg, 'rootless-sandbox', 'store');
  const home = env.HOME || homedir();
  if (!home) {
    throw new SandboxError('host', 'cannot place the image store: neither $SANDBOX_STORE, $XDG_DATA_HOME nor $HOME is set',
      `set ${STORE_ENV} (or pass the store flag) to a directory the sandbox may write`);
  }
  return join(home, '.local', 'share', 'rootless-sandbox', 'store');
}

const DIGEST = /^sha256:([a-f0-9]{64})$/;

/** The hex of a "sha256:<64 hex>" digest; a config error naming `what` otherwise. */
export function digestHex(digest: string, what = 'digest'): string {
  const m = DIGEST.exec(digest);
  if (!m) {
    throw new SandboxError('config', `unsupported ${what} '${digest}'`,
      "expected 'sha256:' followed by 64 lower-case hex digits (only sha256 is supported)");
  }
  return m[1]!;
}

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

/** Longest escaped name kept as a file name (NAME_MAX is 255; room for temp suffixes). */
const MAX_ESCAPED = 200;

/**
 * An image name as one file name: every byte outside [A-Za-z0-9_.-] (and
 * a leading '.', so no name is '.', '..' or a hidden temp file) becomes
 * %XX. Reversible: unescapeName.
 */
export function escapeName(name: string): string {
  if (!name) throw new SandboxError('config', 'an image name must not be empty', 'name the image like registry/repository:tag');
  let out = '';
  const bytes = Buffer.from(name, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    const c = String.fromCharCode(b);
    const plain = /[A-Za-z0-9_.-]/.test(c) && !(i === 0 && c === '.');
    out += plain ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (out.length > MAX_ESCAPED) {
    throw new SandboxError('config', `image name '${name.slice(0, 80)}...' is too long for the store (${out.length} characters escaped, at most ${MAX_ESCAPED})`,
      'use a shorter repository or tag');
  }
  return out;
}

export function unescapeName(file: string): string {
  return decodeURIComponent(file);
}

/** Where the writable layers of image runs are (run/writable-layer.ts). */
export function runsDir(storeRoot: string): string {
  return join(storeRoot, 'runs');
}

export interface StorePaths {
  readonly root: string;
  readonly lockFile: string;
  readonly blobsDir: string;
  /** blobs/sha256: what pullImage takes as blobDir is `blobsDir`. */
  readonly blobsShaDir: string;
  readonly layersDir: string;
  readonly layersShaDir: string;
  readonly imagesDir: string;
  readonly namesDir: string;
  blob(digest: string): string;
  layer(diffId: string): string;
  layerWhiteouts(diffId: string): string;
  layerLock(diffId: string): string;
  image(manifestDigest: string): string;
  name(name: string): string;
}

export function storePaths(root: string): StorePaths {
  const blobsDir = join(root, 'blobs');
  const blobsShaDir = join(blobsDir, 'sha256');
  const layersDir = join(root, 'layers');
  const layersShaDir = join(layersDir, 'sha256');
  const imagesDir = join(root, 'images');
  const namesDir = join(root, 'names');
  return {
    root,
    lockFile: join(root, 'store.lock'),
    blobsDir,
    blobsShaDir,
    layersDir,
    layersShaDir,
    imagesDir,
    namesDir,
    blob: (d) => join(blobsShaDir, digestHex(d, 'blob digest')),
    layer: (d) => join(layersShaDir, digestHex(d, 'layer diff ID')),
    layerWhiteouts: (d) => join(layersShaDir, `${digestHex(d, 'layer diff ID')}.whiteouts.json`),
    layerLock: (d) => join(layersShaDir, `${digestHex(d, 'layer diff ID')}.lock`),
    image: (d) => join(imagesDir, `${digestHex(d, 'manifest digest')}.json`),
    name: (n) => join(namesDir, escapeName(n)),
  };
}
