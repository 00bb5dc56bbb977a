// Layers unpacked with their owners inside the user namespace, as root, as
// sbtest (a subuid range) and as sbtest-norange (no range: no owners): host
// ids and exact modes, whiteout devices and opaque xattrs, a real overlay
// mount of two layers (a stage plan in the test, as an observer), removal of
// trees the caller cannot remove itself, and hostile archives refused from
// inside the worker, and an image loaded and run through the real CLI. Each
// identity runs a small bundle of src/ (esbuild).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostIdOf, planImageIdMap } from '../../src/idmap/image-idmap.js';
import { probeHost, type HostFacts } from '../../src/host/probe-host.js';
import { readSubIds } from '../../src/host/subid.js';
import { OPAQUE_XATTRS, readXattr } from '../../src/image/unpack/overlay-marks.js';
import { gzip, tarOf, type TestEntry } from '../unit/image/unpack/layer-archive.js';
import { buildImage, ociLayout, writeTree } from '../unit/image/load/image-builder.js';
import { unpackLayerInUserns } from '../../src/image/unpack/unpack-in-userns.js';
import { removeTreeInUserns } from '../../src/image/unpack/remove-tree-in-userns.js';
import { unpackWorkerPath } from '../../src/image/unpack/userns-worker.js';
import { isRoot, ME, processesWith, REPO, runCli, SBTEST, SBTEST_NORANGE, type Identity } from './harness.js';
import { deviceUsable, overlayInUserns } from './host-capabilities.js';
import { jsonLines } from './json-lines.js';

/**
 * The child, one JSON request in argv[2], one JSON line out:
 *  ensure {store, layers:[{path,digest,diffId}]}  put the blobs, ensureImageLayers -> {dirs}
 *  observe {cwd, lower:[...], mnt, script, fuse}   overlay of `lower` (relative to cwd) on mnt with the image map, run script
 *                                                  (fuse: no mount op, the script mounts fuse-overlayfs itself)
 *  remove {dirs, within, tryPlain}                 removeTreeInUserns -> {plainError?}
 */
const CHILD = `
import { spawn } from 'node:child_process';
import { openStore } from './src/image/store/image-store.ts';
import { ensureImageLayers } from './src/image/ensure-layers.ts';
import { removeTreeInUserns } from './src/image/unpack/remove-tree-in-userns.ts';
import { removeTree } from './src/image/unpack/remove-tree.ts';
import { probeHost } from './src/host/probe-host.ts';
import { planImageIdMap } from './src/idmap/image-idmap.ts';
import { planIdMaps } from './src/launch/plan-run.ts';
import { launchStage } from './src/launch/launch-stage.ts';
import { CLONE, MS, ops } from './src/stage/plan.ts';
const [cmd, arg] = process.argv.slice(2);
const req = JSON.parse(arg);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
try {
  const host = probeHost();
  if (cmd === 'ensure') {
    const store = await openStore(req.store);
    for (const l of req.layers) await store.putBlob(l.path, l.digest);
    const record = { layers: req.layers.map((l) => ({ ...l, size: 0, mediaType: '' })) };
    const dirs = await ensureImageLayers(store, record);
    let pruned;
    if (req.prune) {
      // nothing references the layers: prune removes them (with the namespace's help)
      pruned = await store.prune({ graceMs: 0 });
    }
    out({ dirs, mode: planImageIdMap(host).mode, pruned });
  } else if (cmd === 'observe') {
    const idmap = planImageIdMap(host);
    const plan = [
      ops.chdir(req.cwd), ops.userns(), ...planIdMaps(idmap, host), ops.setupIds(0, 0),
      ops.unshare(CLONE.NEWNS | CLONE.NEWPID, 'mount, pid'), ops.forkInit(0),
      ops.mount('', '/', '', MS.REC | MS.PRIVATE),
      ...(req.fuse ? [] : [ops.mount('overlay', req.mnt, 'overlay', 0, 'lowerdir=' + req.lower.join(':') + ',userxattr')]),
      ops.forkWorkload(0), ops.exec('/bin/sh', '', ['/bin/sh', '-c', req.script], ['PATH=/usr/bin:/bin']),
    ];
    const h = launchStage(plan, ['ignore', 'pipe', 'pipe']);
    let text = '';
    h.child.stdout.setEncoding('utf8').on('data', (d) => (text += d));
    const o = await h.outcome;
    await new Promise((r) => h.child.on('close', r));
    out({ outcome: o.kind === 'failed' ? o : { kind: o.kind, waitStatus: o.waitStatus }, text });
  } else if (cmd === 'remove') {
    let plainError;
    if (req.tryPlain) {
      try { removeTree(req.dirs[0]); } catch (e) { plainError = e.code; }
    }
    await removeTreeInUserns(req.dirs, { within: req.within });
    out({ plainError });
  }
} catch (e) {
  out({ error: { name: e.name, code: e.code, message: e.message, hint: e.hint } });
}
`;

