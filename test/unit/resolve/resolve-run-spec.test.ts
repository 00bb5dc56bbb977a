// resolveRunSpec: defaults, profile values, flag overrides, env precedence,
// volumes and the checks, with made-up host facts, layout and paths.
import { fileURLToPath } from 'node:url';
import { PODMAN_DEFAULT_CAPS } from '../../../src/resolve/capabilities.js';
import { describe, expect, it } from 'vitest';
import { loadProfile } from '../../../src/config/load-profile.js';
import { SandboxError } from '../../../src/errors.js';
import { planIdMap } from '../../../src/idmap/plan-idmap.js';
import { DEFAULT_PATH } from '../../../src/resolve/resolve-run-spec.js';
import {
  aliceNoRange, aliceSubid, EMPTY_PROFILE, fakeLayout, handProfile, resolve, rootNoRange,
  refused,
} from '../support/fixtures.js';

const PROFILES = fileURLToPath(new URL('../../../profiles/', import.meta.url));
const MiB = 1024 * 1024;

const usage = (fn: () => unknown) => refused(fn, 'usage');

describe('defaults (empty profile, no flags)', () => {
  it('resolves to the built-in defaults', () => {
    const layout = fakeLayout();
    const spec = resolve({ command: ['/bin/echo', 'hi'] }, { layout });
    expect(spec).toEqual({
      image: { kind: 'host', layout },
      profile: { name: 'empty', file: '/profiles/empty.json' },
      argv: ['/bin/echo', 'hi'],
      env: [`PATH=${DEFAULT_PATH}`, 'HOME=/root', 'HOSTNAME=sandbox'],
      searchPath: DEFAULT_PATH,
      chownAfterRun: null,
      cwd: '/root',
      user: { uid: 0, gid: 0, name: 'root', home: '/root' },
      hostname: 'sandbox',
      network: { mode: 'none' },
      readOnly: false,
      rootSizeBytes: 64 * MiB,
      tmpfs: [{ path: '/tmp', sizeBytes: 64 * MiB, mode: 0o1777, owner: 'root' }],
      volumes: [],
      chownAfterRun: null,
      tty: false,
      interactive: false,
      idmap: planIdMap(aliceSubid, { uid: 0, gid: 0 }),
      seccomp: 'default',
      capabilities: [...PODMAN_DEFAULT_CAPS],
      noNewPrivileges: true,
      limits: { cpuTimeUs: null, wallTimeUs: null, memoryBytes: null, pids: null, fsizeBytes: null, nofile: null, stackBytes: null, outputBytes: null, addressSpaceBytes: null },
      output: { relay: false, mergeStderr: false },
    });
    expect(DEFAULT_PATH).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  });

  it('names a non-root user "sandbox" with home /home/sandbox, and starts there', () => {
    const spec = resolve({ user: '1000' });
    expect(spec.user).toEqual({ uid: 1000, gid: 1000, name: 'sandbox', home: '/home/sandbox' });
    expect(spec.cwd).toBe('/home/sandbox');
    expect(spec.env).toEqual([`PATH=${DEFAULT_PATH}`, 'HOME=/home/sandbox', 'HOSTNAME=sandbox']);
  });

  it('names uid 0 "root" whatever its gid', () => {
    expect(resolve({ user: '0:50' }).user).toEqual({ uid: 0, gid: 50, name: 'root', home: '/root' });
  });

  it('always has a /tmp tmpfs, first, next to other tmpfs mounts', () => {
    const spec = resolve({ tmpfs: ['/scratch:size=1m'] });
    expect(spec.tmpfs.map((t) => t.path)).toEqual(['/tmp', '/scratch']);
    expect(spec.tmpfs[1]).toEqual({ path: '/scratch', sizeBytes: MiB, mode: 0o1777, owner: 'root' });
  });

  it('keeps a /tmp given by flag instead of adding the default one', () => {
    const spec = resolve({ tmpfs: ['/tmp:size=1m,mode=0700'] });
    expect(spec.tmpfs).toEqual([{ path: '/tmp', sizeBytes: MiB, mode: 0o700, owner: 'root' }]);
  });

  it('adds TERM only with a tty, from the caller or xterm', () => {
    expect(resolve({}, { callerEnv: { TERM: 'screen' } }).env.some((e) => e.startsWith('TERM='))).toBe(false);
    expect(resolve({ tty: true }, { callerEnv: { TERM: 'screen' } }).env)
      .toEqual([`PATH=${DEFAULT_PATH}`, 'HOME=/root', 'HOSTNAME=sandbox', 'TERM=screen']);
    expect(resolve({ tty: true }, { callerEnv: {} }).env.at(-1)).toBe('TERM=xterm');
    expect(resolve({ tty: true, interactive: true }).interactive).toBe(true);
  });

  it('never copies the caller environment unless asked', () => {
    const spec = resolve({}, { callerEnv: { SECRET: 'x', PATH: '/evil', HOME: '/home/alice' } });
    expect(spec.env).toEqual([`PATH=${DEFAULT_PATH}`, 'HOME=/root', 'HOSTNAME=sandbox']);
  });
});

