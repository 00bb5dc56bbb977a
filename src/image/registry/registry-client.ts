// A client for the OCI distribution API (v2): manifests (OCI and Docker
// schema 2, an index or manifest list resolved to one platform with
// platform.ts), blobs streamed to disk with their digest verified while
// streaming, monolithic blob and manifest pushes. Requests go through
// registry-transport.ts (HTTP, TLS fallback) and are authenticated by
// token-auth.ts (a 401 answered once, then the request repeated).
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SandboxError } from '../../errors.js';
import { checkIndex, checkManifest } from '../image-json.js';
import { LOAD_LIMITS } from '../load/load-error.js';
import { isIndexMediaType, isManifestMediaType, MEDIA_TYPES, type Descriptor, type ImageIndex, type ImageManifest } from '../oci-types.js';
import { formatPlatform, hostPlatform, selectPlatform, type Platform } from '../platform.js';
import { parseWwwAuthenticate, readCredentials, type Credentials } from './credentials.js';
import {
  failRequest, readAll, RegistryError, RegistryTransport, type RegistryResponse, type TransportOptions,
} from './registry-transport.js';
import { RegistryAuth } from './token-auth.js';

const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociManifest, MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifest, MEDIA_TYPES.dockerManifestList,
].join(', ');

export interface FetchedManifest<T> {
  readonly manifest: T;
  readonly mediaType: string;
  readonly digest: string;
  readonly raw: Buffer;
}

export interface RegistryClientOptions extends TransportOptions {
  /** Explicit credentials; default: readCredentials(registry). null: anonymous. */
  readonly credentials?: Credentials | null;
}

interface RequestInit {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer;
  /** The scope a Bearer token must carry, e.g. repository:library/alpine:pull. */
  readonly scope?: string;
  /** What is being done, for error messages: 'manifest library/alpine:3.20'. */
  readonly what: string;
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export class RegistryClient {
  private readonly transport: RegistryTransport;
  private readonly auth: RegistryAuth;

  constructor(options: RegistryClientOptions) {
    this.transport = new RegistryTransport(options);
    this.auth = new RegistryAuth(this.transport, options.credentials === undefined ? readCredentials(options.registry) : options.credentials);
  }

  get registry(): string {
    return this.transport.registry;
  }

  get baseUrl(): string {
    return this.transport.baseUrl;
  }

  close(): void {
    this.transport.close();
  }

  /**
   * A request with authentication: on 401 the challenge is answered once and
   * the request repeated. Non-2xx answers other than `accept` statuses throw
   * with the registry's own error message.
   */
  async request(path: string, init: RequestInit, accept: readonly number[] = []): Promise<RegistryResponse> {
    const method = init.method ?? 'GET';
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { ...init.headers };
      const auth = this.auth.header(init.scope);
      if (auth) headers['authorization'] = auth;
      const res = await this.transport.send(path, method, headers, init.body, init.what);
      if (res.status === 401) {
        const body = await readAll(res.body, 1024 * 1024, 'error body');
        const header = res.headers['www-authenticate'];
        const challenges = parseWwwAuthenticate(Array.isArray(header) ? header.join(', ') : header ?? '');
        if (attempt > 0) {
          const who = this.auth.credentials ? `the credentials of user "${this.auth.credentials.username}"` : 'anonymous access';
          failRequest(`${init.what}: ${this.registry} refused ${who}`, 401, body,
            this.auth.credentials ? `check the credentials for ${this.registry}` : `log in to ${this.registry} (podman login / docker login) or pass credentials`);
        }
        await this.auth.authenticate(challenges, init.scope, init.what, body);
        continue;
      }
      if ((res.status >= 200 && res.status < 300) || accept.includes(res.status)) return res;
      const body = method === 'HEAD' ? Buffer.alloc(0) : await readAll(res.body, 1024 * 1024, 'error body').catch(() => Buffer.alloc(0));
      res.body.resume();
      const hint = res.status === 404 ? 'check the image name and tag' : res.status === 403 ? `the credentials for ${this.registry} do not allow this` : undefined;
      failRequest(`${init.what}: ${this.registry} failed`, res.status, body, hint);
    }
  }

