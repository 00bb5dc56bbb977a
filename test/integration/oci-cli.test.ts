// `sandbox-oci` through the real bin (bin/sandbox-oci.cjs, the built
// bundle), as root and as the unprivileged test user: --version, features,
// spec, a foreground run of a bundle whose root is a static busybox (the
// container's output, hostname, stdin, exit code, pid file, umask and
// seccomp policy), refusals by JSON pointer in both log formats, and the
// verbs of kept containers without a container (their lifecycle:
// oci-lifecycle.test.ts).
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IDENTITIES, isStaticElf, runCli, waitFor, type Identity } from './harness.js';

const BUSYBOX = '/usr/bin/busybox';
/** A static busybox is a whole root file system in one file. */
const staticBusybox = isStaticElf(BUSYBOX);
if (!staticBusybox) console.warn('oci-cli: the run cases are skipped: no static /usr/bin/busybox (apt-get install busybox-static)');

const base = mkdtempSync('/tmp/oci-cli-');
chmodSync(base, 0o755); // the sandbox's mapped root must reach the bundles
afterAll(() => rmSync(base, { recursive: true, force: true }));

const oci = (who: Identity, args: string[], more: { cwd?: string; input?: string } = {}) =>
  runCli(args, { as: who, bin: 'sandbox-oci.cjs', ...more });

/** A bundle directory with a busybox root, owned by `who`. */
function bundle(who: Identity, name: string): string {
  const dir = join(base, `${who.name}-${name}`);
  mkdirSync(join(dir, 'rootfs', 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'rootfs', 'bin', 'busybox'));
  chmodSync(join(dir, 'rootfs', 'bin', 'busybox'), 0o755);
  for (const tool of ['sh', 'id', 'hostname', 'cat', 'mkdir', 'echo', 'sleep']) symlinkSync('busybox', join(dir, 'rootfs', 'bin', tool));
  for (const d of [dir, join(dir, 'rootfs'), join(dir, 'rootfs', 'bin')]) chownSync(d, who.uid, who.gid);
  chmodSync(dir, 0o755);
  return dir;
}

type Config = Record<string, any>;
const readConfig = (dir: string): Config => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
const writeConfig = (dir: string, c: Config) => writeFileSync(join(dir, 'config.json'), JSON.stringify(c, null, 2));

/** The template made runnable by this version: no terminal, no mqueue or cgroup mount, /dev/shm without noexec, the sandbox's id map. */
function runnable(c: Config, args: string[]): Config {
  c.process.terminal = false;
  c.process.args = args;
  c.hostname = 'oci-box';
  c.mounts = c.mounts.filter((m: Config) => !['/dev/mqueue', '/sys/fs/cgroup'].includes(m.destination));
  for (const m of c.mounts) if (m.destination === '/dev/shm') m.options = m.options.filter((o: string) => o !== 'noexec');
  delete c.linux.uidMappings;
  delete c.linux.gidMappings;
  return c;
}