describe('profile values', () => {
  const profile = handProfile({
    user: { uid: 1234, gid: 5678 },
    hostname: 'box',
    readOnly: true,
    rootSize: '8m',
    workdir: '/srv/../work',
    env: { A: '1', PATH: '/opt/bin:/usr/bin' },
    tmpfs: [{ path: '/scratch', size: '1m', mode: '0700', owner: 'user' }],
  });

  it('are used when no flag is given', () => {
    const spec = resolve({}, { profile });
    expect(spec.user).toEqual({ uid: 1234, gid: 5678, name: 'sandbox', home: '/home/sandbox' });
    expect(spec.hostname).toBe('box');
    expect(spec.readOnly).toBe(true);
    expect(spec.rootSizeBytes).toBe(8 * MiB);
    expect(spec.cwd).toBe('/work');
    expect(spec.env).toEqual(['PATH=/opt/bin:/usr/bin', 'HOME=/home/sandbox', 'HOSTNAME=box', 'A=1']);
    expect(spec.searchPath).toBe('/opt/bin:/usr/bin');
    expect(spec.tmpfs).toEqual([
      { path: '/tmp', sizeBytes: 64 * MiB, mode: 0o1777, owner: 'root' },
      { path: '/scratch', sizeBytes: MiB, mode: 0o700, owner: 'user' },
    ]);
    expect(spec.profile).toEqual({ name: 'hand', file: '/profiles/hand.json' });
  });

  it('are overridden by flags', () => {
    const spec = resolve({ user: '7:8', hostname: 'flag', readOnly: false, workdir: '/w' }, { profile });
    expect(spec.user).toEqual({ uid: 7, gid: 8, name: 'sandbox', home: '/home/sandbox' });
    expect(spec.hostname).toBe('flag');
    expect(spec.readOnly).toBe(false);
    expect(spec.cwd).toBe('/w');
    expect(spec.env).toContain('HOSTNAME=flag');
  });

  it('readOnly: true from a flag wins over false in the profile', () => {
    expect(resolve({ readOnly: true }, { profile: handProfile({ readOnly: false }) }).readOnly).toBe(true);
    expect(resolve({}, { profile: handProfile({ readOnly: false }) }).readOnly).toBe(false);
  });

  it('a user given as ids is taken as is', () => {
    expect(resolve({ user: { uid: 3, gid: 4 } }, { profile }).user).toEqual({ uid: 3, gid: 4, name: 'sandbox', home: '/home/sandbox' });
  });

  it('a profile tmpfs size error names the profile file and field', () => {
    const bad = handProfile({ tmpfs: [{ path: '/x', size: '0' }] });
    expect(usage(() => resolve({}, { profile: bad })).message).toBe('invalid size "0" (/profiles/hand.json#/tmpfs/0)');
  });
});

