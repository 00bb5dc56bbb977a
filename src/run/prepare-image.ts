// Turns an image reference into what a run needs (ResolvedImage): unpacked
// layer directories, the config and the image's users. `host` needs nothing;
// a directory is a one-layer image with no config; anything else comes from
// the image store.
// Must not: plan or start the run.
import { constants, realpathSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { canAccess, findTool, probeHost, type HostFacts } from '../host/probe-host.js';
import { chooseOverlay, OVERLAY_ENV, parseOverlayChoice, type OverlayDriver } from '../rootfs/choose-overlay.js';
import { SandboxError } from '../errors.js';
import { openStore } from '../image/store/image-store.js';
import { parseImageReference } from '../image/registry/parse-reference.js';
import { fetchOptions, type ImageFetchOptions } from '../image/image-fetch-options.js';
import { resolveImage } from '../image/resolve-image.js';
import { validateImageConfig } from '../image/image-json.js';
import type { ResolvedImage } from '../resolve/image-defaults.js';
import { readImageFile } from './image-etc.js';

export interface PrepareImageOptions extends ImageFetchOptions {
  /** Image store directory (default: $SANDBOX_STORE, else under $XDG_DATA_HOME). */
  readonly store?: string;
  /** auto (default: $SANDBOX_OVERLAY, else native where the kernel allows it), native or fuse. */
  readonly overlay?: string;
  /** The caller's host facts, already probed (default: probed here). */
  readonly host?: HostFacts;
}

/** The overlay that will merge the layers: known before anything is pulled or made. */
function pickOverlay(options: PrepareImageOptions): OverlayDriver {
  const choice = parseOverlayChoice(options.overlay ?? process.env[OVERLAY_ENV], options.overlay ? '--overlay' : `$${OVERLAY_ENV}`);
  const devFuse = canAccess('/dev/fuse', constants.R_OK | constants.W_OK);
  return chooseOverlay(choice, { kernel: release(), fuseOverlayfs: findTool('fuse-overlayfs'), devFuse });
}

function withUsers(image: Omit<ResolvedImage, 'passwd' | 'group'>): ResolvedImage {
  return { ...image, passwd: readImageFile(image.layers, '/etc/passwd'), group: readImageFile(image.layers, '/etc/group') };
}

function directoryImage(ref: string, path: string, overlay: OverlayDriver): ResolvedImage {
  let real: string;
  try {
    real = realpathSync(path);
    if (!statSync(real).isDirectory()) throw Object.assign(new Error(), { code: 'ENOTDIR' });
  } catch (e) {
    throw new SandboxError('usage', `image ${ref}: ${path} is not a directory (${(e as NodeJS.ErrnoException).code ?? e})`,
      'give the path of a root file system directory, or an image name');
  }
  return withUsers({ ref, digest: '', layers: [real], overlay, config: {} });
}

/** null for `host`. */
export async function prepareImage(ref: string, options: PrepareImageOptions = {}): Promise<ResolvedImage | null> {
  const parsed = parseImageReference(ref);
  if (parsed.transport === 'host') return null;
  const overlay = pickOverlay(options);
  if (parsed.transport === 'dir') return directoryImage(ref, parsed.path, overlay);
  const host = options.host ?? probeHost();
  const store = await openStore(options.store, { host });
  const image = await resolveImage(ref, {
    store,
    host,
    ...fetchOptions(options),
  });
  // resolveImage made sure of every layer
  const layers = image.layers.map((l) => store.layerPath(l.diffId));
  // pulls and loads check the config; a record stored by an older version is checked here
  const config = validateImageConfig(ref, `stored config ${image.configDigest}`, image.config,
    `the image was stored without this check: remove it (sandbox image rm ${ref}) and pull or load it again`);
  return withUsers({ ref, digest: image.manifestDigest, layers, overlay, config: config.config ?? {} });
}