let work: string;
let childScript: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'unpack-userns-test-'));
  chmodSync(work, 0o755); // the test users and root's subordinate ids walk through it
  childScript = join(work, 'child.mjs');
  await build({
    stdin: { contents: CHILD, resolveDir: REPO, loader: 'js', sourcefile: 'child.mjs' },
    bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: childScript, packages: 'external', logLevel: 'warning',
    // package-root.ts and the koffi loader find the checkout (dist/, node_modules/) from here
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(join(REPO, 'src', 'package-root.ts')).href) },
  });
  chmodSync(childScript, 0o644);
  symlinkSync(join(REPO, 'node_modules'), join(work, 'node_modules'));
}, 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function runChild(who: Identity, cmd: string, req: unknown): Promise<any> {
  const proc = spawn(process.execPath, [childScript, cmd, JSON.stringify(req)], {
    cwd: work, stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/bin:/bin', HOME: who.home },
    ...(who.uid !== process.getuid?.() ? { uid: who.uid, gid: who.gid } : {}),
  });
  return jsonLines(proc)();
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const MTIME = new Date(1_600_000_000_000);

const BOTTOM: TestEntry[] = [
  { name: './', type: 'directory', mode: 0o755 },
  { name: 'etc/', type: 'directory', mode: 0o755, uid: 0, gid: 0 },
  { name: 'etc/passwd', mode: 0o644, uid: 0, gid: 0, body: 'root:x:0:0::/root:/bin/sh\n' },
  { name: 'bin/', type: 'directory', mode: 0o755 },
  { name: 'bin/su', mode: 0o4755, uid: 0, gid: 0, body: 'elf' },
  { name: 'home/', type: 'directory', mode: 0o755 },
  { name: 'home/u/', type: 'directory', mode: 0o700, uid: 1000, gid: 1000 },
  { name: 'home/u/secret', mode: 0o600, uid: 1000, gid: 1000, body: 'secret', mtime: MTIME },
  { name: 'var/', type: 'directory', mode: 0o755 },
  { name: 'var/www/', type: 'directory', mode: 0o2775, uid: 33, gid: 33 },
  { name: 'var/www/index.html', mode: 0o644, uid: 33, gid: 33, body: '<p>' },
  { name: 'var/www/home', type: 'symlink', linkname: 'index.html', uid: 33, gid: 33 },
  { name: 'home/u/secret-link', type: 'link', linkname: 'home/u/secret' },
  { name: 'tmp/', type: 'directory', mode: 0o1777 },
  { name: 'gone', body: 'deleted above' },
  { name: 'opq/', type: 'directory', mode: 0o755 },
  { name: 'opq/lower', body: 'hidden above' },
  { name: 'keep/', type: 'directory', mode: 0o755 },
  { name: 'keep/lower', body: 'merged' },
];
const TOP: TestEntry[] = [
  { name: '.wh.gone', body: '' },
  { name: 'opq/', type: 'directory', mode: 0o755 },
  { name: 'opq/.wh..wh..opq', body: '' },
  { name: 'opq/upper', body: 'only this' },
  { name: 'keep/upper', body: 'merged too' },
];

async function blobFile(name: string, entries: TestEntry[]) {
  const tar = await tarOf(entries);
  const blob = gzip(tar);
  const path = join(work, `${name}.tar.gz`);
  writeFileSync(path, blob, { mode: 0o644 });
  return { path, digest: sha(blob), diffId: sha(tar) };
}

/** The caller's host facts as the child sees them. */
function factsOf(who: Identity): HostFacts {
  const me = probeHost();
  const user = { name: who.name, id: who.uid };
  return { ...me, uid: who.uid, gid: who.gid, userName: who.name,
    subuid: readSubIds('/etc/subuid', user)[0] ?? null, subgid: readSubIds('/etc/subgid', user)[0] ?? null };
}

function storeFor(who: Identity): string {
  const dir = join(work, `store-${who.name}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir, { mode: 0o755 });
  if (who.uid !== process.getuid?.()) chownSync(dir, who.uid, who.gid);
  return join(dir, 'store');
}

const WHO: Identity[] = [ME, ...(isRoot && SBTEST ? [SBTEST] : []), ...(isRoot && SBTEST_NORANGE ? [SBTEST_NORANGE] : [])];
if (!isRoot || !SBTEST || !SBTEST_NORANGE) console.warn('unpack-userns: sbtest/sbtest-norange cases skipped (need root and the test users)');

describe.each(WHO)('layers unpacked as $name', (who) => {
  const facts = () => factsOf(who);
  const map = () => planImageIdMap(facts());
  let dirs: string[];
  let layersDir: string;

  beforeAll(async () => {
    const store = storeFor(who);
    const layers = [await blobFile(`bottom-${who.name}`, BOTTOM), await blobFile(`top-${who.name}`, TOP)];
    const r = await runChild(who, 'ensure', { store, layers });
    expect(r.error).toBeUndefined();
    dirs = r.dirs;
    layersDir = join(store, 'layers', 'sha256');
  }, 60_000);

  it('keeps owners (mapped to host ids) and exact modes, or drops them without a range', () => {
    const [bottom] = dirs;
    const m = map();
    const owners = m.mode === 'subid';
    const host = (id: number) => (owners ? hostIdOf(m.uidMap, id) : who.uid);
    const hostG = (id: number) => (owners ? hostIdOf(m.gidMap, id) : who.gid);
    const check = (p: string, uid: number, gid: number, mode: number) => {
      const st = lstatSync(join(bottom!, p));
      expect([p, st.uid, st.gid, st.mode & 0o7777]).toEqual([p, host(uid), hostG(gid), mode]);
    };
    check('etc/passwd', 0, 0, 0o644);
    check('bin/su', 0, 0, owners ? 0o4755 : 0o755); // setuid only with owners (reachable by nobody else: the store is closed)
    check('home/u', 1000, 1000, 0o700);
    check('home/u/secret', 1000, 1000, 0o600);
    check('var/www', 33, 33, owners ? 0o2775 : 0o775);
    check('var/www/index.html', 33, 33, 0o644);
    check('tmp', 0, 0, 0o1777);
    // a hardlink to another id's file (protected_hardlinks: CAP_FOWNER over mapped ids), a symlink's own owner
    expect(lstatSync(join(bottom!, 'home/u/secret-link')).ino).toBe(lstatSync(join(bottom!, 'home/u/secret')).ino);
    expect(lstatSync(join(bottom!, 'var/www/home')).uid).toBe(host(33));
    expect(lstatSync(join(bottom!, 'home/u/secret')).mtimeMs).toBe(MTIME.getTime());
    expect(lstatSync(bottom!).mode & 0o777).toBe(0o755);
    if (who.uid === 0) expect(lstatSync(join(bottom!, 'etc/passwd')).uid).toBe(1_000_000);
    if (who.name === 'sbtest') expect([lstatSync(join(bottom!, 'etc/passwd')).uid, lstatSync(join(bottom!, 'home/u')).uid]).toEqual([who.uid, 200_999]);
  });

  it('turns .wh.NAME into a char 0/0 device and .wh..wh..opq into opaque xattrs', () => {
    const top = dirs[1]!;
    const st = lstatSync(join(top, 'gone'));
    expect([st.isCharacterDevice(), st.rdev]).toEqual([true, 0]);
    expect(existsSync(join(top, '.wh.gone'))).toBe(false);
    expect(readdirSync(join(top, 'opq'))).toEqual(['upper']);
    for (const name of OPAQUE_XATTRS) expect(readXattr(join(top, 'opq'), name)).toBe('y');
    expect(readXattr(join(top, 'keep'), OPAQUE_XATTRS[0])).toBeNull();
    expect(existsSync(join(layersDir, `${dirs[1]!.split('/').pop()}.whiteouts.json`))).toBe(false);
  });

  const OBSERVE = (mnt: string) => `cd ${mnt} && ls -A . opq keep && stat -c '%u:%g %a %n' bin/su home/u var/www && cat opq/upper`;

  function expectMerged(text: string) {
    const root = text.split('\n\n')[0]!.split('\n').slice(1);
    expect(root).not.toContain('gone');
    expect(root).toEqual(expect.arrayContaining(['bin', 'etc', 'home', 'keep', 'opq', 'tmp', 'var']));
    expect(text).toMatch(/opq:\nupper\n/);
    expect(text).toMatch(/keep:\nlower\nupper\n/);
    // ids as the image says, seen through the same map
    expect(text).toContain('0:0 4755 bin/su');
    expect(text).toContain('1000:1000 700 home/u');
    expect(text).toContain('33:33 2775 var/www');
    expect(text).toContain('only this');
  }

  const hex = (d: string) => d.split('/').pop()!;

  it.skipIf(who.name === 'sbtest-norange' || !overlayInUserns(who).ok)('a native overlay of the two layers shows the whiteout and the opaque directory applied', async () => {
    const mnt = join(work, `mnt-${who.name}`);
    mkdirSync(mnt, { recursive: true, mode: 0o755 });
    const r = await runChild(who, 'observe', { cwd: layersDir, lower: [hex(dirs[1]!), hex(dirs[0]!)], mnt, script: OBSERVE(mnt) });
    expect(r.error).toBeUndefined();
    expect(r.outcome).toEqual({ kind: 'exited', waitStatus: 0 });
    expectMerged(r.text);
  });

  // fuse-overlayfs resolves its lowerdirs from /: root's range cannot search root's 0700 store, so only sbtest here
  it.skipIf(who.name !== 'sbtest' || !existsSync('/usr/bin/fuse-overlayfs') || !deviceUsable('/dev/fuse', who).ok)('fuse-overlayfs shows the same merge from the same layers', async () => {
    const mnt = join(work, `fuse-mnt-${who.name}`);
    mkdirSync(mnt, { recursive: true, mode: 0o755 });
    chownSync(mnt, who.uid, who.gid);
    const lower = [dirs[1]!, dirs[0]!].join(':');
    const r = await runChild(who, 'observe', { cwd: layersDir, lower: [], mnt, fuse: true,
      script: `/usr/bin/fuse-overlayfs -o lowerdir=${lower} ${mnt} && ${OBSERVE(mnt)}` });
    expect(r.error).toBeUndefined();
    expect(r.outcome).toEqual({ kind: 'exited', waitStatus: 0 });
    expectMerged(r.text);
  });
});

describe('prune removes layers unpacked with owners', () => {
  it.each(WHO)('as $name', async (who) => {
    const store = storeFor(who);
    const layers = [await blobFile(`prune-${who.name}`, BOTTOM)];
    const r = await runChild(who, 'ensure', { store, layers, prune: true });
    expect(r.error).toBeUndefined();
    expect(r.pruned.removedLayers).toEqual([layers[0]!.diffId]);
    expect(existsSync(r.dirs[0])).toBe(false);
    expect(readdirSync(join(store, 'layers')).filter((f) => f.startsWith('tmp-'))).toEqual([]);
  });
});

describe.skipIf(!isRoot)('unpack errors from inside the worker', () => {
  it.each(WHO)('a hostile entry is refused with its name and rule, and nothing is kept ($name)', async (who) => {
    const store = storeFor(who);
    const bad = await blobFile(`bad-${who.name}`, [
      { name: 'ok', body: 'fine' },
      { name: 'link', type: 'symlink', linkname: '/etc' },
      { name: 'link/passwd', body: 'owned' },
    ]);
    const r = await runChild(who, 'ensure', { store, layers: [bad] });
    expect(r.error).toMatchObject({ name: 'SandboxError', code: 'config' });
    expect(r.error.message).toMatch(/layer entry 'link\/passwd': parent 'link' is a symlink/);
    const layers = join(store, 'layers');
    expect(readdirSync(layers).filter((f) => f.startsWith('tmp-'))).toEqual([]);
    expect(readdirSync(join(layers, 'sha256')).filter((f) => /^[0-9a-f]{64}$/.test(f))).toEqual([]);
  });

  it.each(WHO)('a layer whose tar is not the diff ID the image claims is rejected, and nothing is kept ($name)', async (who) => {
    const store = storeFor(who);
    const real = await blobFile(`forged-${who.name}`, [{ name: 'etc/passwd', body: 'evil' }]);
    const forged = { ...real, diffId: (await blobFile(`other-${who.name}`, BOTTOM)).diffId };
    const r = await runChild(who, 'ensure', { store, layers: [forged] });
    expect(r.error).toMatchObject({ name: 'SandboxError', code: 'config', message: expect.stringMatching(/diff ID mismatch/) });
    const layers = join(store, 'layers');
    expect(readdirSync(layers).filter((f) => f.startsWith('tmp-'))).toEqual([]);
    expect(readdirSync(join(layers, 'sha256')).filter((f) => /^[0-9a-f]{64}$/.test(f))).toEqual([]);
  });
});

describe.skipIf(!isRoot || !SBTEST)('removeTreeInUserns', () => {
  it.each([ME, ...(SBTEST ? [SBTEST] : [])])('removes trees with subuid-owned 0700 directories, in one call, following no symlink ($name)', async (who) => {
    const base = join(work, `runs-${who.name}`);
    mkdirSync(base, { mode: 0o755 });
    chownSync(base, who.uid, who.gid);
    const canary = join(work, `canary-${who.name}`);
    mkdirSync(canary);
    writeFileSync(join(canary, 'keep'), 'x');
    const sub = hostIdOf(planImageIdMap(factsOf(who)).uidMap, 1000)!;
    const trees = ['r1', 'r2'].map((n) => join(base, n));
    for (const t of trees) {
      mkdirSync(join(t, 'private', 'deep'), { recursive: true });
      writeFileSync(join(t, 'private', 'deep', 'file'), 'x');
      symlinkSync(canary, join(t, 'private', 'out'));
      for (const p of [t, join(t, 'private', 'deep', 'file'), join(t, 'private', 'deep'), join(t, 'private')]) chownSync(p, sub, sub);
      chmodSync(join(t, 'private'), 0o700);
      chmodSync(join(t, 'private', 'deep'), 0o500);
      chownSync(t, who.uid, who.gid);
    }
    const r = await runChild(who, 'remove', { dirs: trees, within: [base], tryPlain: who.uid !== 0 });
    expect(r.error).toBeUndefined();
    if (who.uid !== 0) expect(r.plainError).toBe('EACCES');
    for (const t of trees) expect(existsSync(t)).toBe(false);
    expect(existsSync(join(canary, 'keep'))).toBe(true);
  });

  it('refuses a directory outside the bases', async () => {
    const r = await runChild(ME, 'remove', { dirs: ['/etc/ssl'], within: [work] });
    expect(r.error).toMatchObject({ name: 'SandboxError', message: expect.stringMatching(/refusing to remove \/etc\/ssl: it is not below/) });
    expect(existsSync('/etc/ssl')).toBe(true);
  });
});

describe.skipIf(!isRoot)('unpackLayerInUserns in this process', () => {
  it('an abort kills the stage and its worker, and leaves no process behind', async () => {
    const files: TestEntry[] = Array.from({ length: 400 }, (_, i) => ({ name: `f${i}`, body: Buffer.alloc(256 * 1024, i) }));
    const big = await blobFile('abort', files);
    const dir = mkdtempSync(join(work, 'abort-'));
    const ac = new AbortController();
    const run = unpackLayerInUserns(big.path, dir, { signal: ac.signal });
    setTimeout(() => ac.abort(), 150);
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    await new Promise((r) => setTimeout(r, 200));
    expect(processesWith(unpackWorkerPath())).toEqual([]);
    await removeTreeInUserns([dir], { within: [work] });
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses to run without a subordinate range (ownership cannot be kept), before touching anything', async () => {
    const dir = mkdtempSync(join(work, 'norange-'));
    const err = await unpackLayerInUserns('/nonexistent', dir, { host: { ...probeHost(), subuid: null, subgid: null } }).catch((e) => e);
    expect(err).toMatchObject({ name: 'SandboxError', code: 'host', message: expect.stringMatching(/cannot unpack \/nonexistent with its owners: root has no range/) });
    expect(lstatSync(dir).mode & 0o777).toBe(0o700);
  });
});

const haveBusybox = existsSync('/bin/busybox') && spawnSync('file', ['-L', '/bin/busybox']).stdout?.toString().includes('statically');

describe.skipIf(!haveBusybox).each(WHO)('an image loaded and run through the CLI as $name', (as) => {
  it('shows the owners and modes the image says, the whiteout and the opaque directory', async () => {
    const bottom = await tarOf([
      { name: 'bin/', type: 'directory', mode: 0o755 },
      { name: 'bin/busybox', mode: 0o755, body: readFileSync('/bin/busybox') },
      { name: 'bin/su', mode: 0o4755, body: 'x' },
      { name: 'home/u/', type: 'directory', mode: 0o700, uid: 1000, gid: 1000 },
      { name: 'var/www/', type: 'directory', mode: 0o755, uid: 33, gid: 33 },
      { name: 'gone', body: 'x' },
      { name: 'opq/', type: 'directory', mode: 0o755 },
      { name: 'opq/lower', body: 'x' },
    ]);
    const top = await tarOf([{ name: '.wh.gone', body: '' }, { name: 'opq/', type: 'directory', mode: 0o755 }, { name: 'opq/.wh..wh..opq', body: '' }, { name: 'opq/upper', body: 'y' }]);
    const gz = 'application/vnd.oci.image.layer.v1.tar+gzip';
    const image = buildImage([{ blob: gzip(bottom), tar: bottom, mediaType: gz }, { blob: gzip(top), tar: top, mediaType: gz }], { cmd: ['/bin/busybox', 'true'] });
    const base = mkdtempSync(join(work, 'cli-'));
    chmodSync(base, 0o755);
    writeTree(join(base, 'oci'), ociLayout([{ image }]));
    execFileSync('chmod', ['-R', 'a+rX', join(base, 'oci')]);
    const store = join(base, 'store');
    mkdirSync(store);
    chownSync(store, as.uid, as.gid);
    const load = await runCli(['image', 'load', '--store', store, `oci:${join(base, 'oci')}`], { as, timeoutMs: 60_000 });
    expect(load.stderr).toBe('');
    const id = /sha256:([0-9a-f]{64})/.exec(load.stdout)![1]!;
    expect((await runCli(['image', 'tag', '--store', store, id, 'owned:1'], { as })).code).toBe(0);
    const r = await runCli(['exec', '--store', store, 'owned:1', '/bin/busybox', 'sh', '-c',
      '/bin/busybox stat -c "%u:%g %a %n" /bin/su /home/u /var/www; /bin/busybox ls -A / /opq'], { as, timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    if (as.name === 'sbtest-norange') {
      // one id: everything is the caller's, root inside; setuid dropped
      expect(r.stdout).toContain('0:0 755 /bin/su');
      expect(r.stdout).toContain('0:0 700 /home/u');
    } else {
      expect(r.stdout).toContain('0:0 4755 /bin/su');
      expect(r.stdout).toContain('1000:1000 700 /home/u');
      expect(r.stdout).toContain('33:33 755 /var/www');
    }
    expect(r.stdout).not.toMatch(/^gone$/m);
    expect(r.stdout).toMatch(/\/opq:\nupper\n/);
  }, 120_000);
});
