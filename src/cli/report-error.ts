// How the CLI reports its own failures: "sandbox: error: ..." and an indented
// hint on stderr, exit 125. stdout stays the workload's.
import { isSandboxError } from '../errors.js';

export const EXIT_SANDBOX_FAILED = 125;

export function printError(message: string, hint?: string): void {
  process.stderr.write(`sandbox: error: ${message}\n${hint ? `  hint: ${hint}\n` : ''}`);
}

export function reportError(e: unknown): number {
  if (isSandboxError(e)) {
    printError(e.message, e.hint);
  } else {
    printError(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
      'this is a bug in rootless-sandbox; please report it');
  }
  return EXIT_SANDBOX_FAILED;
}
