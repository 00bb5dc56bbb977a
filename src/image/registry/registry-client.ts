// A client for the OCI distribution API (v2): manifests (OCI and Docker
// schema 2, with index/manifest-list platform selection), blobs streamed to
// disk with their digest verified while streaming, monolithic blob and
// manifest pushes, and the Basic and Bearer-token authentication flows.
// node:http/https rather than fetch: TLS verification must be switchable per
// registry (tlsVerify: false) without a dependency on undici.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, promises as fsp } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SandboxError } from '../../errors.js';
import { checkIndex, checkManifest } from '../image-json.js';
import { LOAD_LIMITS } from '../load/load-error.js';
import {
  basicAuthorization, parseWwwAuthenticate, readCredentials, type AuthChallenge, type Credentials,
} from './credentials.js';
import { DOCKER_HUB, DOCKER_HUB_API } from './parse-reference.js';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociManifest, MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifest, MEDIA_TYPES.dockerManifestList,
].join(', ');
const MAX_REDIRECTS = 5;

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: Platform;
  readonly annotations?: Record<string, string>;
  readonly urls?: string[];
}

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  readonly 'os.version'?: string;
}

export interface ImageManifest {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly config: Descriptor;
  readonly layers: Descriptor[];
  readonly annotations?: Record<string, string>;
}

export interface ImageIndex {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly manifests: Descriptor[];
}

export interface FetchedManifest<T> {
  readonly manifest: T;
  readonly mediaType: string;
  readonly digest: string;
  readonly raw: Buffer;
}

/** An error from a registry, with the HTTP status and the registry's codes. */
export class RegistryError extends SandboxError {
  constructor(
    message: string,
    hint: string | undefined,
    readonly status: number | null,
    readonly registryCodes: readonly string[] = [],
  ) {
    super('host', message, hint);
  }
}

export interface RegistryClientOptions {
  /** host[:port] as in the reference (docker.io is mapped to its API host). */
  readonly registry: string;
  /** false: accept any certificate and fall back to plain HTTP. Default true. */
  readonly tlsVerify?: boolean;
  /** Explicit credentials; default: readCredentials(registry). null: anonymous. */
  readonly credentials?: Credentials | null;
  /** Force a scheme; default https (and http after a TLS failure when tlsVerify is false). */
  readonly scheme?: 'https' | 'http';
  /** Milliseconds without any data before a request fails. Default 60 s. */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
}

