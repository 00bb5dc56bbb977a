// Unit test of the probe itself: runs it directly on the host (no sandbox) and
// checks that its JSON is well formed and agrees with what Node sees.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { arch } from 'node:os';
import { dirname } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
// @ts-ignore: plain ESM script without type declarations
import { buildProbe } from './build-probe.mjs';

let probe = '';

beforeAll(async () => {
  probe = await buildProbe();
}, 120_000);

type Report = Record<string, any>;

function run(args: string[], options: { stdio?: any[] } = {}): Report {
  return JSON.parse(execFileSync(probe, args, { encoding: 'utf8', ...options }));
}

/** Runs the probe expecting a non-zero exit; returns the status and the parsed output. */
function runFailing(args: string[]): { status: number | null; out: Report } {
  try {
    execFileSync(probe, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err: any) {
    return { status: err.status, out: JSON.parse(err.stdout) };
  }
  throw new Error('probe exited 0');
}

function statusField(name: string): string | undefined {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  return line?.slice(name.length + 1).trim();
}

const unique = () => `/tmp/probe-test-${process.pid}-${Math.random().toString(36).slice(2)}`;

describe('probe on the host', () => {
  it('is built world-executable in a fixed, content-addressed directory', () => {
    expect(probe).toMatch(/^\/tmp\/rootless-sandbox-probe-[0-9a-f]{12}-u\d+\/probe$/);
    expect(statSync(probe).mode & 0o777).toBe(0o755);
    expect(statSync(dirname(probe)).mode & 0o777).toBe(0o755);
  });

  it('prints {} with no reports', () => {
    expect(run([])).toEqual({});
  });

  it('ids match the test process', () => {
    const { ids } = run(['ids']);
    expect(ids.uid).toBe(process.getuid!());
    expect(ids.euid).toBe(process.geteuid!());
    expect(ids.gid).toBe(process.getgid!());
    expect(ids.egid).toBe(process.getegid!());
    // process.getgroups() adds the egid, so compare with the kernel's own list
    const groups = (statusField('Groups') ?? '').split(/\s+/).filter(Boolean).map(Number);
    expect([...ids.groups].sort()).toEqual(groups.sort());
    expect(ids.uid_map).toBe(readFileSync('/proc/self/uid_map', 'utf8').trim());
    expect(ids.gid_map).toBe(readFileSync('/proc/self/gid_map', 'utf8').trim());
    expect(['allow', 'deny']).toContain(ids.setgroups);
  });

  it('caps are hex masks, and the inherited ones match the test process', () => {
    const { caps } = run(['caps']);
    for (const k of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(caps[k]).toMatch(/^[0-9a-f]{16}$/);
    expect(caps.CapBnd).toBe(statusField('CapBnd'));
    expect(caps.NoNewPrivs).toBe(Number(statusField('NoNewPrivs')));
    expect(caps.Seccomp).toBe(Number(statusField('Seccomp')));
    const filters = statusField('Seccomp_filters');
    expect(caps.Seccomp_filters).toBe(filters === undefined ? null : Number(filters));
  });

  it('namespaces are the same as the test process', () => {
    const { ns } = run(['ns']);
    for (const name of ['user', 'pid', 'mnt', 'net', 'uts', 'ipc', 'cgroup']) {
      expect(ns[name]).toMatch(new RegExp(`^${name}:\\[\\d+\\]$`));
      expect(ns[name]).toBe(readlinkSync(`/proc/self/ns/${name}`));
    }
  });

  it('fds lists inherited descriptors, sorted, without its own directory fd', () => {
    const extra = openSync('/dev/null', 'r');
    try {
      const { fds } = run(['fds'], { stdio: ['pipe', 'pipe', 'pipe', extra] });
      expect(fds).toEqual([...fds].sort((a: number, b: number) => a - b));
      expect(fds).toEqual(expect.arrayContaining([0, 1, 2, 3]));
      // The listing fd would be the lowest free number, 4 unless something leaked in.
      const again = run(['fds', 'fds'], { stdio: ['pipe', 'pipe', 'pipe', extra] });
      expect(again.fds).toEqual(fds);
    } finally {
      closeSync(extra);
    }
  });

  it('write: creates and removes a new file, and leaves an existing one alone', () => {
    const path = unique();
    const created = run([`write:${path}`])[`write:${path}`];
    expect(created).toEqual({ ok: true, errno: 0, error: expect.any(String), created: true });
    expect(existsSync(path)).toBe(false);

    writeFileSync(path, 'keep');
    try {
      const opened = run([`write:${path}`])[`write:${path}`];
      expect(opened).toMatchObject({ ok: true, errno: 0, created: false });
      expect(readFileSync(path, 'utf8')).toBe('keep');
    } finally {
      rmSync(path, { force: true });
    }

    const missing = run(['write:/nonexistent-dir/x'])['write:/nonexistent-dir/x'];
    expect(missing).toMatchObject({ ok: false, errno: 2, created: false });
  });

  it('syscall:fork succeeds', () => {
    expect(run(['syscall:fork'])['syscall:fork']).toMatchObject({ ret: 0, errno: 0 });
  });

  it('syscall:int80_getpid reports a result, a signal, or that it was skipped', () => {
    const r = run(['syscall:int80_getpid'])['syscall:int80_getpid'];
    if (arch() !== 'x64') {
      expect(r).toEqual({ ret: null, errno: null, skipped: true });
    } else if (r.signal !== undefined) {
      expect(r.ret).toBeNull(); // 32-bit entry missing or filtered: the helper child was killed
    } else if (r.ret < 0) {
      expect(r.errno).toBe(-r.ret);
    } else {
      expect(r.ret).toBeGreaterThan(0); // the pid of the probe's throwaway child
      expect(r.errno).toBe(0);
    }
  });

  it('stat:/dev/null is the 1:3 character device', () => {
    const st = run(['stat:/dev/null'])['stat:/dev/null'];
    expect(st).toMatchObject({ ok: true, errno: 0, type: 'chr', rdev_major: 1, rdev_minor: 3, mode: 0o666 });
    const missing = run(['stat:/nonexistent'])['stat:/nonexistent'];
    expect(missing).toMatchObject({ ok: false, errno: 2 });
  });

  it('exit:3 exits 3 with the JSON so far closed', () => {
    const { status, out } = runFailing(['pid', 'exit:3', 'ids']);
    expect(status).toBe(3);
    expect(out.pid.pid).toBeGreaterThan(0);
    expect(out['exit:3']).toBeNull();
    expect(out.ids).toBeUndefined();
  });

  it('unknown reports and bad arguments give an error value and exit 2', () => {
    const { status, out } = runFailing(['nonsense', 'ids:x', 'exit:x', 'syscall:nonsense', 'echo:ok']);
    expect(status).toBe(2);
    expect(out).toEqual({
      nonsense: { error: 'unknown report' },
      'ids:x': { error: 'bad argument' },
      'exit:x': { error: 'bad argument' },
      'syscall:nonsense': { error: 'unknown syscall' },
      'echo:ok': 'ok',
    });
  });

  it('escapes odd bytes so the output stays valid JSON', () => {
    const text = 'q"b\\s\u0001\n\ttab é \u2028';
    expect(run([`echo:${text}`])[`echo:${text}`]).toBe(text);

    const path = unique();
    writeFileSync(path, Buffer.from([0x61, 0xff, 0x00, 0xc3, 0xa9, 0xe2, 0x82, 0x0a, 0x7f]));
    try {
      const r = run([`read:${path}`])[`read:${path}`];
      // invalid UTF-8 bytes come back as U+00XX, valid sequences unchanged
      expect(r).toMatchObject({ ok: true, bytes: 9, content: 'a\u00ff\u0000é\u00e2\u0082\n\u007f' });
    } finally {
      rmSync(path, { force: true });
    }
  });

  it('a failed exec: is reported and the probe goes on', () => {
    const out = run(['exec:/nonexistent', 'echo:after']);
    expect(out['exec:/nonexistent']).toMatchObject({ errno: 2 });
    expect(out['echo:after']).toBe('after');
  });
});
