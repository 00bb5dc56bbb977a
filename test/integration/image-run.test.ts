// Runs of an image other than `host`, through the real CLI, as root and as
// the unprivileged users: the overlay root and its writable layer (separate
// per run, gone after the run, also after kill -9), image content that
// tries to lead set-up out of the root, and --read-only. The image here is a
// plain root directory (busybox), owned by whoever is root inside; images
// from the store are tested in image-store-run.test.ts.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITIES, SBTEST_NORANGE, isRoot, processesWith, runCli, startCli, waitFor, type Identity } from './harness.js';
import { overlayInUserns } from './host-capabilities.js';

const T = 30_000;
const BUSYBOX = '/bin/busybox';
const haveBusybox = existsSync(BUSYBOX) && spawnSync('file', ['-L', BUSYBOX]).stdout?.toString().includes('statically');
if (!haveBusybox) console.warn('image-run tests skipped: they need busybox-static (/bin/busybox); scripts/setup-host.sh --test-users installs it');

const who = [...IDENTITIES, ...(isRoot && SBTEST_NORANGE ? [SBTEST_NORANGE] : [])];

/** The host id that is root inside an image run of `as` (root: the first id of its range). */
function insideRoot(as: Identity): { uid: number; gid: number } {
  if (as.uid !== 0) return { uid: as.uid, gid: as.gid };
  const first = (file: string) => Number(readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith('root:'))!.split(':')[1]);
  return { uid: first('/etc/subuid'), gid: first('/etc/subgid') };
}

function chownTree(dir: string, uid: number, gid: number): void {
  execFileSync('chown', ['-R', '-h', `${uid}:${gid}`, dir]);
}

interface Fixture { image: string; store: string; victim: string; base: string }
const fixtures = new Map<string, Fixture>();

