// `sandbox exec [OPTIONS] IMAGE [--] CMD [ARG...]`: flags to ExecOptions,
// signals and the terminal passed on, the result turned into an exit code.
import type { Command } from 'commander';
import { closeSync } from 'node:fs';
import { formatMeta } from '../run/format-meta.js';
import { spawnSandbox, type SandboxProcess, type StdioChoice } from '../run/spawn-sandbox.js';
import { UNLIMITED, type ExecOptions } from '../resolve/exec-options.js';
import { SandboxError } from '../errors.js';
import { printError, reportError } from './report-error.js';
import { parseBool } from './parse-bool.js';
import { formatTraceLine } from '../run/run-trace.js';
import { discardCallerFiles, openCallerFile, writeReport, type CallerFile, type CallerFileKind } from './caller-files.js';
// the stage passes the same signals on (one list)
import { FORWARDED_SIGNALS as FORWARDED } from '../stage/stage-choices.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface ExecFlags {
  profile: string;
  trace?: boolean;
  user?: string;
  workdir?: string;
  volume?: string[];
  tmpfs?: string[];
  env?: string[];
  envFile?: string[];
  hostname?: string;
  readOnly?: boolean;
  network?: string;
  publish?: string[];
  interactive?: boolean;
  tty?: boolean;
  securityOpt?: string[];
  capAdd?: string[];
  capDrop?: string[];
  cpuTime?: number | typeof UNLIMITED;
  wallTime?: number | typeof UNLIMITED;
  memory?: string;
  pids?: number | typeof UNLIMITED;
  fsize?: string;
  nofile?: number | typeof UNLIMITED;
  stack?: string;
  outputLimit?: string;
  stdin?: string;
  stdout?: string;
  stderr?: string;
  stderrToStdout?: boolean;
  result?: string;
  meta?: string;
  store?: string;
  entrypoint?: string;
  pull?: string;
  platform?: string;
  tlsVerify?: boolean;
  overlay?: string;
}

const number = (flag: string) => (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new SandboxError('usage', `invalid number "${value}" (${flag})`, `e.g. ${flag} 2`);
  return n;
};
/** A limit: a number, or "unlimited" to lift the profile's. */
const limit = (flag: string) => (value: string) => (value === UNLIMITED ? UNLIMITED : number(flag)(value));

/** --security-opt KEY[=VALUE], as docker and podman take it: seccomp= and no-new-privileges[=true|false]. */
function parseSecurityOpts(opts: string[]): { seccomp?: string; noNewPrivileges?: boolean } {
  const out: { seccomp?: string; noNewPrivileges?: boolean } = {};
  for (const opt of opts) {
    const eq = opt.indexOf('=');
    const [key, value] = eq < 0 ? [opt, undefined] : [opt.slice(0, eq), opt.slice(eq + 1)];
    if (key === 'seccomp' && value) out.seccomp = value;
    else if (key === 'no-new-privileges' && (value === undefined || value === 'true' || value === 'false')) out.noNewPrivileges = value !== 'false';
    else {
      throw new SandboxError('usage', `unknown security option "${opt}" (--security-opt)`,
        'use seccomp=NAME, seccomp=FILE, seccomp=unconfined, or no-new-privileges[=true|false]');
    }
  }
  return out;
}

/** --cap-add/--cap-drop values: repeatable, and each may be a comma-separated list, as podman takes them. */
const capList = (values: string[] | undefined) => (values ?? []).flatMap((v) => v.split(',')).filter((v) => v !== '');

function parsePull(value: string): 'missing' | 'always' | 'never' {
  if (value === 'missing' || value === 'always' || value === 'never') return value;
  throw new SandboxError('usage', `invalid --pull ${value}`, 'use missing, always or never');
}

/** --entrypoint as podman takes it: a JSON array of strings, else one program. */
function parseEntrypoint(value: string): string[] {
  if (!value.trimStart().startsWith('[')) return value === '' ? [] : [value];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = null;
  }
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
    throw new SandboxError('usage', `invalid --entrypoint ${value}`, 'give a program, or a JSON array of strings such as \'["/bin/sh","-c"]\'');
  }
  return parsed as string[];
}

