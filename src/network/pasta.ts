// pasta (from passt) as the sandbox's network: it joins the stage's user and
// network namespaces, creates and configures the tap interface there
// (--config-net), and forwards traffic through ordinary sockets of the caller.
// By default nothing of the host's loopback is reachable: no automatic port
// forwarding in either direction (-t/-u/-T/-U none) and no gateway mapping.
// pasta does not exit when the sandbox ends (it holds the namespace itself,
// checked with Debian 12's build), so it runs in the foreground with a
// parent-death signal and the sandbox stops it.
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { findTool } from '../host/probe-host.js';
import { SandboxError } from '../errors.js';
import { helperFailed, spawnHelper, type NetworkHelper } from './helper-process.js';
import { openPipe } from './os-pipe.js';
import { openNamespaces } from './stage-namespaces.js';
import type { PublishSpec } from './publish.js';
import { PASTA_DNS } from './resolv-conf.js';

export interface PastaSpec {
  readonly helper: string;
  readonly allowHostLoopback: boolean;
  readonly publish: readonly PublishSpec[];
}

const READY_TIMEOUT_MS = 10_000;

function portArgs(flag: string, publish: readonly PublishSpec[]): string[] {
  if (publish.length === 0) return [flag, 'none'];
  return publish.flatMap((p) => [flag, `${p.hostIp}/${p.hostPort}:${p.containerPort}`]);
}

/** pasta's arguments; the pid file (fd 3, a pipe) is its readiness signal in the foreground. */
export function pastaArgs(spec: PastaSpec, callerUid: number): string[] {
  return [
    '--foreground', '--quiet',
    // as root pasta would switch to nobody, who may not open the stage's namespaces
    ...(callerUid === 0 ? ['--runas', '0:0'] : []),
    '--config-net',
    '--dns-forward', PASTA_DNS,
    ...portArgs('-t', spec.publish.filter((p) => p.protocol === 'tcp')),
    ...portArgs('-u', spec.publish.filter((p) => p.protocol === 'udp')),
    // the host's loopback: its bound ports forwarded into the sandbox's lo only when asked
    ...(spec.allowHostLoopback ? ['-T', 'auto', '-U', 'auto'] : ['-T', 'none', '-U', 'none', '--no-map-gw']),
    '--pid', '/dev/fd/3',
    // descriptors the sandbox opened: pasta itself may not open the stage's
    // /proc entries (the stage runs under a mapped id and is not dumpable)
    '--userns', '/proc/self/fd/4', '--netns', '/proc/self/fd/5', '--no-netns-quit',
  ];
}

/** setpriv gives the helper a parent-death signal: it dies with the sandbox, even after kill -9. */
export function findSetpriv(): string {
  const setpriv = findTool('setpriv');
  if (!setpriv) {
    throw new SandboxError('host', 'setpriv not found in /usr/bin, /usr/sbin, /bin or /sbin (needed to tie the network helper to the sandbox)',
      'install util-linux (Debian/Ubuntu: sudo apt-get install util-linux)');
  }
  return setpriv;
}

export async function startPasta(spec: PastaSpec, stagePid: number): Promise<NetworkHelper> {
  const setpriv = findSetpriv();
  const pipe = openPipe();
  let ns: ReturnType<typeof openNamespaces> | undefined;
  let helper;
  try {
    ns = openNamespaces(stagePid);
    helper = spawnHelper(setpriv, ['--pdeathsig', 'KILL', '--', spec.helper, ...pastaArgs(spec, process.getuid?.() ?? -1)],
      ['ignore', 'ignore', 'pipe', pipe.write, ns.user, ns.net]);
  } catch (e) {
    closeSync(pipe.read);
    throw e;
  } finally {
    closeSync(pipe.write);
    ns?.close();
  }
  const ready = new Socket({ fd: pipe.read, readable: true, writable: false });
  try {
    await new Promise<void>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(helperFailed('pasta', spec.helper, `not ready after ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
      const done = (e?: Error) => { clearTimeout(timer); if (e) reject(e); else resolve(); };
      ready.setEncoding('utf8').on('data', (d: string) => {
        text += d;
        if (text.includes('\n')) done();
      });
      ready.on('error', () => {});
      helper.exited.then(() => done(helperFailed('pasta', spec.helper,
        `exited (${helper.child.signalCode ?? `status ${helper.child.exitCode}`}) before it was ready${helper.stderr() ? `: ${helper.stderr()}` : ''}`)));
    });
  } catch (e) {
    ready.destroy();
    await helper.stop();
    throw e;
  }
  ready.destroy();
  return { mode: 'pasta', binary: spec.helper, pid: helper.child.pid!, stop: helper.stop };
}
