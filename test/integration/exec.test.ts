// `sandbox exec host` through the real CLI, as root and as the unprivileged
// test user: facts observed from inside by the probe.
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSubIds } from '../../src/host/subid.js';
import {
  IDENTITIES, ROOT, SBTEST_NORANGE, missingUsers, processesWith, runCli, runProbe, startCli, waitFor, probe,
} from './harness.js';

const ZERO_CAPS = '0000000000000000';

function hostNamespaces(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ns of ['user', 'pid', 'mnt', 'net', 'uts', 'ipc', 'cgroup']) out[ns] = readlinkSync(`/proc/self/ns/${ns}`);
  return out;
}

describe.each(IDENTITIES)('sandbox exec host as $name', (who) => {
  const as = who;

  it('maps ids through the subordinate range and never to host root', async () => {
    const { report, code } = await runProbe([], ['ids'], { as });
    expect(code).toBe(0);
    expect(report.ids.uid).toBe(0);
    const lines = (map: string) => map.split('\n').map((l) => l.trim().split(/\s+/).map(Number));
    const [uidRange] = readSubIds('/etc/subuid', { name: who.name, id: who.uid });
    const [gidRange] = readSubIds('/etc/subgid', { name: who.name, id: who.uid });
    // each run takes a slot of 1024 ids of the range (concurrent runs never share host ids)
    const inSlot = (line: number[], range: { start: number; count: number }, firstInside: number) => {
      const [inside, outside, count] = line as [number, number, number];
      expect(inside).toBe(firstInside);
      expect(count).toBe(1024 - firstInside);
      expect(outside).toBeGreaterThanOrEqual(range.start);
      expect(outside + count).toBeLessThanOrEqual(range.start + range.count);
      expect((outside - firstInside - range.start) % 1024).toBe(0);
    };
    if (who.uid === 0) {
      // root: inside 0 is the first id of a slot of root's range, not host root
      const [u] = lines(report.ids.uid_map);
      const [g] = lines(report.ids.gid_map);
      inSlot(u!, uidRange!, 0);
      inSlot(g!, gidRange!, 0);
    } else {
      const [u0, u1] = lines(report.ids.uid_map);
      const [g0, g1] = lines(report.ids.gid_map);
      expect(u0).toEqual([0, who.uid, 1]);
      expect(g0).toEqual([0, who.gid, 1]);
      inSlot(u1!, uidRange!, 1);
      inSlot(g1!, gidRange!, 1);
    }
  });

  it('strict: runs as uid 1000 with no capabilities, no_new_privs, no supplementary groups', async () => {
    const { report } = await runProbe(['--profile', 'strict'], ['ids', 'caps'], { as });
    expect(report.ids).toMatchObject({ uid: 1000, euid: 1000, gid: 1000, egid: 1000 });
    expect(report.ids.groups).toEqual([]);
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(report.caps[set]).toBe(ZERO_CAPS);
    expect(report.caps.NoNewPrivs).toBe(1);
  });

  it('-u chooses the identity; ids outside the range are refused', async () => {
    const { report } = await runProbe(['-u', '4242:4343'], ['ids'], { as });
    expect(report.ids).toMatchObject({ uid: 4242, gid: 4343 });
    const bad = await runCli(['exec', '-u', '70000', 'host', '/bin/true'], { as });
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/uid 70000 does not exist inside the sandbox \(-u\)/);
  });

  it('a reaper is pid 1 and the workload is not; every namespace is new', async () => {
    const { report } = await runProbe([], ['pid', 'ns'], { as });
    expect(report.pid.pid).not.toBe(1);
    expect(report.pid.ppid).toBe(1);
    expect(report.pid.comm_of_1).toBe('sandbox-stage');
    expect(report.pid.sid).toBe(report.pid.pid); // its own session: no controlling terminal
    const mine = hostNamespaces();
    for (const ns of Object.keys(mine)) expect(report.ns[ns], ns).not.toBe(mine[ns]);
  });

  it('hostname, only lo (up), clean environment, working directory', async () => {
    const { report } = await runProbe([], ['hostname', 'ifaces', 'env', 'cwd'], {
      as, env: { SECRET_TOKEN: 'leak-me', TERM: 'xterm-kitty' },
    });
    expect(report.hostname).toBe('sandbox');
    expect(report.ifaces).toEqual([{ name: 'lo', up: true }]);
    expect(Object.keys(report.env).sort()).toEqual(['HOME', 'HOSTNAME', 'PATH']);
    expect(report.env.HOME).toBe('/root'); // the default profile runs as uid 0 inside
    expect(report.cwd).toBe('/root');
    const named = await runProbe(['--hostname', 'judge-7', '-w', '/tmp', '-e', 'A=1', '-e', 'SECRET_TOKEN'], ['hostname', 'env', 'cwd'], {
      as, env: { SECRET_TOKEN: 'copied' },
    });
    expect(named.report.hostname).toBe('judge-7');
    expect(named.report.cwd).toBe('/tmp');
    expect(named.report.env).toMatchObject({ A: '1', SECRET_TOKEN: 'copied' });
  });

  it('the workload gets the caller\'s umask (set-up itself runs with umask 0)', async () => {
    const r = await runCli(['exec', 'host', '/bin/sh', '-c', 'umask; stat -c %a /tmp /dev/shm'], { as });
    expect(r.stdout.split('\n').slice(0, 3)).toEqual([process.umask().toString(8).padStart(4, '0'), '1777', '1777']);
  });

  it('--env-file adds variables, -e overrides them', async () => {
    const file = `/tmp/sandbox-envfile-${who.name}`;
    writeFileSync(file, '# comment\nFROM_FILE=yes\nB=file\n', { mode: 0o644 });
    try {
      const { report } = await runProbe(['--env-file', file, '-e', 'B=flag'], ['env'], { as });
      expect(report.env).toMatchObject({ FROM_FILE: 'yes', B: 'flag' });
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('the caller\'s files are not visible; / and /usr are read-only under strict', async () => {
    const canary = join(who.home, `.sandbox-canary-${process.pid}`);
    writeFileSync(canary, 'secret');
    try {
      const { report } = await runProbe(['--profile', 'strict'], [
        `stat:${canary}`, 'stat:/root', 'stat:/var', 'write:/x', 'write:/usr/x', 'write:/etc/passwd', 'write:/tmp/x', 'write:/home/sandbox/x',
      ], { as });
      expect(report[`stat:${canary}`].errno).toBe(2); // ENOENT
      expect(report['stat:/var'].errno).toBe(2);
      expect(report['write:/x'].errno).toBe(30); // EROFS
      expect(report['write:/usr/x'].errno).toBe(30);
      expect(report['write:/etc/passwd'].errno).toBe(13); // EACCES: root's file; read-only below
      expect(report['write:/tmp/x'].ok).toBe(true);
      expect(report['write:/home/sandbox/x'].ok).toBe(true);
      // as uid 0 inside, permissions allow it: only the read-only mount refuses
      const asRoot = await runProbe(['--profile', 'strict', '-u', '0'], ['write:/etc/passwd', 'write:/x', 'write:/etc/ssl/x'], { as });
      expect(asRoot.report['write:/etc/passwd'].errno).toBe(30);
      expect(asRoot.report['write:/x'].errno).toBe(30);
      expect(asRoot.report['write:/etc/ssl/x'].errno).toBe(30);
    } finally {
      rmSync(canary, { force: true });
    }
  });

  it('default profile: writable root tmpfs, /usr still read-only', async () => {
    const { report } = await runProbe([], ['write:/x', 'write:/usr/x', 'write:/usr/bin/x'], { as });
    expect(report['write:/x'].ok).toBe(true);
    expect(report['write:/usr/x'].errno).toBe(30);
    expect(report['write:/usr/bin/x'].errno).toBe(30);
  });

  it('/proc is new, with masked and read-only paths; /dev is minimal', async () => {
    const masked = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug'].filter((p) => {
      try { readFileSync(p, { flag: 'r' }); return true; } catch (e) { return (e as NodeJS.ErrnoException).code !== 'ENOENT'; }
    });
    const reports = [
      ...masked.map((p) => `stat:${p}`), 'read:/proc/keys', 'write:/proc/sys/kernel/hostname', 'stat:/proc/acpi',
      'stat:/dev/null', 'stat:/dev/zero', 'stat:/dev/pts/ptmx', 'readlink:/dev/fd', 'stat:/dev/sda', 'stat:/dev/vda', 'stat:/dev/mem',
      'mounts',
    ];
    const { report } = await runProbe(['--profile', 'strict'], reports, { as });
    for (const p of masked) expect({ p, ...report[`stat:${p}`] }).toMatchObject({ p, type: 'chr', rdev_major: 1, rdev_minor: 3 });
    expect(report['read:/proc/keys'].bytes).toBe(0);
    expect(report['write:/proc/sys/kernel/hostname'].ok).toBe(false);
    expect(report['stat:/dev/null']).toMatchObject({ type: 'chr', rdev_major: 1, rdev_minor: 3 });
    expect(report['stat:/dev/zero']).toMatchObject({ type: 'chr', rdev_major: 1, rdev_minor: 5 });
    expect(report['readlink:/dev/fd'].target).toBe('/proc/self/fd');
    for (const dev of ['/dev/sda', '/dev/vda', '/dev/mem']) expect(report[`stat:${dev}`].errno).toBe(2);
    const byPoint = new Map((report.mounts as any[]).map((m) => [m.mount_point, m]));
    expect(byPoint.get('/proc')?.fs_type).toBe('proc');
    expect(byPoint.get('/proc/sys')?.options).toMatch(/^ro,/);
    // runc's and podman's defaults too (sandbox-oci accepts a config's /proc/fs and /proc/asound for them)
    if (existsOnHost('/proc/fs')) expect(byPoint.get('/proc/fs')?.options).toMatch(/^ro,/);
    if (existsOnHost('/proc/asound')) expect(byPoint.get('/proc/asound')?.fs_type).toBe('tmpfs');
    expect(byPoint.get('/dev/pts')?.super_options).toMatch(/ptmxmode=666/);
    expect(byPoint.get('/tmp')?.fs_type).toBe('tmpfs');
    if (existsOnHost('/proc/acpi')) expect(byPoint.get('/proc/acpi')?.fs_type).toBe('tmpfs');
  });

  it('volumes: read-only by default, :rw writable, --tmpfs, --read-only', async () => {
    const dir = `/tmp/sandbox-vol-${who.name}-${process.pid}`;
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777); // writable by the mapped uid 0 of the sandbox
    try {
      const { report } = await runProbe(
        ['-v', `${dir}:/ro`, '-v', `${dir}:/rw:rw`, '--tmpfs', '/scratch:size=1m', '--read-only'],
        ['write:/ro/f', 'write:/rw/f', 'write:/scratch/f', 'write:/f', 'mounts'],
        { as },
      );
      expect(report['write:/ro/f'].errno).toBe(30);
      expect(report['write:/rw/f'].ok).toBe(true);
      expect(report['write:/scratch/f'].ok).toBe(true);
      expect(report['write:/f'].errno).toBe(30);
      const scratch = (report.mounts as any[]).find((m) => m.mount_point === '/scratch');
      expect(scratch.super_options).toMatch(/size=1024k/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('only fds 0, 1, 2 reach the workload, even when the caller has more open', async () => {
    const extra = openSync('/dev/null', 'r');
    try {
      const p = await probe();
      const child = startCli(['exec', '-v', `${p}:/probe`, 'host', '/probe', 'fds'], {
        as, stdio: ['ignore', 'pipe', 'pipe', 'pipe', extra],
      });
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      const code = await new Promise((r) => child.on('close', r));
      expect(code).toBe(0);
      expect(JSON.parse(out).fds).toEqual([0, 1, 2]);
    } finally {
      closeSync(extra);
    }
  });

  it('exit codes: own code, 128+signal, 126 not executable, 127 not found', async () => {
    expect((await runProbe([], ['exit:3'], { as })).code).toBe(3);
    expect((await runProbe([], ['exit:0'], { as })).code).toBe(0);
    expect((await runProbe([], ['signal:9'], { as })).code).toBe(137);
    const notFound = await runCli(['exec', 'host', 'no-such-program-x'], { as });
    expect(notFound.code).toBe(127);
    expect(notFound.stderr).toMatch(/execute no-such-program-x: ENOENT/);
    const notExec = await runCli(['exec', 'host', '/etc/hostname'], { as });
    expect(notExec.code).toBe(126);
    expect(notExec.stderr).toMatch(/EACCES/);
  });

  it('a background process left by the workload is killed when it exits', async () => {
    const marker = `${31.25 + who.uid / 1e6}`;
    const { code } = await runProbe([], [`spawn_orphan:${marker}`, 'exit:0'], { as });
    expect(code).toBe(0);
    expect(await waitFor(() => processesWith(`spawn_orphan:${marker}`).length === 0, 2000)).toBe(true);
  });

  it('kill -9 of sandbox leaves no process behind', async () => {
    const p = await probe();
    const marker = `sleep:${40 + who.uid / 1e6}`;
    const mountsBefore = readFileSync('/proc/self/mountinfo', 'utf8');
    const child = startCli(['exec', '-v', `${p}:/probe`, 'host', '/probe', marker, 'exit:0'], { as });
    expect(await waitFor(() => processesWith(marker).length >= 2, 5000)).toBe(true); // stage + workload
    process.kill(child.pid!, 'SIGKILL');
    expect(await waitFor(() => processesWith(marker).length === 0, 3000)).toBe(true);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toBe(mountsBefore);
  });

  it.each(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const)('%s sent to sandbox reaches the workload', async (sig) => {
    const p = await probe();
    const marker = `sleep:${41 + who.uid / 1e6 + ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'].indexOf(sig) / 100}`;
    const child = startCli(['exec', '-v', `${p}:/probe`, 'host', '/probe', marker], { as });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    // the probe prints its sleep report before sleeping: it has executed
    expect(await waitFor(() => out.includes(marker), 5000)).toBe(true);
    child.kill(sig);
    const code = await new Promise((r) => child.on('close', r));
    expect(code).toBe(128 + constants.signals[sig]);
  });
});

function existsOnHost(path: string): boolean {
  try { readFileSync(path); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EISDIR'; }
}

describe.skipIf(missingUsers)('a user without a subordinate range', () => {
  it('gets a single-id mapping with setgroups denied, and it is reported', async () => {
    const as = SBTEST_NORANGE!;
    const { report } = await runProbe(['--profile', 'strict'], ['ids', 'caps'], { as });
    expect(report.ids.uid).toBe(1000);
    expect(report.ids.uid_map.trim().split(/\s+/)).toEqual(['1000', String(as.uid), '1']);
    expect(report.ids.setgroups).toBe('deny');
    expect(report.caps.CapEff).toBe(ZERO_CAPS);
    const doctor = await runCli(['doctor', '--json'], { as });
    expect(JSON.parse(doctor.stdout).idmap).toBe('single');
  });
});

describe('bad input gives exit 125 and names the problem', () => {
  const as = ROOT;
  it('unknown flag', async () => {
    const r = await runCli(['exec', '--no-such-flag', 'host', '/bin/true'], { as });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/unknown option '--no-such-flag'/);
  });
  it('an image that is not stored (pull never) or whose registry cannot be reached', async () => {
    const store = `/tmp/exec-test-store-${as.name}-${process.pid}`;
    const never = await runCli(['exec', '--store', store, '--pull', 'never', 'alpine:3.20', '/bin/true'], { as });
    expect(never.code).toBe(125);
    expect(never.stderr).toMatch(/image docker.io\/library\/alpine:3.20 is not in the store .* \(pull policy: never\)/);
    expect(never.stderr).toMatch(/hint: pull it first: sandbox image pull alpine:3.20/);
    const unreachable = await runCli(['exec', '--store', store, '127.0.0.1:1/x', '/bin/true'], { as });
    expect(unreachable.code).toBe(125);
    expect(unreachable.stderr).toMatch(/manifest 127.0.0.1:1\/x:latest: cannot reach 127.0.0.1:1/);
    rmSync(store, { recursive: true, force: true });
  });
  it('missing command', async () => {
    const r = await runCli(['exec', 'host'], { as });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/missing command/);
  });
  it('malformed and invalid profiles name the file and the JSON pointer', async () => {
    const bad = '/tmp/sandbox-bad-profile.json';
    writeFileSync(bad, '{ "user": ');
    const r1 = await runCli(['exec', '--profile', bad, 'host', '/bin/true'], { as });
    expect(r1.code).toBe(125);
    expect(r1.stderr).toContain(`profile ${bad} is not valid JSON`);
    writeFileSync(bad, JSON.stringify({ user: { uid: 'x', gid: 0 }, tmpfs: [{ path: '/t', sizee: '1m' }] }));
    const r2 = await runCli(['exec', '--profile', bad, 'host', '/bin/true'], { as });
    expect(r2.code).toBe(125);
    expect(r2.stderr).toContain('/user/uid: must be integer');
    expect(r2.stderr).toContain('/tmpfs/0/sizee: unknown field "sizee"');
    rmSync(bad);
    const r3 = await runCli(['exec', '--profile', 'nope', 'host', '/bin/true'], { as });
    expect(r3.code).toBe(125);
    expect(r3.stderr).toMatch(/unknown profile "nope"/);
  });
  it('a volume source that does not exist', async () => {
    const r = await runCli(['exec', '-v', '/no/such/dir:/x', 'host', '/bin/true'], { as });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/volume source \/no\/such\/dir does not exist \(-v\)/);
  });
  it('a working directory that cannot be created', async () => {
    const r = await runCli(['exec', '--profile', 'strict', '-w', '/usr/nowhere', 'host', '/bin/true'], { as });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/create directory \/newroot\/usr\/nowhere: EROFS/);
    expect(r.stderr).toMatch(/hint: .*read-only/);
  });
});

describe('profiles', () => {
  it('profile ls and show', async () => {
    const ls = await runCli(['profile', 'ls'], { as: ROOT });
    expect(ls.stdout).toMatch(/^default\s+/m);
    expect(ls.stdout).toMatch(/^strict\s+/m);
    const show = await runCli(['profile', 'show', 'strict'], { as: ROOT });
    expect(JSON.parse(show.stdout)).toMatchObject({ readOnly: true, user: { uid: 1000 } });
  });
  it('flags override the profile: --no-read-only under strict', async () => {
    const { report } = await runProbe(['--profile', 'strict', '-u', '0', '--no-read-only'], ['write:/x', 'cwd'], { as: ROOT });
    expect(report['write:/x'].ok).toBe(true);
    const missingDir = await runProbe(['--profile', 'strict', '-w', '/made/for/you'], ['cwd'], { as: ROOT });
    expect(missingDir.report.cwd).toBe('/made/for/you'); // created before the root turns read-only, as docker does
  });
});

