// How a loader says what is wrong with an image it was given: the file (or
// directory), where inside it (a JSON pointer or an archive entry), what is
// wrong, and a hint. Loaded images are hostile input: a 'config' error.
// Pulls use the same errors and limits for what a registry sends (image-json.ts).
// Must not: read anything.
import { SandboxError } from '../../errors.js';

/** Limits on what a loader reads into memory or accepts from an image. */
export const LOAD_LIMITS = {
  /** index.json, manifest.json, image indexes, manifests and configs, loaded or pulled (a registry allows 4 MiB too). */
  maxJsonBytes: 4 * 1024 * 1024,
  /** Small archive entries kept in memory during the scan, all together. */
  maxMemoryBytes: 64 * 1024 * 1024,
  /** Bytes a compressed archive may uncompress to (a bomb is stopped while it streams). */
  maxArchiveBytes: 64 * 1024 ** 3,
  /** Entries in an archive. */
  maxArchiveEntries: 100_000,
  /** Layers in one image (overlayfs stacks at most ~500 lower dirs; podman refuses more than 127). */
  maxLayers: 256,
  /** Nested image indexes followed. */
  maxIndexDepth: 4,
} as const;

export function loadError(file: string, where: string | null, what: string, hint = 'the image is malformed or was tampered with; nothing was recorded'): SandboxError {
  return new SandboxError('config', `${file}${where ? ` (${where})` : ''}: ${what}`, hint);
}

/** The JSON pointer token for `s` (RFC 6901). */
export function pointer(...parts: (string | number)[]): string {
  return parts.length === 0 ? '/' : parts.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}
