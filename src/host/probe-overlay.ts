// What decides an image run's overlay, read off this machine: the kernel,
// fuse-overlayfs and /dev/fuse, and the caller's $SANDBOX_OVERLAY.
// rootfs/choose-overlay.ts decides from these facts.
import { constants } from 'node:fs';
import { canAccess, findTool, machineFacts } from './probe-host.js';

/** The environment variable that forces an overlay (auto, native, fuse), so both paths are tested on one machine. */
export const OVERLAY_ENV = 'SANDBOX_OVERLAY';

export interface OverlayFacts {
  /** os.release(): "6.1.0-18-amd64". */
  readonly kernel: string;
  /** Path of fuse-overlayfs, if installed. */
  readonly fuseOverlayfs: string | null;
  /** /dev/fuse can be opened for reading and writing by the caller. */
  readonly devFuse: boolean;
  /** $SANDBOX_OVERLAY, if set. */
  readonly requested?: string;
}

export function probeOverlay(env: NodeJS.ProcessEnv = process.env): OverlayFacts {
  const requested = env[OVERLAY_ENV];
  return {
    kernel: machineFacts().kernel,
    fuseOverlayfs: findTool('fuse-overlayfs'),
    devFuse: canAccess('/dev/fuse', constants.R_OK | constants.W_OK),
    ...(requested !== undefined && { requested }),
  };
}