describe('shipped profiles', () => {
  it('strict: uid 1000, read-only root, small root, /tmp and a user-owned home tmpfs', () => {
    const spec = resolve({}, { profile: loadProfile('strict') });
    expect(spec.user).toEqual({ uid: 1000, gid: 1000, name: 'sandbox', home: '/home/sandbox' });
    expect(spec.readOnly).toBe(true);
    expect(spec.rootSizeBytes).toBe(4 * MiB);
    expect(spec.cwd).toBe('/home/sandbox');
    expect(spec.tmpfs).toEqual([
      { path: '/tmp', sizeBytes: 64 * MiB, mode: 0o1777, owner: 'root' },
      { path: '/home/sandbox', sizeBytes: 16 * MiB, mode: 0o700, owner: 'user' },
    ]);
    expect(spec.profile).toEqual({ name: 'strict', file: PROFILES + 'strict.json' });
  });

  it('default: root inside, writable root of 256m, /tmp of 256m', () => {
    const spec = resolve({}, { profile: loadProfile('default') });
    expect(spec.user).toEqual({ uid: 0, gid: 0, name: 'root', home: '/root' });
    expect(spec.readOnly).toBe(false);
    expect(spec.rootSizeBytes).toBe(256 * MiB);
    expect(spec.tmpfs).toEqual([{ path: '/tmp', sizeBytes: 256 * MiB, mode: 0o1777, owner: 'root' }]);
    expect(spec.hostname).toBe('sandbox');
    expect(spec.network).toEqual({ mode: 'none' });
  });

  it('the id map follows the host and the workload user', () => {
    expect(resolve({}, { profile: loadProfile('strict'), host: aliceNoRange }).idmap)
      .toEqual(planIdMap(aliceNoRange, { uid: 1000, gid: 1000 }));
    expect(resolve({ user: '5' }, { host: rootNoRange }).idmap.uidMap).toEqual([{ inside: 5, outside: 65534, count: 1 }]);
  });

  it('refuses a workload uid outside the mapped range', () => {
    expect(usage(() => resolve({ user: '70000' })).message).toContain('uid 70000');
  });
});

describe('environment', () => {
  const profile = handProfile({ env: { A: 'profile', B: 'profile', C: 'profile' } });

  it('profile env < env file < -e, keeping first-seen order', () => {
    const spec = resolve(
      { env: ['A=flag'] },
      { profile, envFiles: [{ file: 'x.env', text: 'A=file\nB=file\nD=file\n' }] },
    );
    expect(spec.env).toEqual([
      `PATH=${DEFAULT_PATH}`, 'HOME=/root', 'HOSTNAME=sandbox', 'A=flag', 'B=file', 'C=profile', 'D=file',
    ]);
  });

  it('later env files win over earlier ones', () => {
    const spec = resolve({}, { envFiles: [{ file: 'a', text: 'K=1' }, { file: 'b', text: 'K=2' }] });
    expect(spec.env.at(-1)).toBe('K=2');
    expect(spec.env.filter((e) => e.startsWith('K='))).toHaveLength(1);
  });

  it('-e KEY copies the caller value, and leaves it out when unset', () => {
    const spec = resolve({ env: ['LANG', 'MISSING'] }, { callerEnv: { LANG: 'C.UTF-8' } });
    expect(spec.env).toEqual([`PATH=${DEFAULT_PATH}`, 'HOME=/root', 'HOSTNAME=sandbox', 'LANG=C.UTF-8']);
  });

  it('-e PATH replaces PATH in place and becomes the search path', () => {
    const spec = resolve({ env: ['PATH=/x/bin'] });
    expect(spec.env[0]).toBe('PATH=/x/bin');
    expect(spec.searchPath).toBe('/x/bin');
  });

  it('accepts a map of variables', () => {
    expect(resolve({ env: { K: 'v=1' } }).env.at(-1)).toBe('K=v=1');
  });

  it('a bad env file line names the file and line', () => {
    expect(usage(() => resolve({}, { envFiles: [{ file: 'a.env', text: 'OK=1\n=x' }] })).message)
      .toBe('invalid environment variable "=x" (--env-file a.env:2)');
  });
});

