// `sandbox image ...`, `sandbox login` and resolveImage through the real CLI
// (and library), as root and as the unprivileged test user: load archives
// built here (oci-archive, docker-archive, hostile ones), ls/inspect/tag/
// rm/prune with --json parsed, pull from Debian's docker-registry on
// 127.0.0.1 (plain, and with Basic auth after `sandbox login`).
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, chmodSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushImage } from '../../src/image/registry/push-image.js';
import { resolveImage } from '../../src/image/resolve-image.js';
import { openStore } from '../../src/image/store/image-store.js';
import { IDENTITIES, REPO, runCli, type Identity } from './harness.js';
import { buildImage, dockerArchive, layer, ociLayout, sha, tarFiles, type BuiltImage, type Files } from '../unit/image/load/image-builder.js';
import { gzip } from '../unit/image/unpack/layer-archive.js';
import { hasRegistry, registrySkipReason, startRegistry, stopAll, TEST_PASSWORD, TEST_USER, type TestRegistry } from './registry/test-registry.js';

if (!hasRegistry) console.warn(registrySkipReason);

let work: string;
let image: BuiltImage;
let ociArchive: string;
let dockerArch: string;
let hostile: string;

function writeArchive(name: string, files: Files): Promise<string> {
  return tarFiles(files).then((b) => {
    const f = join(work, name);
    writeFileSync(f, b);
    chmodSync(f, 0o644);
    return f;
  });
}

/** A directory the identity owns (the store, XDG_RUNTIME_DIR). */
function ownedDir(who: Identity, name: string): string {
  const d = join(work, `${who.name}-${name}`);
  mkdirSync(d, { recursive: true, mode: 0o700 });
  chownSync(d, who.uid, who.gid);
  return d;
}

async function sandbox(who: Identity, args: string[], env: NodeJS.ProcessEnv = {}, input?: string) {
  return runCli(args, { as: who, env, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'image-cli-test-'));
  chmodSync(work, 0o755);
  const base = await layer({ hello: 'hello from the image\n' });
  const top = await layer({ 'etc/motd': 'top\n' });
  image = buildImage([
    { blob: gzip(base), tar: base, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' },
    { blob: top, tar: top },
  ], { cmd: ['/hello', 'world'] });
  ociArchive = await writeArchive('hello-oci.tar', ociLayout([{ image, ref: 'localhost/hello:v1' }]));
  dockerArch = await writeArchive('hello-docker.tar', dockerArchive(image, ['hello:latest']));
  const evil = dockerArchive(image, ['evil:1']);
  const m = JSON.parse(evil.get('manifest.json')!.toString());
  m[0].Layers[1] = '../../etc/passwd';
  evil.set('manifest.json', Buffer.from(JSON.stringify(m)));
  hostile = await writeArchive('evil-docker.tar', evil);
});
afterAll(async () => {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
});

