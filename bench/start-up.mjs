// Start-up of one sandbox: the CLI against `node -e 0`, bwrap (same
// namespaces and binds) and a Node script that starts bwrap (what any Node
// tool wrapping bwrap costs), with hyperfine; per-run time through the
// library (N runs in one Node process) against a bwrap loop and the kernel
// floor (`unshare -Urmpf --mount-proc /bin/true`), and where the library's
// time goes (its --trace phases, mean per run). Prints Markdown tables.
// Usage: node bench/start-up.mjs [runs]   (as root or any user; bwrap and hyperfine from bench/setup.sh)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../dist/index.js';

const root = join(import.meta.dirname, '..');
const runs = Number(process.argv[2] ?? 200);
const cli = `${process.execPath} ${join(root, 'bin/sandbox.cjs')}`;

// bwrap doing what the strict profile does on the host image
const bwrapArgs = [
  '--unshare-all', '--unshare-user', '--die-with-parent', '--new-session', '--hostname', 'sandbox',
  '--uid', '1000', '--gid', '1000', '--cap-drop', 'ALL',
  '--tmpfs', '/', '--ro-bind', '/usr', '/usr',
  ...['bin', 'sbin', 'lib', 'lib64'].flatMap((d) => ['--symlink', `usr/${d}`, `/${d}`]),
  '--dir', '/etc', '--ro-bind', '/etc/ld.so.cache', '/etc/ld.so.cache', '--ro-bind', '/etc/ssl', '/etc/ssl',
  '--ro-bind', '/etc/alternatives', '/etc/alternatives',
  '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--remount-ro', '/',
  '/bin/true',
];
const bwrap = spawnSync('bwrap', ['--version']).status === 0;

function hyperfine(commands) {
  const out = join(mkdtempSync(join(tmpdir(), 'sandbox-bench-')), 'hyperfine.json');
  execFileSync('hyperfine', ['-N', '--warmup', '5', '--runs', '40', '--export-json', out, ...commands], { stdio: ['ignore', 'ignore', 'inherit'] });
  const data = JSON.parse(readFileSync(out, 'utf8'));
  rmSync(out);
  return data.results.map((r) => ({ command: r.command, meanMs: r.mean * 1000, sdMs: r.stddev * 1000 }));
}

async function perRun(fn, n) {
  for (let i = 0; i < 10; i++) await fn(); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6 / n;
}

const quiet = ['ignore', 'ignore', 'inherit'];
const runLib = async () => {
  const r = await exec({ command: ['/bin/true'], profile: 'strict', stdio: quiet });
  if (r.exitCode !== 0) throw new Error(JSON.stringify(r));
};
const unshareArgs = ['-Urmpf', '--mount-proc', '/bin/true'];
const unshare = spawnSync('unshare', unshareArgs).status === 0;
const runUnshare = () => new Promise((res, rej) => {
  const r = spawnSync('unshare', unshareArgs, { stdio: quiet });
  r.status === 0 ? res() : rej(new Error(`unshare exit ${r.status}`));
});
const phaseSums = new Map();
let traced = 0;
const runLibTraced = async () => {
  const r = await exec({ command: ['/bin/true'], profile: 'strict', stdio: quiet, trace: (p, ms) => phaseSums.set(p, (phaseSums.get(p) ?? 0) + ms) });
  if (r.exitCode !== 0) throw new Error(JSON.stringify(r));
  traced++;
};
const runBwrap = () => new Promise((res, rej) => {
  const r = spawnSync('bwrap', bwrapArgs, { stdio: quiet });
  r.status === 0 ? res() : rej(new Error(`bwrap exit ${r.status}`));
});
// interleaved rounds, median of the rounds: both see the same machine noise
const rounds = 7;
const libRounds = [];
const bwrapRounds = [];
const unshareRounds = [];
for (let i = 0; i < rounds; i++) {
  libRounds.push(await perRun(runLib, Math.ceil(runs / rounds)));
  if (bwrap) bwrapRounds.push(await perRun(runBwrap, Math.ceil(runs / rounds)));
  if (unshare) unshareRounds.push(await perRun(runUnshare, Math.ceil(runs / rounds)));
}
for (let i = 0; i < Math.min(50, runs); i++) await runLibTraced();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const lib = median(libRounds);
const bwrapLoop = bwrap ? median(bwrapRounds) : null;
const unshareLoop = unshare ? median(unshareRounds) : null;

const shell = (args) => args.map((a) => (/^[\w./=:-]+$/.test(a) ? a : `'${a}'`)).join(' ');
// a Node program that starts bwrap and waits for it: the cost of any Node tool that wraps bwrap
const nodeBwrapScript = join(mkdtempSync(join(tmpdir(), 'sandbox-bench-')), 'node-bwrap.cjs');
writeFileSync(nodeBwrapScript, `process.exitCode = require('child_process').spawnSync('bwrap', ${JSON.stringify(bwrapArgs)}, { stdio: 'inherit' }).status;\n`);
const nodeBwrap = `${process.execPath} ${nodeBwrapScript}`;
const cmds = ['node -e 0', `${cli} exec --profile strict host -- /bin/true`, ...(bwrap ? [`bwrap ${shell(bwrapArgs)}`, nodeBwrap] : [])];
const cliRows = hyperfine(cmds);
const node0 = cliRows[0].meanMs;

const who = process.getuid() === 0 ? 'root' : 'unprivileged user';
const lines = [
  `### ${new Date().toISOString().slice(0, 10)}, ${who}: start-up of \`/bin/true\` under the strict profile`,
  '',
  '| what | mean | ± | vs `node -e 0` |',
  '|---|---|---|---|',
  ...cliRows.map((r, i) => `| ${['`node -e 0`', '`sandbox exec --profile strict host -- /bin/true` (CLI)', '`bwrap` (same namespaces and binds)', 'Node starting bwrap (`spawnSync`)'][i]} | ${r.meanMs.toFixed(1)} ms | ${r.sdMs.toFixed(1)} ms | ${(r.meanMs / node0).toFixed(2)}× |`),
  ...(cliRows[3] ? ['', `CLI / Node starting bwrap: **${(cliRows[1].meanMs / cliRows[3].meanMs).toFixed(2)}×**`] : []),
  '',
  `| per run: ${rounds} interleaved rounds of ${Math.ceil(runs / rounds)} sequential runs in one process | median of rounds |`,
  '|---|---|',
  `| library \`exec()\` (strict) | ${lib.toFixed(2)} ms |`,
  ...(bwrapLoop !== null ? [`| bwrap, spawned from the same Node process | ${bwrapLoop.toFixed(2)} ms (library / bwrap: **${(lib / bwrapLoop).toFixed(2)}×**) |`] : []),
  ...(unshareLoop !== null ? [`| \`unshare ${unshareArgs.join(' ')}\` (kernel floor) | ${unshareLoop.toFixed(2)} ms (library - floor: ${(lib - unshareLoop).toFixed(2)} ms) |`] : []),
  '',
  `| library phase (--trace, mean of ${traced} runs) | ms |`,
  '|---|---|',
  ...[...phaseSums].map(([p, ms]) => `| ${p} | ${(ms / traced).toFixed(2)} |`),
  '',
];
console.log(lines.join('\n'));
