// toRunResult: how a stage outcome becomes a status, an exit code and an error.
import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { planRun } from '../../../src/launch/plan-run.js';
import { errnoName } from '../../../src/errno-name.js';
import { toRunResult } from '../../../src/run/run-result.js';
import { KillReason, Op } from '../../../src/stage/protocol.js';
import type { StageExit } from '../../../src/launch/launch-stage.js';
import type { RunContext } from '../../../src/run/run-result.js';
import { aliceNoRange, aliceSubid, resolve, TOOLS } from '../support/fixtures.js';

const spec = resolve({ command: ['prog', 'x'] }, { host: aliceSubid });
const plan = planRun(spec, TOOLS);
const exited = (waitStatus: number, extra: Partial<StageExit> = {}): StageExit => ({
  kind: 'exited' as const, waitStatus, wallNs: 1_500_000n, userUs: 2000n, systemUs: 500n, maxRssKiB: 1234n,
  killReason: 0, truncated: 0, stdoutBytes: -1n, stderrBytes: -1n, cpuSampleUs: -1n, voluntarySwitches: 7n, involuntarySwitches: 3n, ...extra,
});
const ctx = { spec, plan, seccomp: 'default', backend: 'none' as const };
const failedAt = (step: number, errno: number, detail = '') =>
  ({ kind: 'failed' as const, step, errno, detail, what: plan[step]?.what ?? 'stage set-up' });
const E = constants.errno;

describe('toRunResult, exited', () => {
  it('exit 0 is OK/0 with times and memory', () => {
    expect(toRunResult(exited(0), ctx)).toStrictEqual({
      seccomp: 'default',
      network: { mode: 'none' },
      idmap: { mode: 'subid' },
      profile: 'empty',
      wallTimeMs: 1.5,
      cpuTimeMs: { user: 2, system: 0.5, total: 2.5 },
      contextSwitches: { voluntary: 7, involuntary: 3 },
      peakMemoryKiB: 1234,
      oomKilled: false,
      output: { stdout: null, stderr: null },
      limits: { backend: 'none', killedBy: null, applied: { cpuTimeMs: null, wallTimeMs: null, memoryBytes: null, pids: null, fsizeBytes: null, nofile: null, stackBytes: null, outputBytes: null, addressSpaceBytes: null } },
      status: 'OK',
      exitCode: 0,
      signal: null,
    });
  });

  it('the CPU total is the tree\'s rusage (user + system); the stage\'s sample only when pid 1 could not reap the tree', () => {
    const reaped = toRunResult(exited(9, { killReason: KillReason.CPU, userUs: 990_000n, systemUs: 15_000n, cpuSampleUs: 1_000_000n }), ctx);
    expect(reaped.cpuTimeMs).toEqual({ user: 990, system: 15, total: 1005 });
    const lost = toRunResult(exited(9, { killReason: KillReason.CPU, userUs: 0n, systemUs: 3_300n, cpuSampleUs: 1_000_000n }), ctx);
    expect(lost.cpuTimeMs.total).toBe(1000);
  });

  it('exit 3 is RE/3', () => {
    expect(toRunResult(exited(3 << 8), ctx)).toMatchObject({ status: 'RE', exitCode: 3, signal: null });
    expect(toRunResult(exited(255 << 8), ctx)).toMatchObject({ status: 'RE', exitCode: 255 });
  });

  it('signal 9 is SG/137/SIGKILL', () => {
    expect(toRunResult(exited(9), ctx)).toMatchObject({ status: 'SG', exitCode: 137, signal: 'SIGKILL' });
  });

  it('a core dump flag does not change the signal', () => {
    expect(toRunResult(exited(0x80 | 11), ctx)).toMatchObject({ status: 'SG', exitCode: 139, signal: 'SIGSEGV' });
  });

  it('carries the id-map note when the mapping is weaker', () => {
    const single = resolve({}, { host: aliceNoRange });
    const r = toRunResult(exited(0), { ...ctx, spec: single, plan: planRun(single, TOOLS) });
    expect(r.idmap).toEqual({ mode: 'single', note: single.idmap.note });
    expect(r.idmap.note).toContain('/etc/subuid');
  });
});