/** A busybox root directory, a store and a host "victim" dir, all owned by root inside for `as`. */
function makeFixture(as: Identity): Fixture {
  const base = mkdtempSync('/tmp/image-run-');
  chmodSync(base, 0o755);
  const image = join(base, 'rootfs');
  for (const d of ['bin', 'etc', 'scratch', 'linked']) mkdirSync(join(image, d), { recursive: true });
  copyFileSync(BUSYBOX, join(image, 'bin', 'busybox'));
  chmodSync(join(image, 'bin', 'busybox'), 0o755);
  for (const a of ['sh', 'id', 'cat', 'ls', 'echo', 'touch', 'mkdir', 'chmod', 'grep', 'sleep', 'hostname', 'stat', 'test', 'wc']) symlinkSync('busybox', join(image, 'bin', a));
  writeFileSync(join(image, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n');
  writeFileSync(join(image, 'etc', 'group'), 'root:x:0:\nuser:x:1000:\n');
  writeFileSync(join(image, 'etc', 'motd'), 'from the image\n');
  // hostile content: an absolute link the host would resolve to its own directory
  const victim = join(base, 'victim');
  mkdirSync(victim);
  chmodSync(victim, 0o777);
  symlinkSync(`/oldroot${victim}`, join(image, 'linked', 'out'));
  mkdirSync(join(image, 'oldroot', victim), { recursive: true }); // the link's target, inside the image
  symlinkSync(`/oldroot${victim}/sub`, join(image, 'linked', 'dangling')); // a target that exists nowhere
  const store = join(base, 'store');
  mkdirSync(store);
  const owner = insideRoot(as);
  chownTree(image, owner.uid, owner.gid);
  chmodSync(join(image, 'scratch'), 0o1777);
  chownSync(store, as.uid, as.gid);
  return { image, store, victim, base };
}

function runs(f: Fixture): string[] {
  try {
    return readdirSync(join(f.store, 'runs'));
  } catch {
    return [];
  }
}

beforeAll(() => {
  if (!haveBusybox) return;
  for (const as of who) fixtures.set(as.name, makeFixture(as));
});

afterAll(() => {
  for (const f of fixtures.values()) {
    // the layer of a killed run belongs to ids inside: let a run clear it, then remove the rest as root
    rmSync(f.base, { recursive: true, force: true });
  }
});

describe.skipIf(!haveBusybox).each(who)('image run as $name', (as) => {
  const f = () => fixtures.get(as.name)!;
  const cli = (args: string[], timeoutMs = T - 5000) => runCli(['exec', '--store', f().store, ...args], { as, timeoutMs });

  it.skipIf(!overlayInUserns(as).ok)('the root is an overlay of the image with userxattr; no host path is named inside; /etc/hosts and the hostname are the sandbox\'s', async () => {
    const r = await cli(['--hostname', 'imagebox', f().image, '--', '/bin/sh', '-c',
      'grep " / / " /proc/self/mountinfo; cat /etc/motd; hostname; grep -c imagebox /etc/hosts; grep -c oldroot /proc/self/mountinfo; id -u']);
    expect(r.stderr).toBe('');
    const [mount, motd, host, hosts, oldroot, uid] = r.stdout.trim().split('\n');
    expect(mount).toMatch(/ - overlay overlay rw,lowerdir=\/layers\/0,upperdir=\/writable\/upper,workdir=\/writable\/work,.*userxattr/);
    expect(motd).toBe('from the image');
    expect(host).toBe('imagebox');
    expect(hosts).toBe('1');
    expect(oldroot).toBe('0');
    expect(uid).toBe('0');
    expect(r.code).toBe(0);
  }, T);

  it('writes land in the run\'s own layer: the image is unchanged and the layer is gone after the run', async () => {
    const r = await cli([f().image, '--', '/bin/sh', '-c', 'echo changed > /etc/motd; mkdir -p /new/deep/er; chmod 000 /new/deep; cat /etc/motd']);
    expect(r.stdout).toBe('changed\n');
    expect(r.code).toBe(0);
    expect(readFileSync(join(f().image, 'etc', 'motd'), 'utf8')).toBe('from the image\n');
    expect(existsSync(join(f().image, 'new'))).toBe(false);
    expect(runs(f())).toEqual([]);
  }, T);

  it.skipIf(as.name === 'sbtest-norange')('files a non-root user inside wrote (subordinate ids on the host) are removed with the layer', async () => {
    const r = await cli(['-u', '1000', f().image, '--', '/bin/sh', '-c', 'mkdir -p /scratch/a/b/c && touch /scratch/a/b/c/f && chmod 000 /scratch/a/b /scratch/a && id -u']);
    expect(r.stdout).toBe('1000\n');
    expect(r.code).toBe(0);
    expect(runs(f())).toEqual([]);
  }, T);

  it('two concurrent runs have separate writable layers', async () => {
    const first = startCli(['exec', '--store', f().store, f().image, '--', '/bin/sh', '-c', 'echo one > /marker; sleep 3; cat /marker'], { as });
    let out = '';
    first.stdout!.on('data', (d: Buffer) => { out += d; });
    const closed = new Promise((r) => first.once('close', r));
    expect(await waitFor(() => runs(f()).length === 1, 5000)).toBe(true);
    const second = await cli([f().image, '--', '/bin/sh', '-c', 'test -e /marker && echo seen || echo absent; echo two > /marker']);
    expect(second.stdout).toBe('absent\n');
    await closed;
    expect(out).toBe('one\n');
    expect(runs(f())).toEqual([]);
  }, T);

  it('a symlink in the image cannot lead set-up out of the root: a mount on a linked path fails closed, the host dir stays empty', async () => {
    const r = await cli(['--tmpfs', '/linked/dangling/t', f().image, '--', '/bin/sh', '-c', 'exit 0']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('create directory /newroot/linked/dangling/t: ENOENT');
    expect(readdirSync(f().victim)).toEqual([]);
    expect(runs(f())).toEqual([]);
  }, T);

  it('... and where the link\'s target exists inside the image, the mounts land there, inside', async () => {
    const r = await cli(['--tmpfs', '/linked/out/t', '-v', `${f().image}/etc/motd:/linked/out/motd`, f().image, '--', '/bin/sh', '-c',
      `grep -c " ${f().victim.replace('/tmp', '/oldroot/tmp')}/t " /proc/self/mountinfo; cat /oldroot${f().victim}/motd`]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1\nfrom the image\n');
    expect(readdirSync(f().victim)).toEqual([]);
  }, T);

  it('--read-only: the root cannot be written', async () => {
    const r = await cli(['--read-only', f().image, '--', '/bin/sh', '-c', 'touch /x 2>&1; echo $?']);
    expect(r.stdout).toMatch(/Read-only file system\n1\n$/);
    expect(runs(f())).toEqual([]);
  }, T);

  it('after kill -9 of `sandbox` the layer is left, and the next run clears it; no process survives', async () => {
    const marker = `killed-run-${as.name}-${process.pid}`;
    const child = startCli(['exec', '--store', f().store, f().image, '--', '/bin/sh', '-c', `mkdir -p /w/x; touch /w/x/f; sleep 60; : ${marker}`], { as });
    // the CLI's own command line has the marker too: wait for the workload's shell as well
    expect(await waitFor(() => runs(f()).length === 1 && processesWith(marker).length >= 2, 10_000)).toBe(true);
    child.kill('SIGKILL');
    expect(await waitFor(() => processesWith(marker).length === 0, 5000)).toBe(true);
    expect(runs(f())).toHaveLength(1);
    const next = await cli([f().image, '--', '/bin/sh', '-c', 'exit 0']);
    expect(next.code).toBe(0);
    expect(runs(f())).toEqual([]);
  }, T);
});
