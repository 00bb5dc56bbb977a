// The `sandbox` command line: a thin layer over the library (src/run/).
// Usage errors exit 125 with a hint, like every other sandbox failure.
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

// a reader that went away (`sandbox policy export ... | head`) is not an error
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

const program = new Command('sandbox')
  .description('run untrusted programs in fresh rootless containers')
  .version('0.1.0')
  .enablePositionalOptions()
  .showHelpAfterError(false)
  .exitOverride()
  .configureOutput({ outputError: () => {} });
// subcommands of subcommands (image ls, ...) report usage errors the same way
const quiet = (cmd: Command): void => {
  cmd.exitOverride().configureOutput({ outputError: () => {} });
  cmd.commands.forEach(quiet);
};

async function main(): Promise<void> {
  const named = process.argv[2];
  const wanted = named !== undefined && Object.hasOwn(COMMANDS, named) ? [COMMANDS[named]!] : Object.values(COMMANDS);
  for (const register of await Promise.all(wanted.map((load) => load()))) register(program);
  program.commands.forEach(quiet);
  await program.parseAsync(process.argv);
}

main().catch((e: unknown) => {
  if (!(e instanceof CommanderError)) throw e;
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') {
    process.exitCode = 0;
  } else {
    printError(e.message.replace(/^error: /, ''), 'see `sandbox --help` or `sandbox exec --help`');
    process.exitCode = EXIT_SANDBOX_FAILED;
  }
});
