// Issue 11 item 6: situations that used to end in a misleading message, each
// reproduced for real through the CLI, as root and as the unprivileged user:
// an image listing one layer twice (it runs), kill -9 of the sandbox's pid 1
// (SG 137, not an internal error), a layer owner outside the mapped range,
// a docker-archive whose manifest.json is a symlink, a -v source the caller
// cannot search, an image /etc/passwd of mode 0600 (same answer for both),
// an /etc/passwd longer than what is read, and image symlinks that redirect
// a mount onto the root.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildImage, dockerArchive, ociLayout, tarFiles, writeTree } from '../unit/image/load/image-builder.js';
import { gzip, tarOf, type TestEntry } from '../unit/image/unpack/layer-archive.js';
import { IDENTITIES, processesWith, runCli, startCli, waitFor, type Identity } from './harness.js';
import { overlayInUserns } from './host-capabilities.js';

const T = 60_000;
const BUSYBOX = '/bin/busybox';
const haveBusybox = existsSync(BUSYBOX) && spawnSync('file', ['-L', BUSYBOX]).stdout?.toString().includes('statically');
if (!haveBusybox) console.warn('clear-messages: the image cases are skipped: they need busybox-static (/bin/busybox)');

const base = mkdtempSync('/tmp/clear-messages-');
chmodSync(base, 0o755);
afterAll(() => rmSync(base, { recursive: true, force: true }));

const APPLETS = ['sh', 'cat', 'id', 'ls', 'echo', 'sleep', 'test'];
function busyboxEntries(): TestEntry[] {
  return [
    { name: 'bin/', type: 'directory', mode: 0o755 },
    { name: 'bin/busybox', mode: 0o755, body: readFileSync(BUSYBOX) },
    ...APPLETS.map((a): TestEntry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'etc/', type: 'directory', mode: 0o755 },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'proc/', type: 'directory', mode: 0o755 },
    { name: 'dev/', type: 'directory', mode: 0o755 },
  ];
}

