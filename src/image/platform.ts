// Platforms in OCI terms (os/architecture/variant): the host's, parsed from
// --platform, printed, and picked from an image index. Shared by the
// registry client and the loaders (load/).
import { SandboxError } from '../errors.js';
import type { Descriptor, ImageIndex } from './oci-types.js';

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  readonly 'os.version'?: string;
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips64el: 'mips64le' };

/** The platform this process runs on, in OCI terms (linux/amd64, linux/arm64/v8, ...). */
export function hostPlatform(): Platform {
  const architecture = ARCH[process.arch] ?? process.arch;
  if (architecture === 'arm64') return { os: 'linux', architecture, variant: 'v8' };
  if (architecture === 'arm') {
    const v = (process.config.variables as { arm_version?: string }).arm_version;
    return { os: 'linux', architecture, variant: `v${v ?? '7'}` };
  }
  return { os: 'linux', architecture };
}

/** "os/arch[/variant]" → Platform, refusing anything else. */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/.test(p))) {
    throw new SandboxError('usage', `invalid platform "${text}": expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8`);
  }
  const [os, architecture, variant] = parts as [string, string, string?];
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(p: Platform | undefined): string {
  if (!p) return 'unknown';
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * Picks the manifest for `want` from an index: same os and architecture, and
 * the same variant when one is asked for (arm64 without a variant is v8).
 * Entries without a platform or for attestations are ignored.
 */
export function selectPlatform(index: ImageIndex, want: Platform): Descriptor | null {
  const norm = (p: Platform) => (p.architecture === 'arm64' && !p.variant ? { ...p, variant: 'v8' } : p);
  const w = norm(want);
  const candidates = index.manifests.filter((d) => d.platform && d.platform.os === w.os && d.platform.architecture === w.architecture
    && d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest');
  if (w.variant) {
    const exact = candidates.find((d) => norm(d.platform!).variant === w.variant);
    if (exact) return exact;
    // an image without variants for the architecture still runs
    return candidates.find((d) => !d.platform!.variant) ?? null;
  }
  return candidates[0] ?? null;
}
