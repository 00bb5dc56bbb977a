// OCI images from a registry and from `podman save` archives, run through
// the real CLI as root and as the unprivileged users: pulled from Debian's
// docker-registry on 127.0.0.1 (plain, and with token auth after `sandbox
// login`), unpacked once per layer and shared, whiteouts and opaque
// directories seen from inside with both overlays, the image config's
// defaults, and the debootstrap'd Debian image.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveTestImages, pushTestImage, readTestImage, testImagePaths } from '../images/test-images.js';
import { IDENTITIES, SBTEST_NORANGE, isRoot, runCli, startCli, waitFor, type Identity } from './harness.js';
import { deviceUsable, overlayInUserns } from './host-capabilities.js';
import { hasRegistry, registrySkipReason, startRegistry, stopAll, TEST_PASSWORD, TEST_USER, type TestRegistry } from './registry/test-registry.js';

const T = 120_000;
const ready = haveTestImages() && hasRegistry;
if (!hasRegistry) console.warn(`image-store-run tests skipped: ${registrySkipReason}`);

const who = [...IDENTITIES, ...(isRoot && SBTEST_NORANGE ? [SBTEST_NORANGE] : [])];
let plain: TestRegistry;
let token: TestRegistry;
const refs: Record<string, string> = {};
let base: string;

/** A store and an auth file of this identity's own. */
function home(as: Identity): { store: string; env: NodeJS.ProcessEnv } {
  const dir = join(base, as.name);
  mkdirSync(dir, { recursive: true });
  chownSync(dir, as.uid, as.gid);
  return { store: join(dir, 'store'), env: { REGISTRY_AUTH_FILE: join(dir, 'auth.json') } };
}

beforeAll(async () => {
  if (!ready) return;
  base = mkdtempSync('/tmp/image-store-run-');
  chmodSync(base, 0o755);
  [plain, token] = await Promise.all([startRegistry('plain'), startRegistry('token')]);
  for (const name of ['busybox', 'layered', 'debian'] as const) refs[name] = (await pushTestImage(plain, name)).ref;
  refs.tokenLayered = (await pushTestImage(token, 'layered', { credentials: { username: TEST_USER, password: TEST_PASSWORD } })).ref;
}, T);

afterAll(async () => {
  if (!ready) return;
  await stopAll();
  // layers unpacked as sbtest belong to its subordinate ids: root removes what is left
  rmSync(base, { recursive: true, force: true });
});

describe.skipIf(!ready).each(who)('images from a registry and archives, as $name', (as) => {
  const h = () => home(as);
  const cli = (args: string[]) => runCli(['exec', '--store', h().store, '--tls-verify=false', ...args], { as, env: h().env, timeoutMs: T - 10_000 });

  it('pulls on first use and runs the default command (Entrypoint + Cmd) as the image\'s User, in its WorkingDir, with its Env', async () => {
    const r = await cli([refs.layered!]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('entry default-cmd\n');
    const inside = await cli(['--entrypoint', '/bin/sh', refs.layered!, '-c', 'id -u; id -g; pwd; echo $FOO; echo $HOME']);
    expect(inside.stdout).toBe('1000\n1000\n/data\nbar\n/home/user\n');
  }, T);

  for (const overlay of ['native', 'fuse'] as const) {
    it.skipIf(!(overlay === 'native' ? overlayInUserns(as) : deviceUsable('/dev/fuse', as)).ok)(`whiteouts and opaque directories, seen from inside (${overlay} overlay)`, async () => {
      const r = await cli(['--overlay', overlay, '-u', '0', '--entrypoint', '/bin/sh', refs.layered!, '-c',
        'test -e /etc/motd && echo motd || echo no-motd; ls /data; ls /data/sub 2>&1 | head -1; grep -c " / / " /proc/self/mountinfo']);
      expect(r.stderr).toBe('');
      // layer 2 deleted /etc/motd and replaced /data (opaque): the busybox layer's /data/old.txt and sub/ are gone
      expect(r.stdout).toBe('no-motd\nlayer3.txt\nnew.txt\nls: /data/sub: No such file or directory\n1\n');
    }, T);
  }

  it('layers are unpacked once and shared: busybox and layered have one directory for their common layer', async () => {
    expect((await cli([refs.busybox!, '/bin/sh', '-c', 'cat /etc/motd'])).stdout).toBe('busybox test image\n');
    const shared = readTestImage('busybox').config.rootfs.diff_ids[0]!;
    expect(readTestImage('layered').config.rootfs.diff_ids[0]).toBe(shared);
    const layers = readdirSync(join(h().store, 'layers', 'sha256')).filter((n) => /^[a-f0-9]{64}$/.test(n));
    expect(layers.filter((n) => n === shared.slice(7))).toHaveLength(1);
    expect(layers).toHaveLength(3); // busybox's layer (shared) + layered's two of its own
  }, T);

  it('two concurrent runs of one image have separate writable layers', async () => {
    const first = startCli(['exec', '--store', h().store, '-u', '0', '--entrypoint', '/bin/sh', refs.busybox!, '-c', 'echo one > /marker; sleep 2; cat /marker'], { as, env: h().env });
    let out = '';
    first.stdout!.on('data', (d: Buffer) => { out += d; });
    const closed = new Promise((r) => first.once('close', r));
    expect(await waitFor(() => readdirSync(join(h().store, 'runs')).length === 1, 10_000)).toBe(true);
    const second = await cli(['-u', '0', refs.busybox!, '/bin/sh', '-c', 'test -e /marker && echo seen || echo absent']);
    expect(second.stdout).toBe('absent\n');
    await closed;
    expect(out).toBe('one\n');
  }, T);

  it('a registry with token auth: refused before `sandbox login`, pulled and run after it', async () => {
    const before = await cli([refs.tokenLayered!]);
    expect(before.code).toBe(125);
    expect(before.stderr).toMatch(/401|unauthorized|denied|credentials/i);
    const login = await runCli(['login', '--tls-verify=false', '-u', TEST_USER, '--password-stdin', token.host], { as, env: h().env, input: TEST_PASSWORD });
    expect(login.code, login.stderr).toBe(0);
    const after = await cli([refs.tokenLayered!]);
    expect(after.stderr).toBe('');
    expect(after.stdout).toBe('entry default-cmd\n');
  }, T);

  for (const kind of ['docker-archive', 'oci-archive'] as const) {
    it(`a \`podman save\` ${kind} loads and runs`, async () => {
      const file = kind === 'docker-archive' ? testImagePaths.busyboxDockerArchive : testImagePaths.busyboxOciArchive;
      const r = await cli(['-u', '0', `${kind}:${file}`, '/bin/sh', '-c', 'cat /etc/motd; id -u']);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('busybox test image\n0\n');
    }, T);
  }

  it('the debootstrap\'d Debian image: its own passwd, apt and dpkg database, root owning /etc', async () => {
    const r = await cli(['-u', '0', refs.debian!, '/bin/sh', '-c',
      'cat /etc/debian_version; stat -c %U:%G /etc /usr/bin/passwd; dpkg-query -W dpkg | cut -f1; getent passwd _apt | cut -d: -f1']);
    expect(r.stderr).toBe('');
    const [version, etc, passwd, dpkg, apt] = r.stdout.trim().split('\n');
    expect(version).toMatch(/^12\./);
    // ownership survives the unpack where the caller has a range; without one every file is the caller's (root inside)
    expect(etc).toBe('root:root');
    expect(passwd).toBe('root:root');
    expect(dpkg).toBe('dpkg');
    expect(apt).toBe('_apt');
  }, T);
});
