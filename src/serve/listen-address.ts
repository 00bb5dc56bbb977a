// Where `sandbox serve` listens: a Unix socket (default
// $XDG_RUNTIME_DIR/rootless-sandbox/serve.sock; root without one:
// /run/rootless-sandbox/serve.sock), created 0600 in a directory of the
// server's so that only its user may connect, or a loopback TCP address
// (--listen 127.0.0.1:PORT; there is no authentication, so nothing else).
// A socket file left by a server that died is replaced; one a live server
// answers on is refused.
import { existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { isIP } from 'node:net';
import { dirname, isAbsolute, join } from 'node:path';
import { SandboxError } from '../errors.js';

export type ListenAddress =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

/** sun_path holds 108 bytes with its NUL. */
const MAX_SOCKET_PATH = 107;

export function describeAddress(a: ListenAddress): string {
  return a.kind === 'unix' ? a.path : `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

function isLoopback(host: string): boolean {
  return host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** --listen IP:PORT with a loopback IP (127.0.0.1:8080, [::1]:8080); port 0 takes a free one. */
export function parseListen(value: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([0-9.]+)):([0-9]{1,5})$/.exec(value);
  const host = m ? (m[1] ?? m[2]!) : '';
  const port = m ? Number(m[3]) : NaN;
  if (!m || !isLoopback(host) || port > 65535) {
    throw new SandboxError('usage', `invalid --listen ${value}`,
      'give a loopback address and a port, e.g. --listen 127.0.0.1:8080 (the service has no authentication: use the Unix socket for anything else)');
  }
  return { kind: 'tcp', host, port };
}

/** The default socket: under $XDG_RUNTIME_DIR, else /run/rootless-sandbox (root) or /run/user/UID. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string {
  const runtime = env.XDG_RUNTIME_DIR && isAbsolute(env.XDG_RUNTIME_DIR) ? env.XDG_RUNTIME_DIR
    : uid === 0 ? '/run'
      : existsSync(`/run/user/${uid}`) ? `/run/user/${uid}` : null;
  if (!runtime) {
    throw new SandboxError('usage', 'no directory for the socket: XDG_RUNTIME_DIR is not set and /run/user/' + uid + ' does not exist',
      'pass --socket PATH (in a directory only you may write) or --listen 127.0.0.1:PORT');
  }
  return join(runtime, 'rootless-sandbox', 'serve.sock');
}

function probeSocket(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Makes the socket's directory (0700 when made here) and removes a stale socket file. */
export async function prepareSocketPath(path: string): Promise<void> {
  if (!isAbsolute(path)) throw new SandboxError('usage', `the socket path ${path} is not absolute (--socket)`, 'give an absolute path');
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new SandboxError('usage', `the socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes (--socket)`, 'choose a shorter path');
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new SandboxError('host', `cannot inspect ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`, 'check the directory');
  }
  if (!st.isSocket()) throw new SandboxError('usage', `${path} exists and is not a socket`, 'remove it or choose another --socket');
  if (await probeSocket(path)) {
    throw new SandboxError('usage', `a server already listens on ${path}`, 'stop it (SIGTERM) or choose another --socket');
  }
  unlinkSync(path);
}
