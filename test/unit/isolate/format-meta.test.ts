// formatMeta / isolateVerdict: isolate 2.x's meta keys, their order, its
// messages, and nothing a strict client would choke on (no blank line, no key
// of our own).
import { describe, expect, it } from 'vitest';
import { formatMeta, isolateVerdict } from '../../../src/run/format-meta.js';
import type { RunResult } from '../../../src/run/run-result.js';
import { ISOLATE_META_KEYS, MetaParseError, parseIsolateMeta } from '../../integration/isolate-meta.js';

const applied = { cpuTimeMs: null, wallTimeMs: null, memoryBytes: null, pids: null, fsizeBytes: null, nofile: null, stackBytes: null, outputBytes: null, addressSpaceBytes: null };
function result(over: Partial<RunResult> = {}, limits: Partial<RunResult['limits']> = {}): RunResult {
  return {
    status: 'OK', exitCode: 0, signal: null, wallTimeMs: 1234.5678, cpuTimeMs: { user: 900, system: 100.4, total: 1000.4 },
    contextSwitches: { voluntary: 7, involuntary: 3 }, peakMemoryKiB: 2048, oomKilled: false, output: { stdout: null, stderr: null },
    limits: { backend: 'none', killedBy: null, applied, ...limits }, idmap: { mode: 'subid' }, profile: 'strict', seccomp: 'strict',
    network: { mode: 'none' }, ...over,
  } as RunResult;
}
const keys = (meta: string) => meta.trimEnd().split('\n').map((l) => l.slice(0, l.indexOf(':')));

