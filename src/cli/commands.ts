// The commander program of `sandbox` (every command but the isolate mode's,
// which has its own command line): usage errors exit 125 with a hint, like
// every other sandbox failure.
import { Command, CommanderError } from 'commander';
import { EXIT_SANDBOX_FAILED, printError } from './report-error.js';

type Register = (program: Command) => void;
/**
 * Each command's module, loaded only when that command runs (a host-image run
 * loads no registry client, tar or progress bars); help and unknown commands load all.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  exec: async () => (await import('./exec-command.js')).registerExecCommand,
  profile: async () => (await import('./profile-command.js')).registerProfileCommand,
  policy: async () => (await import('./policy-command.js')).registerPolicyCommand,
  doctor: async () => (await import('./doctor-command.js')).registerDoctorCommand,
  image: async () => (await import('./image-command.js')).registerImageCommand,
  login: async () => (await import('./login-command.js')).registerLoginCommand,
  serve: async () => (await import('./serve-command.js')).registerServeCommand,
};

function newProgram(): Command {
  return new Command('sandbox')
    .description('run untrusted programs in fresh rootless containers')
    .version('0.1.0')
    .enablePositionalOptions()
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ outputError: () => {} });
}
// subcommands of subcommands (image ls, ...) report usage errors the same way
const quiet = (cmd: Command): void => {
  cmd.exitOverride().configureOutput({ outputError: () => {} });
  cmd.commands.forEach(quiet);
};

/** Parses argv with the command it names (all of them for help or an unknown one) and runs it. */
export async function runCommands(argv: readonly string[]): Promise<void> {
  const program = newProgram();
  const named = argv[2];
  const wanted = named !== undefined && Object.hasOwn(COMMANDS, named) ? [COMMANDS[named]!] : Object.values(COMMANDS);
  for (const register of await Promise.all(wanted.map((load) => load()))) register(program);
  program.commands.forEach(quiet);
  try {
    await program.parseAsync([...argv]);
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') {
      process.exitCode = 0;
    } else {
      printError(e.message.replace(/^error: /, ''), 'see `sandbox --help` or `sandbox exec --help`');
      process.exitCode = EXIT_SANDBOX_FAILED;
    }
  }
}
