// The HTTP side of talking to a registry: one exchange with redirects
// (Authorization dropped on another host), timeouts, and the TLS fallback of
// skopeo --tls-verify=false (a registry that does not speak TLS is tried over
// plain HTTP), with every network failure turned into a RegistryError and its
// hint. node:http/https rather than fetch: TLS verification must be
// switchable per registry without a dependency on undici.
// Must not: authenticate (token-auth.ts) or know the distribution API.
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { SandboxError } from '../../errors.js';
import { DOCKER_HUB, DOCKER_HUB_API } from './parse-reference.js';

const MAX_REDIRECTS = 5;

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

export interface RegistryResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: http.IncomingMessage;
  readonly url: URL;
}

export interface TransportOptions {
  /** host[:port] as in the reference (docker.io is mapped to its API host). */
  readonly registry: string;
  /** false: accept any certificate and fall back to plain HTTP. Default true. */
  readonly tlsVerify?: boolean;
  /** Force a scheme; default https (and http after a TLS failure when tlsVerify is false). */
  readonly scheme?: 'https' | 'http';
  /** Milliseconds without any data before a request fails. Default 60 s. */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
}

/** Reads a whole (small) body, refusing more than `limit` bytes. */
export async function readAll(stream: Readable, limit: number, what: string): Promise<Buffer> {
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

/** Throws a RegistryError for a failed answer, quoting what the registry said in its error body. */
export function failRequest(message: string, status: number | null, body?: Buffer, hint?: string): never {
  const { codes, messages } = body ? registryErrorMessages(body) : { codes: [], messages: [] };
  const said = messages.length ? `: the registry says "${messages.join('; ')}"` : '';
  throw new RegistryError(`${message}${status !== null ? ` (HTTP ${status})` : ''}${said}`, hint, status, codes);
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED',
  'UNABLE_TO_GET_ISSUER_CERT', 'CERT_NOT_YET_VALID', 'ERR_SSL_WRONG_VERSION_NUMBER', 'EPROTO',
]);

export function isTlsError(e: unknown): boolean {
  const code = (e as { code?: string })?.code ?? '';
  return TLS_CODES.has(code) || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /certificate|ssl|tls/i.test(String((e as Error)?.message));
}

export class RegistryTransport {
  readonly registry: string;
  readonly tlsVerify: boolean;
  private readonly apiHost: string;
  private scheme: 'https' | 'http';
  private readonly schemeFixed: boolean;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private readonly agent: http.Agent;
  private readonly tlsAgent: https.Agent;

  constructor(options: TransportOptions) {
    this.registry = options.registry;
    this.apiHost = options.registry === DOCKER_HUB ? DOCKER_HUB_API : options.registry;
    this.tlsVerify = options.tlsVerify ?? true;
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

  /** One HTTP exchange, following redirects (without Authorization to another host). */
  raw(url: URL, method: string, headers: Record<string, string>, body: Buffer | undefined, what: string, redirects = 0): Promise<RegistryResponse> {
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

  /** An exchange with the registry's API (a path, or a full URL), falling back to plain HTTP where allowed; failures become RegistryErrors. */
  async send(path: string, method: string, headers: Record<string, string>, body: Buffer | undefined, what: string): Promise<RegistryResponse> {
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
}