describe.each(IDENTITIES)('sandbox-oci as $name', (who) => {
  const rootless = who.uid !== 0 ? ['--rootless'] : [];

  it('--version prints runc-like lines', async () => {
    const r = await oci(who, ['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('sandbox-oci version 0.1.0\nspec: 1.2.0\n');
  });

  it('features is JSON with the versions of the spec', async () => {
    const r = await oci(who, ['features']);
    expect(r.code).toBe(0);
    const f = JSON.parse(r.stdout);
    expect(f.ociVersionMin).toBe('1.0.0');
    expect(f.ociVersionMax).toBe('1.2.0');
    expect(f.linux.namespaces).toContain('user');
  });

  it('state, start, kill and delete find no container; create needs a bundle; exec is not supported yet; all exit 1', async () => {
    for (const verb of ['state', 'start', 'kill', 'delete']) {
      const r = await oci(who, [verb, 'nosuch']);
      expect(r.code, verb).toBe(1);
      expect(r.stderr).toContain('container nosuch does not exist');
    }
    const create = await oci(who, ['create', 'c1'], { cwd: '/' });
    expect(create.code).toBe(1);
    expect(create.stderr).toContain('config.json does not exist');
    const r = await oci(who, ['exec', 'c1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('exec is not supported yet');
  });

  describe.skipIf(!staticBusybox)('run', () => {
    it('spec, then run in the foreground: output, hostname, stdin, exit code', async () => {
      const dir = bundle(who, 'run');
      expect((await oci(who, ['spec', ...rootless], { cwd: dir })).code).toBe(0);
      writeConfig(dir, runnable(readConfig(dir), ['sh', '-c', 'id -u; hostname; cat; exit 7']));
      const pid = join(dir, 'pid');
      const r = await oci(who, ['run', '--bundle', dir, '--pid-file', pid, `run-${who.name}`], { input: 'from stdin\n' });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('0\noci-box\nfrom stdin\n');
      expect(r.code).toBe(7);
      expect(Number(readFileSync(pid, 'utf8'))).toBeGreaterThan(1);
    });

    it('a signal to the pid of the pid file reaches the container', async () => {
      const dir = bundle(who, 'signal');
      expect((await oci(who, ['spec', ...rootless], { cwd: dir })).code).toBe(0);
      writeConfig(dir, runnable(readConfig(dir), ['sh', '-c', 'trap "echo got TERM; exit 42" TERM; echo ready; while true; do sleep 0.1; done']));
      const pidFile = join(dir, 'pid');
      const running = oci(who, ['run', '-b', dir, '--pid-file', pidFile, `sig-${who.name}`]);
      expect(await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8') !== '', 15_000)).toBe(true);
      // the trap is set once "ready" is printed: give the shell a moment
      await new Promise((r) => setTimeout(r, 500));
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM');
      const r = await running;
      expect(r.stdout).toBe('ready\ngot TERM\n');
      expect(r.code).toBe(42);
    });

    it('spec refuses to replace a config.json', async () => {
      const dir = bundle(who, 'respec');
      expect((await oci(who, ['spec', ...rootless, '--bundle', dir])).code).toBe(0);
      const before = readFileSync(join(dir, 'config.json'), 'utf8');
      const r = await oci(who, ['spec', '--bundle', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/exists\. Remove it first/);
      expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe(before);
    });

    it('umask and the config\'s seccomp policy apply', async () => {
      const dir = bundle(who, 'seccomp');
      expect((await oci(who, ['spec', ...rootless], { cwd: dir })).code).toBe(0);
      const c = runnable(readConfig(dir), ['sh', '-c', 'umask; mkdir /tmp/d 2>/dev/null && echo made || echo refused']);
      c.process.user.umask = 0o027;
      c.linux.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
      };
      writeConfig(dir, c);
      const r = await oci(who, ['run', '-b', dir, `sec-${who.name}`]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('0027\nrefused\n');
      expect(r.code).toBe(0);
    });

    it('a field it cannot apply is refused by its pointer, in text and json, with nothing run', async () => {
      const dir = bundle(who, 'refused');
      expect((await oci(who, ['spec', ...rootless], { cwd: dir })).code).toBe(0);
      const c = readConfig(dir);
      c.process.terminal = false;
      c.process.args = ['sh', '-c', 'echo ran'];
      writeConfig(dir, c);
      // the template's mqueue mount (and, for a rootless spec, its one-id map): the sandbox does not do that yet
      const pointer = '/mounts/4';
      const text = await oci(who, ['run', '-b', dir, `ref-${who.name}`]);
      expect(text.code).toBe(1);
      expect(text.stdout).toBe('');
      expect(text.stderr).toContain(`sandbox-oci: error: config.json#${pointer}: a mqueue mount on /dev/mqueue is not supported`);

      const log = join(dir, 'log.json');
      const json = await oci(who, ['--log', log, '--log-format', 'json', 'run', '-b', dir, `ref-${who.name}`]);
      expect(json.code).toBe(1);
      const line = JSON.parse(readFileSync(log, 'utf8').trim());
      expect(line).toMatchObject({ level: 'error' });
      expect(line.msg).toContain(`config.json#${pointer}`);
      expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

      const stderrJson = await oci(who, ['--log-format', 'json', 'run', '-b', dir, `ref-${who.name}`]);
      expect(JSON.parse(stderrJson.stderr.trim()).msg).toContain(`config.json#${pointer}`);

      if (rootless.length) {
        const only = runnable(readConfig(dir), ['sh', '-c', 'echo ran']);
        only.linux.uidMappings = [{ containerID: 0, hostID: who.uid, size: 1 }];
        only.linux.gidMappings = [{ containerID: 0, hostID: who.gid, size: 1 }];
        writeConfig(dir, only);
        const r = await oci(who, ['run', '-b', dir, `map-${who.name}`]);
        expect(r.code).toBe(1);
        expect(r.stdout).toBe('');
        expect(r.stderr).toContain('config.json#/linux/uidMappings');
      }
    });
  });
});
