// What pasta and slirp4netns have in common: a foreground child of the
// sandbox in a session of its own (terminal signals reach the workload, not
// the helper), its error output kept for messages, stopped and reaped at the
// end of the run.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { SandboxError } from '../errors.js';

export interface NetworkHelper {
  readonly mode: 'pasta' | 'slirp4netns';
  readonly binary: string;
  readonly pid: number;
  /** Ends the helper and waits until it is reaped. */
  stop(): Promise<void>;
}

export interface HelperProcess {
  readonly child: ChildProcess;
  /** Its stderr so far, without the noise of a missing syslog. */
  stderr(): string;
  /** Resolves when the child has exited (and been reaped). */
  readonly exited: Promise<void>;
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 2000;

export function spawnHelper(file: string, args: readonly string[], stdio: StdioOptions): HelperProcess {
  const child = spawn(file, args, { stdio, detached: true, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { if (err.length < 8192) err += d; });
  child.on('error', () => {}); // reported through `exited` and the caller's checks
  const exited = new Promise<void>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) r();
    else child.once('close', () => r()).once('error', () => r());
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
  };
  return {
    child,
    stderr: () => err.split('\n').filter((l) => l && !l.startsWith('Failed to send') && !l.includes('syslog')).join('; '),
    exited,
    stop,
  };
}

/** A helper that did not come up: what it said, and how to look further. */
export function helperFailed(mode: string, binary: string, why: string): SandboxError {
  return new SandboxError('setup', `network helper ${mode} (${binary}) failed: ${why}`,
    'run `sandbox doctor` to check the helper and /dev/net/tun; a port that is taken or below 1024 cannot be published');
}
