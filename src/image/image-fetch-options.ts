// ImageFetchOptions: how an image that is not stored yet is found and fetched
// (pull policy, platform, TLS, progress, abort), declared once for every
// layer from spawnSandbox down to the pull, and passed on with fetchOptions.
import type { PullProgress } from './registry/pull-image.js';

export type PullPolicy = 'missing' | 'always' | 'never';

export interface ImageFetchOptions {
  /** Registry references: 'missing' (default) pulls only when the name is not stored. */
  readonly pull?: PullPolicy;
  /** "os/arch[/variant]"; default the host's. */
  readonly platform?: string;
  /** false also allows plain HTTP to the registry. */
  readonly tlsVerify?: boolean;
  readonly progress?: (e: PullProgress) => void;
  readonly signal?: AbortSignal;
}

/** The fetch options of `o` that are set (an empty pull or platform counts as unset), for passing on. */
export function fetchOptions(o: ImageFetchOptions): ImageFetchOptions {
  return {
    ...(o.pull && { pull: o.pull }),
    ...(o.platform && { platform: o.platform }),
    ...(o.tlsVerify !== undefined && { tlsVerify: o.tlsVerify }),
    ...(o.progress && { progress: o.progress }),
    ...(o.signal && { signal: o.signal }),
  };
}