describe.each(IDENTITIES)('sandbox image as $name', (who) => {
  let store: string;
  beforeAll(() => {
    store = ownedDir(who, 'store');
  });

  it('loads an oci-archive and a docker-archive (sniffed and by transport), lists and inspects them', async () => {
    const a = await sandbox(who, ['image', 'load', '--store', store, ociArchive]);
    expect(a.stderr).toBe(''); // no progress on a pipe
    expect(a.code).toBe(0);
    expect(a.stdout).toBe('Loaded image: localhost/hello:v1\n');
    const b = await sandbox(who, ['image', 'load', `docker-archive:${dockerArch}`], { SANDBOX_STORE: store });
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toBe('Loaded image: docker.io/library/hello:latest\n');

    const ls = await sandbox(who, ['image', 'ls', '--json', '--store', store]);
    expect(ls.code, ls.stderr).toBe(0);
    const list = JSON.parse(ls.stdout) as { id: string; digest: string; names: string[]; layers: number; size: number; platform: string }[];
    // the OCI and the docker archive hold the same config and layers, but their manifests differ
    expect(list).toHaveLength(2);
    const byName = Object.fromEntries(list.flatMap((i) => i.names.map((n) => [n, i])));
    expect(byName['localhost/hello:v1']!.digest).toBe(image.manifestDigest);
    expect(byName['localhost/hello:v1']!.id).toBe(sha(image.config).slice(7));
    expect(byName['docker.io/library/hello:latest']!.id).toBe(sha(image.config).slice(7));
    expect(list.every((i) => i.layers === 2 && i.platform === 'linux/amd64')).toBe(true);
    const text = await sandbox(who, ['image', 'ls', '--store', store]);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(lines.some((l) => /^localhost\/hello\s+v1\s+[a-f0-9]{12}\s+.*ago\s+\d/.test(l))).toBe(true);
    expect(lines.some((l) => /^docker\.io\/library\/hello\s+latest\s/.test(l))).toBe(true);

    const insp = await sandbox(who, ['image', 'inspect', '--json', '--store', store, 'localhost/hello:v1']);
    expect(insp.code, insp.stderr).toBe(0);
    const j = JSON.parse(insp.stdout);
    expect(j.Config).toMatchObject({ Cmd: ['/hello', 'world'], Env: ['PATH=/bin'], WorkingDir: '/', Labels: { a: 'b' }, Entrypoint: null, User: '' });
    expect(j.RootFS.Layers).toEqual(image.tars.map(sha));
    expect(j.Layers.map((l: { Digest: string }) => l.Digest)).toEqual(image.layers.map(sha));
    expect(j.Size).toBe(image.layers.reduce((n, l) => n + l.length, 0));
    // by bare Hub name (normalised as pull records it) and by ID prefix
    const byShort = await sandbox(who, ['image', 'inspect', 'hello', '--store', store]);
    expect(byShort.stdout).toMatch(/Cmd:\s+\["\/hello","world"\]/);
    expect((await sandbox(who, ['image', 'inspect', '--json', sha(image.config).slice(7, 19), '--store', store])).code).toBe(125); // two images share the config: ambiguous
    expect((await sandbox(who, ['image', 'inspect', '--json', image.manifestDigest.slice(7, 19), '--store', store])).code).toBe(0);
  });

  it('tags, removes and prunes, and says what is missing', async () => {
    const tag = await sandbox(who, ['image', 'tag', '--store', store, 'localhost/hello:v1', 'localhost/other:2']);
    expect(tag.code, tag.stderr).toBe(0);
    const names = (JSON.parse((await sandbox(who, ['image', 'ls', '--json', '--store', store])).stdout) as { names: string[] }[]).flatMap((i) => i.names);
    expect(names.sort()).toEqual(['docker.io/library/hello:latest', 'localhost/hello:v1', 'localhost/other:2']);

    // a name of an image with two names: only untagged
    const untag = await sandbox(who, ['image', 'rm', '--store', store, 'localhost/other:2']);
    expect(untag.code, untag.stderr).toBe(0);
    expect(untag.stdout).toBe('Untagged: localhost/other:2\n');
    expect((await sandbox(who, ['image', 'tag', '--store', store, 'localhost/hello:v1', 'localhost/other:2'])).code).toBe(0);
    // by ID: the image with every name
    const rm = await sandbox(who, ['image', 'rm', '--store', store, image.manifestDigest.slice(7, 19), 'nope:1']);
    expect(rm.code).toBe(125);
    expect(rm.stdout).toMatch(/Untagged: localhost\/hello:v1\nUntagged: localhost\/other:2\nDeleted: [a-f0-9]{64}\n/);
    expect(rm.stderr).toMatch(/sandbox: error: no image "nope:1" in the store .*\n  hint: list the stored images/);
    // the docker-archive image still uses every layer: nothing to remove
    const p1 = JSON.parse((await sandbox(who, ['image', 'prune', '--json', '--grace', '0', '--store', store])).stdout);
    expect(p1.removedLayers).toEqual([]);
    expect(p1.removedBlobs).toContain(image.manifestDigest);
    expect((await sandbox(who, ['image', 'rm', 'hello', '--store', store])).code).toBe(0);
    const p2 = await sandbox(who, ['image', 'prune', '--json', '--grace', '0', '--store', store]);
    expect(p2.code, p2.stderr).toBe(0);
    const report = JSON.parse(p2.stdout);
    expect(report.removedLayers.sort()).toEqual(image.tars.map(sha).sort());
    expect(report.freedBytes).toBeGreaterThan(0);
    expect(JSON.parse((await sandbox(who, ['image', 'ls', '--json', '--store', store])).stdout)).toEqual([]);
    const missing = await sandbox(who, ['image', 'inspect', 'nothing:here', '--store', store]);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/no image "nothing:here"/);
    expect((await sandbox(who, ['image', 'prune', '--grace', 'soon', '--store', store])).stderr).toMatch(/--grace takes whole seconds/);
  });

  it('refuses a hostile archive with exit 125, naming the entry, and records nothing', async () => {
    const r = await sandbox(who, ['image', 'load', hostile, '--store', store]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^sandbox: error: docker-archive:.*evil-docker\.tar \(manifest\.json \/0\/Layers\/1 "\.\.\/\.\.\/etc\/passwd"\): the name climbs out of the archive/);
    expect(r.stderr).toMatch(/\n  hint: the archive is hostile/);
    expect(JSON.parse((await sandbox(who, ['image', 'ls', '--json', '--store', store])).stdout)).toEqual([]);
    const notThere = await sandbox(who, ['image', 'load', join(work, 'no-such.tar'), '--store', store]);
    expect(notThere.code).toBe(125);
    expect(notThere.stderr).toMatch(/cannot load .*no-such\.tar: ENOENT/);
  });
});

