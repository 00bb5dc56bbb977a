// prepareCgroup for real on a cgroup v1 host (the CI machines): as root the
// run gets cgroups in the memory, pids and cpuacct hierarchies with the limits
// written, processes moved in are accounted and killed by remove(), nothing is
// left behind; as the unprivileged test user the backend is "none". The v2
// path is tested in a v2 guest: test/vm/cgroup-v2.test.ts.
// Must not: touch cgroups other than the ones these runs make.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import type { CgroupRun } from '../../src/cgroup/cgroup-run.js';
import { parseCgroupMounts } from '../../src/cgroup/parse-mountinfo.js';
import { detectCgroupBackend, prepareCgroup } from '../../src/cgroup/prepare-cgroup.js';
import { REPO, SBTEST, isRoot } from './harness.js';

const mounts = parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
const onV1 = mounts.top !== 'cgroup2' && mounts.mounts.some((m) => m.fstype === 'cgroup' && m.controllers.includes('memory'));
const skip = !onV1 ? `/sys/fs/cgroup is ${mounts.top ?? 'not mounted'}, not cgroup v1` : !isRoot ? 'cgroup v1 needs root' : null;
if (skip) console.warn(`cgroup-v1: skipped: ${skip} (test/vm/cgroup-v2.test.ts covers v2)`);

const MiB = 1024 * 1024;
let serial = 0;
const runId = () => `t${process.pid}-${++serial}`;
const read = (f: string) => readFileSync(f, 'utf8').trim();
const dirsOf = (c: CgroupRun) => c.joinFiles.map(dirname);

function exited(p: ChildProcess): Promise<NodeJS.Signals | number | null> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) resolve(p.signalCode ?? p.exitCode);
    else p.once('exit', (code, signal) => resolve(signal ?? code));
  });
}

/** A process waiting for a line on stdin before it runs `command`, so it can be moved first. */
function startWaiting(command: string): ChildProcess {
  return spawn('/bin/sh', ['-c', `read go; exec ${command}`], { stdio: ['pipe', 'ignore', 'ignore'] });
}

function moveInto(c: CgroupRun, pid: number): void {
  for (const f of c.joinFiles) writeFileSync(f, String(pid));
}