  /** GET a manifest (tag or digest), verifying its digest when one is given. */
  async getManifest(repository: string, reference: string): Promise<FetchedManifest<ImageManifest | ImageIndex>> {
    const what = `manifest ${this.registry}/${repository}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;
    const res = await this.request(`/v2/${repository}/manifests/${reference}`, {
      headers: { accept: MANIFEST_ACCEPT }, scope: `repository:${repository}:pull`, what,
    });
    const raw = await readAll(res.body, LOAD_LIMITS.maxJsonBytes, what);
    const digest = `sha256:${sha256Hex(raw)}`;
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new RegistryError(`${what}: digest mismatch: ${this.registry} sent content with digest ${digest}`, 'the registry or a proxy served corrupted or different content', null);
    }
    let manifest: ImageManifest | ImageIndex;
    try {
      manifest = JSON.parse(raw.toString('utf8')) as ImageManifest | ImageIndex;
    } catch (e) {
      throw new RegistryError(`${what}: ${this.registry} sent a manifest that is not JSON: ${(e as Error).message}`, undefined, null);
    }
    if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest)) {
      throw new RegistryError(`${what}: ${this.registry} sent a manifest that is not a JSON object`, undefined, null);
    }
    const header = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
    const mediaType = manifest.mediaType ?? (header && header !== 'application/json' ? header : ('manifests' in manifest ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest));
    if (manifest.schemaVersion !== 2) {
      throw new RegistryError(`${what}: unsupported manifest schema version ${String(manifest.schemaVersion)} (media type ${mediaType}): only schema 2 and OCI manifests are supported`, 'push the image again with a current tool', null);
    }
    return { manifest, mediaType, digest, raw };
  }

  /**
   * The image manifest for a platform: an index or list is resolved to one
   * entry. Both are checked as the loaders check theirs (image-json.ts):
   * descriptors with sha256 digests and byte counts, the config within the
   * JSON limit, at most LOAD_LIMITS.maxLayers layers.
   */
  async getImageManifest(repository: string, reference: string, platform: Platform = hostPlatform()): Promise<FetchedManifest<ImageManifest> & { index?: FetchedManifest<ImageIndex> }> {
    const name = `docker://${this.registry}/${repository}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;
    const top = await this.getManifest(repository, reference);
    if (isIndexMediaType(top.mediaType) || 'manifests' in top.manifest) {
      const index = { ...top, manifest: checkIndex(name, `index ${top.digest}`, top.manifest) };
      const chosen = selectPlatform(index.manifest, platform);
      if (!chosen) {
        const have = index.manifest.manifests.filter((d) => d.platform).map((d) => formatPlatform(d.platform)).join(', ');
        throw new RegistryError(`${this.registry}/${repository}:${reference} has no image for ${formatPlatform(platform)} (it has: ${have || 'no platforms'})`,
          'pick one of the listed platforms with --platform', null);
      }
      const sub = await this.getManifest(repository, chosen.digest);
      if (!isManifestMediaType(sub.mediaType) && !('layers' in sub.manifest)) {
        throw new RegistryError(`${this.registry}/${repository}@${chosen.digest}: expected an image manifest, got ${sub.mediaType}`, undefined, null);
      }
      return { ...sub, manifest: checkManifest(name, `manifest ${sub.digest}`, sub.manifest), index };
    }
    if (!isManifestMediaType(top.mediaType) && !('layers' in top.manifest)) {
      throw new RegistryError(`${this.registry}/${repository}:${reference}: unsupported manifest (media type ${top.mediaType})`, undefined, null);
    }
    return { ...top, manifest: checkManifest(name, `manifest ${top.digest}`, top.manifest) };
  }

  /** GET a small blob (a config) into memory, verified. */
  async getBlob(repository: string, descriptor: Pick<Descriptor, 'digest' | 'size'>, limit = LOAD_LIMITS.maxJsonBytes): Promise<Buffer> {
    const what = `blob ${descriptor.digest} of ${this.registry}/${repository}`;
    const res = await this.request(`/v2/${repository}/blobs/${descriptor.digest}`, { scope: `repository:${repository}:pull`, what });
    const data = await readAll(res.body, limit, what);
    const digest = `sha256:${sha256Hex(data)}`;
    if (digest !== descriptor.digest) {
      throw new RegistryError(`digest mismatch for ${what}: the content has digest ${digest}`, 'the registry storage is corrupted or a proxy changed the content', null);
    }
    return data;
  }

