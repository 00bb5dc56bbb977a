// The library API (`import { exec } from 'rootless-sandbox'`): the same run
// path as the CLI, typed results, pipes, abort, concurrency; as root in this
// process and as the unprivileged user through a child Node process.
import { execFileSync } from 'node:child_process';
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
