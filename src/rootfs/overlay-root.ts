// The root of an OCI image run: native overlayfs of the image's layers (read
// only, shared by every run) under the run's own writable layer.
//
// overlayfs takes its layers by path, walked as inside root, and only from
// mounts of pid 1's own mount namespace: so the store must be searchable by
// inside root (it is the caller for a non-root caller; for root, the store
// lives in /var/lib with mode 0711 directories). Each layer is first bound
// at a short name on the scratch root (/layers/N, and the writable layer at
// /writable), which keeps the mount options below their one-page limit
// whatever the store's path, and names no host path inside.
// The stage holds fds of the writable layer's directories, opened before
// it enters the user namespace, to empty them when the run ends.
// Must not: mount anything outside /newroot and the scratch root.
import { SandboxError } from '../errors.js';
import type { OciImageSpec } from '../resolve/run-spec.js';
import { MS, ops, type StageOp } from '../stage/plan.js';

/** A run's writable layer on the host: a directory holding the overlay's upper/ and work/, and scratch/ where pid 1 mounts its scratch root. */
export interface WritableLayer {
  readonly dir: string;
  readonly upper: string;
  readonly work: string;
  readonly scratch: string;
}

// fd numbers the stage gives the writable layer's directories: far above what it uses itself
const WORK_FD = 64;
const UPPER_FD = 65;
/** Docker refuses more than 127 layers too. */
export const MAX_LAYERS = 128;
const LAYERS = '/layers';
const WRITABLE = '/writable';

/**
 * Emptying a writable layer, in two parts: `open` (before USERNS, with the
 * caller's rights) and `clear` (now, once inside; or registered to run when
 * the sandbox has ended). Only the directories `present` says exist: a run
 * killed while it was being made may lack one.
 */
export function planClearWritableLayer(writable: WritableLayer, present: (dir: string) => boolean = () => true) {
  const dirs = [{ path: writable.work, fd: WORK_FD }, { path: writable.upper, fd: UPPER_FD }].filter((d) => present(d.path));
  return {
    open: dirs.map((d) => ops.openDir(d.path, d.fd)),
    clear: (afterRun: boolean) => dirs.map((d) => ops.clearDir(d.fd, afterRun)),
  };
}

/** Stage ops, before USERNS: keep fds of the writable layer, to empty it when the sandbox has ended. */
export function planWritableLayerFds(image: OciImageSpec, writable: WritableLayer): StageOp[] {
  if (image.layers.length === 0 || image.layers.length > MAX_LAYERS) {
    throw new SandboxError('usage', `image ${image.ref} has ${image.layers.length} layers`,
      `an image needs 1 to ${MAX_LAYERS} layers; squash it (e.g. podman build --squash)`);
  }
  const { open, clear } = planClearWritableLayer(writable);
  // the files the workload wrote belong to ids inside: the stage removes them when the sandbox has ended
  return [...open, ...clear(true)];
}

/** The kernel's overlay. pid 1, on the scratch root (the host's root at `oldRoot`): the overlay on `target`. */
export function planOverlayMount(image: OciImageSpec, writable: WritableLayer, target: string, oldRoot: string): StageOp[] {
  const host = (p: string) => oldRoot + p;
  const layers = image.layers.map((dir, i) => ({ dir, at: `${LAYERS}/${i}` }));
  // overlayfs lists the top layer first; userxattr: whiteouts and opaque directories as
  // user.overlay.* (a user namespace may not set trusted.*)
  const lower = layers.map((l) => l.at).reverse().join(':');
  // upper/ and work/ are bound too: the options inside then name no host path
  const data = `lowerdir=${lower},upperdir=${WRITABLE}/upper,workdir=${WRITABLE}/work,userxattr`;
  return [
    ...layers.flatMap((l) => [ops.mkdir(l.at), ops.bind(host(l.dir), l.at, false)]),
    ops.mkdir(WRITABLE),
    ops.bind(host(writable.dir), WRITABLE, false),
    ops.mount('overlay', target, 'overlay', MS.NOSUID | MS.NODEV, data),
    // pid 1 needs them no longer (the stage keeps its own, to clear the writable layer)
    ops.closeFd(WORK_FD),
    ops.closeFd(UPPER_FD),
  ];
}

/** fuse-overlayfs parses its options itself: a ',' or ':' in a path would split it. */
function fusePath(p: string): string {
  if (/[,:\\]/.test(p)) {
    throw new SandboxError('usage', `fuse-overlayfs cannot take the path ${p} (it has a ',', ':' or '\\')`,
      'move the image store to a path without those characters (SANDBOX_STORE or --store)');
  }
  return p;
}

/**
 * fuse-overlayfs. pid 1, before the first pivot, while host paths are what
 * they name (the scratch root of an image run is in its own directory, so
 * it hides nothing of the host): the daemon opens the layers, mounts on
 * `target` and goes to the background, in the sandbox's pid namespace, so
 * it ends with the run.
 */
export function planFuseOverlayMount(image: OciImageSpec, writable: WritableLayer, program: string, target: string): StageOp[] {
  const lower = image.layers.map(fusePath).reverse().join(':');
  // allow_other: the workload may be another id than the daemon's (inside root)
  const options = `lowerdir=${lower},upperdir=${fusePath(writable.upper)},workdir=${fusePath(writable.work)},allow_other,nosuid,nodev`;
  return [ops.run(program, ['fuse-overlayfs', '-o', options, target]), ops.closeFd(WORK_FD), ops.closeFd(UPPER_FD)];
}
