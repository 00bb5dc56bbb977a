// slirp4netns as the sandbox's network: it joins the stage's user and network
// namespaces to create tap0 (10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3)
// and runs the TCP/IP stack in the caller's process. It says when it is ready
// (--ready-fd) and exits when the sandbox closes --exit-fd, or dies. Published
// ports are added through its API socket (add_hostfwd).
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helperFailed, spawnHelper, type NetworkHelper } from './helper-process.js';
import { formatPublish, type PublishSpec } from './publish.js';

export interface Slirp4netnsSpec {
  readonly helper: string;
  readonly allowHostLoopback: boolean;
  readonly publish: readonly PublishSpec[];
}

const READY_TIMEOUT_MS = 10_000;
const API_TIMEOUT_MS = 5_000;
/** The address slirp4netns --configure gives the sandbox's tap0. */
export const SLIRP4NETNS_GUEST = '10.0.2.100';
export const SLIRP4NETNS_GATEWAY = '10.0.2.2';

export function slirp4netnsArgs(spec: Slirp4netnsSpec, stagePid: number, apiSocket: string | null, callerUid: number): string[] {
  return [
    '--configure', '--mtu=65520',
    ...(spec.allowHostLoopback ? [] : ['--disable-host-loopback']),
    // as root: its own mount namespace and every capability but NET_BIND_SERVICE
    // dropped (an unprivileged caller has none to drop, and cannot make the namespace)
    ...(callerUid === 0 ? ['--enable-sandbox'] : []),
    '--enable-seccomp',
    '--ready-fd=3', '--exit-fd=4',
    ...(apiSocket ? [`--api-socket=${apiSocket}`] : []),
    `--userns-path=/proc/${stagePid}/ns/user`,
    '--netns-type=path', `/proc/${stagePid}/ns/net`, 'tap0',
  ];
}

/** One API request on its own connection; slirp4netns answers and closes. */
function apiRequest(socketPath: string, request: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(socketPath);
    let text = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error('no answer from the API socket')); }, API_TIMEOUT_MS);
    s.setEncoding('utf8');
    s.on('connect', () => s.end(JSON.stringify(request)));
    s.on('data', (d: string) => (text += d));
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(text) as Record<string, unknown>);
      } catch {
        reject(new Error(`unreadable API answer "${text}"`));
      }
    });
  });
}

async function addHostForward(apiSocket: string, p: PublishSpec): Promise<void> {
  const answer = await apiRequest(apiSocket, {
    execute: 'add_hostfwd',
    arguments: { proto: p.protocol, host_addr: p.hostIp, host_port: p.hostPort, guest_port: p.containerPort },
  });
  if (!answer.return) {
    const desc = (answer.error as { desc?: string } | undefined)?.desc ?? JSON.stringify(answer);
    // wrapped by startSlirp4netns into helperFailed (a SandboxError with its hint)
    throw new Error(`cannot publish ${formatPublish(p)}: ${desc}`);
  }
}

export async function startSlirp4netns(spec: Slirp4netnsSpec, stagePid: number): Promise<NetworkHelper> {
  const apiDir = spec.publish.length > 0 ? mkdtempSync(join(tmpdir(), 'sandbox-slirp4netns-')) : null;
  const apiSocket = apiDir ? join(apiDir, 'api.sock') : null;
  const removeApiDir = () => { if (apiDir) rmSync(apiDir, { recursive: true, force: true }); };
  const helper = spawnHelper(spec.helper, slirp4netnsArgs(spec, stagePid, apiSocket, process.getuid?.() ?? -1), ['ignore', 'ignore', 'pipe', 'pipe', 'pipe']);
  const ready = helper.child.stdio[3] as Socket;
  const exitFd = helper.child.stdio[4] as Socket;
  exitFd.on('error', () => {});
  const stop = async () => {
    exitFd.destroy(); // closing --exit-fd is slirp4netns's own way to stop
    removeApiDir();
    await helper.stop();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(helperFailed('slirp4netns', spec.helper, `not ready after ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
      const done = (e?: Error) => { clearTimeout(timer); if (e) reject(e); else resolve(); };
      ready.on('data', () => done());
      ready.on('error', () => {});
      helper.exited.then(() => done(helperFailed('slirp4netns', spec.helper,
        `exited (${helper.child.signalCode ?? `status ${helper.child.exitCode}`}) before it was ready${helper.stderr() ? `: ${helper.stderr()}` : ''}`)));
    });
    for (const p of spec.publish) {
      try {
        await addHostForward(apiSocket!, p);
      } catch (e) {
        throw helperFailed('slirp4netns', spec.helper, (e as Error).message);
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  // the ports are in place: the socket file goes now, so even a kill -9 leaves nothing behind
  removeApiDir();
  return { mode: 'slirp4netns', binary: spec.helper, pid: helper.child.pid!, stop };
}
