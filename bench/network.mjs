// Networking: start-up of a sandbox with --network none, pasta and slirp4netns
// (library exec() of /bin/true, interleaved rounds, median), and TCP
// throughput through each helper against podman with the same helper, to a
// server in a network namespace the benchmark makes (a veth pair: the
// "internet"; root only). Prints Markdown.
// Usage: node bench/network.mjs [runs] [MiB]   (podman from bench/setup.sh)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSandbox } from '../dist/index.js';
import { buildProbe } from '../test/probe/build-probe.mjs';

const runs = Number(process.argv[2] ?? 140);
const mib = Number(process.argv[3] ?? 256);
const modes = ['none', 'pasta', 'slirp4netns'];
const quiet = ['ignore', 'ignore', 'inherit'];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** ms per run: to exec of the workload, and to the result. */
async function perRun(network, n) {
  let started = 0;
  let done = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const p = await spawnSandbox({ command: ['/bin/true'], network, stdio: quiet });
    await p.started;
    started += performance.now() - t0;
    const r = await p.result;
    done += performance.now() - t0;
    if (r.exitCode !== 0) throw new Error(JSON.stringify(r));
  }
  return { started: started / n, done: done / n };
}

for (const m of modes) for (let i = 0; i < 5; i++) await perRun(m, 1); // warm-up
const rounds = 7;
const times = Object.fromEntries(modes.map((m) => [m, []]));
for (let i = 0; i < rounds; i++) for (const m of modes) times[m].push(await perRun(m, Math.ceil(runs / rounds / modes.length)));
const who = process.getuid() === 0 ? 'root' : process.env.USER ?? `uid ${process.getuid()}`;
console.log(`### ${new Date().toISOString().slice(0, 10)}, ${who}: start-up with a network (library exec() of /bin/true, default profile)\n`);
console.log('| --network | to exec, ms | added to none | whole run, ms | added to none |');
console.log('|---|---|---|---|---|');
const med = (m, k) => median(times[m].map((t) => t[k]));
for (const m of modes) {
  const add = (k) => (m === 'none' ? '' : `+${(med(m, k) - med('none', k)).toFixed(2)} ms`);
  console.log(`| ${m} | ${med(m, 'started').toFixed(2)} | ${add('started')} | ${med(m, 'done').toFixed(2)} | ${add('done')} |`);
}
console.log('\n(median of 7 interleaved rounds per mode)');
console.log();

if (process.getuid() !== 0) {
  console.log('(throughput: skipped, the test network namespace needs root)\n');
  process.exit(0);
}

// the "internet": a namespace with a sink server behind a veth pair
const ns = `sbbench-${process.pid}`;
const veth = `sbb${process.pid % 100000}`;
const addr = '10.99.1.2';
let port = 0;
const ip = (...a) => execFileSync('ip', a);
ip('netns', 'add', ns);
let sink;
const rootfs = mkdtempSync(join(tmpdir(), 'sandbox-bench-net-'));
try {
  ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
  ip('addr', 'add', '10.99.1.1/24', 'dev', veth);
  ip('link', 'set', veth, 'up');
  ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
  ip('-n', ns, 'link', 'set', 'eth0', 'up');
  const script = `const srv = require('net').createServer((s) => { s.resume(); s.on('end', () => s.end()); }).listen(0, '${addr}', () => console.log(srv.address().port))`;
  sink = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  port = Number(await new Promise((r) => sink.stdout.setEncoding('utf8').once('data', r)));

  const probe = await buildProbe();
  copyFileSync(probe, join(rootfs, 'probe'));
  execFileSync('chmod', ['755', join(rootfs, 'probe')]);
  for (const d of ['proc', 'dev', 'sys', 'etc', 'tmp']) mkdirSync(join(rootfs, d));
  execFileSync('chmod', ['755', rootfs]);
  const send = `send:${addr}:${port}:${mib}`;
  const sandboxRun = (helper) => {
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', 'bin/sandbox.cjs'), 'exec', '--network', helper, '-v', `${probe}:/probe`, 'host', '/probe', send], { encoding: 'utf8' });
    return JSON.parse(r.stdout)[send];
  };
  const podmanRun = (helper) => {
    // runc: crun refuses this host's hybrid cgroups; explicit rlimits: root here lacks CAP_SYS_RESOURCE
    const r = spawnSync('podman', ['--runtime', 'runc', 'run', '--rm', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024',
      '--network', helper, '--rootfs', rootfs, '/probe', send], { encoding: 'utf8' });
    if (r.status !== 0) return { error: (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`).slice(0, 120) };
    return JSON.parse(r.stdout)[send];
  };
  const podman = spawnSync('podman', ['--version'], { encoding: 'utf8' });
  const podmanVersion = podman.status === 0 ? podman.stdout.trim() : null;
  console.log(`### ${new Date().toISOString().slice(0, 10)}, root: TCP throughput out through the helper (${mib} MiB to a server behind a veth pair, best of 3)\n`);
  console.log(`| helper | sandbox MiB/s | ${podmanVersion ?? 'podman (not installed)'} MiB/s |`);
  console.log('|---|---|---|');
  for (const helper of ['pasta', 'slirp4netns']) {
    const best = (fn) => {
      const rs = [fn(helper), fn(helper), fn(helper)];
      const ok = rs.filter((r) => r && r.ok);
      return ok.length ? String(Math.max(...ok.map((r) => r.mib_per_s))) : `failed: ${rs[0]?.error ?? JSON.stringify(rs[0])}`;
    };
    console.log(`| ${helper} | ${best(sandboxRun)} | ${podmanVersion ? best(podmanRun) : 'n/a'} |`);
  }
  console.log();
} finally {
  sink?.kill('SIGKILL');
  ip('netns', 'del', ns);
  rmSync(rootfs, { recursive: true, force: true });
}
