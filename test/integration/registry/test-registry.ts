// Starts Debian's docker-registry (distribution 2.8) on 127.0.0.1 for the
// registry tests: each with a free port, its own storage dir and config under
// one temp dir, and stopped by stopAll(). Modes: plain HTTP without auth,
// htpasswd Basic auth, HTTPS with a self-signed certificate, and Bearer
// token auth against a token server served here (JWTs signed with a key
// whose certificate the registry trusts).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSign, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REGISTRY_BIN = ['/usr/bin/docker-registry', '/usr/bin/registry'].find((p) => existsSync(p)) ?? null;
export const hasRegistry = REGISTRY_BIN !== null && spawnSync('openssl', ['version']).status === 0;
export const registrySkipReason = REGISTRY_BIN === null
  ? 'registry tests are skipped: /usr/bin/docker-registry is missing (install the Debian package docker-registry: `sudo apt-get install docker-registry`, or run `sudo bash scripts/test-registry.sh --install`)'
  : 'registry tests are skipped: openssl is missing';

export const TEST_USER = 'testuser';
export const TEST_PASSWORD = 'testpass';
// htpasswd -nbB testuser testpass: the registry only reads bcrypt entries,
// and Node has no bcrypt; a fixed hash keeps apache2-utils optional.
const TEST_HTPASSWD = 'testuser:$2y$05$kXlG7fvCuVMP6Nzgd0kTm.SjkGI6KZ7O6JVHii/fnCj0LUFuMlnUC\n';

export type RegistryMode = 'plain' | 'basic' | 'tls' | 'token';

export interface TestRegistry {
  readonly mode: RegistryMode;
  /** host:port, what goes into references: 127.0.0.1:PORT/name:tag */
  readonly host: string;
  readonly url: string;
  readonly storage: string;
  /** The file that holds a blob's bytes in the registry's storage. */
  blobFile(digest: string): string;
  stop(): Promise<void>;
}

let root: string | null = null;
const running: (() => Promise<void>)[] = [];

function workDir(): string {
  if (!root) root = mkdtempSync(join(tmpdir(), 'sandbox-test-registry-'));
  return root;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A self-signed certificate for 127.0.0.1 and localhost (openssl). */
export function selfSignedCert(dir: string, cn: string): { cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, `${cn}.crt`);
  const key = join(dir, `${cn}.key`);
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  return { cert, key };
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** A token server for the distribution token flow; checks Basic credentials. */
async function startTokenServer(dir: string, service: string, issuer: string): Promise<{ realm: string; bundle: string; close: () => Promise<void> }> {
  const { cert, key } = selfSignedCert(dir, 'token-signer');
  const pem = readFileSync(cert, 'utf8');
  const der = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const privateKey = readFileSync(key, 'utf8');
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/token') { res.writeHead(404).end(); return; }
    const auth = req.headers.authorization ?? '';
    let user = '';
    if (auth.startsWith('Basic ')) {
      const [u, p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (u !== TEST_USER || p !== TEST_PASSWORD) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] }));
        return;
      }
      user = u;
    }
    // anonymous users get tokens without access (the registry then says 401)
    const access = url.searchParams.getAll('scope').flatMap((s) => {
      const m = /^(repository):(.+):([a-z,*]+)$/.exec(s);
      return m && user ? [{ type: m[1], name: m[2], actions: m[3]!.split(',') }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [der] };
    const claims = { iss: issuer, sub: user, aud: url.searchParams.get('service') ?? service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const signing = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(signing).sign(privateKey);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${signing}.${b64url(signature)}`, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    bundle: cert,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

async function waitForV2(url: string, child: ChildProcess, log: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | null | undefined;
  child.once('exit', (code) => { exited = code; });
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`docker-registry exited with ${exited} before answering ${url}:\n${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const mod = url.startsWith('https:') ? https : http;
      const req = mod.get(`${url}/v2/`, { rejectUnauthorized: false, timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200 || res.statusCode === 401);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => { req.destroy(); resolve(false); });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not answer ${url}/v2/ within ${timeoutMs} ms:\n${log()}`);
}

export async function startRegistry(mode: RegistryMode): Promise<TestRegistry> {
  if (!REGISTRY_BIN) throw new Error(registrySkipReason);
  const dir = mkdtempSync(join(workDir(), `${mode}-`));
  const storage = join(dir, 'storage');
  mkdirSync(storage);
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
  ];
  let scheme = 'http';
  let closeToken: (() => Promise<void>) | null = null;
  if (mode === 'tls') {
    const { cert, key } = selfSignedCert(dir, 'registry');
    scheme = 'https';
    lines.push('  tls:', `    certificate: ${cert}`, `    key: ${key}`);
  }
  if (mode === 'basic') {
    const file = join(dir, 'htpasswd');
    writeFileSync(file, TEST_HTPASSWD);
    lines.push('auth:', '  htpasswd:', '    realm: test-realm', `    path: ${file}`);
  }
  if (mode === 'token') {
    const token = await startTokenServer(dir, 'test-registry', 'test-issuer');
    closeToken = token.close;
    lines.push('auth:', '  token:', `    realm: ${token.realm}`, '    service: test-registry', '    issuer: test-issuer', `    rootcertbundle: ${token.bundle}`);
  }
  const config = join(dir, 'config.yml');
  writeFileSync(config, `${lines.join('\n')}\n`);
  let output = '';
  const child = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-8000); });
  child.stderr!.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-8000); });
  const url = `${scheme}://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    await closeToken?.();
  };
  running.push(stop);
  try {
    await waitForV2(url, child, () => output);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    mode,
    host: `127.0.0.1:${port}`,
    url,
    storage,
    blobFile: (digest) => {
      const hex = digest.replace(/^sha256:/, '');
      return join(storage, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    },
    stop,
  };
}

export async function stopAll(): Promise<void> {
  await Promise.all(running.splice(0).map((s) => s()));
  if (root) {
    rmSync(root, { recursive: true, force: true });
    root = null;
  }
}
