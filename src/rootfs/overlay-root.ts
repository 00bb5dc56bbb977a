// The root of an OCI image run: native overlayfs of the image's layers (read
// only, shared by every run) under the run's own writable layer.
//
// overlayfs takes its layers by path, walked as inside root, and only from
// mounts of pid 1's own mount namespace: so the store must be searchable by
// inside root (it is the caller for a non-root caller; for root, the
// directories on the way are 0710 with its group: store-access.ts). Each
// layer is first bound at a short name on the scratch root (/layers/N, and
// the writable layer at /writable), which keeps the mount options below
// their one-page limit whatever the store's path, and names no host path
// inside. fuse-overlayfs, a process the workload can see, gets the same
// short names, and a view of its own without the host (planFuseOverlay*).
// The stage holds fds of the writable layer's directories, opened before
// it enters the user namespace, to empty them when the run ends.
// Must not: mount anything outside /newroot and the scratch root.
import { FIRST_CLEAR_FD, planClearDirs } from '../launch/clear-dirs.js';
import type { OciImageSpec } from '../resolve/run-spec.js';
import { CLONE, MNT_DETACH, MS, ops, type StageOp } from '../stage/plan.js';

/** A run's writable layer on the host: a directory holding the overlay's upper/ and work/, and scratch/ where pid 1 mounts its scratch root. */
export interface WritableLayer {
  readonly dir: string;
  readonly upper: string;
  readonly work: string;
  readonly scratch: string;
}

// fd numbers the stage gives the writable layer's directories (planClearDirs numbers them in order)
const WORK_FD = FIRST_CLEAR_FD;
const UPPER_FD = FIRST_CLEAR_FD + 1;
const LAYERS = '/layers';
const WRITABLE = '/writable';

/** Stage ops, before USERNS: keep fds of the writable layer, to empty it when the sandbox has ended. */
export function planWritableLayerFds(image: OciImageSpec, writable: WritableLayer): StageOp[] {
  const { open, clear } = planClearDirs([writable.work, writable.upper]);
  // the files the workload wrote belong to ids inside: the stage removes them when the sandbox has ended
  return [...open, ...clear(true)];
}

/**
 * Whether the image's setuid files work: only when the run lets them raise
 * privileges (no_new_privs off, so `sudo` inside works, as in podman); they
 * then raise to ids of the run's own user namespace.
 */
const suidFlag = (setuid: boolean) => (setuid ? 0 : MS.NOSUID);

/** The kernel's overlay. pid 1, on the scratch root (the host's root at `oldRoot`): the overlay on `target`. */
export function planOverlayMount(image: OciImageSpec, writable: WritableLayer, target: string, oldRoot: string, setuid: boolean): StageOp[] {
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
    ops.mount('overlay', target, 'overlay', suidFlag(setuid) | MS.NODEV, data),
    // pid 1 needs them no longer (the stage keeps its own, to clear the writable layer)
    ops.closeFd(WORK_FD),
    ops.closeFd(UPPER_FD),
  ];
}

// fds pid 1 keeps of two mount namespaces while it seals fuse-overlayfs' view
const FUSE_NS_FD = FIRST_CLEAR_FD + 2;
const OWN_NS_FD = FIRST_CLEAR_FD + 3;

/**
 * fuse-overlayfs, part one: pid 1, in a mount namespace that becomes the
 * daemon's, before the first pivot. Its command line is readable by the
 * workload (/proc/PID/cmdline), so it names no host path: the layers and
 * the writable layer are bound at short names on the scratch root, the same
 * as for the native overlay, and the daemon starts there, with relative
 * paths. It opens the layers, mounts on `newRoot` (a path on the scratch
 * root) and goes to the background, in the sandbox's pid namespace, so it ends with the run.
 * It gets a /proc of the sandbox's own: it resolves /proc/self/fd after
 * the pivot of part two.
 */
export function planFuseOverlayStart(image: OciImageSpec, writable: WritableLayer, program: string, scratch: string, newRoot: string, setuid: boolean): StageOp[] {
  const layers = image.layers.map((dir, i) => ({ dir, at: `${LAYERS}/${i}` }));
  const lower = layers.map((l) => l.at.slice(1)).reverse().join(':');
  // allow_other: the workload may be another id than the daemon's (inside root)
  const options = `lowerdir=${lower},upperdir=${WRITABLE.slice(1)}/upper,workdir=${WRITABLE.slice(1)}/work,allow_other,${setuid ? '' : 'nosuid,'}nodev`;
  return [
    ...layers.flatMap((l) => [ops.mkdir(scratch + l.at), ops.bind(l.dir, scratch + l.at, false)]),
    ops.mkdir(scratch + WRITABLE),
    ops.bind(writable.dir, scratch + WRITABLE, false),
    ops.mkdir(scratch + '/proc'),
    ops.mount('proc', scratch + '/proc', 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC),
    ops.chdir(scratch),
    ops.run(program, ['fuse-overlayfs', '-o', options, newRoot.slice(1)]),
    // pid 1 needs them no longer (the stage keeps its own, to clear the writable layer)
    ops.closeFd(WORK_FD),
    ops.closeFd(UPPER_FD),
  ];
}

/**
 * fuse-overlayfs, part two: pid 1, right after the first pivot, which moved
 * the daemon's root to the scratch root too. pid 1 takes a mount namespace
 * of its own (it still needs the host's root at /oldroot), goes back into
 * the daemon's and detaches the host's root and the binds there: the daemon
 * works on the descriptors it opened, and what the workload can read of it
 * (/proc/PID/mountinfo) is the scratch root, its /proc and the overlay.
 */
export function planFuseOverlaySeal(image: OciImageSpec, oldRoot: string): StageOp[] {
  return [
    ops.keepMountNs(FUSE_NS_FD, 'of fuse-overlayfs'),
    ops.unshare(CLONE.NEWNS, 'a mount namespace for pid 1'),
    ops.keepMountNs(OWN_NS_FD, 'of pid 1'),
    ops.enterMountNs(FUSE_NS_FD, 'of fuse-overlayfs'),
    ops.umount(oldRoot, MNT_DETACH),
    ...image.layers.map((_, i) => ops.umount(`${LAYERS}/${i}`, MNT_DETACH)),
    ops.umount(WRITABLE, MNT_DETACH),
    ops.enterMountNs(OWN_NS_FD, 'of pid 1'),
    ops.closeFd(FUSE_NS_FD),
    ops.closeFd(OWN_NS_FD),
  ];
}
