// Limits, accounting and verdicts through the real CLI and library, as root
// and as the unprivileged user: the numbers judges rely on.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/index.js';
import { IDENTITIES, probe, processesWith, runCli, waitFor, type Identity } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'sandbox-limits-test-'));
chmodSync(dir, 0o777); // the unprivileged test user writes results here
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Runs `sandbox exec ARGS host CMD` with --result and --meta; returns both and the CLI's own result. */
async function judged(as: Identity, args: string[], command: string[], input = '') {
  const result = join(dir, `r${++n}.json`);
  const meta = join(dir, `m${n}.txt`);
  const cli = await runCli(['exec', '--result', result, '--meta', meta, ...args, 'host', ...command], { as, input, timeoutMs: 30_000 });
  const r = JSON.parse(readFileSync(result, 'utf8'));
  const m = Object.fromEntries(readFileSync(meta, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]));
  return { cli, r, meta: m };
}

describe.each(IDENTITIES)('limits and verdicts as $name', (who) => {
  const as = who;
  const withProbe = async () => ['-v', `${await probe()}:/probe`];

  it('CPU spin with --cpu-time 1: TLE, CPU time within 50 ms of the limit', async () => {
    const { r, meta } = await judged(as, [...await withProbe(), '--cpu-time', '1'], ['/probe', 'spin:10']);
    expect(r.status).toBe('TLE');
    expect(r.limits.killedBy).toBe('cpu');
    expect(r.cpuTimeMs.total).toBeGreaterThanOrEqual(1000);
    expect(r.cpuTimeMs.total).toBeLessThanOrEqual(1050);
    expect(meta.status).toBe('TO');
    expect(meta.killed).toBe('1');
  });

  it('fractions: --cpu-time 0.25', async () => {
    const { r } = await judged(as, [...await withProbe(), '--cpu-time', '0.25'], ['/probe', 'spin:10']);
    expect(r.status).toBe('TLE');
    expect(r.cpuTimeMs.total).toBeGreaterThanOrEqual(250);
    expect(r.cpuTimeMs.total).toBeLessThanOrEqual(300);
  });

  it('sleep 10 with --wall-time 1: WLE within 100 ms', async () => {
    const { r, meta } = await judged(as, ['--wall-time', '1'], ['/bin/sleep', '10']);
    expect(r.status).toBe('WLE');
    expect(r.wallTimeMs).toBeGreaterThanOrEqual(1000);
    expect(r.wallTimeMs).toBeLessThanOrEqual(1100);
    expect(meta.status).toBe('TO');
    expect(Number(meta['time-wall'])).toBeCloseTo(1, 1);
  });

  it('a memory hog: MLE (with the OOM flag on cgroup backends)', async () => {
    const { r } = await judged(as, ['--memory', '64m', '--wall-time', '20'],
      ['/usr/bin/python3', '-c', 'a=[]\nwhile True: a.append(bytearray(1 << 20))']);
    expect(r.status).toBe('MLE');
    if (r.limits.backend === 'none') expect(r.limits.note).toMatch(/RLIMIT_DATA/);
    else expect(r.oomKilled).toBe(true);
  });

  it('a fork bomb under --pids 32 is contained and the host stays responsive', async () => {
    const bomb = judged(as, ['--pids', '32', '--wall-time', '3'], ['/bin/sh', '-c', 'f(){ f | f & }; f; sleep 10']);
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    expect(spawnSync('/bin/true').status).toBe(0);
    expect(Date.now() - t0).toBeLessThan(1000); // the host can still start processes
    const { r } = await bomb;
    expect(r.status).toBe('WLE');
    expect(spawnSync('pgrep', ['-f', 'f(){ f | f & }']).stdout.toString().trim()).toBe(''); // nothing survives
  });

  it('an output flood with --output-limit 1m: OLE, exactly the limit written, the rest discarded', async () => {
    const out = join(dir, `flood-${who.name}.txt`);
    const { r } = await judged(as, ['--output-limit', '1m', '--stdout', out], ['/bin/sh', '-c', 'yes 0123456789 | head -c 10000000']);
    expect(r.status).toBe('OLE');
    expect(r.output.stdout).toEqual({ bytes: 1048576, truncated: true });
    expect(readFileSync(out).length).toBe(1048576);
  });

  it('--fsize: a file past the limit is OLE (SIGXFSZ)', async () => {
    const { r } = await judged(as, ['--fsize', '1k'], ['/bin/sh', '-c', 'exec head -c 5000 /dev/zero > /tmp/big']);
    expect(r.status).toBe('OLE');
  });

  it('exit 3 is RE; SIGSEGV is SG with signal 11; a clean run is OK', async () => {
    const p = await withProbe();
    const re = await judged(as, [], ['/bin/sh', '-c', 'exit 3']);
    expect(re.r).toMatchObject({ status: 'RE', exitCode: 3 });
    expect(re.meta).toMatchObject({ status: 'RE', exitcode: '3' });
    const sg = await judged(as, p, ['/probe', 'signal:11']);
    expect(sg.r).toMatchObject({ status: 'SG', signal: 'SIGSEGV', exitCode: 139 });
    expect(sg.meta).toMatchObject({ status: 'SG', exitsig: '11' });
    const ok = await judged(as, [], ['/bin/true']);
    expect(ok.r.status).toBe('OK');
    expect(ok.meta.status).toBeUndefined(); // isolate writes no status for a clean run
    expect(ok.meta.exitcode).toBe('0');
  });

  it('--meta parses like isolate\'s: known keys, numbers where numbers belong', async () => {
    const { meta } = await judged(as, ['--cpu-time', '1'], ['/bin/sh', '-c', 'exit 1']);
    const known = new Set(['time', 'time-wall', 'max-rss', 'csw-voluntary', 'csw-forced', 'cg-mem', 'cg-oom-killed', 'exitcode', 'exitsig', 'killed', 'status', 'message']);
    for (const key of Object.keys(meta)) expect(known.has(key), key).toBe(true);
    expect(meta.time).toMatch(/^\d+\.\d{3}$/);
    expect(meta['time-wall']).toMatch(/^\d+\.\d{3}$/);
    expect(meta['max-rss']).toMatch(/^\d+$/);
    expect(meta['csw-voluntary']).toMatch(/^\d+$/);
    expect(meta['csw-forced']).toMatch(/^\d+$/);
    expect(meta.message).toBe('Exited with error status 1');
  });

  it('judge I/O: --stdin, --stdout, --stderr files and --stderr-to-stdout', async () => {
    const input = join(dir, `in-${who.name}.txt`);
    const out = join(dir, `out-${who.name}.txt`);
    const err = join(dir, `err-${who.name}.txt`);
    writeFileSync(input, 'hello judge\n', { mode: 0o644 });
    const { r } = await judged(as, ['--stdin', input, '--stdout', out, '--stderr', err], ['/bin/sh', '-c', 'read x; echo "got $x"; echo oops >&2']);
    expect(r.status).toBe('OK');
    expect(readFileSync(out, 'utf8')).toBe('got hello judge\n');
    expect(readFileSync(err, 'utf8')).toBe('oops\n');
    expect(r.output).toEqual({ stdout: { bytes: 16, truncated: false }, stderr: { bytes: 5, truncated: false } });
    const merged = await judged(as, ['--stdout', out, '--stderr-to-stdout'], ['/bin/sh', '-c', 'echo a; echo b >&2; echo c']);
    expect(readFileSync(out, 'utf8')).toBe('a\nb\nc\n');
    expect(merged.r.output.stdout.bytes).toBe(6);
    const missing = await runCli(['exec', '--stdin', join(dir, 'nope'), 'host', '/bin/true'], { as });
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/cannot open .*nope \(--stdin\): ENOENT/);
  });

  it('the result says which backend applied the limits', async () => {
    const { r } = await judged(as, ['--memory', '64m'], ['/bin/true']);
    expect(['cgroup2', 'cgroup1', 'none']).toContain(r.limits.backend);
    if (r.limits.backend === 'none') expect(r.limits.note).toMatch(/per process/);
  });
});

