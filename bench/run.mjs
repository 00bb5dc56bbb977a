// Runs every benchmark and prints Markdown to paste into bench/RESULTS.md,
// headed by the machine it ran on.
import { execFileSync } from 'node:child_process';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';

const here = import.meta.dirname;
console.log(`## ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — ${cpus().length}× ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, kernel ${release()}, node ${process.version}\n`);
for (const bench of ['start-up.mjs', 'seccomp.mjs', 'throughput.mjs', 'network.mjs']) {
  execFileSync(process.execPath, [join(here, bench), ...process.argv.slice(2)], { stdio: 'inherit' });
}
