// toRunResult: how a stage outcome becomes a status, an exit code and an error.
import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { planRun } from '../../../src/launch/plan-run.js';
import { errnoName, toRunResult } from '../../../src/run/run-result.js';
import { Op } from '../../../src/stage/protocol.js';
import { aliceNoRange, aliceSubid, resolve, TOOLS } from '../support/fixtures.js';

const spec = resolve({ command: ['prog', 'x'] }, { host: aliceSubid });
const plan = planRun(spec, TOOLS);
const exited = (waitStatus: number) => ({
  kind: 'exited' as const, waitStatus, wallNs: 1_500_000n, userUs: 2000n, systemUs: 500n, maxRssKiB: 1234n,
});
const failedAt = (step: number, errno: number, detail = '') =>
  ({ kind: 'failed' as const, step, errno, detail, what: plan[step]?.what ?? 'stage set-up' });
const E = constants.errno;

describe('toRunResult, exited', () => {
  it('exit 0 is ok/0 with times and memory', () => {
    expect(toRunResult(exited(0), spec, plan)).toStrictEqual({
      seccomp: 'default',
      idmap: { mode: 'subid' },
      profile: 'empty',
      wallTimeMs: 1.5,
      cpuTimeMs: { user: 2, system: 0.5 },
      peakMemoryKiB: 1234,
      status: 'ok',
      exitCode: 0,
      signal: null,
    });
  });

  it('exit 3 is nonzero-exit/3', () => {
    expect(toRunResult(exited(3 << 8), spec, plan)).toMatchObject({ status: 'nonzero-exit', exitCode: 3, signal: null });
    expect(toRunResult(exited(255 << 8), spec, plan)).toMatchObject({ status: 'nonzero-exit', exitCode: 255 });
  });

  it('signal 9 is signaled/137/SIGKILL', () => {
    expect(toRunResult(exited(9), spec, plan)).toMatchObject({ status: 'signaled', exitCode: 137, signal: 'SIGKILL' });
  });

  it('a core dump flag does not change the signal', () => {
    expect(toRunResult(exited(0x80 | 11), spec, plan)).toMatchObject({ status: 'signaled', exitCode: 139, signal: 'SIGSEGV' });
  });

  it('carries the id-map note when the mapping is weaker', () => {
    const single = resolve({}, { host: aliceNoRange });
    const r = toRunResult(exited(0), single, planRun(single, TOOLS));
    expect(r.idmap).toEqual({ mode: 'single', note: single.idmap.note });
    expect(r.idmap.note).toContain('/etc/subuid');
  });
});

describe('toRunResult, failed', () => {
  const execStep = plan.findIndex((o) => o.code === Op.EXEC);

  it('ENOENT at EXEC is exec-failed/127 with a hint about PATH', () => {
    const r = toRunResult(failedAt(execStep, E.ENOENT, 'execute prog'), spec, plan);
    expect(r).toMatchObject({
      status: 'exec-failed', exitCode: 127, signal: null, wallTimeMs: 0, peakMemoryKiB: 0,
      cpuTimeMs: { user: 0, system: 0 }, profile: 'empty',
    });
    expect(r.error!.message).toBe('execute prog: ENOENT');
    expect(r.error!.errno).toBe('ENOENT');
    expect(r.error!.hint).toContain(`PATH=${spec.searchPath}`);
  });

  it('EACCES at EXEC is exec-failed/126', () => {
    const r = toRunResult(failedAt(execStep, E.EACCES), spec, plan);
    expect(r).toMatchObject({ status: 'exec-failed', exitCode: 126 });
    expect(r.error).toEqual({ message: 'execute prog: EACCES', errno: 'EACCES', hint: expect.stringContaining('not executable') });
  });

  it('ENOEXEC at EXEC is exec-failed/126', () => {
    expect(toRunResult(failedAt(execStep, E.ENOEXEC), spec, plan)).toMatchObject({ status: 'exec-failed', exitCode: 126 });
  });

  it('another step is setup-failed/125 with the op description and errno name', () => {
    const step = plan.findIndex((o) => o.code === Op.BIND);
    expect(plan[step]!.what).toBe('bind /oldroot/usr on /newroot/usr');
    const r = toRunResult(failedAt(step, E.EACCES, 'permission denied on /usr'), spec, plan);
    expect(r).toMatchObject({ status: 'setup-failed', exitCode: 125, signal: null });
    expect(r.error!.message).toBe('bind /oldroot/usr on /newroot/usr: EACCES (permission denied on /usr)');
    expect(r.error!.errno).toBe('EACCES');
    expect(r.error!.hint).toContain('o+x');
  });

  it('a refused id map gets a subuid hint', () => {
    const step = plan.findIndex((o) => o.code === Op.MAP_EXEC);
    const r = toRunResult(failedAt(step, E.EPERM), spec, plan);
    expect(r.status).toBe('setup-failed');
    expect(r.error!.message).toBe('/usr/bin/newuidmap PID 0 1000 1 1 100000 65536: EPERM');
    expect(r.error!.hint).toContain('/etc/subuid');
  });

  it('a step the plan does not have is reported as a bug', () => {
    const r = toRunResult(failedAt(plan.length + 5, E.EINVAL), spec, plan);
    expect(r).toMatchObject({ status: 'setup-failed', exitCode: 125 });
    expect(r.error!.message).toBe('stage set-up: EINVAL');
    expect(r.error!.hint).toContain('bug');
  });

  it('an errno without a name is shown as a number', () => {
    expect(errnoName(E.ENOENT)).toBe('ENOENT');
    expect(errnoName(99999)).toBe('errno 99999');
    const step = plan.findIndex((o) => o.code === Op.SETHOSTNAME);
    const r = toRunResult(failedAt(step, 99999), spec, plan);
    expect(r.error).toEqual({ message: 'set hostname sandbox: errno 99999', errno: 'errno 99999' });
  });
});

describe('toRunResult, lost', () => {
  it('is setup-failed/125 with the reason', () => {
    expect(toRunResult({ kind: 'lost', reason: 'stage exited with 121' }, spec, plan)).toStrictEqual({
      seccomp: 'default',
      idmap: { mode: 'subid' },
      profile: 'empty',
      signal: null,
      wallTimeMs: 0,
      cpuTimeMs: { user: 0, system: 0 },
      peakMemoryKiB: 0,
      status: 'setup-failed',
      exitCode: 125,
      error: { message: 'stage exited with 121', errno: 'none' },
    });
  });
});
