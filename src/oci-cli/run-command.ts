// `sandbox-oci run [--bundle DIR] [--pid-file F] ID`: runc's foreground run.
// The bundle is read (read-bundle.ts), translated (config-to-run.ts), its
// extras applied or refused (oci-extras.ts), and run through the library's
// run path with this process's stdio; the exit code is the container's.
// Must not: keep state (create/start/state/kill/delete are lifecycle.ts's).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SandboxError } from '../errors.js';
import { probeHost } from '../host/probe-host.js';
import { configToRun } from '../oci/config-to-run.js';
import { readBundle } from '../oci/read-bundle.js';
import { probeHostImage } from '../rootfs/host-image.js';
import { spawnSandbox, type SandboxProcess, type SpawnOptions } from '../run/spawn-sandbox.js';
import { parsePolicy } from '../seccomp/load-policy.js';
import { FORWARDED_SIGNALS } from '../stage/stage-choices.js';
import { applyExtras, checkIdMappings, type SandboxPaths } from './oci-extras.js';
import type { OciLogger } from './oci-log.js';

export interface RunFlags {
  readonly bundle?: string;
  readonly pidFile?: string;
  readonly detach?: boolean;
  readonly consoleSocket?: string;
  readonly noPivot?: boolean;
  readonly noNewKeyring?: boolean;
  readonly keep?: boolean;
}

/** The sandbox's masked and read-only paths on this host (what plan-rootfs.ts mounts for an image run). */
export function sandboxPaths(): SandboxPaths {
  const layout = probeHostImage();
  return {
    masked: [...layout.proc.maskFiles, ...layout.proc.maskDirs, ...layout.sys.maskDirs],
    readOnly: [...layout.proc.readOnly],
    exists: (p) => existsSync(p),
  };
}

function refuseFlags(flags: RunFlags): void {
  if (flags.detach) {
    throw new SandboxError('usage', '--detach is not supported yet: sandbox-oci runs containers in the foreground only',
      'leave out --detach (create/start and detached runs come with a later version)');
  }
  if (flags.consoleSocket) throw new SandboxError('usage', '--console-socket is not supported yet', 'leave it out: with process.terminal the container uses this process\'s terminal');
  if (flags.keep) throw new SandboxError('usage', '--keep is not supported: no container state is kept after a run', 'leave it out');
}

/**
 * Starts the bundle's container through the library's run path with this
 * process's stdio: `run` follows it in the foreground, the keeper of `create`
 * (lifecycle.ts) with a start gate.
 */
export async function spawnContainer(id: string, bundleDir: string, log: OciLogger,
  startGate?: SpawnOptions['startGate']): Promise<{ sandbox: SandboxProcess; tty: boolean }> {
  const bundle = readBundle(bundleDir);
  log.debug(`container ${id}: bundle ${bundle.dir}, root ${bundle.rootPath}`);
  const host = probeHost();
  const { options, extras } = configToRun(bundle.config, { bundle: bundle.dir, rootPath: bundle.rootPath, host });
  const applied = applyExtras(bundle.config, extras, sandboxPaths());
  let policyDir: string | undefined;
  let seccomp: string | undefined;
  if (applied.seccomp) {
    const text = JSON.stringify(applied.seccomp);
    // the sandbox's own check of the policy, named by its place in the config
    parsePolicy(text, 'config.json#/linux/seccomp');
    policyDir = mkdtempSync(join(tmpdir(), 'sandbox-oci-seccomp-'));
    seccomp = join(policyDir, `${id}.json`);
    writeFileSync(seccomp, text, { mode: 0o600, flag: 'wx' });
  }
  // the stage gives the workload the umask it was started with
  const umask = applied.umask !== null ? process.umask(applied.umask) : null;
  let sandbox: SandboxProcess;
  try {
    sandbox = await spawnSandbox({
      ...options,
      ...(seccomp && { seccomp }),
      stdio: ['inherit', 'inherit', 'inherit'],
      beforeStart: (spec) => checkIdMappings(extras, spec.idmap),
      ...(startGate && { startGate }),
    });
  } finally {
    if (umask !== null) process.umask(umask);
    // the filter is compiled before the stage starts
    if (policyDir) rmSync(policyDir, { recursive: true, force: true });
  }
  log.debug(`container ${id}: stage pid ${sandbox.pid}`);
  return { sandbox, tty: Boolean(options.tty) };
}

/** Runs the bundle in the foreground; resolves to the container's exit code (1 for a failure of the runtime, as runc). */
export async function runContainer(id: string, flags: RunFlags, log: OciLogger): Promise<number> {
  refuseFlags(flags);
  const { sandbox, tty } = await spawnContainer(id, flags.bundle ?? process.cwd(), log);
  const options = { tty };
  if (flags.pidFile) {
    try {
      // the stage's pid: signals sent to it are passed on to the container's process
      writeFileSync(flags.pidFile, `${sandbox.pid}`, { mode: 0o644 });
    } catch (e) {
      sandbox.kill('SIGKILL');
      await sandbox.result;
      throw new SandboxError('usage', `cannot write the pid file ${flags.pidFile}: ${(e as NodeJS.ErrnoException).code ?? e}`, 'give a writable path to --pid-file');
    }
  }
  const forward = (sig: NodeJS.Signals) => sandbox.kill(sig);
  for (const sig of FORWARDED_SIGNALS) process.on(sig, forward);
  const resize = () => sandbox.kill('SIGWINCH');
  const raw = options.tty && process.stdin.isTTY;
  if (options.tty) process.on('SIGWINCH', resize);
  if (raw) process.stdin.setRawMode(true);
  try {
    const result = await sandbox.result;
    if (result.error) {
      log.error(result.error.message, result.error.hint);
      return 1;
    }
    log.debug(`container ${id}: ${result.status}, exit code ${result.exitCode}`);
    return result.exitCode;
  } finally {
    if (raw) process.stdin.setRawMode(false);
    for (const sig of FORWARDED_SIGNALS) process.off(sig, forward);
    process.off('SIGWINCH', resize);
  }
}
