// Judge throughput: runs per second of /bin/true through the library with
// limits and accounting on (CPU, wall, memory, pids, output relayed and
// capped), sequentially and 2 at a time, against a bwrap loop doing the same
// from the same Node process; and the accounting's cost per run.
import { spawn } from 'node:child_process';
import { exec, run } from '../dist/index.js';

const seconds = Number(process.argv[2] ?? 5);
const LIMITS = { cpuTime: 1, wallTime: 5, memory: '64m', pids: 32, output: '1m' };
const bwrapArgs = [
  '--unshare-all', '--unshare-user', '--die-with-parent', '--new-session', '--uid', '1000', '--gid', '1000', '--cap-drop', 'ALL',
  '--tmpfs', '/', '--ro-bind', '/usr', '/usr', ...['bin', 'sbin', 'lib', 'lib64'].flatMap((d) => ['--symlink', `usr/${d}`, `/${d}`]),
  '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--remount-ro', '/', '/bin/true',
];

const bwrapOnce = () => new Promise((res, rej) => {
  const c = spawn('bwrap', bwrapArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  c.stdout.resume();
  c.stderr.resume();
  c.on('close', (code) => (code === 0 ? res() : rej(new Error(`bwrap exit ${code}`))));
});
const judged = async () => {
  const r = await run({ command: ['/bin/true'], profile: 'strict', limits: LIMITS });
  if (r.status !== 'OK') throw new Error(JSON.stringify(r));
};
const plain = async () => {
  const r = await exec({ command: ['/bin/true'], profile: 'strict', stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 'OK') throw new Error(JSON.stringify(r));
};

async function rate(fn, parallel) {
  for (let i = 0; i < 5; i++) await fn();
  let done = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (Date.now() < end) { await fn(); done++; }
  }));
  return done / seconds;
}

const rows = [];
for (const parallel of [1, 2]) {
  rows.push([`sandbox run() with limits and accounting, ${parallel} at a time`, await rate(judged, parallel)]);
  rows.push([`sandbox exec() without limits, ${parallel} at a time`, await rate(plain, parallel)]);
  rows.push([`bwrap from the same Node process, ${parallel} at a time`, await rate(bwrapOnce, parallel)]);
}
const [judged1, plain1] = [rows[0][1], rows[1][1]];
console.log([
  `### ${new Date().toISOString().slice(0, 10)}, ${process.getuid() === 0 ? 'root' : 'unprivileged user'}: throughput of /bin/true (strict profile), ${seconds} s each`,
  '',
  '| what | runs/s | ms per run |',
  '|---|---|---|',
  ...rows.map(([what, r]) => `| ${what} | ${r.toFixed(0)} | ${(1000 / r).toFixed(2)} |`),
  '',
  `Accounting cost per run (sequential): ${((1000 / judged1) - (1000 / plain1)).toFixed(2)} ms (limits op, relayed output, rlimits, cgroup if any).`,
  '',
].join('\n'));
