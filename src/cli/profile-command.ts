// `sandbox profile ls` and `sandbox profile show NAME`.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { listBuiltinProfiles, loadProfile } from '../config/load-profile.js';
import { reportError } from './report-error.js';

export function registerProfileCommand(program: Command): void {
  const profile = program.command('profile').description('list and show profiles (how a sandbox runs)');
  profile
    .command('ls')
    .description('list the shipped profiles')
    .action(() => {
      try {
        const rows = listBuiltinProfiles().map((name) => [name, loadProfile(name).profile.description ?? '']);
        const width = Math.max(...rows.map(([n]) => n!.length), 4);
        process.stdout.write(rows.map(([n, d]) => `${n!.padEnd(width)}  ${d}\n`).join(''));
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });
  profile
    .command('show')
    .description('print a profile (validated)')
    .argument('<name|path>', 'profile name or path to a .json file')
    .action((ref: string) => {
      try {
        const loaded = loadProfile(ref);
        process.stdout.write(readFileSync(loaded.file, 'utf8'));
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });
}
