// The `sandbox` command line: a thin layer over the library (src/run/).
// Usage errors exit 125 with a hint, like every other sandbox failure.
import { Command, CommanderError } from 'commander';
import { registerDoctorCommand } from './doctor-command.js';
import { registerExecCommand } from './exec-command.js';
import { registerImageCommand } from './image-command.js';
import { registerLoginCommand } from './login-command.js';
import { registerPolicyCommand } from './policy-command.js';
import { registerProfileCommand } from './profile-command.js';
import { EXIT_SANDBOX_FAILED, printError } from './report-error.js';

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
registerExecCommand(program);
registerProfileCommand(program);
registerPolicyCommand(program);
registerDoctorCommand(program);
registerImageCommand(program);
registerLoginCommand(program);
// subcommands of subcommands (image ls, ...) report usage errors the same way
const quiet = (cmd: Command): void => {
  cmd.exitOverride().configureOutput({ outputError: () => {} });
  cmd.commands.forEach(quiet);
};
program.commands.forEach(quiet);

program.parseAsync(process.argv).catch((e: unknown) => {
  if (!(e instanceof CommanderError)) throw e;
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') {
    process.exitCode = 0;
  } else {
    printError(e.message.replace(/^error: /, ''), 'see `sandbox --help` or `sandbox exec --help`');
    process.exitCode = EXIT_SANDBOX_FAILED;
  }
});
