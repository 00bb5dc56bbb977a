// The `sandbox` command line: a thin layer over the library (src/run/). The
// isolate mode (`sandbox isolate`, or this bin run as `isolate`) has isolate's
// own command line; every other command is commander's (commands.ts), loaded
// only for them.
import { basename } from 'node:path';

// a reader that went away (`sandbox policy export ... | head`) is not an error
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

/** `sandbox isolate ...`, or this bin run through a link named isolate: isolate's arguments. */
function isolateArgs(): string[] | null {
  if (basename(process.argv[1] ?? '') === 'isolate') return process.argv.slice(2);
  return process.argv[2] === 'isolate' ? process.argv.slice(3) : null;
}

async function main(): Promise<void> {
  const isolate = isolateArgs();
  if (isolate) {
    process.exitCode = await (await import('../isolate/isolate-main.js')).isolateMain(isolate);
    return;
  }
  await (await import('./commands.js')).runCommands(process.argv);
}

void main();
