// Pushes an image (config + layers, already serialized) to a registry with
// monolithic blob uploads and a manifest PUT. Used by the tests to fill the
// test registry without docker or skopeo; small images only (in memory).
import { SandboxError } from '../../errors.js';
import type { Credentials } from './credentials.js';
import { parseImageReference, type DockerReference } from './parse-reference.js';
import { MEDIA_TYPES, type Descriptor } from '../oci-types.js';
import type { Platform } from '../platform.js';
import { RegistryClient, sha256Hex } from './registry-client.js';

export interface PushLayer {
  readonly data: Buffer;
  readonly mediaType: string;
}

export interface PushImageInput {
  /** The image config JSON (serialized as is). */
  readonly config: Buffer | object;
  readonly layers: readonly PushLayer[];
  /** Default OCI; 'docker' pushes schema 2 media types. */
  readonly format?: 'oci' | 'docker';
  readonly annotations?: Record<string, string>;
}

export interface PushOptions {
  readonly tlsVerify?: boolean;
  readonly credentials?: Credentials | null;
  readonly client?: RegistryClient;
}

export interface PushedManifest extends Descriptor {
  readonly raw: Buffer;
}

function dockerRef(ref: string | DockerReference): DockerReference {
  const r = typeof ref === 'string' ? parseImageReference(ref) : ref;
  if (r.transport !== 'docker') throw new SandboxError('usage', `cannot push to "${String(ref)}": only registry (docker://) references can be pushed to`);
  return r;
}

function clientFor(r: DockerReference, options: PushOptions): RegistryClient {
  return options.client ?? new RegistryClient({
    registry: r.registry,
    ...(options.tlsVerify !== undefined ? { tlsVerify: options.tlsVerify } : {}),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
  });
}

/** Builds the manifest for an image without pushing anything. */
export function imageManifest(input: PushImageInput): { raw: Buffer; mediaType: string; config: Buffer } {
  const config = Buffer.isBuffer(input.config) ? input.config : Buffer.from(JSON.stringify(input.config));
  const docker = input.format === 'docker';
  const mediaType = docker ? MEDIA_TYPES.dockerManifest : MEDIA_TYPES.ociManifest;
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: docker ? MEDIA_TYPES.dockerConfig : MEDIA_TYPES.ociConfig, digest: `sha256:${sha256Hex(config)}`, size: config.length },
    layers: input.layers.map((l) => ({ mediaType: l.mediaType, digest: `sha256:${sha256Hex(l.data)}`, size: l.data.length })),
    ...(input.annotations ? { annotations: input.annotations } : {}),
  };
  return { raw: Buffer.from(JSON.stringify(manifest)), mediaType, config };
}

/**
 * Pushes the blobs and the manifest. With a tag in the reference the
 * manifest is tagged; with `byDigestOnly` it is pushed under its digest
 * (for the entries of an index).
 */
export async function pushImage(ref: string | DockerReference, input: PushImageInput,
  options: PushOptions & { byDigestOnly?: boolean } = {}): Promise<PushedManifest> {
  const r = dockerRef(ref);
  const client = clientFor(r, options);
  try {
    const { raw, mediaType, config } = imageManifest(input);
    for (const blob of [config, ...input.layers.map((l) => l.data)]) await client.pushBlob(r.repository, blob);
    const digest = `sha256:${sha256Hex(raw)}`;
    await client.pushManifest(r.repository, options.byDigestOnly ? digest : (r.tag ?? digest), raw, mediaType);
    return { mediaType, digest, size: raw.length, raw };
  } finally {
    if (!options.client) client.close();
  }
}

/** Pushes an OCI index (or Docker manifest list) over manifests already in the repository. */
export async function pushIndex(ref: string | DockerReference, entries: readonly { manifest: Descriptor; platform: Platform }[],
  options: PushOptions & { format?: 'oci' | 'docker' } = {}): Promise<PushedManifest> {
  const r = dockerRef(ref);
  const client = clientFor(r, options);
  try {
    const mediaType = options.format === 'docker' ? MEDIA_TYPES.dockerManifestList : MEDIA_TYPES.ociIndex;
    const raw = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: entries.map((e) => ({ mediaType: e.manifest.mediaType, digest: e.manifest.digest, size: e.manifest.size, platform: e.platform })),
    }));
    const digest = `sha256:${sha256Hex(raw)}`;
    await client.pushManifest(r.repository, r.tag ?? digest, raw, mediaType);
    return { mediaType, digest, size: raw.length, raw };
  } finally {
    if (!options.client) client.close();
  }
}
