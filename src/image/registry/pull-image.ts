// Pulls an image from a registry into a content-addressed blob directory
// (<blobDir>/sha256/<hex>): the manifest for the platform, the config and
// every layer, each verified against its digest before it gets its name;
// the index, manifest and config checked as loaded ones are (image-json.ts).
// Layers are not unpacked here.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { SandboxError } from '../../errors.js';
import type { Credentials } from './credentials.js';
import { checkConfig } from '../image-json.js';
import { parseImageReference, type DockerReference } from './parse-reference.js';
import type { Descriptor, ImageIndex, ImageManifest } from '../oci-types.js';
import { hostPlatform, parsePlatform, type Platform } from '../platform.js';
import { mapLimit } from './map-limit.js';
import { RegistryClient, type FetchedManifest } from './registry-client.js';
import { RegistryError } from './registry-transport.js';

export interface PullProgress {
  readonly type: 'manifest' | 'blob-start' | 'blob-data' | 'blob-done' | 'blob-cached';
  readonly digest?: string;
  /** Bytes of this blob so far (blob-data, blob-done) and its size. */
  readonly bytes?: number;
  readonly size?: number;
}

export interface PullOptions {
  readonly blobDir: string;
  /** "os/arch[/variant]" or a Platform; default the host's (linux/amd64 on x64). */
  readonly platform?: string | Platform;
  readonly tlsVerify?: boolean;
  /** Default: from the auth files (readCredentials); null: anonymous. */
  readonly credentials?: Credentials | null;
  readonly onProgress?: (event: PullProgress) => void;
  /** Layers downloaded at the same time. Default 3. */
  readonly concurrency?: number;
  /** Use a client (tests, connection reuse); otherwise one is made and closed. */
  readonly client?: RegistryClient;
}

export interface PulledLayer {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  readonly path: string;
}

export interface PullResult {
  readonly reference: DockerReference;
  readonly manifest: ImageManifest;
  readonly manifestDigest: string;
  readonly manifestMediaType: string;
  /** The index or manifest list the manifest was picked from, if any. */
  readonly indexDigest: string | null;
  /** The parsed image config (architecture, os, config.Env, rootfs.diff_ids, ...). */
  readonly config: ImageConfig;
  readonly configDigest: string;
  readonly configPath: string;
  readonly layers: PulledLayer[];
}

/** An image config as image-config-schema.ts accepts it (checked by image-json.ts before use). */
export interface ImageConfig {
  readonly architecture?: string;
  readonly os?: string;
  readonly variant?: string;
  readonly config?: {
    readonly Env?: readonly string[] | null;
    readonly Cmd?: readonly string[] | null;
    readonly Entrypoint?: readonly string[] | null;
    readonly WorkingDir?: string;
    readonly User?: string;
    readonly [key: string]: unknown;
  } | null;
  readonly rootfs?: { readonly type: 'layers'; readonly diff_ids: readonly string[] };
  readonly [key: string]: unknown;
}

const DIGEST = /^sha256:([a-f0-9]{64})$/;

/** Where a blob lives in a blob dir: <blobDir>/sha256/<hex>. */
export function blobPath(blobDir: string, digest: string): string {
  const m = DIGEST.exec(digest);
  if (!m) throw new SandboxError('host', `unsupported digest "${digest}": only sha256 is supported`);
  return join(blobDir, 'sha256', m[1]!);
}

async function existingBlob(path: string, size: number): Promise<boolean> {
  try {
    const st = await fsp.stat(path);
    // blobs only get their name after verification; a size check catches truncation by others
    return st.isFile() && st.size === size;
  } catch {
    return false;
  }
}

async function fetchBlob(client: RegistryClient, repository: string, d: Descriptor, blobDir: string,
  onProgress: PullOptions['onProgress']): Promise<string> {
  const path = blobPath(blobDir, d.digest);
  if (await existingBlob(path, d.size)) {
    onProgress?.({ type: 'blob-cached', digest: d.digest, size: d.size, bytes: d.size });
    return path;
  }
  onProgress?.({ type: 'blob-start', digest: d.digest, size: d.size, bytes: 0 });
  let bytes = 0;
  await client.downloadBlob(repository, d, path, (n) => {
    bytes += n;
    onProgress?.({ type: 'blob-data', digest: d.digest, size: d.size, bytes });
  });
  onProgress?.({ type: 'blob-done', digest: d.digest, size: d.size, bytes });
  return path;
}

export async function pullImage(ref: string | DockerReference, options: PullOptions): Promise<PullResult> {
  const reference = typeof ref === 'string' ? parseImageReference(ref) : ref;
  if (reference.transport !== 'docker') {
    throw new SandboxError('usage', `cannot pull "${typeof ref === 'string' ? ref : reference.transport}": only registry (docker://) references are pulled`);
  }
  const platform = options.platform === undefined ? hostPlatform()
    : typeof options.platform === 'string' ? parsePlatform(options.platform) : options.platform;
  const client = options.client ?? new RegistryClient({
    registry: reference.registry,
    ...(options.tlsVerify !== undefined ? { tlsVerify: options.tlsVerify } : {}),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
  });
  const { repository } = reference;
  try {
    const fetched: FetchedManifest<ImageManifest> & { index?: FetchedManifest<ImageIndex> } =
      await client.getImageManifest(repository, reference.digest ?? reference.tag ?? 'latest', platform);
    const manifest = fetched.manifest;
    options.onProgress?.({ type: 'manifest', digest: fetched.digest });
    await fsp.mkdir(join(options.blobDir, 'sha256'), { recursive: true });
    // checkManifest held the config to LOAD_LIMITS.maxJsonBytes, and the download to its size
    const configPath = await fetchBlob(client, repository, manifest.config, options.blobDir, options.onProgress);
    const config = checkConfig(`docker://${reference.canonical}`, `config ${manifest.config.digest}`,
      await fsp.readFile(configPath), manifest.layers.length);
    const layers = await mapLimit(manifest.layers, options.concurrency ?? 3, async (d) => ({
      digest: d.digest,
      mediaType: d.mediaType,
      size: d.size,
      path: await fetchBlob(client, repository, d, options.blobDir, options.onProgress),
    }));
    return {
      reference,
      manifest,
      manifestDigest: fetched.digest,
      manifestMediaType: fetched.mediaType,
      indexDigest: fetched.index?.digest ?? null,
      config,
      configDigest: manifest.config.digest,
      configPath,
      layers,
    };
  } catch (e) {
    if (e instanceof SandboxError && !e.message.includes(reference.canonical)) {
      throw new RegistryError(`pulling ${reference.canonical}: ${e.message}`, e.hint, e instanceof RegistryError ? e.status : null,
        e instanceof RegistryError ? e.registryCodes : []);
    }
    throw e;
  } finally {
    if (!options.client) client.close();
  }
}
