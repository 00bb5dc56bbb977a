// The command line of `sandbox-oci`, runc's: global flags (--root, --log,
// --log-format, --debug, --systemd-cgroup, --version) and its verbs. It runs
// a bundle in the foreground (`run`), keeps detached containers without a
// console (create, start, state, kill, delete, list: lifecycle.ts), writes a
// starting config (`spec`) and describes itself (`features`); exec, ps,
// pause, resume, update, events, checkpoint and restore are refused as not
// supported. Every failure exits 1, as runc's do.
import { Command, CommanderError, Option } from 'commander';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isSandboxError, SandboxError } from '../errors.js';
import { OCI_VERSION, ociFeatures } from '../oci/features.js';
import { CONFIG_NAME } from '../oci/read-bundle.js';
import { specTemplate } from '../oci/spec-template.js';
import { LOG_FORMATS, makeLogger, type LogFormat, type OciLogger } from './oci-log.js';

export const VERSION = '0.1.0';
export const EXIT_FAILURE = 1;
export const VERSION_TEXT = `sandbox-oci version ${VERSION}\nspec: ${OCI_VERSION}`;

export interface GlobalFlags {
  root?: string;
  log?: string;
  logFormat: LogFormat;
  debug?: boolean;
  systemdCgroup?: boolean;
}

/** runc's default state directory: /run/runc for root, $XDG_RUNTIME_DIR/runc otherwise. */
export function defaultRoot(uid = process.getuid?.() ?? 0, env: NodeJS.ProcessEnv = process.env): string {
  if (uid === 0) return '/run/sandbox-oci';
  const xdg = env.XDG_RUNTIME_DIR;
  return xdg && xdg.startsWith('/') ? join(xdg, 'sandbox-oci') : `/run/user/${uid}/sandbox-oci`;
}

/** --root made absolute; runc refuses / itself (an empty or relative path that reaches it too). */
export function checkRoot(root: string | undefined, cwd = process.cwd()): string {
  const dir = resolve(cwd, root ?? defaultRoot());
  if (dir === '/') throw new SandboxError('usage', 'Option --root argument should not be set to /', 'give the state directory, e.g. /run/sandbox-oci');
  return dir;
}

/** runc's container id rule: letters, digits, _ + - . (not . or ..). */
export function checkContainerId(id: string): string {
  if (!/^[\w+.-]+$/.test(id) || id === '.' || id === '..') {
    throw new SandboxError('usage', `invalid container id "${id}"`, 'an id is made of letters, digits, _, +, - and .');
  }
  return id;
}

const notYet = (verb: string) => new SandboxError('usage', `${verb} is not supported yet`,
  'this version of sandbox-oci runs containers (run, or create and start) and stops them (kill, delete); nothing more');

function writeSpec(flags: { bundle?: string; rootless?: boolean }): void {
  const dir = resolve(flags.bundle ?? '.');
  const file = join(dir, CONFIG_NAME);
  const ids = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const text = `${JSON.stringify(specTemplate(flags.rootless ? { rootless: ids } : {}), null, '\t')}\n`;
  if (existsSync(file)) throw new SandboxError('usage', `File ${file} exists. Remove it first`, 'spec never replaces an existing config.json');
  try {
    writeFileSync(file, text, { mode: 0o666, flag: 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    if (code === 'EEXIST') throw new SandboxError('usage', `File ${file} exists. Remove it first`, 'spec never replaces an existing config.json');
    throw new SandboxError('usage', `cannot write ${file}: ${code}`, 'give a writable bundle directory (--bundle)');
  }
}

export interface Io {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
}

const defaultIo: Io = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) };