export function toExecOptions(image: string, command: string[], f: ExecFlags): ExecOptions {
  return {
    image,
    command,
    profile: f.profile,
    ...(f.user !== undefined && { user: f.user }),
    ...(f.workdir !== undefined && { workdir: f.workdir }),
    ...(f.hostname !== undefined && { hostname: f.hostname }),
    ...(f.readOnly !== undefined && { readOnly: f.readOnly }),
    ...(f.network !== undefined && { network: f.network }),
    ...(f.publish !== undefined && { publish: f.publish }),
    ...(f.entrypoint !== undefined && { entrypoint: parseEntrypoint(f.entrypoint) }),
    volumes: f.volume ?? [],
    tmpfs: f.tmpfs ?? [],
    env: f.env ?? [],
    envFiles: f.envFile ?? [],
    tty: f.tty ?? false,
    interactive: f.interactive ?? false,
    ...parseSecurityOpts(f.securityOpt ?? []),
    capAdd: capList(f.capAdd),
    capDrop: capList(f.capDrop),
    limits: {
      ...(f.cpuTime !== undefined && { cpuTime: f.cpuTime }),
      ...(f.wallTime !== undefined && { wallTime: f.wallTime }),
      ...(f.memory !== undefined && { memory: f.memory }),
      ...(f.pids !== undefined && { pids: f.pids }),
      ...(f.fsize !== undefined && { fsize: f.fsize }),
      ...(f.nofile !== undefined && { nofile: f.nofile }),
      ...(f.stack !== undefined && { stack: f.stack }),
      ...(f.outputLimit !== undefined && { output: f.outputLimit }),
    },
    stderrToStdout: f.stderrToStdout ?? false,
    // --result and --meta report bytes per stream: the stage counts them
    accountOutput: f.result !== undefined || f.meta !== undefined,
  };
}

async function runExec(image: string, command: string[], flags: ExecFlags): Promise<number> {
  // with pass-through options commander keeps a "--" that follows the image
  const options = toExecOptions(image, command[0] === '--' ? command.slice(1) : command, flags);
  const files: CallerFile[] = [];
  const open = (flag: string, file: string | undefined, kind: CallerFileKind) => {
    if (file === undefined) return undefined;
    const f = openCallerFile(flag, file, kind);
    files.push(f);
    return f;
  };
  let sandbox: SandboxProcess;
  let reports: { result?: CallerFile; meta?: CallerFile };
  // a pull or load before the run shows its progress on a terminal (loaded only for an image: start-up of host runs)
  const progress = options.image === undefined || options.image === 'host'
    ? { onProgress: undefined, stop() {} }
    : (await import('./layer-progress.js')).layerProgress({ quiet: false });
  try {
    // every file is opened before anything runs: an unusable path fails here, with nothing run
    const stdio: [StdioChoice?, StdioChoice?, StdioChoice?] = [
      open('--stdin', flags.stdin, 'input')?.fd, open('--stdout', flags.stdout, 'output')?.fd, open('--stderr', flags.stderr, 'output')?.fd,
    ];
    reports = { result: open('--result', flags.result, 'report'), meta: open('--meta', flags.meta, 'report') };
    // --trace or SANDBOX_TRACE=1: where the time goes, on stderr; "start-up" is Node and this program loading
    const trace = flags.trace || process.env.SANDBOX_TRACE === '1'
      ? (phase: string, ms: number) => process.stderr.write(`${formatTraceLine(phase, ms)}\n`)
      : undefined;
    trace?.('start-up', performance.now());
    sandbox = await spawnSandbox({
      ...(trace && { trace }),
      ...options, stdio,
      ...(flags.store !== undefined && { store: flags.store }),
      ...(flags.pull !== undefined && { pull: parsePull(flags.pull) }),
      ...(flags.platform !== undefined && { platform: flags.platform }),
      ...(flags.tlsVerify !== undefined && { tlsVerify: flags.tlsVerify }),
      ...(flags.overlay !== undefined && { overlay: flags.overlay }),
      ...(progress.onProgress && { pullProgress: progress.onProgress }),
    });
  } catch (e) {
    discardCallerFiles(files);
    throw e;
  } finally {
    progress.stop();
  }
  // the stage holds its own copies of the stdio files; the reports stay open for after the run
  for (const f of files) if (f !== reports.result && f !== reports.meta) closeSync(f.fd);
  const forward = (sig: NodeJS.Signals) => sandbox.kill(sig);
  for (const sig of FORWARDED) process.on(sig, forward);
  const resize = () => sandbox.kill('SIGWINCH');
  const rawTerminal = options.tty && options.interactive && process.stdin.isTTY;
  if (options.tty) process.on('SIGWINCH', resize);
  if (rawTerminal) process.stdin.setRawMode(true);
  try {
    const result = await sandbox.result;
    if (result.error) printError(result.error.message, result.error.hint);
    writeReports([
      [reports.result, () => `${JSON.stringify(result, null, 2)}\n`],
      [reports.meta, () => formatMeta(result)],
    ]);
    return result.exitCode;
  } finally {
    if (rawTerminal) process.stdin.setRawMode(false);
    for (const sig of FORWARDED) process.off(sig, forward);
    process.off('SIGWINCH', resize);
  }
}

/** Writes every report, then throws the first failure (one replaced report does not stop the other). */
function writeReports(reports: [CallerFile | undefined, () => string][]): void {
  let failure: unknown;
  for (const [file, text] of reports) {
    if (!file) continue;
    try {
      writeReport(file, text());
    } catch (e) {
      failure ??= e;
    }
  }
  if (failure) throw failure;
}

