// Turns an image reference into what a run needs (ResolvedImage): unpacked
// layer directories, the config and the image's users. `host` needs nothing;
// a directory is a one-layer image with no config; anything else comes from
// the image store.
// Must not: plan or start the run.
import { realpathSync, statSync } from 'node:fs';
import { probeHost, type HostFacts } from '../host/probe-host.js';
import { probeOverlay } from '../host/probe-overlay.js';
import { chooseOverlay, OVERLAY_ENV, parseOverlayChoice, type OverlayDriver } from '../rootfs/choose-overlay.js';
import { SandboxError } from '../errors.js';
import { openStore } from '../image/store/image-store.js';
import { parseImageReference } from '../image/registry/parse-reference.js';
import { fetchOptions, type ImageFetchOptions } from '../image/image-fetch-options.js';
import { resolveImage } from '../image/resolve-image.js';
import { validateImageConfig } from '../image/image-json.js';
import type { ResolvedImage } from '../resolve/image-defaults.js';
import { readImageFileNoted } from './image-etc.js';
import { basename, dirname } from 'node:path';
import { planImageIdMap } from '../idmap/image-idmap.js';
import { runWorker } from '../image/unpack/userns-worker.js';

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
  const facts = probeOverlay();
  const choice = parseOverlayChoice(options.overlay ?? facts.requested, options.overlay ? '--overlay' : `$${OVERLAY_ENV}`);
  return chooseOverlay(choice, facts);
}

/**
 * The layers (bottom first) with a layer listed more than once kept only at
 * its topmost place: overlayfs refuses one directory twice (ELOOP), and the
 * result is the same, since a layer applied again on top decides every path
 * it touches, whatever it did lower down.
 */
export function topmostOccurrences(layers: readonly string[]): string[] {
  return layers.filter((dir, i) => layers.indexOf(dir, i + 1) === -1);
}

type Noted = { text: string | null; note?: string };

/**
 * The image's /etc/passwd and /etc/group as the caller reads them; where that
 * is refused (a 0600 file owned by an id inside: host root may read it, the
 * caller may not), as root of the image's user namespace reads them, so that
 * root and an unprivileged user get the same answer.
 */
async function readUsers(layers: readonly string[], host: HostFacts | undefined): Promise<{ passwd: Noted; group: Noted }> {
  const passwd = readImageFileNoted(layers, '/etc/passwd');
  const group = readImageFileNoted(layers, '/etc/group');
  const refused = (f: Noted) => f.note?.includes('(EACCES)') ?? false;
  const parent = dirname(layers[0]!);
  if (!(refused(passwd) || refused(group)) || layers.some((l) => dirname(l) !== parent)) return { passwd, group };
  const facts = host ?? probeHost();
  const idmap = planImageIdMap(facts);
  if (idmap.mode !== 'subid') return { passwd, group };
  const reply = await runWorker({ op: 'read-etc', layers: layers.map((l) => basename(l)), paths: ['/etc/passwd', '/etc/group'] },
    { cwd: parent, idmap, host: facts, what: 'read the image\'s /etc/passwd and /etc/group' });
  const files = reply.report as Record<string, Noted>;
  return { passwd: files['/etc/passwd'] ?? passwd, group: files['/etc/group'] ?? group };
}

async function withUsers(image: Omit<ResolvedImage, 'passwd' | 'group'>, host?: HostFacts): Promise<ResolvedImage> {
  const { passwd, group } = await readUsers(image.layers, host);
  return {
    ...image, passwd: passwd.text, group: group.text,
    ...(passwd.note && { passwdNote: passwd.note }), ...(group.note && { groupNote: group.note }),
  };
}

function directoryImage(ref: string, path: string, overlay: OverlayDriver): Promise<ResolvedImage> {
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
  const layers = topmostOccurrences(image.layers.map((l) => store.layerPath(l.diffId)));
  // pulls and loads check the config; a record stored by an older version is checked here
  const config = validateImageConfig(ref, `stored config ${image.configDigest}`, image.config,
    `the image was stored without this check: remove it (sandbox image rm ${ref}) and pull or load it again`);
  return withUsers({ ref, digest: image.manifestDigest, layers, overlay, config: config.config ?? {} }, host);
}
