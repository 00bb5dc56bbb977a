// Unpacks a layer blob with its owners: the worker runs as uid 0 of a user
// namespace with the image id map (image-idmap.ts), so every uid/gid of
// the archive lands on the host as the id the map gives it; modes stay,
// except setuid/setgid/o+w of files (unpack-layer.ts). Whiteouts become
// overlay marks.
// Must not: verify the blob (the store names only verified blobs) or run the
// archive through anything outside the namespace.
import { chmodSync, chownSync, closeSync, constants as fsc, lstatSync, openSync } from 'node:fs';
import { SandboxError } from '../../errors.js';
import { probeHost, type HostFacts } from '../../host/probe-host.js';
import { hostRootOf, planImageIdMap } from '../../idmap/image-idmap.js';
import type { IdMapPlan } from '../../idmap/plan-idmap.js';
import type { UnpackReport } from './unpack-layer.js';
import type { WorkerUnpackOptions } from './unpack-worker.js';
import { runWorker } from './userns-worker.js';

export interface UsernsUnpackOptions extends Omit<WorkerUnpackOptions, 'chown' | 'whiteouts'> {
  /** 'overlay' (default) or 'fuse-overlayfs' (the same marks); no 'record': the worker cannot write next to the layer. */
  readonly whiteouts?: 'overlay' | 'fuse-overlayfs';
  /** Host facts (default: probeHost()). */
  readonly host?: HostFacts;
  /** The image id map (default: planImageIdMap(host)); must map a subordinate range. */
  readonly idmap?: IdMapPlan;
  readonly signal?: AbortSignal;
}

/** Mode of an unpacked layer's root: what mkdtemp made (0700) would hide the image from its own non-root users. */
const LAYER_ROOT_MODE = 0o755;

/**
 * Unpacks the blob at `blobPath` into the empty directory `targetDir` inside
 * the user namespace, owners and modes as the archive says (mapped).
 * Rejects with the worker's SandboxError (entry name and rule, as unpackLayer)
 * or a set-up error; the caller removes `targetDir` (removeTreeInUserns).
 */
export async function unpackLayerInUserns(blobPath: string, targetDir: string, options: UsernsUnpackOptions = {}): Promise<UnpackReport> {
  const host = options.host ?? probeHost();
  const idmap = options.idmap ?? planImageIdMap(host);
  if (idmap.mode !== 'subid') {
    throw new SandboxError('host', `cannot unpack ${blobPath} with its owners: ${idmap.note ?? 'the image id map has no subordinate range'}`,
      'give the caller a range in /etc/subuid and /etc/subgid (and install newuidmap/newgidmap), or unpack without owners (unpackLayer, chown off)');
  }
  const st = lstatSync(targetDir);
  if (!st.isDirectory()) throw new SandboxError('internal', `unpack target ${targetDir} is not a directory`, 'pass the empty directory the store made');
  // the namespace's root must own the target (root's range is not root); the layer root is world-searchable
  const owner = hostRootOf(idmap);
  if (st.uid !== owner.uid || st.gid !== owner.gid) chownSync(targetDir, owner.uid, owner.gid);
  chmodSync(targetDir, LAYER_ROOT_MODE);

  let fd: number;
  try {
    fd = openSync(blobPath, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch (e) {
    throw new SandboxError('host', `cannot read layer blob ${blobPath}: ${(e as NodeJS.ErrnoException).code ?? e}`, 'pull the image again');
  }
  try {
    const request = { ...pickUnpackOptions(options), chown: true, whiteouts: options.whiteouts ?? 'overlay' } as const;
    const reply = await runWorker({ op: 'unpack', options: request }, {
      cwd: targetDir, stdinFd: fd, idmap, host, signal: options.signal, what: `unpack ${blobPath} into ${targetDir}`,
    });
    return reply.report as UnpackReport;
  } finally {
    closeSync(fd);
  }
}

function pickUnpackOptions(o: UsernsUnpackOptions): WorkerUnpackOptions {
  const out: WorkerUnpackOptions = {};
  if (o.compression !== undefined) out.compression = o.compression;
  if (o.maxBytes !== undefined) out.maxBytes = o.maxBytes;
  if (o.maxEntries !== undefined) out.maxEntries = o.maxEntries;
  if (o.strict !== undefined) out.strict = o.strict;
  if (o.expectDiffId !== undefined) out.expectDiffId = o.expectDiffId;
  return out;
}