/** The program; `state.exitCode` is set by the verb that ran. `log` is made once the global flags are known. */
export function newProgram(io: Io = defaultIo) {
  const state = { exitCode: 0, log: undefined as OciLogger | undefined, globals: undefined as GlobalFlags | undefined };
  const logger = (program: Command): OciLogger => {
    if (!state.log) {
      const g = program.opts<GlobalFlags>();
      state.globals = g;
      state.log = makeLogger({ format: g.logFormat, ...(g.log && { file: g.log }), debug: Boolean(g.debug) }, io.stderr);
    }
    return state.log;
  };
  const program = new Command('sandbox-oci')
    .description('an OCI runtime (runc\'s command line) that runs containers in rootless sandboxes. '
      + 'This version runs a bundle in the foreground (run) or detached without a console (create, start, state, '
      + 'kill, delete, list), writes a starting config.json (spec) and lists what it supports (features). exec, '
      + 'pause, resume, update and ps are not supported yet.')
    .version(VERSION_TEXT, '-v, --version', 'print the version')
    .option('--root <dir>', 'state directory of created containers (default: $XDG_RUNTIME_DIR/sandbox-oci, /run/sandbox-oci for root)')
    .option('--log <file>', 'append errors (and --debug lines) to this file, in --log-format')
    .addOption(new Option('--log-format <format>', 'format of log lines').choices(LOG_FORMATS).default('text'))
    .option('--debug', 'log debug lines too')
    .option('--systemd-cgroup', 'accepted for runc compatibility; the sandbox chooses its cgroup itself')
    .option('--rootless <value>', 'accepted for runc compatibility (auto, true, false): the sandbox is always rootless')
    .enablePositionalOptions()
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} });

  const action = <A extends unknown[]>(fn: (...args: A) => unknown | Promise<unknown>) => async (...args: A) => {
    logger(program);
    checkRoot(program.opts<GlobalFlags>().root);
    const code = await fn(...args);
    state.exitCode = typeof code === 'number' ? code : 0;
  };

  program.command('spec')
    .description('write a starting config.json in the bundle (never over an existing one)')
    .option('-b, --bundle <dir>', 'bundle directory (default: the current directory)')
    .option('--rootless', 'a config for an unprivileged caller: a user namespace mapping your ids to root')
    .action(action((flags: { bundle?: string; rootless?: boolean }) => writeSpec(flags)));

  program.command('features')
    .description('print the runtime-spec features document of this runtime (JSON)')
    // config-to-run keeps hooks for a runner; this one runs none yet (oci-extras.ts refuses them)
    .action(action(() => io.stdout(`${JSON.stringify({ ...ociFeatures(VERSION), hooks: [] }, null, '    ')}\n`)));

  program.command('run')
    .description('run a container from a bundle in the foreground; the exit code is the container\'s')
    .argument('<container-id>')
    .option('-b, --bundle <dir>', 'bundle directory (default: the current directory)')
    .option('--pid-file <file>', 'write the pid of the container\'s supervisor (signals sent to it reach the container)')
    .option('-d, --detach', 'not supported yet (refused)')
    .option('--console-socket <path>', 'not supported yet (refused)')
    .option('--keep', 'not supported (refused)')
    .option('--no-pivot', 'accepted: the sandbox always pivots into its own root')
    .option('--no-new-keyring', 'accepted: the sandbox makes no new session keyring, with or without this flag')
    .action(action(async (id: string, flags: Record<string, unknown>) => {
      checkContainerId(id);
      return (await import('./run-command.js')).runContainer(id, flags, logger(program));
    }));

  // the lifecycle of a detached container (lifecycle.ts); loaded only by these verbs
  const lifecycle = () => import('./lifecycle.js');
  const rootOf = () => checkRoot(program.opts<GlobalFlags>().root);
  program.command('create')
    .description('create a container from a bundle, detached: its process waits before exec until `start`; '
      + 'it gets this command\'s stdin, stdout and stderr')
    .argument('<container-id>')
    .option('-b, --bundle <dir>', 'bundle directory (default: the current directory)')
    .option('--pid-file <file>', 'write the pid of the container\'s process')
    .option('--console-socket <path>', 'not supported yet (refused)')
    .option('--no-pivot', 'accepted: the sandbox always pivots into its own root')
    .option('--no-new-keyring', 'accepted: the sandbox makes no new session keyring, with or without this flag')
    .action(action(async (id: string, flags: { bundle?: string; pidFile?: string; consoleSocket?: string }) => {
      checkContainerId(id);
      if (flags.consoleSocket) throw new SandboxError('usage', '--console-socket is not supported yet', 'leave it out: create a container without a terminal (process.terminal false)');
      return (await lifecycle()).createContainer(rootOf(), id, flags, program.opts<GlobalFlags>(), logger(program));
    }));
  program.command('__keeper', { hidden: true }).argument('<container-id>')
    .action(action(async (id: string) => (await lifecycle()).keepContainer(rootOf(), checkContainerId(id), logger(program))));
  program.command('start').description('start a created container: its process executes')
    .argument('<container-id>')
    .action(action(async (id: string) => (await lifecycle()).startContainer(rootOf(), checkContainerId(id))));
  program.command('state').description('print a container\'s state (runtime-spec state JSON)')
    .argument('<container-id>')
    .action(action(async (id: string) => (await lifecycle()).printState(rootOf(), checkContainerId(id), io.stdout)));
  program.command('kill').description('send a signal (default SIGTERM; a name with or without SIG, or a number) to a container\'s process')
    .argument('<container-id>').argument('[signal]').option('-a, --all', 'every process of the container')
    .action(action(async (id: string, signal: string | undefined, flags: { all?: boolean }) =>
      (await lifecycle()).killContainer(rootOf(), checkContainerId(id), signal, Boolean(flags.all))));
  program.command('delete').description('delete a stopped container (--force: kill it first; succeeds when there is none)')
    .argument('<container-id>').option('-f, --force', 'kill a container that is not stopped; no error when there is none')
    .action(action(async (id: string, flags: { force?: boolean }) =>
      (await lifecycle()).deleteContainer(rootOf(), checkContainerId(id), Boolean(flags.force))));
  program.command('list').description('list containers')
    .addOption(new Option('-f, --format <format>', 'table or json').choices(['table', 'json']).default('table'))
    .option('-q, --quiet', 'ids only')
    .action(action(async (flags: { format: string; quiet?: boolean }) =>
      (await lifecycle()).listContainers(rootOf(), flags.format, Boolean(flags.quiet), io.stdout)));
  for (const [verb, what] of [
    ['exec', 'run a process in a container (not supported yet)'], ['ps', 'list a container\'s processes (not supported yet)'],
    ['pause', 'pause a container (not supported yet)'], ['resume', 'resume a container (not supported yet)'],
    ['update', 'update a container\'s resources (not supported yet)'], ['events', 'a container\'s events (not supported yet)'],
    ['checkpoint', 'checkpoint a container (not supported)'], ['restore', 'restore a container (not supported)'],
  ] as const) {
    program.command(verb).description(what).allowUnknownOption().allowExcessArguments().argument('[args...]')
      .action(action(() => { throw notYet(verb); }));
  }
  program.commands.forEach((c) => c.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} }));
  return { program, state, logger: () => logger(program) };
}

/** Parses argv, runs the verb, and resolves to the exit code. */
export async function runOci(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  const { program, state, logger } = newProgram(io);
  try {
    await program.parseAsync([...argv]);
    return state.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      // a usage error: the global flags may not have been read; the log then uses the defaults
      (state.log ?? safeLogger(program, io)).error(e.message.replace(/^error: /, ''), 'see `sandbox-oci --help`');
      return EXIT_FAILURE;
    }
    const log = state.log ?? logger();
    if (isSandboxError(e)) log.error(e.message, e.hint);
    else log.error(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`, 'this is a bug in rootless-sandbox; please report it');
    return EXIT_FAILURE;
  }
}

function safeLogger(program: Command, io: Io): OciLogger {
  const g = program.opts<Partial<GlobalFlags>>();
  const format = LOG_FORMATS.includes(g.logFormat as LogFormat) ? g.logFormat as LogFormat : 'text';
  return makeLogger({ format, ...(g.log && { file: g.log }), debug: Boolean(g.debug) }, io.stderr);
}