describe.skipIf(skip !== null)('cgroup v1 as root', () => {
  const made: CgroupRun[] = [];
  afterAll(() => { for (const c of made) c.remove(); });

  async function prepare(limits: { memoryBytes: number | null; pids: number | null }): Promise<CgroupRun> {
    const c = await prepareCgroup(limits, runId());
    if (c.backend === 'none') throw new Error(`expected cgroup1, got none: ${c.reason}`);
    made.push(c);
    return c;
  }

  it('doctor and runs agree on the backend', () => {
    expect(detectCgroupBackend().kind).toBe('cgroup1');
  });

  it('makes the cgroups below this process\'s own, with the limits written', async () => {
    const c = await prepare({ memoryBytes: 64 * MiB, pids: 32 });
    expect(c.backend).toBe('cgroup1');
    expect(c.attach).toBeUndefined();
    const dirs = dirsOf(c);
    expect(dirs.length).toBeGreaterThanOrEqual(2);
    for (const d of dirs) expect(existsSync(d), d).toBe(true);
    const memory = dirs.find((d) => existsSync(`${d}/memory.limit_in_bytes`))!;
    const pids = dirs.find((d) => existsSync(`${d}/pids.max`))!;
    expect(memory).toBe(c.path);
    // the caller's own memory cgroup (whatever the CI runner put it in) is the parent
    const own = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l))!.split(':')[2]!;
    expect(memory.endsWith(`${own === '/' ? '' : own}/${c.path.split('/').pop()}`)).toBe(true);
    expect(read(`${memory}/memory.limit_in_bytes`)).toBe(String(64 * MiB));
    if (existsSync(`${memory}/memory.memsw.limit_in_bytes`)) expect(read(`${memory}/memory.memsw.limit_in_bytes`)).toBe(String(64 * MiB));
    expect(read(`${pids}/pids.max`)).toBe('32');
    expect(c.cpuUsage).toEqual({ file: expect.stringMatching(/\/cpuacct\.usage$/), format: 'cgroup1' });
  });

  it('accounts a process moved into joinFiles; remove() kills it and leaves no directory', async () => {
    const c = await prepare({ memoryBytes: 64 * MiB, pids: 32 });
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    moveInto(c, sleeper.pid!);
    for (const d of dirsOf(c)) expect(read(`${d}/cgroup.procs`).split('\n')).toContain(String(sleeper.pid));
    expect(readFileSync(`/proc/${sleeper.pid}/cgroup`, 'utf8')).toContain(c.path.split('/').pop());
    const usage = c.collect();
    expect(usage.oomKilled).toBe(false);
    expect(typeof usage.peakMemoryBytes).toBe('number');
    expect(typeof usage.cpuUs).toBe('number');
    c.remove();
    expect(await exited(sleeper)).toBe('SIGKILL');
    for (const d of dirsOf(c)) expect(existsSync(d), d).toBe(false);
    c.remove(); // idempotent
  });

  it('counts CPU time and peak memory, and sees the OOM killer at the memory limit', async () => {
    const c = await prepare({ memoryBytes: 32 * MiB, pids: 32 });
    // 16 MiB held by tail -c: below the limit
    const fits = startWaiting(`sh -c 'head -c ${16 * MiB} /dev/zero | tail -c ${16 * MiB} >/dev/null'`);
    moveInto(c, fits.pid!);
    fits.stdin!.end('go\n');
    expect(await exited(fits)).toBe(0);
    const after = c.collect();
    expect(after.oomKilled).toBe(false);
    expect(after.peakMemoryBytes).toBeGreaterThanOrEqual(16 * MiB);
    expect(after.cpuUs).toBeGreaterThan(0);
    // tail /dev/zero never finds a line end: it grows until the limit
    const hog = startWaiting('tail /dev/zero');
    moveInto(c, hog.pid!);
    hog.stdin!.end('go\n');
    expect(await exited(hog)).toBe('SIGKILL');
    const usage = c.collect();
    expect(usage.oomKilled).toBe(true);
    expect(usage.peakMemoryBytes).toBeGreaterThanOrEqual(30 * MiB);
    expect(usage.peakMemoryBytes).toBeLessThanOrEqual(32 * MiB);
  }, 60_000);

  it('pids.max stops forks', async () => {
    const c = await prepare({ memoryBytes: null, pids: 4 });
    const forky = startWaiting(`sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait'`);
    moveInto(c, forky.pid!);
    forky.stdin!.end('go\n');
    await exited(forky);
    const pidsDir = dirsOf(c).find((d) => existsSync(`${d}/pids.events`))!;
    expect(read(`${pidsDir}/pids.events`)).toMatch(/^max [1-9]/);
  }, 30_000);

  it('fails closed: a limit the kernel refuses is an error naming the file, and nothing is left', async () => {
    const id = runId();
    const err = await prepareCgroup({ memoryBytes: 64 * MiB, pids: 2 ** 40 }, id).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'SandboxError', code: 'host', message: expect.stringMatching(/cannot write "1099511627776" to \/sys\/fs\/cgroup\/.*\/pids\.max: EINVAL/) });
    const leftovers = spawnSync('find', ['/sys/fs/cgroup', '-maxdepth', '6', '-type', 'd', '-name', `rootless-sandbox-${id}`], { encoding: 'utf8' }).stdout.trim();
    expect(leftovers).toBe('');
  });

  it('concurrent runs in one process get their own cgroups', async () => {
    const runs = await Promise.all(Array.from({ length: 8 }, () => prepare({ memoryBytes: 16 * MiB, pids: 8 })));
    expect(new Set(runs.map((c) => c.path)).size).toBe(8);
    for (const c of runs) c.remove();
    for (const c of runs) for (const d of dirsOf(c)) expect(existsSync(d)).toBe(false);
  });
});

describe.skipIf(skip !== null || !SBTEST)('cgroup v1 as an unprivileged user', () => {
  let dir: string | undefined;
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('gets backend "none" with the reason', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cgroup-v1-user-'));
    chmodSync(dir, 0o755);
    const script = join(dir, 'prepare.mjs');
    await build({
      stdin: {
        contents: `import { prepareCgroup } from ${JSON.stringify(join(REPO, 'src/cgroup/prepare-cgroup.ts'))};
          const c = await prepareCgroup({ memoryBytes: 64 * 1024 * 1024, pids: 32 }, 'user-' + process.pid);
          console.log(JSON.stringify(c.backend === 'none' ? c : { backend: c.backend, path: c.path }));`,
        resolveDir: REPO, loader: 'ts',
      },
      bundle: true, platform: 'node', format: 'esm', outfile: script, logLevel: 'silent',
    });
    chmodSync(script, 0o644);
    const r = spawnSync(process.execPath, [script], { uid: SBTEST!.uid, gid: SBTEST!.gid, cwd: dir, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ backend: 'none', reason: 'cgroup v1: no cgroups for unprivileged users (only root can create them on a v1 host)' });
  });
});