export function registerExecCommand(program: Command): void {
  program
    .command('exec')
    .description('run a command in a fresh sandbox')
    .argument('<image>', 'image to run: "host" (read-only binds of the host\'s /usr, /bin, /lib*), an image name from the store, or a root directory')
    .argument('[command...]', 'program and arguments (after "--" if they start with "-"); default: the image\'s Entrypoint and Cmd')
    .option('--profile <name|path>', 'profile: a name from `sandbox profile ls` or a .json file', 'default')
    .option('-u, --user <uid[:gid]>', 'user and group ids inside the sandbox')
    .option('-w, --workdir <dir>', 'working directory inside the sandbox')
    .option('-v, --volume <src:dst[:ro|rw]>', 'bind a host path (read-only unless :rw); repeatable', collect)
    .option('--tmpfs <dst[:size=N,mode=M]>', 'mount a tmpfs; repeatable', collect)
    .option('-e, --env <key[=value]>', 'set an environment variable (KEY alone copies yours); repeatable', collect)
    .option('--env-file <file>', 'read KEY=VALUE lines from a file; repeatable', collect)
    .option('--hostname <name>', 'host name inside the sandbox')
    .option('--read-only', 'make the root file system read-only')
    .option('--no-read-only', 'make the root file system writable (overrides the profile)')
    .option('--network <mode>', 'network: none (only lo), pasta or slirp4netns (user-mode, the host\'s loopback unreachable; add :allow-host-loopback to reach it), host (the host\'s own)')
    .option('-p, --publish <[ip:]hostport:port[/tcp|/udp]>', 'publish a port inside on the host (127.0.0.1 unless ip is given; pasta or slirp4netns); repeatable', collect)
    .option('--security-opt <key=value>', 'seccomp=NAME|FILE|unconfined: the system call policy; no-new-privileges=false: let setuid files raise privileges (profiles may refuse it); repeatable', collect)
    .option('--cap-add <cap>', 'add a capability (NET_ADMIN, CAP_NET_ADMIN or ALL), held inside the sandbox\'s user namespace only; repeatable', collect)
    .option('--cap-drop <cap>', 'drop a capability (or ALL) from the profile\'s set; repeatable', collect)
    .option('--cpu-time <sec>', 'CPU time of the whole process tree (fractions allowed): TLE; each limit flag also takes "unlimited", lifting the profile\'s', limit('--cpu-time'))
    .option('--wall-time <sec>', 'wall-clock time from exec: WLE', limit('--wall-time'))
    .option('--memory <size>', 'memory of the tree, no swap (e.g. 256m): MLE')
    .option('--pids <n>', 'processes and threads', limit('--pids'))
    .option('--fsize <size>', 'largest file the workload may write: OLE')
    .option('--nofile <n>', 'open files per process', limit('--nofile'))
    .option('--stack <size>', 'stack size per process')
    .option('--output-limit <size>', 'bytes the workload may write to stdout and stderr together: OLE')
    .option('--stdin <file>', 'the workload reads this file (opened by the sandbox)')
    .option('--stdout <file>', 'the workload\'s stdout goes to this file (created or truncated)')
    .option('--stderr <file>', 'the workload\'s stderr goes to this file (created or truncated)')
    .option('--stderr-to-stdout', 'the workload\'s stderr goes where its stdout goes')
    .option('--result <file>', 'write the result (verdict, times, memory, output) as JSON')
    .option('--trace', 'print how long each phase of the run took, on stderr (also SANDBOX_TRACE=1)')
    .option('--meta <file>', 'write the result in isolate\'s meta format (key:value lines)')
    .option('--entrypoint <cmd|json>', 'replace the image\'s Entrypoint (a program, or a JSON array); its Cmd is then not used')
    .option('--pull <policy>', 'when to pull a registry image: missing (default), always, never')
    .option('--platform <os/arch>', 'platform of a registry image to pull (default: this host\'s)')
    .option('--tls-verify [bool]', 'verify the registry\'s certificate when pulling (--tls-verify=false also allows plain HTTP)', parseBool('--tls-verify'))
    .option('--overlay <driver>', 'how image layers are merged: auto (default; $SANDBOX_OVERLAY), native (the kernel\'s overlayfs) or fuse (fuse-overlayfs)')
    .option('--store <dir>', 'image store directory (default: $SANDBOX_STORE, else $XDG_DATA_HOME/rootless-sandbox/store; for root /var/lib/rootless-sandbox/store)')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'give the workload a pseudo-terminal')
    .passThroughOptions()
    .action(async (image: string, command: string[], flags: ExecFlags) => {
      try {
        process.exitCode = await runExec(image, command, flags);
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });
}