interface Response {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: http.IncomingMessage;
  readonly url: URL;
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

async function readAll(stream: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      stream.destroy();
      throw new SandboxError('host', `${what} is larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The distribution spec's error body: {"errors":[{"code","message","detail"}]}. */
export function registryErrorMessages(body: Buffer | string): { codes: string[]; messages: string[] } {
  try {
    const parsed = JSON.parse(body.toString()) as { errors?: { code?: unknown; message?: unknown }[] };
    const errors = Array.isArray(parsed?.errors) ? parsed.errors : [];
    return {
      codes: errors.map((e) => String(e.code ?? '')).filter((c) => c !== ''),
      messages: errors.map((e) => String(e.message ?? e.code ?? '')).filter((m) => m !== ''),
    };
  } catch {
    const text = body.toString().trim().slice(0, 200);
    return { codes: [], messages: text ? [text] : [] };
  }
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED',
  'UNABLE_TO_GET_ISSUER_CERT', 'CERT_NOT_YET_VALID', 'ERR_SSL_WRONG_VERSION_NUMBER', 'EPROTO',
]);

function isTlsError(e: unknown): boolean {
  const code = (e as { code?: string })?.code ?? '';
  return TLS_CODES.has(code) || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /certificate|ssl|tls/i.test(String((e as Error)?.message));
}

/** Runs fn over items with at most `limit` at a time; rejects with the first failure. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker);
  const settled = await Promise.allSettled(workers);
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (rejected) throw rejected.reason;
  return results;
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

export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerManifestList;
}

export function isManifestMediaType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPES.ociManifest || mediaType === MEDIA_TYPES.dockerManifest;
}

export class RegistryClient {
  readonly registry: string;
  private readonly apiHost: string;
  private readonly tlsVerify: boolean;
  private readonly credentials: Credentials | null;
  private scheme: 'https' | 'http';
  private readonly schemeFixed: boolean;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private readonly agent: http.Agent;
  private readonly tlsAgent: https.Agent;
  /** Bearer tokens by scope, and the Basic header once a registry asked for it. */
  private readonly tokens = new Map<string, string>();
  private basic = false;

  constructor(options: RegistryClientOptions) {
    this.registry = options.registry;
    this.apiHost = options.registry === DOCKER_HUB ? DOCKER_HUB_API : options.registry;
    this.tlsVerify = options.tlsVerify ?? true;
    this.credentials = options.credentials === undefined ? readCredentials(options.registry) : options.credentials;
    this.scheme = options.scheme ?? 'https';
    this.schemeFixed = options.scheme !== undefined;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.userAgent = options.userAgent ?? 'rootless-sandbox';
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    this.tlsAgent = new https.Agent({ keepAlive: true, maxSockets: 8, rejectUnauthorized: this.tlsVerify });
  }

  close(): void {
    this.agent.destroy();
    this.tlsAgent.destroy();
  }

  get baseUrl(): string {
    return `${this.scheme}://${this.apiHost}`;
  }

  private fail(message: string, status: number | null, body?: Buffer, hint?: string): never {
    const { codes, messages } = body ? registryErrorMessages(body) : { codes: [], messages: [] };
    const said = messages.length ? `: the registry says "${messages.join('; ')}"` : '';
    throw new RegistryError(`${message}${status !== null ? ` (HTTP ${status})` : ''}${said}`, hint, status, codes);
  }

  /** One HTTP exchange, following redirects (without Authorization to another host). */
  private raw(url: URL, method: string, headers: Record<string, string>, body: Buffer | undefined, what: string, redirects = 0): Promise<Response> {
    return new Promise((resolve, reject) => {
      const isHttps = url.protocol === 'https:';
      const req = (isHttps ? https : http).request(url, {
        method,
        headers: { 'user-agent': this.userAgent, ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        agent: isHttps ? this.tlsAgent : this.agent,
      }, (res) => {
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if ([301, 302, 303, 307, 308].includes(status) && location && method !== 'PUT' && method !== 'POST' && method !== 'PATCH') {
          res.resume();
          if (redirects >= MAX_REDIRECTS) {
            reject(new RegistryError(`${what}: too many redirects from ${this.registry}`, undefined, status));
            return;
          }
          const next = new URL(location, url);
          const h = { ...headers };
          if (next.host !== url.host) delete h['authorization'];
          resolve(this.raw(next, method === 'HEAD' ? 'HEAD' : 'GET', h, undefined, what, redirects + 1));
          return;
        }
        res.setTimeout(this.timeoutMs, () => res.destroy(new RegistryError(`${what}: no data from ${this.registry} for ${this.timeoutMs} ms`, undefined, null)));
        resolve({ status, headers: res.headers, body: res, url });
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(Object.assign(new Error(`timed out after ${this.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(body);
    });
  }

  private async rawWithScheme(path: string, method: string, headers: Record<string, string>, body: Buffer | undefined, what: string): Promise<Response> {
    const url = /^https?:\/\//.test(path) ? new URL(path) : new URL(path, this.baseUrl);
    try {
      return await this.raw(url, method, headers, body, what);
    } catch (e) {
      if (e instanceof SandboxError) throw e;
      // skopeo --tls-verify=false: a registry that does not speak TLS is tried over plain HTTP
      if (!this.tlsVerify && !this.schemeFixed && this.scheme === 'https' && url.protocol === 'https:' && url.host === this.apiHost) {
        this.scheme = 'http';
        const plain = new URL(url);
        plain.protocol = 'http:';
        try {
          return await this.raw(plain, method, headers, body, what);
        } catch {
          this.scheme = 'https';
        }
      }
      const err = e as NodeJS.ErrnoException;
      if (/wrong version number|packet length too long/i.test(err.message)) {
        throw new RegistryError(`${what}: ${this.registry} does not answer with TLS on ${url.origin} (a plain-HTTP registry?)`,
          `pass tlsVerify: false (--tls-verify=false) to allow plain HTTP for ${this.registry}`, null);
      }
      if (isTlsError(err)) {
        throw new RegistryError(`${what}: TLS error talking to ${this.registry}: ${err.message}${err.code ? ` (${err.code})` : ''}`,
          `if ${this.registry} is a local registry with a self-signed certificate, pass tlsVerify: false (--tls-verify=false), or add its CA to NODE_EXTRA_CA_CERTS`, null);
      }
      throw new RegistryError(`${what}: cannot reach ${this.registry} (${url.origin}): ${err.message}${err.code && !err.message.includes(err.code) ? ` (${err.code})` : ''}`,
        'check the registry name, the network and any proxy', null);
    }
  }

  private authHeader(scope: string | undefined): string | undefined {
    if (scope && this.tokens.has(scope)) return `Bearer ${this.tokens.get(scope)}`;
    if (this.tokens.has('')) return `Bearer ${this.tokens.get('')}`;
    if (this.basic && this.credentials) return basicAuthorization(this.credentials);
    return undefined;
  }

  /** Answers a 401: a token for Bearer, the credentials for Basic. */
  private async authenticate(challenges: AuthChallenge[], scope: string | undefined, what: string, body: Buffer): Promise<void> {
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) {
      const realm = bearer.params['realm'];
      if (!realm) this.fail(`${what}: ${this.registry} asked for a Bearer token without a realm`, 401, body);
      const wantScope = bearer.params['scope'] ?? scope;
      const token = await this.fetchToken(realm, bearer.params['service'], wantScope, what);
      this.tokens.set(scope ?? '', token);
      return;
    }
    if (basic) {
      if (!this.credentials) {
        this.fail(`${what}: ${this.registry} requires authentication and no credentials were found`, 401, body,
          `log in first (podman login ${this.registry} or docker login ${this.registry}: credentials are read from $XDG_RUNTIME_DIR/containers/auth.json or ~/.docker/config.json), or pass credentials`);
      }
      if (this.basic) {
        this.fail(`${what}: ${this.registry} refused the credentials of user "${this.credentials.username}"`, 401, body, `check the password, or log in again to ${this.registry}`);
      }
      this.basic = true;
      return;
    }
    this.fail(`${what}: ${this.registry} asked for an unsupported authentication scheme (${challenges.map((c) => c.scheme).join(', ') || 'none'})`, 401, body);
  }

  private async fetchToken(realm: string, service: string | undefined, scope: string | undefined, what: string): Promise<string> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      this.fail(`${what}: ${this.registry} gave an invalid token realm "${realm}"`, 401);
    }
    if (service) url.searchParams.set('service', service);
    if (scope) for (const s of scope.split(' ')) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.credentials) headers['authorization'] = basicAuthorization(this.credentials);
    let res: Response;
    try {
      res = await this.raw(url, 'GET', headers, undefined, what);
    } catch (e) {
      if (isTlsError(e)) {
        throw new RegistryError(`${what}: TLS error talking to the token server ${url.origin} of ${this.registry}: ${(e as Error).message}`, 'pass tlsVerify: false for a local registry', null);
      }
      throw new RegistryError(`${what}: cannot reach the token server ${url.origin} of ${this.registry}: ${(e as Error).message}`, undefined, null);
    }
    const body = await readAll(res.body, 1024 * 1024, `token from ${url.origin}`);
    if (res.status === 401 || res.status === 403) {
      this.fail(`${what}: the token server of ${this.registry} refused ${this.credentials ? `the credentials of user "${this.credentials.username}"` : 'an anonymous token'}`, res.status, body,
        this.credentials ? `check the password, or log in again to ${this.registry}` : `log in to ${this.registry} (podman login / docker login) or pass credentials`);
    }
    if (res.status !== 200) this.fail(`${what}: the token server of ${this.registry} failed`, res.status, body);
    let token: unknown;
    try {
      const parsed = JSON.parse(body.toString()) as { token?: unknown; access_token?: unknown };
      token = parsed.token ?? parsed.access_token;
    } catch { /* below */ }
    if (typeof token !== 'string' || token === '') this.fail(`${what}: the token server of ${this.registry} answered without a token`, res.status);
    return token;
  }

  /**
   * A request with authentication: on 401 the challenge is answered once and
   * the request repeated. Non-2xx answers other than `accept` statuses throw
   * with the registry's own error message.
   */
  async request(path: string, init: RequestInit, accept: readonly number[] = []): Promise<Response> {
    const method = init.method ?? 'GET';
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { ...init.headers };
      const auth = this.authHeader(init.scope);
      if (auth) headers['authorization'] = auth;
      const res = await this.rawWithScheme(path, method, headers, init.body, init.what);
      if (res.status === 401) {
        const body = await readAll(res.body, 1024 * 1024, 'error body');
        const header = res.headers['www-authenticate'];
        const challenges = parseWwwAuthenticate(Array.isArray(header) ? header.join(', ') : header ?? '');
        if (attempt > 0) {
          const who = this.credentials ? `the credentials of user "${this.credentials.username}"` : 'anonymous access';
          this.fail(`${init.what}: ${this.registry} refused ${who}`, 401, body,
            this.credentials ? `check the credentials for ${this.registry}` : `log in to ${this.registry} (podman login / docker login) or pass credentials`);
        }
        await this.authenticate(challenges, init.scope, init.what, body);
        continue;
      }
      if ((res.status >= 200 && res.status < 300) || accept.includes(res.status)) return res;
      const body = method === 'HEAD' ? Buffer.alloc(0) : await readAll(res.body, 1024 * 1024, 'error body').catch(() => Buffer.alloc(0));
      res.body.resume();
      const hint = res.status === 404 ? 'check the image name and tag' : res.status === 403 ? `the credentials for ${this.registry} do not allow this` : undefined;
      this.fail(`${init.what}: ${this.registry} failed`, res.status, body, hint);
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
      if (!location) this.fail(`${what}: ${this.registry} gave no upload location`, start.status);
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
