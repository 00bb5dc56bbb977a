// Runs every benchmark and prints Markdown to paste into bench/RESULTS.md,
// headed by the machine it ran on.
import { execFileSync } from 'node:child_process';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';

const here = import.meta.dirname;
console.log(`## ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — ${cpus().length}× ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, kernel ${release()}, node ${process.version}\n`);
// the run count given here is for the start-up benchmarks; unpack.mjs takes
// seconds per run and uses its own default (5)
const args = process.argv.slice(2);
for (const [bench, benchArgs] of [['start-up.mjs', args], ['seccomp.mjs', args], ['throughput.mjs', args], ['network.mjs', args], ['image-run.mjs', []], ['unpack.mjs', []]]) {
  execFileSync(process.execPath, [join(here, bench), ...benchArgs], { stdio: 'inherit' });
}
