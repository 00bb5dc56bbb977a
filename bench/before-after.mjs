// A refactor's cost, side by side in one run: this checkout against another
// (an older commit built in a work tree), for CLI start-up
// (`sandbox exec --profile strict host -- /bin/true`, spawned and waited for)
// and per-run time through the library (exec() in one Node process), in
// interleaved rounds so both see the same machine noise. Prints Markdown.
// Usage: node bench/before-after.mjs OTHER_CHECKOUT [runs]
//   e.g. git worktree add /tmp/before COMMIT && (cd /tmp/before && npm ci && npm run build)
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const here = join(import.meta.dirname, '..');
const other = process.argv[2] ? resolve(process.argv[2]) : null;
if (!other) {
  console.error('usage: node bench/before-after.mjs OTHER_CHECKOUT [runs]');
  process.exit(125);
}
const runs = Number(process.argv[3] ?? 140);
const rounds = 7;
const perRound = Math.ceil(runs / rounds);
const quiet = ['ignore', 'ignore', 'inherit'];

const checkouts = [
  { name: `before (${other})`, dir: other },
  { name: 'after (this checkout)', dir: here },
];
for (const c of checkouts) c.lib = await import(pathToFileURL(join(c.dir, 'dist/index.js')).href);

const cliOnce = (dir) => {
  const r = spawnSync(process.execPath, [join(dir, 'bin/sandbox.cjs'), 'exec', '--profile', 'strict', 'host', '--', '/bin/true'], { stdio: quiet });
  if (r.status !== 0) throw new Error(`${dir}: exit ${r.status}`);
};
const libOnce = async (lib) => {
  const r = await lib.exec({ command: ['/bin/true'], profile: 'strict', stdio: quiet });
  if (r.exitCode !== 0) throw new Error(JSON.stringify(r));
};
async function timed(fn, n) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6 / n;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const c of checkouts) { c.cli = []; c.perRun = []; for (let i = 0; i < 5; i++) { cliOnce(c.dir); await libOnce(c.lib); } }
for (let i = 0; i < rounds; i++) {
  for (const c of checkouts) {
    c.cli.push(await timed(() => cliOnce(c.dir), Math.ceil(perRound / 4)));
    c.perRun.push(await timed(() => libOnce(c.lib), perRound));
  }
}
const [before, after] = checkouts;
const row = (what, b, a) => `| ${what} | ${b.toFixed(2)} | ${a.toFixed(2)} | ${(a / b).toFixed(3)} |`;
console.log(`uid ${process.getuid()}, ${rounds} interleaved rounds, medians\n`);
console.log('| what | before, ms | after, ms | after / before |\n|---|---|---|---|');
console.log(row('CLI `exec --profile strict host -- /bin/true`', median(before.cli), median(after.cli)));
console.log(row('library exec() per run, strict', median(before.perRun), median(after.perRun)));
