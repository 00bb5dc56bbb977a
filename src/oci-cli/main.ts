// `sandbox-oci`: the OCI runtime command line (runc's), a second bin beside
// `sandbox` (bin/sandbox-oci.cjs loads this bundle, dist/oci-cli.cjs).
// program.ts parses and dispatches; run-command.ts runs a bundle through the
// library's run path (src/run/) with what src/oci/ translated.
import { runOci } from './program.js';

// a reader that went away (`sandbox-oci features | head`) is not an error
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

void runOci(process.argv).then((code) => {
  process.exitCode = code;
});
