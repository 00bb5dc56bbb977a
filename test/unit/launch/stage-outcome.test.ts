// The outcome decoder: every step kind's wording, hint and exit code, errno
// names, wait statuses, and the one-line problem of any outcome.
import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { errnoName } from '../../../src/errno-name.js';
import { describeFailure, exitStatus, outcomeProblem } from '../../../src/launch/stage-outcome.js';
import { ops, type StageOp } from '../../../src/stage/plan.js';
import { Op } from '../../../src/stage/protocol.js';

const E = constants.errno;
const failed = (plan: readonly StageOp[], step: number, errno: number, detail = '') =>
  ({ kind: 'failed' as const, step, errno, detail, what: plan[step]?.what ?? 'stage set-up' });

describe('errnoName', () => {
  it('gives the conventional name where Node has two', () => {
    expect(errnoName(E.EAGAIN)).toBe('EAGAIN');
    expect(errnoName(E.EOPNOTSUPP)).toBe('EOPNOTSUPP');
    expect(errnoName(E.ENOENT)).toBe('ENOENT');
    expect(errnoName(99999)).toBe('errno 99999');
  });
  it('names every errno the stage can report (any number Node knows)', () => {
    for (const value of Object.values(E)) expect(errnoName(value)).toMatch(/^E[A-Z0-9]+$/);
  });
});

describe('describeFailure', () => {
  const plan: StageOp[] = [
    ops.userns(), ops.mapExec('/usr/bin/newuidmap', ['0', '100000', '65536']), ops.unshare(0, 'namespaces'), ops.mount('proc', '/proc', 'proc', 0),
    ops.bind('/src', '/dst', true), ops.mkdir('/work', 0o755), ops.chdir('/work'), ops.seccomp(Buffer.alloc(8), 0),
    ops.exec('prog', '/bin', ['prog'], []),
  ];
  const at = (code: number) => plan.findIndex((o) => o.code === code);

  it('words the step, the errno and a detail that adds something', () => {
    const r = describeFailure(failed(plan, at(Op.BIND), E.EACCES, 'no search permission'), plan);
    expect(r.message).toBe(`${plan[at(Op.BIND)]!.what}: EACCES (no search permission)`);
    expect(r.errno).toBe('EACCES');
    expect(r.hint).toMatch(/searchable/);
    expect(r.exitCode).toBe(125);
    expect(describeFailure(failed(plan, at(Op.BIND), E.EPERM, plan[at(Op.BIND)]!.what), plan).message).not.toMatch(/\(/);
  });

  it('exec: 127 when not found (PATH named), 126 otherwise', () => {
    const notFound = describeFailure(failed(plan, at(Op.EXEC), E.ENOENT), plan, { searchPath: '/usr/bin:/bin' });
    expect(notFound).toMatchObject({ exitCode: 127, errno: 'ENOENT' });
    expect(notFound.hint).toContain('PATH=/usr/bin:/bin');
    expect(describeFailure(failed(plan, at(Op.EXEC), E.EACCES), plan)).toMatchObject({ exitCode: 126, hint: expect.stringMatching(/noexec/) });
    expect(describeFailure(failed(plan, at(Op.EXEC), E.ENOEXEC), plan).exitCode).toBe(126);
  });

  it('a hint for each kind of step people meet', () => {
    expect(describeFailure(failed(plan, at(Op.USERNS), E.EPERM), plan).hint).toMatch(/user namespaces/);
    expect(describeFailure(failed(plan, at(Op.UNSHARE), E.EPERM), plan).hint).toMatch(/user namespaces/);
    expect(describeFailure(failed(plan, at(Op.MAP_EXEC), E.EPERM), plan).hint).toMatch(/subuid/);
    expect(describeFailure(failed(plan, at(Op.MOUNT), E.EPERM), plan).hint).toMatch(/\/proc/);
    expect(describeFailure(failed(plan, at(Op.MKDIR), E.EROFS), plan).hint).toMatch(/read-only/);
    expect(describeFailure(failed(plan, at(Op.CHDIR), E.EACCES), plan).hint).toMatch(/-w or -u/);
    expect(describeFailure(failed(plan, at(Op.SECCOMP), E.EINVAL), plan).hint).toMatch(/seccomp/);
  });

  it('every step kind the protocol has: the step named, the errno named, 125 unless it is EXEC', () => {
    for (const [name, code] of Object.entries(Op)) {
      const step: StageOp = { code, what: `the ${name} step`, ints: [], strings: [] } as unknown as StageOp;
      for (const errno of [E.EPERM, E.EACCES, E.ENOENT, E.EINVAL, E.ELOOP, E.EAGAIN, E.ENOSPC]) {
        const r = describeFailure(failed([step], 0, errno), [step]);
        expect(r.message).toBe(`the ${name} step: ${errnoName(errno)}`);
        expect(r.errno).toBe(errnoName(errno));
        expect(r.exitCode).toBe(code === Op.EXEC ? (errno === E.ENOENT ? 127 : 126) : 125);
      }
    }
  });

  it('a step outside the plan is a bug, exit 125', () => {
    const r = describeFailure(failed(plan, 99, E.EINVAL), plan);
    expect(r).toMatchObject({ message: 'stage set-up: EINVAL', exitCode: 125 });
    expect(r.hint).toMatch(/bug/);
  });

  it('a caller\'s hint comes first', () => {
    const r = describeFailure(failed(plan, at(Op.EXEC), E.EACCES), plan, { hint: () => 'mine' });
    expect(r.hint).toBe('mine');
  });
});

describe('exitStatus and outcomeProblem', () => {
  it('decodes wait statuses as a shell does', () => {
    expect(exitStatus(0)).toEqual({ exitCode: 0, signal: null, termsig: 0 });
    expect(exitStatus(3 << 8)).toEqual({ exitCode: 3, signal: null, termsig: 0 });
    expect(exitStatus(9)).toEqual({ exitCode: 137, signal: 'SIGKILL', termsig: 9 });
    expect(exitStatus(0x80 | 11)).toMatchObject({ exitCode: 139, signal: 'SIGSEGV' });
  });
  it('says what went wrong for each kind of outcome, nothing for a clean end', () => {
    const plan = [ops.userns()];
    expect(outcomeProblem({ kind: 'completed' }, plan)).toBeNull();
    expect(outcomeProblem({ kind: 'lost', reason: 'gone' }, plan)).toBe('gone');
    expect(outcomeProblem(failed(plan, 0, E.EPERM), plan)).toMatch(/: EPERM$/);
    const exit = (waitStatus: number) => ({
      kind: 'exited' as const, waitStatus, wallNs: 0n, userUs: 0n, systemUs: 0n, maxRssKiB: 0n, killReason: 0, truncated: 0,
      stdoutBytes: -1n, stderrBytes: -1n, cpuSampleUs: -1n, voluntarySwitches: 0n, involuntarySwitches: 0n,
    });
    expect(outcomeProblem(exit(0), plan)).toBeNull();
    expect(outcomeProblem(exit(2 << 8), plan)).toBe('the workload ended: exit status 2');
    expect(outcomeProblem(exit(15), plan)).toBe('the workload ended: killed by signal 15');
  });
});
