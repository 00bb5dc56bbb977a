// unpackLayer on well-formed layers: files, directories, modes, mtimes,
// symlinks (absolute targets included), hardlinks, compression, whiteouts
// recorded in the sidecar, devices skipped, and the report.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { unpackLayer } from '../../../../src/image/unpack/unpack-layer.js';
import { removeTree } from '../../../../src/image/unpack/remove-tree.js';
import { whiteoutSidecarPath } from '../../../../src/image/unpack/whiteouts.js';
import { OPAQUE_XATTRS, readXattr } from '../../../../src/image/unpack/overlay-marks.js';
import { gzip, HAVE_ZSTD, streamOf, tarOf, tempLayer, zstd, type TestEntry } from './layer-archive.js';

const parents: string[] = [];
afterEach(() => {
  for (const p of parents.splice(0)) removeTree(p);
});
function layer() {
  const l = tempLayer();
  parents.push(l.parent);
  return l;
}

const MTIME = new Date(1_500_000_000_000);
const ENTRIES: TestEntry[] = [
  { name: './', type: 'directory', mode: 0o755 },
  { name: './usr/', type: 'directory', mode: 0o755, mtime: MTIME },
  { name: './usr/bin/', type: 'directory', mode: 0o711, mtime: MTIME },
  { name: './usr/bin/tool', mode: 0o755, body: '#!/bin/sh\necho hi\n', mtime: MTIME },
  { name: './usr/bin/tool2', type: 'link', linkname: './usr/bin/tool' },
  { name: 'etc/motd', mode: 0o640, body: 'hello\n' },
  { name: 'etc/localtime', type: 'symlink', linkname: '/usr/share/zoneinfo/UTC' },
  { name: 'bin', type: 'symlink', linkname: 'usr/bin' },
  { name: 'readonly/', type: 'directory', mode: 0o555 },
  { name: 'readonly/inside', mode: 0o444, body: 'x' },
  { name: 'tmp/', type: 'directory', mode: 0o1777 },
  { name: 'suid', mode: 0o4755, body: 'elf' },
];

