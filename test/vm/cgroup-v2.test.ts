// prepareCgroup for real on cgroup v2 with systemd, in the guest of
// ../shared/vm (scripts/test-vm.sh runs this file there, as the unprivileged
// user "tester" and as root): the per-run transient scope (the path most
// rootless users take), the delegated path (a caller in a leaf of a delegated
// cgroup), "none" without a manager, limits written, OOM kill and peak memory
// accounted, pids.max enforced, nothing left behind (also when the caller is
// killed), concurrent runs, and what each step costs.
// Must not: touch cgroups or units other than the ones these runs make.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CgroupRun } from '../../src/cgroup/cgroup-run.js';
import { readProcessCgroup } from '../../src/cgroup/systemd-scope.js';
import { detectCgroupBackend, prepareCgroup } from '../../src/cgroup/prepare-cgroup.js';

const REPO = resolve(import.meta.dirname, '../..');
const onV2 = existsSync('/sys/fs/cgroup/cgroup.controllers') && existsSync('/run/systemd/system');
if (!onV2) console.warn('cgroup-v2: skipped: not a cgroup v2 host with systemd (run scripts/test-vm.sh)');

const uid = process.getuid!();
const root = uid === 0;
const userFlag = root ? [] : ['--user'];
const MiB = 1024 * 1024;
let serial = 0;
const runId = () => `vm${process.pid}-${++serial}`;
const read = (f: string) => readFileSync(f, 'utf8').trim();

function exited(p: ChildProcess): Promise<NodeJS.Signals | number | null> {
  return new Promise((res) => {
    if (p.exitCode !== null || p.signalCode !== null) res(p.signalCode ?? p.exitCode);
    else p.once('exit', (code, signal) => res(signal ?? code));
  });
}

/** A process that waits for a line on stdin, then runs `command`: it can be put in the cgroup first. */
function startWaiting(command: string): ChildProcess {
  return spawn('/bin/sh', ['-c', `read go; exec ${command}`], { stdio: ['pipe', 'ignore', 'ignore'] });
}

