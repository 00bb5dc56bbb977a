// Registry authentication: answers a 401's WWW-Authenticate challenge once,
// with a Bearer token from the token server (scoped, cached by scope) or
// the Basic credentials, and gives the Authorization header for a request.
// Must not: read auth files (credentials.ts) or retry the request (the client does).
import { basicAuthorization, type AuthChallenge, type Credentials } from './credentials.js';
import { failRequest, isTlsError, readAll, RegistryError, type RegistryResponse, type RegistryTransport } from './registry-transport.js';

export class RegistryAuth {
  /** Bearer tokens by scope, and the Basic header once a registry asked for it. */
  private readonly tokens = new Map<string, string>();
  private basic = false;

  constructor(private readonly transport: RegistryTransport, readonly credentials: Credentials | null) {}

  private get registry(): string {
    return this.transport.registry;
  }

  /** The Authorization header for a request needing `scope`, if any is known yet. */
  header(scope: string | undefined): string | undefined {
    if (scope && this.tokens.has(scope)) return `Bearer ${this.tokens.get(scope)}`;
    if (this.tokens.has('')) return `Bearer ${this.tokens.get('')}`;
    if (this.basic && this.credentials) return basicAuthorization(this.credentials);
    return undefined;
  }

  /** Answers a 401: a token for Bearer, the credentials for Basic. */
  async authenticate(challenges: AuthChallenge[], scope: string | undefined, what: string, body: Buffer): Promise<void> {
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) {
      const realm = bearer.params['realm'];
      if (!realm) failRequest(`${what}: ${this.registry} asked for a Bearer token without a realm`, 401, body);
      const wantScope = bearer.params['scope'] ?? scope;
      const token = await this.fetchToken(realm, bearer.params['service'], wantScope, what);
      this.tokens.set(scope ?? '', token);
      return;
    }
    if (basic) {
      if (!this.credentials) {
        failRequest(`${what}: ${this.registry} requires authentication and no credentials were found`, 401, body,
          `log in first (podman login ${this.registry} or docker login ${this.registry}: credentials are read from $XDG_RUNTIME_DIR/containers/auth.json or ~/.docker/config.json), or pass credentials`);
      }
      if (this.basic) {
        failRequest(`${what}: ${this.registry} refused the credentials of user "${this.credentials.username}"`, 401, body, `check the password, or log in again to ${this.registry}`);
      }
      this.basic = true;
      return;
    }
    failRequest(`${what}: ${this.registry} asked for an unsupported authentication scheme (${challenges.map((c) => c.scheme).join(', ') || 'none'})`, 401, body);
  }

  private async fetchToken(realm: string, service: string | undefined, scope: string | undefined, what: string): Promise<string> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      failRequest(`${what}: ${this.registry} gave an invalid token realm "${realm}"`, 401);
    }
    if (service) url.searchParams.set('service', service);
    if (scope) for (const s of scope.split(' ')) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.credentials) headers['authorization'] = basicAuthorization(this.credentials);
    let res: RegistryResponse;
    try {
      res = await this.transport.raw(url, 'GET', headers, undefined, what);
    } catch (e) {
      if (isTlsError(e)) {
        throw new RegistryError(`${what}: TLS error talking to the token server ${url.origin} of ${this.registry}: ${(e as Error).message}`, 'pass tlsVerify: false for a local registry', null);
      }
      throw new RegistryError(`${what}: cannot reach the token server ${url.origin} of ${this.registry}: ${(e as Error).message}`, undefined, null);
    }
    const body = await readAll(res.body, 1024 * 1024, `token from ${url.origin}`);
    if (res.status === 401 || res.status === 403) {
      failRequest(`${what}: the token server of ${this.registry} refused ${this.credentials ? `the credentials of user "${this.credentials.username}"` : 'an anonymous token'}`, res.status, body,
        this.credentials ? `check the password, or log in again to ${this.registry}` : `log in to ${this.registry} (podman login / docker login) or pass credentials`);
    }
    if (res.status !== 200) failRequest(`${what}: the token server of ${this.registry} failed`, res.status, body);
    let token: unknown;
    try {
      const parsed = JSON.parse(body.toString()) as { token?: unknown; access_token?: unknown };
      token = parsed.token ?? parsed.access_token;
    } catch { /* below */ }
    if (typeof token !== 'string' || token === '') failRequest(`${what}: the token server of ${this.registry} answered without a token`, res.status);
    return token;
  }
}