  /**
   * Streams a blob into `dest`: written to a temporary name next to it, its
   * sha256 (and size) checked while streaming, renamed into place only when
   * it matches; on any failure nothing is left behind.
   */
  async downloadBlob(repository: string, descriptor: Pick<Descriptor, 'digest' | 'size'>, dest: string,
    onData?: (bytes: number) => void): Promise<void> {
    const what = `blob ${descriptor.digest} of ${this.registry}/${repository}`;
    if (!/^sha256:[a-f0-9]{64}$/.test(descriptor.digest)) {
      throw new RegistryError(`${what}: unsupported digest (only sha256 is supported)`, undefined, null);
    }
    // the size is the limit of the download: without one, a registry could send without end
    if (!Number.isSafeInteger(descriptor.size) || descriptor.size < 0) {
      throw new RegistryError(`${what}: ${String(descriptor.size)} is not a byte count`, 'the manifest is malformed or hostile', null);
    }
    await fsp.mkdir(dirname(dest), { recursive: true });
    const tmp = join(dirname(dest), `.tmp-${randomBytes(6).toString('hex')}-${descriptor.digest.slice(7, 19)}`);
    const hash = createHash('sha256');
    let size = 0;
    try {
      const res = await this.request(`/v2/${repository}/blobs/${descriptor.digest}`, { scope: `repository:${repository}:pull`, what });
      await pipeline(res.body, async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          size += chunk.length;
          if (size > descriptor.size) {
            throw new RegistryError(`${what}: ${size} bytes received, more than the ${descriptor.size} the manifest says`, 'the registry storage is corrupted', null);
          }
          onData?.(chunk.length);
          yield chunk;
        }
      }, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
      const digest = `sha256:${hash.digest('hex')}`;
      if (digest !== descriptor.digest) {
        throw new RegistryError(`digest mismatch for ${what}: the downloaded content has digest ${digest}`, 'the registry storage is corrupted or a proxy changed the content; the download was deleted', null);
      }
      if (size !== descriptor.size) {
        throw new RegistryError(`${what}: size mismatch: ${size} bytes received, the manifest says ${descriptor.size}`, 'the download was deleted', null);
      }
      await fsp.rename(tmp, dest);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      if (e instanceof SandboxError) throw e;
      throw new RegistryError(`${what}: download failed: ${(e as Error).message}`, undefined, null);
    }
  }

  /** HEAD a blob: true when the registry has it. */
  async hasBlob(repository: string, digest: string): Promise<boolean> {
    const res = await this.request(`/v2/${repository}/blobs/${digest}`, {
      method: 'HEAD', scope: `repository:${repository}:pull,push`, what: `blob ${digest} of ${this.registry}/${repository}`,
    }, [404]);
    res.body.resume();
    return res.status !== 404;
  }

  /** Monolithic upload: POST to open a session, PUT the whole blob with its digest. */
  async pushBlob(repository: string, data: Buffer, digest = `sha256:${sha256Hex(data)}`): Promise<Descriptor & { mediaType: '' }> {
    const scope = `repository:${repository}:pull,push`;
    const what = `upload of blob ${digest} to ${this.registry}/${repository}`;
    if (!(await this.hasBlob(repository, digest))) {
      const start = await this.request(`/v2/${repository}/blobs/uploads/`, { method: 'POST', scope, what, headers: { 'content-length': '0' } });
      start.body.resume();
      const location = start.headers.location;
      if (!location) failRequest(`${what}: ${this.registry} gave no upload location`, start.status);
      const url = new URL(location, `${this.baseUrl}/`);
      url.searchParams.set('digest', digest);
      const put = await this.request(url.toString(), {
        method: 'PUT', scope, what, body: data, headers: { 'content-type': 'application/octet-stream' },
      });
      put.body.resume();
    }
    return { mediaType: '', digest, size: data.length };
  }

  /** PUT a manifest (image or index) under a tag or its digest. */
  async pushManifest(repository: string, reference: string, raw: Buffer, mediaType: string): Promise<Descriptor> {
    const res = await this.request(`/v2/${repository}/manifests/${reference}`, {
      method: 'PUT', scope: `repository:${repository}:pull,push`, body: raw,
      headers: { 'content-type': mediaType }, what: `upload of manifest ${this.registry}/${repository}:${reference}`,
    });
    res.body.resume();
    return { mediaType, digest: `sha256:${sha256Hex(raw)}`, size: raw.length };
  }
}