describe('volumes', () => {
  it('use the canonical source path and its kind, read-only by default', () => {
    const spec = resolve({ volumes: ['/src:/work:rw', '/cfg.txt:/etc/app.conf', { source: '/ro-dir', target: '/ro/' }] });
    expect(spec.volumes).toEqual([
      { source: '/srv/real-src', target: '/work', writable: true, noexec: false, kind: 'dir' },
      { source: '/etc-real/cfg.txt', target: '/etc/app.conf', writable: false, noexec: false, kind: 'file' },
      { source: '/ro-dir', target: '/ro', writable: false, noexec: false, kind: 'dir' },
    ]);
  });

  it('profile volumes come first', () => {
    const profile = handProfile({ volumes: [{ source: '/data-host', target: '/data', writable: true }] });
    expect(resolve({ volumes: ['/src:/src'] }, { profile }).volumes.map((v) => v.target)).toEqual(['/data', '/src']);
  });

  it('refuses a source that does not exist, naming it and -v', () => {
    const e = usage(() => resolve({ volumes: ['/nope:/x'] }));
    expect(e.message).toBe('volume source /nope does not exist (-v)');
  });

  it('a missing profile volume names the profile field', () => {
    const profile = handProfile({ volumes: [{ source: '/nope', target: '/x' }] });
    expect(usage(() => resolve({}, { profile })).message).toBe('volume source /nope does not exist (/profiles/hand.json#/volumes/0)');
  });

  it('refuses a source that is neither file nor directory', () => {
    expect(usage(() => resolve({ volumes: ['/dev/sda:/disk'] })).message).toBe('volume source /dev/sda is not a file or directory (-v)');
  });

  it.each(['/', '/proc', '/proc/x', '/proc/sys/kernel', '/dev', '/dev/pts', '//proc', '/dev/', '/proc/../proc'])(
    'refuses a mount on the reserved target %j',
    (target) => {
      expect(usage(() => resolve({ volumes: [`/src:${target}`] })).message).toMatch(/^cannot mount over \/(proc|dev|dev\/pts)?\S* \(-v\)$/);
      expect(usage(() => resolve({ tmpfs: [target] })).message).toMatch(/^cannot mount over .* \(--tmpfs\)$/);
    },
  );

  it('names the normalized reserved target', () => {
    expect(usage(() => resolve({ volumes: ['/src:/proc/x/'] })).message).toBe('cannot mount over /proc/x (-v)');
    expect(usage(() => resolve({ volumes: ['/src:/'] })).message).toBe('cannot mount over / (-v)');
  });

  it('refuses two mounts on one target from the same source', () => {
    expect(usage(() => resolve({ volumes: ['/src:/data'], tmpfs: ['/data/'] })).message).toBe('two mounts on /data (flags)');
    expect(usage(() => resolve({ volumes: ['/src:/a', '/ro-dir:/a'] })).message).toBe('two mounts on /a (flags)');
  });

  it('a flag replaces the profile\'s mount on the same target, and the default /tmp', () => {
    const strict = loadProfile('strict');
    const bigTmp = resolve({ tmpfs: ['/tmp:size=1g'] }, { profile: strict });
    expect(bigTmp.tmpfs.filter((t) => t.path === '/tmp').map((t) => t.sizeBytes)).toEqual([1024 ** 3]);
    const homeVolume = resolve({ volumes: ['/src:/home/sandbox:rw'] }, { profile: strict });
    expect(homeVolume.tmpfs.map((t) => t.path)).toEqual(['/tmp']);
    expect(homeVolume.volumes.map((v) => v.target)).toEqual(['/home/sandbox']);
    const tmpVolume = resolve({ volumes: ['/src:/tmp:rw'] });
    expect(tmpVolume.tmpfs.map((t) => t.path)).not.toContain('/tmp');
  });
});

