// cli/: the `sandbox doctor` command: runs the host checks and prints them as
// text or JSON. Exit code 0 when no check failed, 1 otherwise.
// Must not: hold check logic (doctor/ does) or call process.exit.
import type { Command } from 'commander';

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .summary('check that this host can run rootless sandboxes, with the fix for each problem')
    .description(
      'check whether this host can run rootless sandboxes for the calling user: user namespaces, ' +
        'subordinate ids, newuidmap/newgidmap, overlayfs, cgroups, network helpers, libseccomp and the stage; ' +
        'prints the exact command that fixes each problem (exit 1 when a check fails)',
    )
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      // loaded on demand: `sandbox exec` should not pay for the doctor's code
      const { formatDoctor, runDoctor } = await import('../doctor/run-doctor.js');
      const report = await runDoctor();
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctor(report));
      process.exitCode = report.ok ? 0 : 1;
    });
}