const hasScript = spawnSync('script', ['--version']).status === 0;

describe.skipIf(!hasScript)('progress on a terminal (a pty made by script(1))', () => {
  it('draws a bar per layer and a total on stderr; -q draws nothing', () => {
    const run = (extra: string) => spawnSync('script', ['-qec', `${process.execPath} ${join(REPO, 'bin', 'sandbox.cjs')} image load ${extra} --store ${join(work, 'tty-store')} ${ociArchive}`, '/dev/null'],
      { encoding: 'utf8', timeout: 30_000 });
    const plain = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '\n');
    const r = run('');
    expect(r.status, r.stderr).toBe(0);
    const out = plain(r.stdout);
    expect(out).toMatch(/total\s+\|#+\| \d/);
    expect(out).toContain(sha(image.layers[0]!).slice(7, 19));
    expect(out).toContain('Loaded image: localhost/hello:v1');
    const q = run('-q');
    expect(plain(q.stdout).trim()).toBe('Loaded image: localhost/hello:v1');
  });
});

describe.skipIf(!hasRegistry)('sandbox image pull and login (docker-registry on 127.0.0.1)', () => {
  let plain: TestRegistry;
  let basic: TestRegistry;
  beforeAll(async () => {
    [plain, basic] = await Promise.all([startRegistry('plain'), startRegistry('basic')]);
    const input = { config: image.config, layers: image.layers.map((data, i) => ({ data, mediaType: i === 0 ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar' })) };
    await pushImage(`${plain.host}/test/hello:v1`, input, { tlsVerify: false });
    await pushImage(`${basic.host}/test/private:v1`, input, { tlsVerify: false, credentials: { username: TEST_USER, password: TEST_PASSWORD } });
  });

  it.each(IDENTITIES)('pulls as $name: prints the image ID, lists it under its canonical name, no progress on a pipe', async (who) => {
    const store = ownedDir(who, 'pull-store');
    const r = await sandbox(who, ['image', 'pull', '--store', store, '--tls-verify=false', `${plain.host}/test/hello:v1`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${sha(image.config).slice(7)}\n`);
    expect(r.stderr).toBe('');
    const list = JSON.parse((await sandbox(who, ['image', 'ls', '--json', '--store', store])).stdout);
    expect(list).toHaveLength(1);
    expect(list[0].names).toEqual([`${plain.host}/test/hello:v1`]);
    const q = await sandbox(who, ['image', 'pull', '-q', '--store', store, '--tls-verify', 'false', `docker://${plain.host}/test/hello:v1`]);
    expect(q.stdout).toBe(`${sha(image.config).slice(7)}\n`);
    const bad = await sandbox(who, ['image', 'pull', '--store', store, '--tls-verify=false', `${plain.host}/test/absent:v1`]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/test\/absent:v1.*HTTP 404/);
  });

  it.each(IDENTITIES)('logs in as $name (auth.json 0600 in XDG_RUNTIME_DIR), then pulls with Basic auth, then logs out', async (who) => {
    const runtime = ownedDir(who, 'runtime');
    const store = ownedDir(who, 'auth-store');
    const env = { XDG_RUNTIME_DIR: runtime };
    const authFile = join(runtime, 'containers', 'auth.json');
    const anon = await sandbox(who, ['image', 'pull', '--store', store, '--tls-verify=false', `${basic.host}/test/private:v1`], env);
    expect(anon.code).toBe(125);
    const wrong = await sandbox(who, ['login', basic.host, '-u', TEST_USER, '--password-stdin', '--tls-verify=false'], env, 'wrong\n');
    expect(wrong.code).toBe(125);
    expect(wrong.stderr).toMatch(/refused the credentials of user "testuser"/);
    expect(existsSync(authFile)).toBe(false);

    const ok = await sandbox(who, ['login', basic.host, '-u', TEST_USER, '--password-stdin', '--tls-verify=false'], env, `${TEST_PASSWORD}\n`);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('Login Succeeded!\n');
    const st = statSync(authFile);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(who.uid);
    const auths = JSON.parse(readFileSync(authFile, 'utf8')).auths;
    expect(Buffer.from(auths[basic.host].auth, 'base64').toString()).toBe(`${TEST_USER}:${TEST_PASSWORD}`);

    const pulled = await sandbox(who, ['image', 'pull', '--store', store, '--tls-verify=false', `${basic.host}/test/private:v1`], env);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stdout).toBe(`${sha(image.config).slice(7)}\n`);

    expect((await sandbox(who, ['logout', basic.host], env)).stdout).toBe(`Removed login credentials for ${basic.host}\n`);
    expect(JSON.parse(readFileSync(authFile, 'utf8')).auths).toEqual({});
    expect((await sandbox(who, ['logout', basic.host], env)).code).toBe(125);
  });

  it('resolveImage: pulls when missing, then uses the stored name; never pulls with pull: never; loads archives', async () => {
    const store = await openStore(join(work, 'resolve-store'));
    await expect(resolveImage(`${plain.host}/test/hello:v1`, { store, pull: 'never' })).rejects.toThrow(/is not in the store .*pull policy: never/);
    const events: string[] = [];
    const a = await resolveImage(`${plain.host}/test/hello:v1`, { store, tlsVerify: false, progress: (e) => events.push(e.type) });
    expect(events).toContain('blob-done');
    expect(a.names).toEqual([`${plain.host}/test/hello:v1`]);
    for (const l of a.layers) expect(await store.hasLayer(l.diffId)).toBe(true);
    // stored now: no registry needed (a stopped one would fail the pull)
    const again: string[] = [];
    const b = await resolveImage(`docker://${plain.host}/test/hello:v1`, { store, progress: (e) => again.push(e.type) });
    expect(b.manifestDigest).toBe(a.manifestDigest);
    expect(again).toEqual([]);
    const c = await resolveImage(`${plain.host}/test/hello:v1`, { store, tlsVerify: false, pull: 'always', progress: (e) => again.push(e.type) });
    expect(c.manifestDigest).toBe(a.manifestDigest);
    expect(again.filter((t) => t === 'blob-cached')).toHaveLength(3);
    const d = await resolveImage(`oci-archive:${ociArchive}`, { store });
    // the layout holds the very manifest that was pushed: one image, two names
    expect(d.manifestDigest).toBe(a.manifestDigest);
    expect(d.names).toEqual([`${plain.host}/test/hello:v1`, 'localhost/hello:v1']);
    expect((await resolveImage(a.configDigest.slice(7, 19), { store })).manifestDigest).toBe(a.manifestDigest);
    await expect(resolveImage('host', { store })).rejects.toThrow(/not an image for the store/);
  });
});