let n = 0;
/** An OCI layout of these layers (bottom first; a layer may be listed twice), readable by everyone. */
async function ociImage(layers: TestEntry[][]): Promise<string> {
  const built = await Promise.all(layers.map(async (entries) => {
    const tar = await tarOf(entries);
    return { blob: gzip(tar), tar, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' };
  }));
  const dir = join(base, `image-${++n}`);
  writeTree(dir, ociLayout([{ image: buildImage(built, { cmd: ['/bin/sh'] }) }]));
  execFileSync('chmod', ['-R', 'a+rX', dir]);
  return dir;
}

function storeOf(as: Identity, name: string): string {
  const dir = join(base, `${as.name}-${name}`);
  mkdirSync(dir);
  chownSync(dir, as.uid, as.gid);
  return join(dir, 'store');
}

describe.each(IDENTITIES)('clear messages as $name', (as) => {
  const exec = (store: string, args: string[], timeoutMs = T - 10_000) =>
    runCli(['exec', '--store', store, ...args], { as, timeoutMs });

  it.skipIf(!haveBusybox)('an image listing the same layer twice runs, with the topmost occurrence\'s content on top', async () => {
    const bottom: TestEntry[] = [...busyboxEntries(), { name: 'a', body: 'bottom\n', mode: 0o644 }];
    const middle: TestEntry[] = [{ name: 'a', body: 'middle\n', mode: 0o644 }, { name: 'b', body: 'middle\n', mode: 0o644 }];
    const image = await ociImage([bottom, middle, bottom]);
    const store = storeOf(as, 'dup');
    for (const overlay of ['native', 'fuse'] as const) {
      if (overlay === 'native' && !overlayInUserns(as).ok) continue;
      if (overlay === 'fuse' && !existsSync('/usr/bin/fuse-overlayfs')) continue;
      const r = await exec(store, ['--overlay', overlay, `oci:${image}`, '/bin/cat', '/a', '/b']);
      expect(r.stderr, overlay).toBe('');
      expect(r.stdout, overlay).toBe('bottom\nmiddle\n');
      expect(r.code, overlay).toBe(0);
    }
  }, T);

  it('kill -9 of the sandbox\'s pid 1 during a run: verdict SG, exit 137', async () => {
    const marker = `30.${process.pid}${++n}`;
    const result = join(base, `kill-${as.name}-${n}.json`);
    writeFileSync(result, '');
    chownSync(result, as.uid, as.gid);
    const child = startCli(['exec', '--result', result, 'host', '/bin/sleep', marker], { as });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const sleepPid = () => processesWith(`sleep ${marker}`).find((p) => {
      try { return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'sleep'; } catch { return false; }
    });
    expect(await waitFor(() => sleepPid() !== undefined, 10_000)).toBe(true);
    const status = readFileSync(`/proc/${sleepPid()}/status`, 'utf8');
    const pid1 = Number(/^PPid:\s+(\d+)/m.exec(status)![1]);
    expect(readFileSync(`/proc/${pid1}/status`, 'utf8')).toMatch(/^NSpid:\s+\d+\s+1$/m); // the sandbox's pid 1
    process.kill(pid1, 'SIGKILL');
    const code = await closed;
    expect(stderr).not.toMatch(/ECHILD|bug/);
    expect(code).toBe(137);
    const r = JSON.parse(readFileSync(result, 'utf8'));
    expect(r.status).toBe('SG');
    expect(r.signal).toBe('SIGKILL');
  }, T);

  it.skipIf(!haveBusybox)('a layer owner outside the mapped range names the id and the range', async () => {
    const image = await ociImage([[...busyboxEntries(), { name: 'far', body: 'x', mode: 0o644, uid: 100_000, gid: 0 }]]);
    const r = await exec(storeOf(as, 'far'), [`oci:${image}`, '/bin/true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/entry 'far': owner 100000:0 .*uid 100000 is outside the mapped uids 0-6553[56]/);
    expect(r.stderr).not.toMatch(/EINVAL fchown/);
  }, T);

  it('a docker-archive whose manifest.json is a symlink says so', async () => {
    const image = buildImage([{ blob: await tarOf([{ name: 'x', body: 'x' }]), tar: await tarOf([{ name: 'x', body: 'x' }]) }]);
    const files = dockerArchive(image, ['localhost/linked:v1']);
    const manifest = files.get('manifest.json')!;
    files.delete('manifest.json');
    files.set('real.json', manifest);
    const archive = join(base, `linked-manifest-${as.name}.tar`);
    writeFileSync(archive, await tarFiles(files, [{ name: 'manifest.json', type: 'symlink', linkname: 'real.json' }]));
    chmodSync(archive, 0o644);
    const r = await runCli(['image', 'load', '--store', storeOf(as, 'linked'), `docker-archive:${archive}`], { as });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/manifest\.json.*symlink.*real\.json/);
  }, T);

  it.skipIf(as.uid === 0)('-v of a path the caller cannot reach says EACCES, not "does not exist"', async () => {
    const r = await runCli(['exec', '-v', '/root/x:/x', 'host', '/bin/true'], { as });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/\/root\/x.*EACCES|EACCES.*\/root\/x/);
    expect(r.stderr).not.toMatch(/does not exist/);
  }, T);

  it.skipIf(!haveBusybox)('an image /etc/passwd of mode 0600 resolves a user name as it does for root', async () => {
    const image = await ociImage([[...busyboxEntries(),
      // owned by an id inside other than 0: for the unprivileged user a subordinate id, so not the caller's to read
      { name: 'etc/passwd', mode: 0o600, uid: 42, gid: 42, body: 'root:x:0:0:root:/root:/bin/sh\nalice:x:1234:1235:alice:/home/alice:/bin/sh\n' },
      { name: 'etc/group', mode: 0o600, uid: 42, gid: 42, body: 'root:x:0:\nstaff:x:1236:\n' }]]);
    const r = await exec(storeOf(as, 'passwd0600'), ['-u', 'alice:staff', `oci:${image}`, '/bin/id']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^uid=1234 gid=1236/);
    expect(r.code).toBe(0);
  }, T);

  it.skipIf(!haveBusybox)('a user after the first 1 MiB of /etc/passwd: the message says the file was cut', async () => {
    const filler = Array.from({ length: 30_000 }, (_, i) => `filler${i}:x:${10_000 + i}:100:${'f'.repeat(10)}:/home/f:/bin/sh\n`).join('');
    const image = await ociImage([[...busyboxEntries(),
      { name: 'etc/passwd', mode: 0o644, body: `root:x:0:0:root:/root:/bin/sh\n${filler}late:x:4321:4321::/home/late:/bin/sh\n` }]]);
    const r = await exec(storeOf(as, 'longpasswd'), ['-u', 'late', `oci:${image}`, '/bin/id']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/user "late".*\/etc\/passwd/);
    expect(r.stderr).toMatch(/first 1 MiB/);
  }, T);

  describe.skipIf(!haveBusybox)('an image symlink that redirects a mount onto the root is refused, naming the link and the mount', () => {
    const cases = [
      { what: '/proc -> ..', entries: [{ name: 'proc', type: 'symlink', linkname: '..' }], args: [] as string[], link: "'/proc' -> '..'", mount: '/proc' },
      { what: '/tmp -> /', entries: [{ name: 'tmp', type: 'symlink', linkname: '/' }], args: ['--profile', 'strict'], link: "'/tmp' -> '/'", mount: '/tmp' },
      { what: 'a volume target -> ../../..', entries: [{ name: 'data/', type: 'directory', mode: 0o755 }, { name: 'data/vol', type: 'symlink', linkname: '../../..' }],
        args: ['-v', '/tmp:/data/vol'], link: "'/data/vol' -> '../../..'", mount: '/data/vol' },
    ] as const;
    for (const c of cases) {
      it(c.what, async () => {
        const names = new Set(c.entries.map((e) => e.name.replace(/\/$/, '')));
        const image = await ociImage([[...busyboxEntries().filter((e) => !names.has(e.name.replace(/\/$/, ''))), ...c.entries as unknown as TestEntry[]]]);
        const r = await exec(storeOf(as, `link-${n}`), [...c.args, `oci:${image}`, '/bin/true']);
        expect(r.code, r.stderr).toBe(125);
        expect(r.stderr).toContain(c.link);
        expect(r.stderr).toContain(c.mount);
        expect(r.stderr).not.toMatch(/no such program/);
      }, T);
    }
  });
});
