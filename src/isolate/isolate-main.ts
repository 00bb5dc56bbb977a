// `sandbox isolate ...` and the bin invoked as `isolate`: isolate 2.x's
// commands and exit codes (0 OK, 1 the program failed, 2 a usage error or a
// problem of the sandbox), without root.
import { closeSync } from 'node:fs';
import { isSandboxError } from '../errors.js';
import { probeHost } from '../host/probe-host.js';
import { usesSubIds } from '../idmap/plan-idmap.js';
import { detectCgroupBackend } from '../cgroup/prepare-cgroup.js';
import type { BackendChoice } from '../cgroup/choose-cgroup-backend.js';
import { IsolateConfigError, loadIsolateConfig, type IsolateConfig } from './isolate-config.js';
import { boxExists, boxOf, initBox, IsolateBoxError, lockBox, removeBox, unlockBox } from './isolate-box.js';
import { ISOLATE_USAGE, IsolateUsageError, parseIsolateArgs, type IsolateOptions } from './isolate-options.js';
import { IsolateRunError, openMeta, runInBox, writeMeta } from './isolate-run.js';

const VERSION = '0.1.0';

/** Signals that stop the box as "Interrupted" (isolate's); SIGABRT stops it as a failure of the sandbox (isolate's too). */
const INTERRUPTS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'];

function cgroupRoot(choice: BackendChoice): string | null {
  switch (choice.kind) {
    case 'cgroup1': return choice.hierarchies.map((h) => h.dir).join(' ');
    case 'cgroup2-delegated': return choice.parentDir;
    case 'cgroup2-scope': return `${choice.mountPoint}${choice.slicePath}`;
    case 'none': return null;
  }
}

/** The problem when --cg gets no control group (`choice`) and the configuration does not allow the fallback. */
function cgroupProblem(choice: BackendChoice, config: IsolateConfig): string | null {
  if (config.cgFallback === 'rlimit' || choice.kind !== 'none') return null;
  return `Control groups are not available: ${choice.reason}. `
    + 'Fix: run where you have a delegated cgroup v2 subtree (a systemd user session gives one), or as root on cgroup v1; '
    + `or allow rlimits instead with "cg_fallback = rlimit" in ${config.file ?? 'the configuration file (see ISOLATE_CONFIG_FILE)'}.`;
}

class Exit extends Error {
  constructor(readonly code: number) { super(`exit ${code}`); }
}

/** Runs the isolate mode with argv (without the program name); resolves to the exit code. */
export async function isolateMain(argv: readonly string[]): Promise<number> {
  let o: IsolateOptions;
  try {
    o = parseIsolateArgs(argv);
  } catch (e) {
    if (!(e instanceof IsolateUsageError)) throw e;
    process.stderr.write(`isolate: ${e.message}\n`);
    process.stdout.write(ISOLATE_USAGE);
    return 2;
  }
  let metaFd: number | undefined;
  const die = (message: string): never => {
    if (metaFd !== undefined) writeMeta(metaFd, `status:XX\nmessage:${message.replace(/\s*\n\s*/g, ' ').trim()}\n`);
    process.stderr.write(`${message}\n`);
    throw new Exit(2);
  };
  const verbose = (line: string) => { if (o.verbose > 0) process.stderr.write(`${line}\n`); };
  let lock: number | undefined;
  try {
    if (o.meta !== undefined && o.command === 'run') metaFd = openMeta(o.meta);
    const config = loadIsolateConfig();
    if (o.asUid !== undefined && process.getuid?.() !== 0) die('--as-uid and --as-gid may only be used by root');
    switch (o.command) {
      case 'version':
        process.stdout.write(`The process isolator, rootless-sandbox ${VERSION} (isolate 2.x command line, no root needed)\n`
          + `Configuration file: ${config.file ?? '(none: defaults)'}\nBox root: ${config.boxRoot}\nNumber of boxes: ${config.numBoxes}\n`
          + `Control groups: ${describeBackend(detectCgroupBackend())}${config.cgFallback === 'rlimit' ? ' (rlimits where none)' : ''}\n`);
        return 0;
      case 'print-cg-root': {
        const root = cgroupRoot(detectCgroupBackend());
        if (!root) die('Control groups are not available to this user');
        process.stdout.write(`${root}\n`);
        return 0;
      }
      case 'check-config': {
        const choice = detectCgroupBackend();
        const problem = cgroupProblem(choice, config);
        process.stdout.write(`Configuration file: ${config.file ?? '(none: defaults)'}\nBox root: ${config.boxRoot}\nControl groups: ${describeBackend(choice)}\n`);
        if (problem) die(problem);
        return 0;
      }
      default: break;
    }
    const box = boxOf(config, o.boxId);
    const host = probeHost();
    lock = await lockBox(config, box, o.wait);
    switch (o.command) {
      case 'init':
        process.stdout.write(`${await initBox(config, box, host)}\n`);
        return 0;
      case 'cleanup':
        await removeBox(box, host);
        return 0;
      case 'run': {
        if (!boxExists(box)) die(`Box ${box.id} is not initialized: run isolate --init${o.boxId ? ` -b ${o.boxId}` : ''} first`);
        // the program must never be the caller (CMS's 0722 files rely on it): without a range it would be
        if (host.uid !== 0 && !usesSubIds(host)) {
          die(`the isolate mode needs a subordinate id range so that the program never runs as ${host.userName ?? `uid ${host.uid}`}: `
            + 'add one to /etc/subuid and /etc/subgid (e.g. usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER) and install newuidmap/newgidmap (uidmap)');
        }
        if (o.quota) die('Disk quotas (-q) are not available without root: limit what the program may write with -f');
        if (o.shareNet) die('--share-net is refused: the box runs the strict profile, which has no network');
        if (o.inheritFds) die('--inherit-fds is refused: only stdin, stdout and stderr reach the program');
        const problem = o.cg ? cgroupProblem(detectCgroupBackend(), config) : null;
        if (problem) die(problem);
        const interrupted = new Promise<NodeJS.Signals>((resolve) => {
          for (const s of [...INTERRUPTS, 'SIGABRT' as const]) process.on(s, () => resolve(s));
        });
        const out = await runInBox(o, box, { verbose, interrupted, host });
        if (metaFd !== undefined) writeMeta(metaFd, out.meta);
        if (out.exitCode === 2 || !o.silent) process.stderr.write(`${out.statusLine}\n`);
        return out.exitCode;
      }
    }
  } catch (e) {
    if (e instanceof Exit) return e.code;
    // every other failure is the sandbox's own (isolate's exit 2, status XX), with what is known of it
    const known = e instanceof IsolateRunError || e instanceof IsolateBoxError || e instanceof IsolateConfigError;
    const message = isSandboxError(e) && e.hint ? `${e.message} (${e.hint})`
      : known ? (e as Error).message : `internal error: ${e instanceof Error ? e.message : String(e)}`;
    try {
      die(message);
    } catch (exit) {
      if (exit instanceof Exit) return exit.code;
      throw exit;
    }
  } finally {
    if (lock !== undefined) unlockBox(lock);
    if (metaFd !== undefined && metaFd !== 1) closeSync(metaFd);
  }
  return 2;
}

function describeBackend(c: BackendChoice): string {
  return c.kind === 'none' ? `none (${c.reason})` : c.kind;
}
