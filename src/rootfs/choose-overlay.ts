// Which overlay an image run's root uses: the kernel's (native, since Linux
// 5.11 a user namespace may mount it) or fuse-overlayfs, a FUSE daemon that
// does the same in user space where the kernel cannot. "auto" takes native
// when the kernel allows it; SANDBOX_OVERLAY or --overlay force either, so
// both paths are tested on one machine. Fail closed: no overlay, no run.
// Must not: look at anything but the facts it is given.
import { SandboxError } from '../errors.js';
import type { OverlayFacts } from '../host/probe-overlay.js';

export type OverlayDriver = { readonly kind: 'native' } | { readonly kind: 'fuse'; readonly program: string };
export type OverlayChoice = 'auto' | 'native' | 'fuse';

export { OVERLAY_ENV, type OverlayFacts } from '../host/probe-overlay.js';

/** Unprivileged overlayfs mounts in a user namespace arrived in Linux 5.11. */
export function kernelHasUserOverlay(release: string): boolean {
  const [major = 0, minor = 0] = release.split(/[.-]/).map(Number);
  return major > 5 || (major === 5 && minor >= 11);
}

export function parseOverlayChoice(value: string | undefined, where: string): OverlayChoice {
  if (value === undefined || value === '') return 'auto';
  if (value === 'auto' || value === 'native' || value === 'fuse') return value;
  throw new SandboxError('usage', `unknown overlay "${value}" (${where})`, 'use auto, native or fuse');
}

export function chooseOverlay(choice: OverlayChoice, facts: OverlayFacts): OverlayDriver {
  const native = kernelHasUserOverlay(facts.kernel);
  if (choice === 'native' || (choice === 'auto' && native)) {
    if (!native) {
      throw new SandboxError('host', `kernel ${facts.kernel} cannot mount overlayfs in a user namespace (needs 5.11)`,
        'use fuse-overlayfs instead: --overlay fuse (Debian: apt-get install fuse-overlayfs)');
    }
    return { kind: 'native' };
  }
  if (!facts.fuseOverlayfs) {
    throw new SandboxError('host', choice === 'fuse' ? 'fuse-overlayfs is not installed' : `kernel ${facts.kernel} has no overlayfs for user namespaces and fuse-overlayfs is not installed`,
      'install it (Debian: apt-get install fuse-overlayfs)');
  }
  if (!facts.devFuse) {
    throw new SandboxError('host', '/dev/fuse cannot be opened (fuse-overlayfs needs it)',
      'make it usable by everyone, as distributions do: chmod 0666 /dev/fuse (and load the fuse module)');
  }
  return { kind: 'fuse', program: facts.fuseOverlayfs };
}
