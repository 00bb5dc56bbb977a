// A judge's workload: compile one C++ solution, then run it on N inputs with
// limits (CPU 1 s, wall 3 s, 256 MiB address space, one process), checking
// every answer. The same work bare (no sandbox: the floor), through
// `bwrap` + `prlimit` (what people improvise without root), through
// `sandbox isolate` (one CLI call per step, as isolate's clients make) and,
// when the build has it, through `sandbox serve` (one HTTP request per run on
// its Unix socket). Rounds interleave the modes; prints a Markdown table of
// medians: compile time, runs per second, and per-run overhead over bare.
// Usage: node bench/judge.mjs [inputs=50] [rounds=3]   (root or any user with a subuid range)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const repo = join(import.meta.dirname, '..');
const cli = join(repo, 'bin/sandbox.cjs');
const inputs = Number(process.argv[2] ?? 50);
const rounds = Number(process.argv[3] ?? 3);
const work = mkdtempSync(join(tmpdir(), 'sandbox-bench-judge-'));
chmodSync(work, 0o711); // root's boxes are bound as a subordinate id, which must search the path
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

const SOLUTION = `#include <cstdio>
int main() { long long a, b; if (std::scanf("%lld %lld", &a, &b) != 2) return 2; long long s = 0;
  for (long long i = 0; i < 2000000; i++) s += i % 7; std::printf("%lld\\n", a + b + (s < 0)); return 0; }
`;
const cases = Array.from({ length: inputs }, (_, i) => ({ input: `${i} ${i * 3}\n`, answer: `${i * 4}\n` }));
writeFileSync(join(work, 'a.cpp'), SOLUTION);
cases.forEach((c, i) => writeFileSync(join(work, `in${i}.txt`), c.input));

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const check = (text, i, mode) => { if (text !== cases[i].answer) throw new Error(`${mode}: case ${i}: got ${JSON.stringify(text)}`); };

function bare() {
  const dir = join(work, 'bare');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const t0 = process.hrtime.bigint();
  execFileSync('g++', ['-O2', '-o', join(dir, 'a'), join(work, 'a.cpp')]);
  const compile = ms(t0);
  const t1 = process.hrtime.bigint();
  cases.forEach((c, i) => {
    const out = spawnSync('prlimit', ['--cpu=1', '--as=268435456', '--', join(dir, 'a')], { input: c.input, encoding: 'utf8' });
    check(out.stdout, i, 'bare');
  });
  return { compile, run: ms(t1) };
}

const BWRAP = ['--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL', '--tmpfs', '/', '--ro-bind', '/usr', '/usr',
  ...['bin', 'lib', 'lib64'].flatMap((d) => ['--symlink', `usr/${d}`, `/${d}`]),
  '--dir', '/etc', '--ro-bind', '/etc/ld.so.cache', '/etc/ld.so.cache', '--ro-bind', '/etc/alternatives', '/etc/alternatives',
  '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp'];

function bwrap() {
  const dir = join(work, 'bwrap');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  cpSync(join(work, 'a.cpp'), join(dir, 'a.cpp'));
  const box = ['--bind', dir, '/box', '--chdir', '/box'];
  const t0 = process.hrtime.bigint();
  execFileSync('bwrap', [...BWRAP, ...box, 'prlimit', '--cpu=10', '--', '/usr/bin/g++', '-O2', '-o', 'a', 'a.cpp'], { env: { PATH: '/usr/bin:/bin' } });
  const compile = ms(t0);
  const t1 = process.hrtime.bigint();
  cases.forEach((c, i) => {
    const out = spawnSync('bwrap', [...BWRAP, ...box, 'prlimit', '--cpu=1', '--as=268435456', '--nproc=1', '--', './a'], { input: c.input, encoding: 'utf8', env: {} });
    check(out.stdout, i, 'bwrap');
  });
  return { compile, run: ms(t1) };
}

const isolateEnv = { ...process.env, ISOLATE_CONFIG_FILE: join(work, 'isolate.cf') };
writeFileSync(isolateEnv.ISOLATE_CONFIG_FILE, `box_root = ${join(work, 'boxes')}\n`);
const isolate = (args, opts = {}) => execFileSync(process.execPath, [cli, 'isolate', '-b', '5', ...args], { env: isolateEnv, encoding: 'utf8', ...opts });