describe.each(IDENTITIES)('TLE accounting as $name', (who) => {
  const sum = (r: { cpuTimeMs: { user: number; system: number } }) => r.cpuTimeMs.user + r.cpuTimeMs.system;

  it('--cpu-time 0.5 on a spin: user + system within 10 ms of the total, the total within 50 ms of the limit', async () => {
    const { r, meta } = await judged(who, ['-v', `${await probe()}:/probe`, '--cpu-time', '0.5'], ['/probe', 'spin:10']);
    expect(r.status).toBe('TLE');
    expect(r.cpuTimeMs.total).toBeGreaterThanOrEqual(500);
    expect(r.cpuTimeMs.total).toBeLessThanOrEqual(550);
    expect(Math.abs(sum(r) - r.cpuTimeMs.total)).toBeLessThanOrEqual(10);
    expect(r.cpuTimeMs.user).toBeGreaterThan(400); // the killed spinner's time is in the split, not lost with it
    expect(Number(meta.time) * 1000).toBeCloseTo(r.cpuTimeMs.total, -1);
  });

  it('--cpu-time 0.5 on two spinning processes: the whole tree\'s time, split into user + system', async () => {
    const { r } = await judged(who, ['-v', `${await probe()}:/probe`, '--cpu-time', '0.5'],
      ['/bin/sh', '-c', '/probe spin:10 & /probe spin:10; wait']);
    expect(r.status).toBe('TLE');
    expect(r.cpuTimeMs.total).toBeGreaterThanOrEqual(500);
    // two processes add 20 ms of CPU per 10 ms sampling period, and /proc counts in 10 ms ticks per process:
    // on a loaded machine the kill lands a few periods late (seen: 655 ms with other tests running)
    expect(r.cpuTimeMs.total).toBeLessThanOrEqual(750);
    expect(Math.abs(sum(r) - r.cpuTimeMs.total)).toBeLessThanOrEqual(10);
    expect(r.cpuTimeMs.user).toBeGreaterThan(400);
  });
});

