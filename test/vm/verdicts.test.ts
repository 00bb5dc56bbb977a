// End-to-end verdicts on cgroup v2 (run in the ../shared/vm guest by
// scripts/test-vm.sh, as the rootless user "tester" and as root): the CLI
// gets a cgroup per run and reports what the kernel accounted.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain ESM helper without types
import { buildProbe } from '../probe/build-probe.mjs';

const onV2 = spawnSync('stat', ['-fc', '%T', '/sys/fs/cgroup'], { encoding: 'utf8' }).stdout.trim() === 'cgroup2fs';
if (!onV2) console.warn('vm verdict tests skipped: /sys/fs/cgroup is not cgroup v2 (scripts/test-vm.sh runs them in the guest)');

const cli = join(import.meta.dirname, '..', '..', 'bin', 'sandbox.cjs');
const dir = mkdtempSync(join(tmpdir(), 'sandbox-vm-verdicts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function judged(args: string[], command: string[]) {
  const result = join(dir, `r${++n}.json`);
  spawnSync(process.execPath, [cli, 'exec', '--result', result, ...args, 'host', ...command], { stdio: 'ignore', timeout: 110_000 });
  return JSON.parse(readFileSync(result, 'utf8'));
}

describe.skipIf(!onV2)('verdicts on cgroup v2', () => {
  it('a memory hog is MLE with the OOM flag, from a cgroup of its own', async () => {
    const probe = await buildProbe();
    const r = await judged(['--memory', '48m', '-v', `${probe}:/probe`], ['/probe', 'alloc:128']);
    expect(r.status, JSON.stringify(r.error ?? r)).toBe('MLE');
    expect(r.oomKilled).toBe(true);
    expect(r.limits.backend).toBe('cgroup2');
  });

  it('memory.peak is within 5% of a known allocation', async () => {
    const probe = await buildProbe();
    const r = await judged(['--memory', '256m', '-v', `${probe}:/probe`], ['/probe', 'alloc:64']);
    expect(r.status).toBe('OK');
    const mib = r.peakMemoryKiB / 1024;
    // the probe touches 64 MiB; the stage, pid 1 and the probe's own pages add a little
    expect(mib).toBeGreaterThanOrEqual(64);
    expect(mib).toBeLessThanOrEqual(64 * 1.05);
  });

  it('CPU time of the tree from cpu.stat: TLE within 50 ms', async () => {
    const probe = await buildProbe();
    const r = await judged(['--cpu-time', '1', '-v', `${probe}:/probe`], ['/probe', 'spin:10']);
    expect(r.status).toBe('TLE');
    expect(r.cpuTimeMs.total).toBeGreaterThanOrEqual(1000);
    // emulated guest: sampling every 10 ms, but a tick here may be slower
    expect(r.cpuTimeMs.total).toBeLessThanOrEqual(1050);
  });

  it('pids.max contains a fork bomb', async () => {
    // with a memory limit the run gets a cgroup, and pids.max joins it
    const r = await judged(['--memory', '256m', '--pids', '16', '--wall-time', '5'], ['/bin/sh', '-c', 'f(){ f | f & }; f; sleep 30']);
    expect(r.status).toBe('WLE');
    expect(r.limits.backend).toBe('cgroup2');
    // nothing survives (no pgrep in the guest: read /proc)
    const left = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('f(){ f | f'); } catch { return false; }
    });
    expect(left).toEqual([]);
  });
});
