// Registry credentials and authentication challenges: the auth files podman
// and docker write (`auths[host].auth` = base64 "user:password") and the
// WWW-Authenticate header of the distribution spec's token flow.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DOCKER_HUB } from './parse-reference.js';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export interface AuthChallenge {
  /** Lower-case scheme: 'bearer', 'basic', ... */
  readonly scheme: string;
  /** Parameters with lower-case names: realm, service, scope, error, ... */
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parses a WWW-Authenticate header (RFC 7235): one or more challenges, each
 * a scheme followed by comma-separated auth-params whose values may be
 * quoted strings containing commas and backslash escapes.
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const challenges: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const n = header.length;
  const skipSpace = () => { while (i < n && (header[i] === ' ' || header[i] === '\t')) i++; };
  const token = () => {
    const start = i;
    while (i < n && !/[\s,=]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skipSpace();
    while (i < n && (header[i] === ',' || header[i] === ' ')) i++;
    if (i >= n) break;
    const word = token();
    skipSpace();
    if (header[i] === '=' && challenges.length > 0) {
      // an auth-param of the current challenge
      i++;
      skipSpace();
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++; // closing quote
      } else {
        value = token();
      }
      challenges[challenges.length - 1]!.params[word.toLowerCase()] = value;
      skipSpace();
      if (header[i] === ',') i++;
      continue;
    }
    if (word === '') { i++; continue; }
    challenges.push({ scheme: word.toLowerCase(), params: {} });
    // token68 form (e.g. "Negotiate abc==") is kept as params.token68
    const save = i;
    const t = token();
    skipSpace();
    if (t !== '' && header[i] !== '=') {
      challenges[challenges.length - 1]!.params['token68'] = t;
    } else {
      i = save;
    }
  }
  return challenges;
}

export interface CredentialSources {
  readonly env?: NodeJS.ProcessEnv;
  readonly home?: string;
}

/** The auth files looked at, in order: podman's first, then docker's. */
export function authFilePaths(sources: CredentialSources = {}): string[] {
  const env = sources.env ?? process.env;
  const home = sources.home ?? env['HOME'] ?? homedir();
  const paths: string[] = [];
  if (env['REGISTRY_AUTH_FILE']) paths.push(env['REGISTRY_AUTH_FILE']);
  if (env['XDG_RUNTIME_DIR']) paths.push(join(env['XDG_RUNTIME_DIR'], 'containers', 'auth.json'));
  paths.push(join(env['XDG_CONFIG_HOME'] || join(home, '.config'), 'containers', 'auth.json'));
  paths.push(join(env['DOCKER_CONFIG'] || join(home, '.docker'), 'config.json'));
  return paths;
}

/** The keys an auth file may use for a registry host. */
function keysFor(host: string): string[] {
  const keys = [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`, `https://${host}/v2/`];
  if (host === DOCKER_HUB) {
    keys.push('https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io');
  }
  return keys;
}

function decodeAuth(entry: unknown): Credentials | null {
  if (!entry || typeof entry !== 'object') return null;
  const e = entry as Record<string, unknown>;
  if (typeof e['auth'] === 'string' && e['auth'] !== '') {
    const text = Buffer.from(e['auth'], 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon <= 0) return null;
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  if (typeof e['username'] === 'string' && typeof e['password'] === 'string') {
    return { username: e['username'], password: e['password'] };
  }
  return null;
}

/**
 * Credentials for a registry host from the first auth file that has an
 * entry for it (`auths[host].auth`), or null. Unreadable or malformed files
 * are skipped: a broken docker config must not stop anonymous pulls.
 * `repository` also matches podman's per-namespace keys (quay.io/org).
 */
export function readCredentials(host: string, sources: CredentialSources & { repository?: string } = {}): Credentials | null {
  for (const path of authFilePaths(sources)) {
    let auths: Record<string, unknown>;
    try {
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as { auths?: Record<string, unknown> };
      if (!parsed || typeof parsed !== 'object' || !parsed.auths || typeof parsed.auths !== 'object') continue;
      auths = parsed.auths;
    } catch {
      continue;
    }
    const candidates: string[] = [];
    if (sources.repository) {
      // most specific namespace first: host/a/b, host/a
      const parts = sources.repository.split('/');
      for (let k = parts.length; k > 0; k--) candidates.push(`${host}/${parts.slice(0, k).join('/')}`);
    }
    candidates.push(...keysFor(host));
    for (const key of candidates) {
      const creds = decodeAuth(auths[key]);
      if (creds) return creds;
    }
  }
  return null;
}

export function basicAuthorization(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}
