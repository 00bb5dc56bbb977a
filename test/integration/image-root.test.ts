// Root in an image run can do what podman's root can, inside its own user
// namespace: podman's capability set under the default profile (none under
// strict), --cap-add/--cap-drop, apt-get install, useradd and su, chown,
// setuid files only without no_new_privs, /sys read-only and masked, ICMP
// echo sockets. Through the real CLI, as root and as the unprivileged user,
// on the Debian test image; the packages come from a repository on the
// host's 127.0.0.1.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveTestImages, testImagePaths, TEST_IMAGE_TAGS } from '../images/test-images.js';
import { haveDpkgDeb, PACKAGE, PACKAGE_SAYS, startAptRepo, type AptRepo } from './apt-repo.js';
import { IDENTITIES, probe, runCli, type Identity } from './harness.js';
import { deviceUsable } from './host-capabilities.js';
import { findInPath } from '../../src/host/probe-host.js';

const T = 120_000;
const ready = haveTestImages();
const DEBIAN = `oci:${testImagePaths.debian}:${TEST_IMAGE_TAGS.debian}`;
const hasPasta = findInPath('pasta', '/usr/local/bin:/usr/bin:/bin') !== null;
if (!hasPasta) console.warn('image-root: the apt and ping cases are skipped: pasta is not installed (package passt)');

/** podman's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE SYS_CHROOT SETFCAP. */
const PODMAN_CAPS = '00000000800405fb';
const NONE = '0000000000000000';
const NET_ADMIN = 1n << 12n;

const base = mkdtempSync('/tmp/image-root-');
chmodSync(base, 0o755); // the unprivileged user keeps its store in here
let repo: AptRepo | undefined;

beforeAll(async () => {
  if (haveDpkgDeb) repo = await startAptRepo();
});

afterAll(async () => {
  await repo?.close();
  rmSync(base, { recursive: true, force: true });
});

/** `grep Cap /proc/self/status` (and NoNewPrivs) as a map. */
function statusOf(stdout: string): Record<string, string> {
  return Object.fromEntries(stdout.split('\n').filter((l) => /^(Cap\w+|NoNewPrivs):/.test(l)).map((l) => l.split(/:\s+/) as [string, string]));
}