function viaIsolate() {
  isolate(['--cleanup']);
  const boxDir = isolate(['--init']).trim();
  const box = join(boxDir, 'box');
  cpSync(join(work, 'a.cpp'), join(box, 'a.cpp'));
  cases.forEach((c, i) => writeFileSync(join(box, `in${i}.txt`), c.input));
  const t0 = process.hrtime.bigint();
  isolate(['-p', '-t', '10', '-w', '20', '-E', 'PATH=/usr/bin:/bin', '-s', '--run', '--', '/usr/bin/g++', '-O2', '-o', 'a', 'a.cpp']);
  const compile = ms(t0);
  const t1 = process.hrtime.bigint();
  cases.forEach((_, i) => {
    isolate(['-t', '1', '-w', '3', '-m', '262144', '-i', `in${i}.txt`, '-o', `out${i}.txt`, '-M', join(work, 'meta'), '-s', '--run', '--', './a']);
    check(readFileSync(join(box, `out${i}.txt`), 'utf8'), i, 'isolate');
  });
  const run = ms(t1);
  isolate(['--cleanup']);
  return { compile, run };
}

/** `sandbox serve` on a Unix socket, when this build has the command. */
async function startServe() {
  const help = spawnSync(process.execPath, [cli, 'serve', '--help'], { encoding: 'utf8' });
  if (help.status !== 0) return null;
  const socket = join(work, 'serve.sock');
  const child = spawn(process.execPath, [cli, 'serve', '--socket', socket], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(socket)) { child.kill(); return null; }
  return { socket, stop: () => child.kill('SIGTERM') };
}

function post(socket, body, agent) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path: '/run', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(Buffer.concat(chunks).toString())) : reject(new Error(`${res.statusCode}: ${Buffer.concat(chunks)}`))));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function viaServe(serve) {
  // keep-alive within a round, as a grader's client would; a new agent each round (the server closes idle connections)
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const source = { path: 'a.cpp', content: SOLUTION };
  const t0 = process.hrtime.bigint();
  const compiled = await post(serve.socket, {
    command: ['/usr/bin/g++', '-O2', '-o', 'a', 'a.cpp'], profile: 'strict', files: [source], returnFiles: ['a'], outputEncoding: 'base64',
    limits: { cpuTime: 10, pids: 64 }, env: { PATH: '/usr/bin:/bin' },
  }, agent);
  const compile = ms(t0);
  const binary = compiled.files?.find((f) => f.path === 'a');
  if (!binary) throw new Error(`serve: no binary back: ${JSON.stringify(compiled).slice(0, 300)}`);
  const t1 = process.hrtime.bigint();
  for (const [i, c] of cases.entries()) {
    const r = await post(serve.socket, {
      command: ['./a'], profile: 'strict', files: [{ path: 'a', base64: binary.base64, mode: 0o755 }], stdin: c.input,
      limits: { cpuTime: 1, wallTime: 3, memory: '256m' },
    }, agent);
    check(r.stdout, i, 'serve');
  }
  const run = ms(t1);
  agent.destroy();
  return { compile, run };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const serve = await startServe();
const modes = [['bare (no sandbox)', bare], ['bwrap + prlimit', bwrap], ['sandbox isolate', viaIsolate], ...(serve ? [['sandbox serve', () => viaServe(serve)]] : [])];
const rows = new Map(modes.map(([name]) => [name, []]));
for (let r = 0; r < rounds; r++) {
  for (const [name, fn] of modes) rows.get(name).push(await fn());
}
serve?.stop();
const bareRun = median(rows.get('bare (no sandbox)').map((x) => x.run)) / inputs;
console.log(`| ${inputs} runs of a C++ solution (median of ${rounds} rounds) | compile | runs per second | per run | overhead per run over bare |`);
console.log('|---|---|---|---|---|');
for (const [name, results] of rows) {
  const compile = median(results.map((x) => x.compile));
  const perRun = median(results.map((x) => x.run)) / inputs;
  console.log(`| ${name} | ${compile.toFixed(0)} ms | ${(1000 / perRun).toFixed(1)} | ${perRun.toFixed(1)} ms | ${(perRun - bareRun).toFixed(1)} ms |`);
}