describe('formatMeta', () => {
  it('OK: time, time-wall, max-rss, csw-voluntary, csw-forced, exitcode, in that order, 3 decimals', () => {
    const m = formatMeta(result());
    expect(m).toBe('time:1.000\ntime-wall:1.235\nmax-rss:2048\ncsw-voluntary:7\ncsw-forced:3\nexitcode:0\n');
    expect(parseIsolateMeta(m)).toMatchObject({ time: '1.000', exitcode: '0' });
  });
  it('RE: exitcode, status RE, message', () => {
    const m = formatMeta(result({ status: 'RE', exitCode: 3 }));
    expect(keys(m)).toEqual(['time', 'time-wall', 'max-rss', 'csw-voluntary', 'csw-forced', 'exitcode', 'status', 'message']);
    expect(parseIsolateMeta(m)).toMatchObject({ exitcode: '3', status: 'RE', message: 'Exited with error status 3' });
  });
  it('SG: exitsig (the signal number), status SG, no exitcode', () => {
    const m = parseIsolateMeta(formatMeta(result({ status: 'SG', exitCode: 139, signal: 'SIGSEGV' })));
    expect(m).toMatchObject({ exitsig: '11', status: 'SG', message: 'Caught fatal signal 11' });
    expect(m.exitcode).toBeUndefined();
  });
  it('interrupted (SIGTERM to isolate): the run\'s own figures, exitsig of the signal, killed:1, SG "Interrupted"', () => {
    const m = formatMeta(result({ status: 'SG', exitCode: 137, signal: 'SIGKILL' }), { interruptedBy: 15 });
    expect(keys(m)).toEqual(['time', 'time-wall', 'max-rss', 'csw-voluntary', 'csw-forced', 'exitsig', 'killed', 'status', 'message']);
    expect(parseIsolateMeta(m)).toMatchObject({ time: '1.000', exitsig: '15', killed: '1', status: 'SG', message: 'Interrupted' });
  });
  it('SIGXFSZ (an -f kill, our OLE) is SG 25', () => {
    const m = parseIsolateMeta(formatMeta(result({ status: 'OLE', exitCode: 153, signal: 'SIGXFSZ' })));
    expect(m).toMatchObject({ exitsig: '25', status: 'SG', message: 'Caught fatal signal 25' });
  });
  it('TO (CPU) with killed:1; TO (wall) with its own message', () => {
    const cpu = formatMeta(result({ status: 'TLE', exitCode: 137, signal: 'SIGKILL' }, { killedBy: 'cpu' }));
    expect(keys(cpu)).toEqual(['time', 'time-wall', 'max-rss', 'csw-voluntary', 'csw-forced', 'exitsig', 'killed', 'status', 'message']);
    expect(parseIsolateMeta(cpu)).toMatchObject({ exitsig: '9', killed: '1', status: 'TO', message: 'Time limit exceeded' });
    const wall = parseIsolateMeta(formatMeta(result({ status: 'WLE', exitCode: 137, signal: 'SIGKILL' }, { killedBy: 'wall' })));
    expect(wall).toMatchObject({ killed: '1', status: 'TO', message: 'Time limit exceeded (wall clock)' });
  });
  it('with a cgroup: cg-mem, and cg-oom-killed after an OOM kill (SG 9), before exitsig', () => {
    const m = formatMeta(result({ status: 'MLE', exitCode: 137, signal: 'SIGKILL', oomKilled: true, peakMemoryKiB: 65536 }, { backend: 'cgroup1' }));
    expect(keys(m)).toEqual(['time', 'time-wall', 'max-rss', 'csw-voluntary', 'csw-forced', 'cg-mem', 'cg-oom-killed', 'exitsig', 'status', 'message']);
    expect(parseIsolateMeta(m)).toMatchObject({ 'cg-mem': '65536', 'cg-oom-killed': '1', exitsig: '9', status: 'SG', message: 'Caught fatal signal 9' });
  });
  it('cgroupKeys: --cg asks for cg-mem even where rlimits stood in; without it no cg keys on the rlimit backend', () => {
    expect(keys(formatMeta(result(), { cgroupKeys: true }))).toContain('cg-mem');
    expect(keys(formatMeta(result()))).not.toContain('cg-mem');
    expect(keys(formatMeta(result({}, { backend: 'cgroup2' }), { cgroupKeys: false }))).not.toContain('cg-mem');
  });
  it('a program that cannot be executed: XX, or RE 127 as isolate 2.x says with execFailureAsExit127', () => {
    const r = result({ status: 'XX', exitCode: 127, error: { message: 'exec ./nope: ENOENT', errno: 'ENOENT' } });
    expect(parseIsolateMeta(formatMeta(r))).toMatchObject({ status: 'XX', message: 'exec ./nope: ENOENT' });
    expect(parseIsolateMeta(formatMeta(r, { execFailureAsExit127: true }))).toMatchObject({ exitcode: '127', status: 'RE', message: 'Exited with error status 127' });
    expect(isolateVerdict({ ...r, exitCode: 126 }, { execFailureAsExit127: true })).toEqual({ status: 'RE', message: 'Exited with error status 127', exitcode: 127 });
  });
  it('a multi-line error message stays on one line (no blank line, no line without a colon)', () => {
    const r = result({ status: 'XX', exitCode: 125, error: { message: 'first\nsecond\n', errno: 'EIO' } });
    const m = formatMeta(r);
    expect(m).not.toMatch(/\n\n/);
    expect(parseIsolateMeta(m).message).toBe('first second');
  });
  it('every key is one of isolate\'s, each at most once, in its order', () => {
    const all = [
      result(), result({ status: 'RE', exitCode: 1 }), result({ status: 'SG', exitCode: 134, signal: 'SIGABRT' }),
      result({ status: 'TLE', exitCode: 137, signal: 'SIGKILL' }, { killedBy: 'cpu', backend: 'cgroup1' }),
      result({ status: 'MLE', exitCode: 137, signal: 'SIGKILL', oomKilled: true }, { backend: 'cgroup2' }),
    ];
    for (const r of all) {
      const m = formatMeta(r, { cgroupKeys: true });
      for (const k of keys(m)) expect(ISOLATE_META_KEYS).toContain(k);
      expect(() => parseIsolateMeta(m)).not.toThrow();
    }
  });
});

describe('the strict meta parser itself', () => {
  it('refuses what CMS and Judge0 would choke on', () => {
    expect(() => parseIsolateMeta('time:1.000\n\nstatus:RE\n')).toThrow(MetaParseError);
    expect(() => parseIsolateMeta('time:1.000\nstatus:RE')).toThrow(/newline/);
    expect(() => parseIsolateMeta('time 1\n')).toThrow(/no colon/);
    expect(() => parseIsolateMeta('time:1\ntime:2\n')).toThrow(/repeated/);
    expect(() => parseIsolateMeta('status:RE\ntime:1\n')).toThrow(/order/);
    expect(() => parseIsolateMeta('result:ok\n')).toThrow(/unknown key/);
    expect(() => parseIsolateMeta('status:TLE\n')).toThrow(/not isolate's/);
    expect(() => parseIsolateMeta('')).toThrow(/empty/);
  });
  it('splits at the first colon only', () => {
    expect(parseIsolateMeta('status:XX\nmessage:open a:b: ENOENT\n').message).toBe('open a:b: ENOENT');
  });
});