// The strict profile's ceilings, with no limit flags at all: a judge that forgets them is still safe.
describe.each(IDENTITIES)('strict with no flags as $name', (who) => {
  const strict = async (command: string[], extra: string[] = []) =>
    judged(who, ['--profile', 'strict', '-v', `${await probe()}:/probe`, ...extra], command);

  it('the ceilings are in the result', async () => {
    const { r } = await strict(['/bin/true']);
    expect(r.limits.applied).toEqual({
      cpuTimeMs: 10_000, wallTimeMs: null, memoryBytes: 1024 ** 3, pids: 256,
      fsizeBytes: 64 * 1024 ** 2, nofile: 1024, stackBytes: null, outputBytes: 64 * 1024 ** 2, addressSpaceBytes: null,
    });
  });

  it('a CPU spin ends as TLE at 10 s', async () => {
    const { r } = await strict(['/probe', 'spin:30']);
    expect(r.status).toBe('TLE');
    expect(r.cpuTimeMs.total).toBeGreaterThanOrEqual(10_000);
    expect(r.cpuTimeMs.total).toBeLessThanOrEqual(10_100);
  }, 30_000);

  it('a 2 GiB allocation: MLE with a cgroup; without one it fails inside the program, under the ceiling', async () => {
    const { r } = await strict(['/probe', 'alloc:2048']);
    if (r.limits.backend === 'none') {
      expect(r.status).toBe('OK');
      expect(r.peakMemoryKiB).toBeLessThan(1024 * 1024);
    } else {
      expect(r.status).toBe('MLE');
      expect(r.oomKilled).toBe(true);
    }
  });

  it('opening 5000 files fails with EMFILE at 1024', async () => {
    const { cli } = await strict(['/probe', 'open_files:5000']);
    const got = JSON.parse(cli.stdout)['open_files:5000'];
    expect(got.errno).toBe(24);
    expect(got.opened).toBe(1024 - 3); // stdin, stdout and stderr are open
  });

  it('a 512 MiB stdout flood ends as OLE with exactly 64 MiB delivered', async () => {
    const out = join(dir, `strict-flood-${who.name}.txt`);
    const { r } = await strict(['/bin/sh', '-c', 'head -c 536870912 /dev/zero'], ['--stdout', out]);
    expect(r.status).toBe('OLE');
    expect(r.output.stdout).toEqual({ bytes: 64 * 1024 ** 2, truncated: true });
    expect(statSync(out).size).toBe(64 * 1024 ** 2);
    rmSync(out);
  });

  it('a file past 64 MiB is OLE (on a tmpfs with room for more)', async () => {
    const { r } = await strict(['/bin/sh', '-c', 'exec head -c 100000000 /dev/zero > /scratch/big'], ['--tmpfs', '/scratch:size=200m']);
    expect(r.status).toBe('OLE');
    expect(r.signal).toBe('SIGXFSZ');
  });

  it('flags lift a ceiling explicitly ("unlimited") or set another', async () => {
    const { r } = await strict(['/bin/true'], ['--cpu-time', 'unlimited', '--memory', 'unlimited', '--nofile', '64']);
    expect(r.limits.applied).toMatchObject({ cpuTimeMs: null, memoryBytes: null, nofile: 64, pids: 256 });
  });
});