describe('limits', () => {
  it('flags beat the profile; units become microseconds and bytes; the output limit turns the relay on', () => {
    const profile = handProfile({ limits: { cpuTime: 2, memory: '128m', pids: 64, output: '1m' } });
    const spec = resolve({ limits: { cpuTime: 0.25, wallTime: 3, nofile: 16 } }, { profile });
    expect(spec.limits).toEqual({
      cpuTimeUs: 250_000, wallTimeUs: 3_000_000, memoryBytes: 128 << 20, pids: 64, fsizeBytes: null, nofile: 16, stackBytes: null, outputBytes: 1 << 20, addressSpaceBytes: null,
    });
    expect(spec.output).toEqual({ relay: true, mergeStderr: false });
  });

  it('the strict profile carries ceilings with no flags; "unlimited" lifts one, another flag replaces one', () => {
    const strict = loadProfile('strict');
    expect(resolve({}, { profile: strict }).limits).toEqual({
      cpuTimeUs: 10_000_000, wallTimeUs: null, memoryBytes: 1 << 30, pids: 256, fsizeBytes: 64 << 20, nofile: 1024, stackBytes: null, outputBytes: 64 << 20, addressSpaceBytes: null,
    });
    const lifted = resolve({ limits: { cpuTime: 'unlimited', memory: 'unlimited', output: 'unlimited', nofile: 64 } }, { profile: strict });
    expect(lifted.limits).toMatchObject({ cpuTimeUs: null, memoryBytes: null, outputBytes: null, nofile: 64, pids: 256 });
    expect(resolve({}).limits.cpuTimeUs).toBeNull(); // the default profile stays unlimited
  });

  it('bad values name the flag or the profile field', () => {
    expect(usage(() => resolve({ limits: { cpuTime: -1 } })).message).toBe('invalid time "-1" (--cpu-time)');
    expect(usage(() => resolve({ limits: { pids: 0 } })).message).toBe('invalid count "0" (--pids)');
    expect(usage(() => resolve({}, { profile: handProfile({ limits: { memory: 'lots' } }) })).message).toContain('#/limits/memory');
  });
});

describe('seccomp', () => {
  it('the flag beats the profile, which beats "default"', () => {
    expect(resolve({}).seccomp).toBe('default');
    expect(resolve({}, { profile: loadProfile('strict') }).seccomp).toBe('strict');
    expect(resolve({ seccomp: '/p.json' }, { profile: loadProfile('strict') }).seccomp).toBe('/p.json');
    expect(resolve({ seccomp: 'unconfined' }).seccomp).toBe('unconfined');
  });

  it('a profile with refuseUnconfined refuses unconfined, naming the profile', () => {
    expect(usage(() => resolve({ seccomp: 'unconfined' }, { profile: loadProfile('strict') })).message)
      .toBe('profile strict refuses --security-opt seccomp=unconfined');
  });
});

describe('refusals', () => {
  it('an image that was not resolved first (an internal error, naming it)', () => {
    expect(refused(() => resolve({ image: 'alpine:3' }), 'internal').message).toBe('image "alpine:3" was not resolved before the run was planned');
  });

  it('a missing command', () => {
    expect(usage(() => resolve({ command: [] })).message).toBe('missing command');
    expect(usage(() => resolve({ command: [''] })).message).toBe('missing command');
  });

  it.each(['bad_host', '-x', 'a'.repeat(64), '', 'a b'])('the hostname %j', (hostname) => {
    expect(usage(() => resolve({ hostname })).message).toBe(`invalid hostname "${hostname}" (--hostname)`);
  });

  it('accepts a 63-character hostname with dots and dashes', () => {
    expect(resolve({ hostname: 'a'.repeat(61) + '.b' }).hostname).toHaveLength(63);
    expect(resolve({ hostname: 'x-1.example' }).hostname).toBe('x-1.example');
  });

  it('an unknown network mode', () => {
    expect(usage(() => resolve({ network: 'bridge' })).message).toBe('unknown network mode "bridge" (--network)');
    expect(resolve({ network: 'none' }).network).toEqual({ mode: 'none' });
  });

  it('a relative working directory', () => {
    expect(usage(() => resolve({ workdir: 'rel' })).message).toBe('working directory "rel" is not absolute (-w)');
  });

  it('a bad -u string', () => {
    expect(usage(() => resolve({ user: 'bob' })).message).toBe('invalid uid "bob" (-u)');
  });
});

