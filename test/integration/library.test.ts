// The library API (`import { exec } from 'rootless-sandbox'`): the same run
// path as the CLI, typed results, pipes, abort, concurrency; as root in this
// process and as the unprivileged user through a child Node process.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { SandboxError, exec, spawnSandbox } from '../../src/index.js';
import { SBTEST, cliEnv, isRoot, missingUsers, packageForUsers, probe } from './harness.js';

describe('library API in this process', () => {
  it('exec resolves to a typed result', async () => {
    const r = await exec({ command: ['/bin/sh', '-c', 'exit 5'], stdio: ['ignore', 'ignore', 'ignore'] });
    expect(r.status).toBe('RE');
    expect(r.exitCode).toBe(5);
    expect(r.signal).toBeNull();
    expect(r.wallTimeMs).toBeGreaterThan(0);
    expect(r.wallTimeMs).toBeLessThan(5000);
    expect(r.peakMemoryKiB).toBeGreaterThan(0);
    expect(r.profile).toBe('default');
    expect(r.idmap.mode).toBe(isRoot ? 'subid' : r.idmap.mode);
  });

  it('pipes carry the workload\'s output', async () => {
    const p = await probe();
    const s = await spawnSandbox({ command: ['/probe', 'ids', 'echo:hello'], volumes: [`${p}:/probe`], profile: 'strict', stdio: ['ignore', 'pipe', 'pipe'] });
    const [out, result] = await Promise.all([text(s.stdout!), s.result]);
    expect(result.status).toBe('OK');
    const report = JSON.parse(out);
    expect(report.ids.uid).toBe(1000);
    expect(report['echo:hello']).toBe('hello');
  });

  it('a signal ends the workload; abort kills the sandbox', async () => {
    const s = await spawnSandbox({ command: ['/bin/sleep', '30'], stdio: ['ignore', 'ignore', 'ignore'] });
    await s.started;
    s.kill('SIGTERM');
    expect(await s.result).toMatchObject({ status: 'SG', signal: 'SIGTERM', exitCode: 143 });
    const ac = new AbortController();
    const pending = exec({ command: ['/bin/sleep', '30'], stdio: ['ignore', 'ignore', 'ignore'], signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    expect(await pending).toMatchObject({ status: 'SG', signal: 'SIGKILL', exitCode: 137 });
  });

  it('kill(SIGKILL) of a running workload still reports its accounting (the stage ends the tree and measures it)', async () => {
    // a CPU spinner: the CPU time it used before the kill must be in the result
    const s = await spawnSandbox({ command: ['/bin/sh', '-c', 'while :; do :; done'], stdio: ['ignore', 'ignore', 'ignore'] });
    await s.started;
    await new Promise((r) => setTimeout(r, 300));
    s.kill('SIGKILL');
    const r = await s.result;
    expect(r).toMatchObject({ status: 'SG', signal: 'SIGKILL', exitCode: 137 });
    expect(r.error).toBeUndefined();
    expect(r.wallTimeMs).toBeGreaterThanOrEqual(250);
    expect(r.cpuTimeMs.total).toBeGreaterThan(100);
    expect(r.limits.killedBy).toBeNull();
  });

  it('set-up and exec failures are results; bad options reject before the stage starts', async () => {
    const missing = await exec({ command: ['no-such-program'], stdio: ['ignore', 'ignore', 'ignore'] });
    expect(missing).toMatchObject({ status: 'XX', exitCode: 127 });
    expect(missing.error?.errno).toBe('ENOENT');
    await expect(exec({ command: ['/bin/true'], user: 'x' })).rejects.toBeInstanceOf(SandboxError);
    await expect(exec({ command: [] })).rejects.toThrow(/missing command/);
  });

  it('concurrent runs from one process are independent', async () => {
    const runs = Array.from({ length: 8 }, (_, i) =>
      exec({ command: ['/bin/sh', '-c', `exit ${i}`], stdio: ['ignore', 'ignore', 'ignore'] }));
    expect((await Promise.all(runs)).map((r) => r.exitCode)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

describe.skipIf(missingUsers)('library API as the unprivileged user', () => {
  it('runs from a child Node process as sbtest', async () => {
    const pkg = packageForUsers();
    const script = `import(${JSON.stringify(join(pkg, 'dist', 'index.js'))}).then(async ({ exec }) => {
      const r = await exec({ command: ['/bin/sh', '-c', 'test "$(id -u)" = 1000 && exit 7'], profile: 'strict', stdio: ['ignore', 'ignore', 'inherit'] });
      console.log(JSON.stringify(r));
    });`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      uid: SBTEST!.uid, gid: SBTEST!.gid, cwd: '/tmp', env: cliEnv(SBTEST!), encoding: 'utf8',
    });
    const r = JSON.parse(out);
    expect(r).toMatchObject({ status: 'RE', exitCode: 7, idmap: { mode: 'subid' }, profile: 'strict' });
  });
});

describe.skipIf(missingUsers)('held user namespace (a process\'s later runs as a user with a range)', () => {
  it('later runs nest in one held namespace: maps written directly, the same host ids, slots still apart', () => {
    const pkg = packageForUsers();
    const shared = mkdtempSync(join(tmpdir(), 'sandbox-nested-'));
    chmodSync(shared, 0o1777);
    try {
      // run 1 and 2 map through newuidmap/newgidmap (the holder is made after the second asks); then two at once nest
      const script = `import(${JSON.stringify(join(pkg, 'dist', 'index.js'))}).then(async ({ run }) => {
        const one = (name) => run({ command: ['/bin/sh', '-c', 'head -1 /proc/self/uid_map; id -u; echo x > /s/' + name + '; sleep 0.3'],
          profile: 'strict', volumes: [${JSON.stringify(shared)} + ':/s:rw'] });
        const out = [];
        for (const name of ['a', 'b']) out.push(await one(name));
        await new Promise((r) => setTimeout(r, 1500));
        out.push(...await Promise.all([one('c'), one('d')]));
        console.log(JSON.stringify(out.map((r) => ({ status: r.status, stdout: r.stdout.toString() }))));
      });`;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        uid: SBTEST!.uid, gid: SBTEST!.gid, cwd: '/tmp', env: cliEnv(SBTEST!), encoding: 'utf8',
      });
      const runs = JSON.parse(out) as { status: string; stdout: string }[];
      const [, start] = readFileSync('/etc/subuid', 'utf8').split('\n').map((l) => l.split(':')).find(([name]) => name === SBTEST!.name)!.map(Number) as [number, number];
      const firstLine = (r: (typeof runs)[number]) => r.stdout.split('\n')[0]!.trim().split(/\s+/).map(Number);
      expect(runs.map((r) => r.status)).toEqual(['OK', 'OK', 'OK', 'OK']);
      // seen from inside, the first line of uid_map names the parent namespace's ids: the host's caller, then the holder's 0
      expect(firstLine(runs[0]!)).toEqual([0, SBTEST!.uid, 1]);
      expect(firstLine(runs[2]!)).toEqual([0, 0, 1]);
      expect(firstLine(runs[3]!)).toEqual([0, 0, 1]);
      for (const [i, name] of ['a', 'b', 'c', 'd'].entries()) {
        expect(runs[i]!.stdout.split('\n')[1]).toBe('1000');
        // inside 1000 is host range start + slot * 1024 + 1000, nested or not
        const owner = statSync(join(shared, name)).uid;
        expect(owner).toBeGreaterThanOrEqual(start + 1000);
        expect((owner - start - 1000) % 1024).toBe(0);
      }
      // two runs at once still hold different slots: different host ids
      expect(statSync(join(shared, 'c')).uid).not.toBe(statSync(join(shared, 'd')).uid);
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
  });
});
