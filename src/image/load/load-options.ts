// What every loader takes, and how the names an image carries inside
// (ref name annotations, RepoTags) become store names.
// Must not: read anything.
import { SandboxError } from '../../errors.js';
import type { PullProgress } from '../registry/pull-image.js';
import { parseDockerReference } from '../registry/parse-reference.js';
import { hostPlatform, parsePlatform, type Platform } from '../platform.js';

export interface LoadOptions {
  /** "os/arch[/variant]"; default the host's. */
  readonly platform?: string;
  /** More names to record the image under (any form parseDockerReference takes). */
  readonly names?: readonly string[];
  readonly onProgress?: (e: PullProgress) => void;
  readonly signal?: AbortSignal;
}

export function loadPlatform(opts: LoadOptions): Platform {
  return opts.platform ? parsePlatform(opts.platform) : hostPlatform();
}

/**
 * Store names for the names an image carries: full references
 * ("docker.io/library/alpine:3", "localhost/x:1", "alpine:3") normalised as
 * a pull records them; a bare tag ("v1", "latest" as an OCI ref name) names
 * nothing by itself and is left out.
 */
export function storeNames(carried: readonly string[], extra: readonly string[] = []): string[] {
  const out = new Set<string>();
  for (const n of carried) {
    if (!n.includes('/') && !n.includes(':')) continue;
    try {
      out.add(parseDockerReference(n).canonical);
    } catch {
      // a name that is no reference is not a store name
    }
  }
  for (const n of extra) {
    const r = parseDockerReference(n);
    if (r.digest) throw new SandboxError('usage', `"${n}" names a digest: a name for an image is REPOSITORY[:TAG]`, 'leave out the @sha256:... part');
    out.add(r.canonical);
  }
  return [...out];
}