describe('toRunResult, failed', () => {
  const execStep = plan.findIndex((o) => o.code === Op.EXEC);

  it('ENOENT at EXEC is XX/127 with a hint about PATH', () => {
    const r = toRunResult(failedAt(execStep, E.ENOENT, 'execute prog'), ctx);
    expect(r).toMatchObject({
      status: 'XX', exitCode: 127, signal: null, wallTimeMs: 0, peakMemoryKiB: 0,
      cpuTimeMs: { user: 0, system: 0 }, profile: 'empty',
    });
    expect(r.error!.message).toBe('execute prog: ENOENT');
    expect(r.error!.errno).toBe('ENOENT');
    expect(r.error!.hint).toContain(`PATH=${spec.searchPath}`);
  });

  it('EACCES at EXEC is XX/126', () => {
    const r = toRunResult(failedAt(execStep, E.EACCES), ctx);
    expect(r).toMatchObject({ status: 'XX', exitCode: 126 });
    expect(r.error).toEqual({ message: 'execute prog: EACCES', errno: 'EACCES', hint: expect.stringContaining('not executable') });
  });

  it('ENOEXEC at EXEC is XX/126', () => {
    expect(toRunResult(failedAt(execStep, E.ENOEXEC), ctx)).toMatchObject({ status: 'XX', exitCode: 126 });
  });

  it('another step is XX/125 with the op description and errno name', () => {
    const step = plan.findIndex((o) => o.code === Op.BIND);
    expect(plan[step]!.what).toBe('bind /oldroot/usr on /newroot/usr');
    const r = toRunResult(failedAt(step, E.EACCES, 'permission denied on /usr'), ctx);
    expect(r).toMatchObject({ status: 'XX', exitCode: 125, signal: null });
    expect(r.error!.message).toBe('bind /oldroot/usr on /newroot/usr: EACCES (permission denied on /usr)');
    expect(r.error!.errno).toBe('EACCES');
    expect(r.error!.hint).toContain('o+x');
  });

  it('a refused id map gets a subuid hint', () => {
    const step = plan.findIndex((o) => o.code === Op.MAP_EXEC);
    const r = toRunResult(failedAt(step, E.EPERM), ctx);
    expect(r.status).toBe('XX');
    expect(r.error!.message).toBe('/usr/bin/newuidmap PID 0 1000 1 1 100000 65536: EPERM');
    expect(r.error!.hint).toContain('/etc/subuid');
  });

  it('a step the plan does not have is reported as a bug', () => {
    const r = toRunResult(failedAt(plan.length + 5, E.EINVAL), ctx);
    expect(r).toMatchObject({ status: 'XX', exitCode: 125 });
    expect(r.error!.message).toBe('stage set-up: EINVAL');
    expect(r.error!.hint).toContain('bug');
  });

  it('an errno without a name is shown as a number', () => {
    expect(errnoName(E.ENOENT)).toBe('ENOENT');
    expect(errnoName(99999)).toBe('errno 99999');
    const step = plan.findIndex((o) => o.code === Op.SETHOSTNAME);
    const r = toRunResult(failedAt(step, 99999), ctx);
    expect(r.error).toEqual({ message: 'set hostname sandbox: errno 99999', errno: 'errno 99999' });
  });
});

describe('toRunResult, lost', () => {
  it('is XX/125 with the reason', () => {
    expect(toRunResult({ kind: 'lost', reason: 'stage exited with 121' }, ctx)).toStrictEqual({
      seccomp: 'default',
      network: { mode: 'none' },
      idmap: { mode: 'subid' },
      profile: 'empty',
      signal: null,
      wallTimeMs: 0,
      cpuTimeMs: { user: 0, system: 0, total: 0 },
      contextSwitches: { voluntary: 0, involuntary: 0 },
      peakMemoryKiB: 0,
      oomKilled: false,
      output: { stdout: null, stderr: null },
      limits: { backend: 'none', killedBy: null, applied: { cpuTimeMs: null, wallTimeMs: null, memoryBytes: null, pids: null, fsizeBytes: null, nofile: null, stackBytes: null, outputBytes: null, addressSpaceBytes: null } },
      status: 'XX',
      exitCode: 125,
      error: { message: 'stage exited with 121', errno: 'none' },
    });
  });
});

describe('verdicts', () => {
  const limited = resolve({ command: ['prog'], limits: { cpuTime: 1, wallTime: 2, memory: '64m', output: '1k' } }, { host: aliceSubid });
  const lctx: RunContext = { spec: limited, plan, seccomp: 'strict', backend: 'none' };
  const SIGKILL = constants.signals.SIGKILL;

  it('the stage ended it at the CPU limit: TLE, with the sampled CPU time when rusage missed it', () => {
    const r = toRunResult(exited(SIGKILL, { killReason: KillReason.CPU, cpuSampleUs: 1_004_000n }), lctx);
    expect(r).toMatchObject({ status: 'TLE', exitCode: 137, signal: 'SIGKILL', limits: { killedBy: 'cpu' } });
    expect(r.cpuTimeMs.total).toBe(1004);
  });

  it('SIGXCPU from the RLIMIT_CPU backstop, or CPU over the limit at exit, is TLE too', () => {
    expect(toRunResult(exited(constants.signals.SIGXCPU), lctx).status).toBe('TLE');
    expect(toRunResult(exited(0, { userUs: 1_000_000n, systemUs: 5n }), lctx).status).toBe('TLE');
  });

  it('the wall-clock limit: WLE', () => {
    expect(toRunResult(exited(SIGKILL, { killReason: KillReason.WALL }), lctx)).toMatchObject({ status: 'WLE', limits: { killedBy: 'wall' } });
  });

  it('the output limit or SIGXFSZ: OLE, with bytes and the truncated stream', () => {
    const r = toRunResult(exited(SIGKILL, { killReason: KillReason.OUTPUT, truncated: 1, stdoutBytes: 1024n, stderrBytes: 0n }), lctx);
    expect(r).toMatchObject({ status: 'OLE', output: { stdout: { bytes: 1024, truncated: true }, stderr: { bytes: 0, truncated: false } } });
    expect(toRunResult(exited(constants.signals.SIGXFSZ), lctx).status).toBe('OLE');
  });

  it('the cgroup OOM killer: MLE, with the cgroup\'s peak', () => {
    const r = toRunResult(exited(SIGKILL), { ...lctx, backend: 'cgroup2', usage: { oomKilled: true, peakMemoryBytes: 64 << 20, cpuUs: 10 } });
    expect(r).toMatchObject({ status: 'MLE', oomKilled: true, peakMemoryKiB: 65536 });
  });

  it('rlimit fallback: MLE only for a failure near the memory limit', () => {
    expect(toRunResult(exited(1 << 8, { maxRssKiB: 60_000n }), lctx).status).toBe('MLE');
    expect(toRunResult(exited(1 << 8, { maxRssKiB: 10_000n }), lctx).status).toBe('RE');
    expect(toRunResult(exited(0, { maxRssKiB: 65_000n }), lctx).status).toBe('OK');
  });
});