describe.skipIf(!ready).each(IDENTITIES)('root in an image run as $name', (who: Identity) => {
  const store = join(base, `store-${who.name}`);
  const cli = (args: string[], command: string) =>
    runCli(['exec', '--store', store, ...args, DEBIAN, '/bin/sh', '-c', command], { as: who, timeoutMs: T - 10_000 });
  const status = 'grep -E "^(Cap|NoNewPrivs)" /proc/self/status';

  beforeAll(() => {
    mkdirSync(store);
    chownSync(store, who.uid, who.gid);
  });

  it('default profile: root holds exactly podman\'s set; another user only in its bounding set; strict holds none', async () => {
    const root = await cli([], status);
    expect(root.code, root.stderr).toBe(0);
    expect(statusOf(root.stdout)).toEqual({ CapInh: NONE, CapPrm: PODMAN_CAPS, CapEff: PODMAN_CAPS, CapBnd: PODMAN_CAPS, CapAmb: NONE, NoNewPrivs: '1' });
    const user = await cli(['-u', '1000:1000'], status);
    expect(statusOf(user.stdout)).toMatchObject({ CapPrm: NONE, CapEff: NONE, CapBnd: PODMAN_CAPS, CapAmb: NONE });
    const strict = await cli(['--profile', 'strict'], status);
    expect(strict.code, strict.stderr).toBe(0);
    expect(statusOf(strict.stdout)).toEqual({ CapInh: NONE, CapPrm: NONE, CapEff: NONE, CapBnd: NONE, CapAmb: NONE, NoNewPrivs: '1' });
  }, T);

  it('--cap-add NET_ADMIN adds that bit, --cap-drop ALL leaves none, strict refuses --cap-add with its reason', async () => {
    const added = statusOf((await cli(['--cap-add', 'NET_ADMIN'], status)).stdout);
    expect(BigInt(`0x${added.CapEff}`)).toBe(BigInt(`0x${PODMAN_CAPS}`) | NET_ADMIN);
    const none = statusOf((await cli(['--cap-drop', 'ALL'], status)).stdout);
    expect([none.CapPrm, none.CapEff, none.CapBnd]).toEqual([NONE, NONE, NONE]);
    const refused = await cli(['--profile', 'strict', '--cap-add', 'NET_ADMIN'], 'true');
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/profile strict refuses --cap-add NET_ADMIN/);
    const unknown = await cli(['--cap-add', 'NET_ADMINN'], 'true');
    expect(unknown.code).toBe(125);
    expect(unknown.stderr).toMatch(/unknown capability "NET_ADMINN" \(--cap-add\)/);
  }, T);

  it('useradd, then su to that user, who has no capability; chown in the run\'s layer', async () => {
    const r = await cli([], 'useradd -m bob && su bob -c "id -un; grep CapEff /proc/self/status" && touch /x && chown bob:bob /x && stat -c %U:%G /x && chown 33:33 /etc/hostname.not-here 2>/dev/null; chown 33:33 /var/cache/debconf && stat -c %u:%g /var/cache/debconf');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`bob\nCapEff:\t${NONE}\nbob:bob\n33:33\n`);
    expect(r.code).toBe(0);
  }, T);

  it.skipIf(!hasPasta || !haveDpkgDeb || !deviceUsable('/dev/net/tun', who).ok)('apt-get update and install a package over the network, then run it', async () => {
    const r = await cli(['--network', 'pasta:allow-host-loopback'], [
      `echo "${repo!.sourcesLine}" > /etc/apt/sources.list`, 'rm -f /etc/apt/sources.list.d/*',
      'apt-get update -q >/tmp/update.log 2>&1 || { cat /tmp/update.log; exit 1; }',
      `apt-get install -y -q ${PACKAGE} >/tmp/install.log 2>&1 || { cat /tmp/install.log; exit 1; }`,
      'grep -iE "fail|W: " /tmp/update.log /tmp/install.log; ' + PACKAGE,
    ].join(' && '));
    expect(r.stdout).toBe(`${PACKAGE_SAYS}\n`);
    expect(r.code).toBe(0);
  }, T);

  it('setuid files raise privileges only with no-new-privileges=false (which strict refuses)', async () => {
    const setup = 'useradd bob && cp /usr/bin/id /usr/local/bin/sid && chmod 4755 /usr/local/bin/sid && stat -c %a /usr/bin/su';
    const kept = await cli([], `${setup} && su bob -c "/usr/local/bin/sid -u; grep NoNewPrivs /proc/self/status"`);
    expect(kept.stdout).toMatch(/^4755\n1000\nNoNewPrivs:\t1\n$/); // the image's setuid su kept its bit; ours raises nothing
    const off = await cli(['--security-opt', 'no-new-privileges=false'], `${setup} && su bob -c "/usr/local/bin/sid -u; grep NoNewPrivs /proc/self/status"`);
    expect(off.stdout).toMatch(/^4755\n0\nNoNewPrivs:\t0\n$/); // root of the run's own user namespace
    const strict = await cli(['--profile', 'strict', '--security-opt', 'no-new-privileges=false'], 'true');
    expect(strict.code).toBe(125);
    expect(strict.stderr).toMatch(/profile strict refuses --security-opt no-new-privileges=false/);
  }, T);

  it('/sys is a read-only sysfs with podman\'s masked paths empty', async () => {
    const r = await cli([], 'awk \'$5 == "/sys" { print $6, $9 }\' /proc/self/mountinfo; ls -A /sys/firmware | wc -l; ls /sys/class/net; touch /sys/x 2>&1 | grep -c "Read-only"');
    expect(r.stdout.split('\n')).toEqual([expect.stringMatching(/^ro,.* sysfs$/), '0', 'lo', '1', '']);
  }, T);

  it.skipIf(!hasPasta || !deviceUsable('/dev/net/tun', who).ok)('in a pasta run an ICMP echo socket opens and 127.0.0.1 answers it (ping_group_range 0 0)', async () => {
    const p = await probe();
    const r = await runCli(['exec', '--store', store, '--network', 'pasta', '-v', `${p}:/probe`, DEBIAN, '/bin/sh', '-c',
      'cat /proc/sys/net/ipv4/ping_group_range; /probe ping:127.0.0.1'], { as: who, timeoutMs: T - 10_000 });
    const [range, json] = r.stdout.split('\n');
    expect(range).toBe('0\t0');
    expect(JSON.parse(json!)['ping:127.0.0.1']).toEqual({ reply: true });
  }, T);
});