describe('result', () => {
  it('is deeply frozen', () => {
    const spec = resolve({ volumes: ['/src:/work'], env: ['A=1'] });
    for (const o of [
      spec, spec.env, spec.argv, spec.user, spec.tmpfs, spec.tmpfs[0], spec.volumes, spec.volumes[0], spec.idmap,
      spec.idmap.uidMap, spec.idmap.uidMap[0], spec.image, spec.image.layout, spec.image.layout.rootEntries,
      spec.image.layout.rootEntries[0], spec.image.layout.proc.maskFiles, spec.profile,
    ]) {
      expect(Object.isFrozen(o)).toBe(true);
    }
    expect(() => { (spec.env as string[]).push('X=1'); }).toThrow(TypeError);
    expect(() => { (spec.user as { uid: number }).uid = 5; }).toThrow(TypeError);
  });

  it('does not share the command array with the options', () => {
    const command = ['/bin/echo', 'a'];
    const spec = resolve({ command });
    command[1] = 'b';
    expect(spec.argv).toEqual(['/bin/echo', 'a']);
    expect(Object.isFrozen(command)).toBe(false);
  });

  it('with EMPTY_PROFILE the profile is untouched', () => {
    resolve({});
    expect(EMPTY_PROFILE.profile).toEqual({});
  });
});

describe('isolate-style runs', () => {
  it('pathSearch false: a bare name is a file of the working directory (empty search path)', () => {
    expect(resolve({ command: ['a.out'] }).searchPath).toBe(DEFAULT_PATH);
    expect(resolve({ command: ['a.out'], pathSearch: false }).searchPath).toBe('');
  });

  it('cleanEnv: only what env asks for, no PATH, HOME or HOSTNAME of our own', () => {
    expect(resolve({ cleanEnv: true, env: { LIBC_FATAL_STDERR_: '1', X: 'y' } }).env).toEqual(['LIBC_FATAL_STDERR_=1', 'X=y']);
    expect(resolve({ cleanEnv: true }).env).toEqual([]);
  });

  it('addressSpace is a limit of its own (RLIMIT_AS), beside the memory limit', () => {
    const spec = resolve({ limits: { addressSpace: '256m', memory: '1g' } });
    expect(spec.limits.addressSpaceBytes).toBe(256 * MiB);
    expect(spec.limits.memoryBytes).toBe(1024 * MiB);
  });

  it('chownAfterRun names a writable directory volume, else a usage error', () => {
    const spec = resolve({ volumes: ['/src:/box:rw'], chownAfterRun: { target: '/box', uid: 0, gid: 0 } });
    expect(spec.chownAfterRun).toEqual({ source: '/srv/real-src', uid: 0, gid: 0, workloadFirst: false });
    expect(usage(() => resolve({ volumes: ['/src:/box'], chownAfterRun: { target: '/box', uid: 0, gid: 0 } })).message)
      .toBe('chownAfterRun names /box, which is not a writable directory volume');
    expect(usage(() => resolve({ chownAfterRun: { target: '/nowhere', uid: 0, gid: 0 } })).message)
      .toBe('chownAfterRun names /nowhere, which is not a writable directory volume');
    expect(usage(() => resolve({ volumes: ['/src:/box:rw'], chownAfterRun: { target: '/box', uid: -1, gid: 0 } })).message)
      .toBe('chownAfterRun uid -1 is not an id');
  });
});