describe('unpackLayer: a plain layer', () => {
  it('creates files, directories, symlinks and hardlinks with their modes and mtimes', async () => {
    const { target } = layer();
    const report = await unpackLayer(streamOf(await tarOf(ENTRIES)), target, { compression: 'none' });

    expect(readFileSync(join(target, 'usr/bin/tool'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect(statSync(join(target, 'usr/bin/tool')).mode & 0o7777).toBe(0o755);
    expect(statSync(join(target, 'etc/motd')).mode & 0o7777).toBe(0o640);
    expect(statSync(join(target, 'usr/bin')).mode & 0o7777).toBe(0o711);
    expect(statSync(join(target, 'readonly')).mode & 0o7777).toBe(0o555);
    expect(statSync(join(target, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(statSync(join(target, 'etc')).mode & 0o7777).toBe(0o755); // implicit parent
    expect(statSync(join(target, 'usr/bin/tool')).mtime.getTime()).toBe(MTIME.getTime());
    expect(statSync(join(target, 'usr/bin')).mtime.getTime()).toBe(MTIME.getTime()); // set after its children

    expect(lstatSync(join(target, 'etc/localtime')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(target, 'etc/localtime'))).toBe('/usr/share/zoneinfo/UTC');
    expect(readlinkSync(join(target, 'bin'))).toBe('usr/bin');

    const a = statSync(join(target, 'usr/bin/tool'));
    const b = statSync(join(target, 'usr/bin/tool2'));
    expect(b.ino).toBe(a.ino);
    expect(a.nlink).toBe(2);

    expect(report.counts).toMatchObject({ file: 4, directory: 4, symlink: 2, hardlink: 1, skipped: 0, refused: 0 });
    expect(report.bytes).toBe(18 + 6 + 1 + 3);
    expect(report.compression).toBe('none');
  });

  it('never leaves a world-writable file on the host; setuid and setgid only with chown; directories keep 1777', async () => {
    const extra: TestEntry[] = [
      { name: 'open', mode: 0o6777, body: 'w' },
      { name: 'tmp/', type: 'directory', mode: 0o1777 },
      { name: 'shared/', type: 'directory', mode: 0o2775 },
    ];
    const plain = layer();
    await unpackLayer(streamOf(await tarOf([...ENTRIES, ...extra])), plain.target, {});
    const mode = (dir: string, p: string) => statSync(join(dir, p)).mode & 0o7777;
    expect([mode(plain.target, 'suid'), mode(plain.target, 'open'), mode(plain.target, 'tmp'), mode(plain.target, 'shared')]).toEqual([0o755, 0o775, 0o1777, 0o775]);

    if (process.getuid?.() !== 0) return; // chown needs uid 0 (in a user namespace in real use)
    const owned = layer();
    await unpackLayer(
      streamOf(await tarOf([...ENTRIES, ...extra, { name: 'owned', uid: 1234, gid: 5678, mode: 0o2755, body: 'o' }])),
      owned.target,
      { chown: true },
    );
    expect([mode(owned.target, 'suid'), mode(owned.target, 'open'), mode(owned.target, 'tmp'), mode(owned.target, 'shared')]).toEqual([0o4755, 0o6775, 0o1777, 0o2775]);
    const st = statSync(join(owned.target, 'owned'));
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([1234, 5678, 0o2755]);
  });

  it('lets later entries replace earlier ones (file over file, directory over file, file over directory)', async () => {
    const { target } = layer();
    await unpackLayer(
      streamOf(
        await tarOf([
          { name: 'a', body: 'first' },
          { name: 'a', body: 'second' },
          { name: 'b', body: 'file' },
          { name: 'b/', type: 'directory' },
          { name: 'b/c', body: 'in dir' },
          { name: 'd/', type: 'directory' },
          { name: 'd/e', body: 'gone' },
          { name: 'd', body: 'now a file' },
          { name: 'f', type: 'symlink', linkname: '/etc' },
          { name: 'f', body: 'replaces the link, not its target' },
        ]),
      ),
      target,
    );
    expect(readFileSync(join(target, 'a'), 'utf8')).toBe('second');
    expect(readFileSync(join(target, 'b/c'), 'utf8')).toBe('in dir');
    expect(readFileSync(join(target, 'd'), 'utf8')).toBe('now a file');
    expect(lstatSync(join(target, 'f')).isFile()).toBe(true);
  });
});

describe('unpackLayer: compression', () => {
  const files: TestEntry[] = [{ name: 'x/y', body: 'compressed' }];
  it('gunzips, explicitly and by sniffing', async () => {
    for (const compression of ['gzip', 'auto'] as const) {
      const { target } = layer();
      const r = await unpackLayer(streamOf(gzip(await tarOf(files))), target, { compression });
      expect(r.compression).toBe('gzip');
      expect(readFileSync(join(target, 'x/y'), 'utf8')).toBe('compressed');
    }
  });

  it('reads plain tar with auto', async () => {
    const { target } = layer();
    const r = await unpackLayer(streamOf(await tarOf(files)), target, { compression: 'auto' });
    expect(r.compression).toBe('none');
    expect(readFileSync(join(target, 'x/y'), 'utf8')).toBe('compressed');
  });

  it('rejects a corrupt gzip stream', async () => {
    const { target } = layer();
    const bad = gzip(await tarOf(files));
    bad[bad.length - 6] ^= 0xff; // the crc32
    await expect(unpackLayer(streamOf(bad), target, { compression: 'gzip' })).rejects.toThrow(/layer: cannot unpack/);
  });

  describe.skipIf(!HAVE_ZSTD)('zstd (needs the zstd CLI to make test data)', () => {
    it('decompresses zstd, explicitly and by sniffing', async () => {
      for (const compression of ['zstd', 'auto'] as const) {
        const { target } = layer();
        const r = await unpackLayer(streamOf(zstd(await tarOf(files))), target, { compression });
        expect(r.compression).toBe('zstd');
        expect(readFileSync(join(target, 'x/y'), 'utf8')).toBe('compressed');
      }
    });
  });
  if (!HAVE_ZSTD) console.log('zstd tests skipped: no `zstd` CLI to create test data (apt-get install zstd)');
});

describe('unpackLayer: whiteouts (record)', () => {
  it('records .wh. files, opaque markers and char 0:0 devices in the report and the sidecar, creating none of them', async () => {
    const { target } = layer();
    const report = await unpackLayer(
      streamOf(
        await tarOf([
          { name: 'etc/', type: 'directory' },
          { name: 'etc/.wh.passwd', body: '' },
          { name: 'var/cache/.wh..wh..opq', body: '' },
          { name: '.wh.opt', body: '' },
          { name: 'old', type: 'character-device', devmajor: 0, devminor: 0 },
          { name: '.wh..wh..opq', body: '' },
        ]),
      ),
      target,
      { whiteouts: 'record' },
    );
    expect(report.whiteouts).toEqual(['/etc/passwd', '/old', '/opt']);
    expect(report.opaqueDirs).toEqual(['/', '/var/cache']);
    expect(report.counts).toMatchObject({ whiteout: 3, opaque: 2, file: 0 });
    expect(existsSync(join(target, 'etc/.wh.passwd'))).toBe(false);
    expect(existsSync(join(target, 'old'))).toBe(false);
    expect(statSync(join(target, 'var/cache')).isDirectory()).toBe(true);
    expect(report.whiteoutFile).toBe(whiteoutSidecarPath(target));
    expect(JSON.parse(readFileSync(report.whiteoutFile!, 'utf8'))).toEqual({
      version: 1,
      whiteouts: ['/etc/passwd', '/old', '/opt'],
      opaqueDirs: ['/', '/var/cache'],
    });
  });

  it('refuses an unknown whiteout mode before reading anything', async () => {
    const { target } = layer();
    await expect(unpackLayer(streamOf(Buffer.alloc(0)), target, { whiteouts: 'aufs' as never })).rejects.toThrow(/unknown mode 'aufs'/);
  });
});

describe('unpackLayer: devices and fifos', () => {
  it('skips them with a note', async () => {
    const { target } = layer();
    const report = await unpackLayer(
      streamOf(
        await tarOf([
          { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 },
          { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
          { name: 'run/fifo', type: 'fifo' },
        ]),
      ),
      target,
    );
    expect(report.skipped.map((s) => [s.name, s.type])).toEqual([
      ['dev/null', 'character-device'],
      ['dev/sda', 'block-device'],
      ['run/fifo', 'fifo'],
    ]);
    expect(report.skipped[0]!.reason).toMatch(/1:3/);
    expect(existsSync(join(target, 'dev/null'))).toBe(false);
    expect(existsSync(join(target, 'run/fifo'))).toBe(false);
  });
});

describe('unpackLayer: target directory', () => {
  it('refuses a non-empty target', async () => {
    const { target } = layer();
    await unpackLayer(streamOf(await tarOf([{ name: 'a', body: '' }])), target);
    await expect(unpackLayer(streamOf(await tarOf([{ name: 'b', body: '' }])), target)).rejects.toThrow(/not empty/);
  });
});

describe('unpackLayer: whiteouts (overlay)', () => {
  it('makes char 0/0 devices and opaque xattrs, no sidecar; entries of the same layer win', async () => {
    const { target } = layer();
    const report = await unpackLayer(
      streamOf(
        await tarOf([
          { name: 'etc/', type: 'directory', mode: 0o555 },
          { name: 'etc/.wh.passwd', body: '' },
          { name: 'var/cache/.wh..wh..opq', body: '' },
          { name: '.wh.opt', body: '' },
          { name: '.wh.kept', body: '' },
          { name: 'kept', body: 'mine' },
          { name: 'old', type: 'character-device', devmajor: 0, devminor: 0 },
          { name: '.wh..wh..opq', body: '' },
        ]),
      ),
      target,
      { whiteouts: 'overlay' },
    );
    expect(report.whiteouts).toEqual(['/etc/passwd', '/kept', '/old', '/opt']);
    expect(report.marks).toEqual({ whiteouts: 3, opaque: 2 });
    expect(report.whiteoutFile).toBeNull();
    expect(existsSync(whiteoutSidecarPath(target))).toBe(false);
    for (const p of ['etc/passwd', 'opt', 'old']) {
      const st = lstatSync(join(target, p));
      expect([st.isCharacterDevice(), st.rdev]).toEqual([true, 0]);
    }
    expect(readFileSync(join(target, 'kept'), 'utf8')).toBe('mine');
    expect(existsSync(join(target, 'etc/.wh.passwd'))).toBe(false);
    expect(lstatSync(join(target, 'etc')).mode & 0o7777).toBe(0o555);
    for (const d of ['var/cache', '.']) {
      for (const name of OPAQUE_XATTRS) expect(readXattr(join(target, d), name)).toBe('y');
    }
    expect(readXattr(join(target, 'var'), OPAQUE_XATTRS[0])).toBeNull();
  });
});

describe('unpackLayer: diff ID', () => {
  const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

  it('accepts the sha256 of every tar byte (GNU tar padding included), gzip or plain', async () => {
    const { parent } = layer();
    const src = join(parent, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a'), 'a'.repeat(5000));
    const tarBytes = execFileSync('tar', ['-C', src, '-cf', '-', '.']);
    for (const blob of [tarBytes, gzip(tarBytes)]) {
      const { target } = layer();
      const r = await unpackLayer(streamOf(blob), target, { expectDiffId: sha(tarBytes) });
      expect(r.counts.file).toBe(1);
    }
  });

  it('rejects a layer whose tar is not the diff ID the image claims', async () => {
    const { target } = layer();
    const tarBytes = await tarOf([{ name: 'a', body: 'x' }]);
    const forged = `sha256:${'0'.repeat(64)}`;
    await expect(unpackLayer(streamOf(gzip(tarBytes)), target, { expectDiffId: forged }))
      .rejects.toMatchObject({ name: 'SandboxError', message: expect.stringMatching(/diff ID mismatch: the image says sha256:0{64}, the layer's tar is sha256:/) });
  });
});
