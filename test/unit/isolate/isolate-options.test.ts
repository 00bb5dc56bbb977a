// parseIsolateArgs: isolate 2.x's command line as CMS and Judge0 write it, and its usage errors.
import { describe, expect, it } from 'vitest';
import { IsolateUsageError, parseDirRule, parseEnvRule, parseIsolateArgs } from '../../../src/isolate/isolate-options.js';

const usage = (argv: string[]) => {
  try {
    parseIsolateArgs(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(IsolateUsageError);
    return (e as Error).message;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
};

describe('parseIsolateArgs: commands', () => {
  it('no command is a usage error', () => {
    expect(usage([])).toMatch(/specify an isolate command/);
    expect(usage(['-b', '3', '-t', '1'])).toMatch(/specify an isolate command/);
  });
  it('two commands are a usage error (also the same one twice)', () => {
    expect(usage(['--init', '--run', '--', '/bin/true'])).toMatch(/only one isolate command/);
    expect(usage(['--cleanup', '--init'])).toMatch(/only one/);
    expect(usage(['--init', '--init'])).toMatch(/only one/);
  });
  it('--run needs a program; the other commands take no operands', () => {
    expect(usage(['--run'])).toMatch(/--run requires the program/);
    expect(usage(['--run', '--'])).toMatch(/--run requires the program/);
    expect(usage(['--init', 'extra'])).toMatch(/Unexpected arguments: extra/);
  });
  it('--cg-mem without --cg is a usage error (in either order with --cg it is fine)', () => {
    expect(usage(['--cg-mem=1000', '--run', '--', '/bin/true'])).toMatch(/--cg-mem\) requires --cg/);
    expect(parseIsolateArgs(['--cg-mem=1000', '--cg', '--run', '--', '/bin/true']).cgMemKiB).toBe(1000);
  });
  it('getopt errors become usage errors', () => {
    expect(usage(['--init', '--bogus'])).toMatch(/unrecognized option '--bogus'/);
    expect(usage(['--init', '-Z'])).toMatch(/invalid option -- 'Z'/);
    expect(usage(['--init', '-b'])).toMatch(/requires an argument/);
  });
  it('bad numbers are usage errors', () => {
    expect(usage(['-b', 'x', '--init'])).toMatch(/Invalid value of -b/);
    expect(usage(['-t', '1s', '--init'])).toMatch(/Invalid value of -t/);
    expect(usage(['--mem=0', '--init'])).toMatch(/Invalid value of --mem/);
    expect(usage(['-q', '5', '--init'])).toMatch(/Invalid quota/);
    expect(usage(['--as-uid=5', '--init'])).toMatch(/together/);
  });
});

describe('parseIsolateArgs: defaults and values', () => {
  it("isolate's defaults: box 0, one process, 64 open files, /box, no limits", () => {
    const o = parseIsolateArgs(['--run', '--', 'prog']);
    expect(o).toMatchObject({ command: 'run', program: ['prog'], boxId: 0, processes: 1, openFiles: 64, defaultDirs: true, fullEnv: false, silent: false, cg: false, verbose: 0 });
    expect(o.time).toBeUndefined();
    expect(o.chdir).toBeUndefined();
    expect(o.memKiB).toBeUndefined();
  });
  it('-p bare and -p0 are unlimited, -pN is N, --processes=N is N', () => {
    expect(parseIsolateArgs(['-p', '--run', '--', 'x']).processes).toBeNull();
    expect(parseIsolateArgs(['-p0', '--run', '--', 'x']).processes).toBeNull();
    expect(parseIsolateArgs(['-p60', '--run', '--', 'x']).processes).toBe(60);
    expect(parseIsolateArgs(['--processes=4', '--run', '--', 'x']).processes).toBe(4);
    expect(parseIsolateArgs(['--processes', '--run', '--', 'x']).processes).toBeNull();
  });
  it("Judge0's isolate_job command line", () => {
    const o = parseIsolateArgs(['--cg', '-s', '-b', '12', '-M', '/box/meta', '-t', '5.0', '-x', '1.0', '-w', '10.0', '-k', '64000', '-p60',
      '--cg-timing', '--cg-mem=128000', '-f', '1024', '-E', 'HOME=/tmp', '-E', 'PATH=/usr/local/bin:/usr/bin:/bin', '-E', 'LANG',
      '-d', '/etc:noexec', '--run', '--', '/bin/bash', 'run.sh']);
    expect(o).toMatchObject({
      command: 'run', program: ['/bin/bash', 'run.sh'], boxId: 12, meta: '/box/meta', silent: true, cg: true,
      time: 5, extraTime: 1, wallTime: 10, stackKiB: 64000, processes: 60, cgMemKiB: 128000, fsizeKiB: 1024,
      envRules: [{ name: 'HOME', value: '/tmp' }, { name: 'PATH', value: '/usr/local/bin:/usr/bin:/bin' }, { name: 'LANG', value: undefined }],
    });
    expect(o.dirRules).toEqual([{ inside: '/etc', outside: '/etc', rw: false, dev: false, noexec: true, maybe: false, fs: false, tmp: false, norec: false }]);
  });
  it("CMS's IsolateSandbox command line (long options with =, --run then -- cmd)", () => {
    const o = parseIsolateArgs(['--cg', '--box-id=7', '--chdir=/tmp', '--dir=/tmp=/var/cms/home:rw', '--dir=/dev/shm:tmp', '--env=HOME=/tmp',
      '--stdin=/tmp/input.txt', '--cg-mem=262144', '--stdout=/tmp/output.txt', '--processes=1', '--stderr=/tmp/err.txt', '--time=1',
      '--wall-time=3', '--extra-time=0.5', '--meta=/tmp/run.log', '--run', '--', '/tmp/sol', '--time=9']);
    expect(o).toMatchObject({
      boxId: 7, chdir: '/tmp', stdin: '/tmp/input.txt', stdout: '/tmp/output.txt', stderr: '/tmp/err.txt', cgMemKiB: 262144,
      processes: 1, time: 1, wallTime: 3, extraTime: 0.5, meta: '/tmp/run.log', program: ['/tmp/sol', '--time=9'],
    });
    expect(o.dirRules.map((d) => [d.inside, d.outside, d.rw, d.tmp])).toEqual([['/tmp', '/var/cms/home', true, false], ['/dev/shm', '/dev/shm', false, true]]);
  });
  it('fractions of seconds in all forms', () => {
    expect(parseIsolateArgs(['-t', '.5', '-w2.', '-x0.25', '--run', '--', 'x'])).toMatchObject({ time: 0.5, wallTime: 2, extraTime: 0.25 });
  });
  it('-v repeats; options after the program operand but before -- still count (permutation)', () => {
    const o = parseIsolateArgs(['--run', 'prog', '-vv', '-v', 'arg']);
    expect(o.verbose).toBe(3);
    expect(o.program).toEqual(['prog', 'arg']);
  });
});

describe('directory and environment rules', () => {
  it('-d forms', () => {
    expect(parseDirRule('/tmp=/var/x:rw')).toMatchObject({ inside: '/tmp', outside: '/var/x', rw: true });
    expect(parseDirRule('etc')).toMatchObject({ inside: '/etc', outside: '/etc', rw: false });
    expect(parseDirRule('/opt=')).toMatchObject({ inside: '/opt', outside: null });
    expect(parseDirRule('/data=./data:rw:maybe')).toMatchObject({ outside: './data', rw: true, maybe: true });
    expect(parseDirRule('/proc=proc:fs')).toMatchObject({ outside: 'proc', fs: true });
  });
  it('bad -d rules are usage errors', () => {
    expect(() => parseDirRule('/x:bogus')).toThrow(/Unknown directory option bogus/);
    expect(() => parseDirRule('/=/x')).toThrow(/inside path is empty/);
    expect(() => parseDirRule('/x=rel')).toThrow(/absolute or start with/);
    expect(() => parseDirRule('/x=/y:fs')).toThrow(/file system type/);
  });
  it('-E forms', () => {
    expect(parseEnvRule('A=1')).toEqual({ name: 'A', value: '1' });
    expect(parseEnvRule('A=')).toEqual({ name: 'A', value: '' });
    expect(parseEnvRule('A')).toEqual({ name: 'A', value: undefined });
    expect(() => parseEnvRule('=x')).toThrow(IsolateUsageError);
  });
});
