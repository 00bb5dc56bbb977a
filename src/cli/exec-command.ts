// `sandbox exec [OPTIONS] IMAGE [--] CMD [ARG...]`: flags to ExecOptions,
// signals and the terminal passed on, the result turned into an exit code.
import type { Command } from 'commander';
import { spawnSandbox } from '../run/spawn-sandbox.js';
import type { ExecOptions } from '../resolve/exec-options.js';
import { SandboxError } from '../errors.js';
import { printError, reportError } from './report-error.js';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
const collect = (value: string, previous: string[] = []) => [...previous, value];

interface ExecFlags {
  profile: string;
  user?: string;
  workdir?: string;
  volume?: string[];
  tmpfs?: string[];
  env?: string[];
  envFile?: string[];
  hostname?: string;
  readOnly?: boolean;
  network?: string;
  interactive?: boolean;
  tty?: boolean;
  securityOpt?: string[];
}

/** --security-opt KEY=VALUE, as docker and podman take it; only seccomp= is known. */
function parseSecurityOpts(opts: string[]): { seccomp?: string } {
  const out: { seccomp?: string } = {};
  for (const opt of opts) {
    const [key, value] = [opt.slice(0, opt.indexOf('=')), opt.slice(opt.indexOf('=') + 1)];
    if (opt.includes('=') && key === 'seccomp' && value) out.seccomp = value;
    else throw new SandboxError('usage', `unknown security option "${opt}" (--security-opt)`, 'use seccomp=NAME, seccomp=FILE or seccomp=unconfined');
  }
  return out;
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
    volumes: f.volume ?? [],
    tmpfs: f.tmpfs ?? [],
    env: f.env ?? [],
    envFiles: f.envFile ?? [],
    tty: f.tty ?? false,
    interactive: f.interactive ?? false,
    ...parseSecurityOpts(f.securityOpt ?? []),
  };
}

async function runExec(image: string, command: string[], flags: ExecFlags): Promise<number> {
  // with pass-through options commander keeps a "--" that follows the image
  const options = toExecOptions(image, command[0] === '--' ? command.slice(1) : command, flags);
  const sandbox = spawnSandbox(options);
  const forward = (sig: NodeJS.Signals) => sandbox.kill(sig);
  for (const sig of FORWARDED) process.on(sig, forward);
  const resize = () => sandbox.kill('SIGWINCH');
  const rawTerminal = options.tty && options.interactive && process.stdin.isTTY;
  if (options.tty) process.on('SIGWINCH', resize);
  if (rawTerminal) process.stdin.setRawMode(true);
  try {
    const result = await sandbox.result;
    if (result.error) printError(result.error.message, result.error.hint);
    return result.exitCode;
  } finally {
    if (rawTerminal) process.stdin.setRawMode(false);
    for (const sig of FORWARDED) process.off(sig, forward);
    process.off('SIGWINCH', resize);
  }
}

export function registerExecCommand(program: Command): void {
  program
    .command('exec')
    .description('run a command in a fresh sandbox')
    .argument('<image>', 'image to run: "host" (read-only binds of the host\'s /usr, /bin, /lib*)')
    .argument('[command...]', 'program and arguments (after "--" if they start with "-")')
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
    .option('--network <mode>', 'network mode: none')
    .option('--security-opt <key=value>', 'seccomp=NAME|FILE|unconfined: the system call policy; repeatable', collect)
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