async function waitUntil(check: () => boolean, ms = 20_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

const scopeDirOf = (c: CgroupRun) => dirname(c.path);
const unitOf = (c: CgroupRun) => scopeDirOf(c).split('/').pop()!;
function unitState(unit: string): string {
  return spawnSync('systemctl', [...userFlag, 'show', '-p', 'LoadState', '-p', 'ActiveState', '--value', unit], { encoding: 'utf8' }).stdout.trim().replace(/\n/g, ' ');
}
const gone = (c: CgroupRun) => !existsSync(scopeDirOf(c)) && unitState(unitOf(c)) === 'not-found inactive';

let scratch = '';
/** Bundles a small ESM script that imports src/ (run as a separate process with its own cgroup). */
async function bundle(name: string, code: string): Promise<string> {
  const out = join(scratch, `${name}.mjs`);
  await build({
    stdin: { contents: code, resolveDir: REPO, loader: 'ts' },
    bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'silent',
  });
  return out;
}

/** A caller that makes one run with a 32 MiB limit, moves a memory hog in, and prints what it saw. */
const HOG_RUN = `
  import { spawn } from 'node:child_process';
  import { existsSync, readFileSync, writeFileSync } from 'node:fs';
  import { prepareCgroup } from './src/cgroup/prepare-cgroup.ts';
  const c = await prepareCgroup({ memoryBytes: 32 * 1024 * 1024, pids: 32 }, 'vmchild-' + process.pid);
  if (c.backend === 'none') { console.log(JSON.stringify(c)); process.exit(0); }
  const hog = spawn('/bin/sh', ['-c', 'read go; exec tail /dev/zero'], { stdio: ['pipe', 'ignore', 'ignore'] });
  if (c.attach) await c.attach(hog.pid);
  for (const f of c.joinFiles) writeFileSync(f, String(hog.pid));
  const limits = ['memory.max', 'memory.swap.max', 'pids.max'].map((f) => readFileSync(c.path + '/' + f, 'utf8').trim());
  const inside = readFileSync('/proc/' + hog.pid + '/cgroup', 'utf8').trim();
  hog.stdin.end('go\\n');
  const status = await new Promise((r) => hog.on('exit', (code, sig) => r(sig ?? code)));
  const usage = c.collect();
  c.remove();
  console.log(JSON.stringify({ backend: c.backend, path: c.path, attach: !!c.attach, joinFiles: c.joinFiles, limits, inside, status, usage, left: existsSync(c.path) }));
`;

describe.skipIf(!onV2)(`cgroup v2 as ${root ? 'root' : `uid ${uid}`}`, () => {
  const made: CgroupRun[] = [];
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'cgroup-v2-test-'));
    console.log(`caller: uid ${uid}, ${readFileSync('/proc/self/cgroup', 'utf8').trim()}, kernel ${read('/proc/sys/kernel/osrelease')}`);
  });
  afterAll(() => {
    for (const c of made) c.remove();
    rmSync(scratch, { recursive: true, force: true });
  });

  async function prepare(limits: { memoryBytes: number | null; pids: number | null }, id = runId()): Promise<CgroupRun> {
    const c = await prepareCgroup(limits, id);
    if (c.backend === 'none') throw new Error(`expected cgroup2, got none: ${c.reason}`);
    made.push(c);
    return c;
  }

  it('a caller in a systemd unit with other processes gets a transient scope per run', () => {
    const choice = detectCgroupBackend();
    console.log('choice:', JSON.stringify(choice));
    expect(choice).toMatchObject({ kind: 'cgroup2-scope', manager: root ? 'system' : 'user', slice: root ? 'system.slice' : 'app.slice' });
  });

  it('scope: limits written, the process moved in is OOM-killed, collect() sees it, remove() leaves nothing', async () => {
    const c = await prepare({ memoryBytes: 32 * MiB, pids: 32 });
    expect(c.backend).toBe('cgroup2');
    expect(c.joinFiles).toEqual([]);
    expect(c.attach).toBeTypeOf('function');
    expect(c.cpuUsage).toEqual({ file: `${c.path}/cpu.stat`, format: 'cgroup2' });
    expect(c.collect()).toEqual({ peakMemoryBytes: null, oomKilled: false, cpuUs: null }); // before attach
    const hog = startWaiting('tail /dev/zero');
    await c.attach!(hog.pid!);
    expect(readProcessCgroup(hog.pid!)).toBe(c.path.replace(/^\/sys\/fs\/cgroup/, ''));
    expect(read(`${c.path}/memory.max`)).toBe(String(32 * MiB));
    expect(read(`${c.path}/memory.swap.max`)).toBe('0');
    expect(read(`${c.path}/pids.max`)).toBe('32');
    expect(read(`${scopeDirOf(c)}/cgroup.subtree_control`).split(' ')).toEqual(expect.arrayContaining(['memory', 'pids']));
    expect(read(`${scopeDirOf(c)}/cgroup.procs`)).toBe(''); // no internal processes: all in leaves
    console.log(`scope ${unitOf(c)}: ${unitState(unitOf(c))}`);
    hog.stdin!.end('go\n');
    expect(await exited(hog)).toBe('SIGKILL');
    // the scope outlives the hog (its keeper holds it), so the numbers are still there
    const usage = c.collect();
    console.log('hog usage:', JSON.stringify(usage), 'memory.events:', read(`${c.path}/memory.events`).replace(/\n/g, ' '));
    expect(usage.oomKilled).toBe(true);
    expect(usage.peakMemoryBytes).toBeGreaterThanOrEqual(30 * MiB);
    expect(usage.peakMemoryBytes).toBeLessThanOrEqual(32 * MiB);
    expect(usage.cpuUs).toBeGreaterThan(0);
    c.remove();
    expect(existsSync(c.path)).toBe(false);
    expect(await waitUntil(() => gone(c)), `${scopeDirOf(c)} / ${unitState(unitOf(c))}`).toBe(true);
    c.remove(); // idempotent
  });

  it('scope: memory.peak counts what a process that fits allocated', async () => {
    const c = await prepare({ memoryBytes: 64 * MiB, pids: 32 });
    const fits = startWaiting(`sh -c 'head -c ${24 * MiB} /dev/zero | tail -c ${24 * MiB} >/dev/null'`);
    await c.attach!(fits.pid!);
    fits.stdin!.end('go\n');
    expect(await exited(fits)).toBe(0);
    const usage = c.collect();
    expect(usage.oomKilled).toBe(false);
    expect(usage.peakMemoryBytes).toBeGreaterThanOrEqual(24 * MiB);
    c.remove();
  });

  it('scope: pids.max refuses forks', async () => {
    const c = await prepare({ memoryBytes: null, pids: 5 });
    const forky = startWaiting(`sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait' 2>/dev/null`);
    await c.attach!(forky.pid!);
    forky.stdin!.end('go\n');
    await exited(forky);
    expect(read(`${c.path}/pids.events`)).toMatch(/^max [1-9]/);
    c.remove();
  });

  it('scope: remove() kills what is left', async () => {
    const c = await prepare({ memoryBytes: 64 * MiB, pids: 32 });
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    await c.attach!(sleeper.pid!);
    c.remove();
    expect(await exited(sleeper)).toBe('SIGKILL');
    expect(await waitUntil(() => gone(c))).toBe(true);
  });

  it('scope: fails closed when a limit cannot be written, and leaves nothing', async () => {
    const c = await prepare({ memoryBytes: 64 * MiB, pids: 2 ** 40 });
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    const err = await c.attach!(sleeper.pid!).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'SandboxError', code: 'host', message: `cannot write "1099511627776" to ${c.path}/pids.max: EINVAL` });
    expect(await exited(sleeper)).toBe('SIGKILL');
    expect(await waitUntil(() => gone(c))).toBe(true);
  });

  it('scope: a caller killed with SIGKILL leaves no scope behind', async () => {
    // the attached process ends with its stdin, as the stage ends with its parent (PDEATHSIG)
    const script = await bundle('killed', `
      import { spawn } from 'node:child_process';
      import { prepareCgroup } from './src/cgroup/prepare-cgroup.ts';
      const c = await prepareCgroup({ memoryBytes: 64 * 1024 * 1024, pids: 32 }, 'vmkilled-' + process.pid);
      const p = spawn('/bin/sh', ['-c', 'read x'], { stdio: ['pipe', 'ignore', 'ignore'] });
      await c.attach(p.pid);
      console.log(c.path);
      setInterval(() => {}, 1000);
    `);
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const path = await new Promise<string>((res) => child.stdout!.once('data', (b: Buffer) => res(b.toString().trim())));
    expect(existsSync(path)).toBe(true);
    child.kill('SIGKILL');
    await exited(child);
    expect(await waitUntil(() => !existsSync(dirname(path)))).toBe(true);
    expect(unitState(dirname(path).split('/').pop()!)).toBe('not-found inactive');
  });

  it('scope: concurrent runs get their own scopes', async () => {
    const runs = await Promise.all(Array.from({ length: 4 }, () => prepare({ memoryBytes: 32 * MiB, pids: 16 })));
    const procs = runs.map(() => spawn('sleep', ['60'], { stdio: 'ignore' }));
    await Promise.all(runs.map((c, i) => c.attach!(procs[i]!.pid!)));
    expect(new Set(runs.map((c) => c.path)).size).toBe(4);
    runs.forEach((c, i) => expect(readProcessCgroup(procs[i]!.pid!)).toBe(c.path.replace(/^\/sys\/fs\/cgroup/, '')));
    for (const c of runs) c.remove();
    for (const c of runs) expect(await waitUntil(() => gone(c))).toBe(true);
  });

  it('scope: cost per run (prepare, attach, remove)', async () => {
    const samples: { prepare: number; attach: number; remove: number }[] = [];
    for (let i = 0; i < 10; i++) {
      const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
      const t0 = performance.now();
      const c = await prepare({ memoryBytes: 64 * MiB, pids: 64 });
      const t1 = performance.now();
      await c.attach!(sleeper.pid!);
      const t2 = performance.now();
      c.remove();
      const t3 = performance.now();
      samples.push({ prepare: t1 - t0, attach: t2 - t1, remove: t3 - t2 });
      await exited(sleeper);
    }
    const median = (k: 'prepare' | 'attach' | 'remove') => {
      const v = samples.map((s) => s[k]).sort((a, b) => a - b);
      return `${k} median ${((v[4]! + v[5]!) / 2).toFixed(1)} ms (min ${v[0]!.toFixed(1)}, max ${v[9]!.toFixed(1)})`;
    };
    console.log(`cost per run over 10 runs (${root ? 'system' : 'user'} manager): ${median('prepare')}; ${median('attach')}; ${median('remove')}`);
  }, 300_000);

  it('delegated: a caller in a leaf of a Delegate=yes scope makes sibling cgroups, no scope per run', async () => {
    const script = await bundle('hog', HOG_RUN);
    // the leaf set-up a delegated caller does once: move itself to a leaf, hand memory and pids to children
    const r = spawnSync('systemd-run', [...userFlag, '--scope', '--quiet', '--collect', '-p', 'Delegate=yes', '--', '/bin/sh', '-c',
      'C=/sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup); mkdir "$C/supervisor" && echo $$ > "$C/supervisor/cgroup.procs" && echo "+memory +pids" > "$C/cgroup.subtree_control" && exec "$0" "$1"',
      process.execPath, script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    console.log('delegated run:', r.stdout.trim());
    expect(out).toMatchObject({
      backend: 'cgroup2', attach: false, limits: [String(32 * MiB), '0', '32'], status: 'SIGKILL',
      usage: { oomKilled: true }, left: false,
    });
    expect(out.path).toMatch(/\/run-[^/]+\.scope\/rootless-sandbox-vmchild-\d+$/);
    expect(out.joinFiles).toEqual([`${out.path}/cgroup.procs`]);
    expect(out.inside).toBe(`0::${out.path.replace(/^\/sys\/fs\/cgroup/, '')}`);
    expect(out.usage.peakMemoryBytes).toBeGreaterThanOrEqual(30 * MiB);
  });

  it.skipIf(root)('none: no delegated cgroup and no user manager, with the reason', async () => {
    const script = await bundle('none', HOG_RUN);
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: '/nonexistent' } });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.backend).toBe('none');
    expect(out.reason).toMatch(/^cgroup v2: \/user\.slice\/.+\.scope is systemd's and holds this process \(v2's no-internal-processes rule: .+\), and no systemd user manager answers for uid \d+ \(\/nonexistent\/systemd\/private does not exist\)$/);
  });
});