describe('library run()', () => {
  it('stdin as a string, stdout and stderr captured, a verdict', async () => {
    const r = await run({ command: ['/bin/sh', '-c', 'tr a-z A-Z; echo err >&2; exit 4'], stdin: 'shout\n' });
    expect(r.status).toBe('RE');
    expect(r.exitCode).toBe(4);
    expect(r.stdout.toString()).toBe('SHOUT\n');
    expect(r.stderr.toString()).toBe('err\n');
    expect(r.output.stdout).toEqual({ bytes: 6, truncated: false });
  });

  it('captured output is capped: the run ends OLE', async () => {
    const r = await run({ command: ['/bin/sh', '-c', 'yes | head -c 100000'], limits: { output: 4096 } });
    expect(r.status).toBe('OLE');
    expect(r.stdout.length).toBe(4096);
  });

  it('limits and many concurrent runs from one process', async () => {
    const runs = await Promise.all(Array.from({ length: 6 }, (_, i) =>
      run({ command: ['/bin/sh', '-c', i % 2 ? 'sleep 5' : `echo ${i}`], limits: { wallTime: 0.5 } })));
    expect(runs.map((r) => r.status)).toEqual(['OK', 'WLE', 'OK', 'WLE', 'OK', 'WLE']);
    expect(runs[4]!.stdout.toString()).toBe('4\n');
  });
});

describe.each(IDENTITIES)('concurrent runs as $name', (who) => {
  it('two sandboxes at once get different host uids: one cannot read what the other keeps private', async () => {
    const shared = mkdtempSync(join(tmpdir(), 'sandbox-shared-'));
    chmodSync(shared, 0o1777);
    try {
      const first = runCli(['exec', '--profile', 'strict', '-v', `${shared}:/shared:rw`, 'host', '/bin/sh', '-c',
        'cat /proc/self/uid_map; echo secret > /shared/a; chmod 600 /shared/a; sleep 3'], { as: who });
      const start = Date.now();
      while (Date.now() - start < 5000 && !existsSync(join(shared, 'a'))) await new Promise((r) => setTimeout(r, 20));
      const second = await runCli(['exec', '--profile', 'strict', '-v', `${shared}:/shared:rw`, 'host', '/bin/sh', '-c',
        'cat /proc/self/uid_map; cat /shared/a'], { as: who });
      const a = await first;
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/Permission denied/);
      const mapOf = (out: string) => out.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number)).find((l) => l[0] !== 0 || l[2] !== 1)!;
      expect(mapOf(a.stdout)[1]).not.toBe(mapOf(second.stdout)[1]); // different host ids behind the same inside ids
      expect(statSync(join(shared, 'a')).uid).toBe(mapOf(a.stdout)[1]! + 1000 - mapOf(a.stdout)[0]!);
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
  });

  it('one sandbox cannot signal another: its processes are not even visible', async () => {
    const marker = `${3.71 + who.uid / 1e6}`;
    const first = runCli(['exec', '--profile', 'strict', 'host', '/bin/sleep', marker], { as: who });
    expect(await waitFor(() => processesWith(`sleep ${marker}`).length > 0, 5000)).toBe(true);
    const hostPid = Math.max(...processesWith(`sleep ${marker}`));
    try {
      const second = await runCli(['exec', '--profile', 'strict', 'host', '/bin/sh', '-c',
        `ls /proc | grep -c "^[0-9]"; kill -9 ${hostPid} 2>/dev/null; echo "kill:$?"`], { as: who });
      const [count] = second.stdout.trim().split('\n');
      expect(Number(count)).toBeLessThanOrEqual(4); // its own pid 1, shell, ls, grep: nothing of the other sandbox
      expect(second.stdout).toMatch(/kill:1/); // no such process in its pid namespace
      expect((await first).code).toBe(0); // the first ran to its end
    } finally {
      try { process.kill(hostPid, 'SIGKILL'); } catch { /* gone already: the normal case */ }
    }
  });
});
