// Writes the auth file podman reads and writes ($REGISTRY_AUTH_FILE, else
// $XDG_RUNTIME_DIR/containers/auth.json, else
// $XDG_CONFIG_HOME/containers/auth.json): {"auths": {"HOST": {"auth":
// base64("user:password")}}}, mode 0600 in a 0700 directory, replaced by
// rename so a reader never sees half a file. Other entries are kept.
// Must not: log or print a password.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { SandboxError } from '../../errors.js';
import type { Credentials } from './credentials.js';
import { DOCKER_HUB, DOCKER_HUB_API } from './parse-reference.js';

export function authFileForWriting(env: NodeJS.ProcessEnv = process.env): string {
  if (env['REGISTRY_AUTH_FILE']) return env['REGISTRY_AUTH_FILE'];
  if (env['XDG_RUNTIME_DIR']) return join(env['XDG_RUNTIME_DIR'], 'containers', 'auth.json');
  return join(env['XDG_CONFIG_HOME'] || join(env['HOME'] || homedir(), '.config'), 'containers', 'auth.json');
}

/** The key a registry is stored under: host[:port], docker.io for Docker Hub. */
export function registryKey(input: string): string {
  let host = input.trim().replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '');
  host = host.replace(/\/v[12]$/, '');
  if (host === '' || /[\s@]/.test(host) || host.includes('/') && !/^[^/]+(?:\/[a-z0-9._-]+)+$/.test(host)) {
    throw new SandboxError('usage', `"${input}" is not a registry host[:port]`, 'e.g. sandbox login quay.io, or 127.0.0.1:5000');
  }
  if (host === 'index.docker.io' || host === DOCKER_HUB_API) host = DOCKER_HUB;
  return host;
}

async function readAuths(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new SandboxError('host', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code}`, 'check its permissions, or set REGISTRY_AUTH_FILE');
  }
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object'); // caught below: a config SandboxError
    return parsed;
  } catch (e) {
    throw new SandboxError('config', `${file} is not a valid auth file: ${(e as Error).message}`, `fix or remove ${file}`);
  }
}

async function writeAuths(file: string, content: Record<string, unknown>): Promise<void> {
  const tmp = join(dirname(file), `.auth-${randomBytes(6).toString('hex')}.tmp`);
  try {
    await fsp.mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await fsp.writeFile(tmp, `${JSON.stringify(content, null, '\t')}\n`, { mode: 0o600, flag: 'wx' });
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw new SandboxError('host', `cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'check that its directory is writable, or set REGISTRY_AUTH_FILE');
  }
}

export async function storeCredentials(registry: string, creds: Credentials, file = authFileForWriting()): Promise<string> {
  const content = await readAuths(file);
  const auths = (content['auths'] && typeof content['auths'] === 'object' ? content['auths'] : {}) as Record<string, unknown>;
  auths[registryKey(registry)] = { auth: Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64') };
  await writeAuths(file, { ...content, auths });
  return file;
}

/** Removes the entry for `registry` (or every entry: null). False when there was none. */
export async function removeCredentials(registry: string | null, file = authFileForWriting()): Promise<boolean> {
  const content = await readAuths(file);
  const auths = (content['auths'] && typeof content['auths'] === 'object' ? content['auths'] : {}) as Record<string, unknown>;
  if (registry === null) {
    if (Object.keys(auths).length === 0) return false;
    await writeAuths(file, { ...content, auths: {} });
    return true;
  }
  const key = registryKey(registry);
  if (!(key in auths)) return false;
  delete auths[key];
  await writeAuths(file, { ...content, auths });
  return true;
}
