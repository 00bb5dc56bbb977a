// Hostile layer archives: every case must be refused (or skipped with a
// note) and leave nothing outside the target directory: the temp parent
// (holding the target and a canary directory) is snapshotted before and
// compared after, and the host paths an attack aims at are checked too.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTree } from '../../src/image/unpack/remove-tree.js';
import { unpackLayer, type UnpackOptions } from '../../src/image/unpack/unpack-layer.js';
import { verifyDigest } from '../../src/image/unpack/verify-digest.js';
import { gzip, HAVE_ZSTD, snapshot, streamOf, tarOf, tempLayer, type TestEntry, zstd } from '../unit/image/unpack/layer-archive.js';

interface Scene {
  parent: string;
  target: string;
  canary: string;
  before: string[];
}
const scenes: Scene[] = [];
afterEach(() => {
  for (const s of scenes.splice(0)) removeTree(s.parent);
});

function scene(): Scene {
  const { parent, target } = tempLayer('hostile-');
  const canary = join(parent, 'canary');
  mkdirSync(canary);
  writeFileSync(join(canary, 'keep'), 'canary');
  const s = { parent, target, canary, before: snapshot(parent) };
  scenes.push(s);
  return s;
}

/** Everything in the parent except the target directory's contents is as it was. */
function expectOutsideUntouched(s: Scene, allowSidecar = false): void {
  const after = snapshot(s.parent).filter(
    (p) => p === 'layer/' || (!p.startsWith('layer/') && !(allowSidecar && p.startsWith('layer.whiteouts.json'))),
  );
  expect(after).toEqual(s.before);
}

async function unpackHostile(entries: TestEntry[], options: UnpackOptions = {}) {
  const s = scene();
  const run = unpackLayer(streamOf(await tarOf(entries)), s.target, options);
  return { s, run };
}

async function expectRefused(entries: TestEntry[], message: RegExp, options: UnpackOptions = {}): Promise<Scene> {
  const { s, run } = await unpackHostile(entries, options);
  await expect(run).rejects.toMatchObject({ name: 'SandboxError', code: 'config', message: expect.stringMatching(message) });
  expectOutsideUntouched(s);
  expect(existsSync(join(s.parent, 'layer.whiteouts.json'))).toBe(false);
  return s;
}

const unique = () => `sandbox-hostile-${randomBytes(6).toString('hex')}`;

describe('path traversal', () => {
  it("refuses '../x'", async () => {
    await expectRefused([{ name: '../x', body: 'pwned' }], /layer entry '\.\.\/x': parent directory traversal/);
  });
  it("refuses 'a/../../x'", async () => {
    await expectRefused([{ name: 'a/', type: 'directory' }, { name: 'a/../../x', body: 'pwned' }], /'a\/\.\.\/\.\.\/x': parent directory traversal/);
  });
  it("refuses even a harmless-looking 'a/../b' (any '..' component)", async () => {
    await expectRefused([{ name: 'a/../b', body: '' }], /parent directory traversal/);
  });
  it("refuses '/abs' and '/etc/NAME'", async () => {
    const name = unique();
    await expectRefused([{ name: '/abs', body: 'pwned' }], /'\/abs': absolute name/);
    await expectRefused([{ name: `/tmp/${name}`, body: 'pwned' }], /absolute name/);
    expect(existsSync(`/tmp/${name}`)).toBe(false);
  });
  it('refuses a pax path that overrides a harmless ustar name', async () => {
    await expectRefused([{ name: 'harmless', pax: { path: '../../escaped' }, body: 'pwned' }], /'\.\.\/\.\.\/escaped': parent directory traversal/);
  });
  it('refuses a NUL in a name (pax) and an empty name', async () => {
    await expectRefused([{ name: 'a\0b', pax: { comment: 'x' }, body: '' }], /'a\\x00b': name contains a NUL byte/);
    await expectRefused([{ name: '', body: '' }], /empty name/);
  });
});

describe('symlinks are never written through', () => {
  it("refuses 'link -> /' then 'link/etc/NAME' and the host path stays untouched", async () => {
    const name = unique();
    const s = await expectRefused(
      [
        { name: 'link', type: 'symlink', linkname: '/' },
        { name: `link/tmp/${name}`, body: 'pwned' },
      ],
      /parent 'link' is a symlink/,
    );
    expect(existsSync(`/tmp/${name}`)).toBe(false);
    expect(lstatSync(join(s.target, 'link')).isSymbolicLink()).toBe(true); // the link itself is fine as text
  });

  it('refuses writing through a symlink to the canary directory (absolute and relative)', async () => {
    const s = scene();
    const run = unpackLayer(
      streamOf(await tarOf([{ name: 'c', type: 'symlink', linkname: s.canary }, { name: 'c/pwned', body: 'x' }])),
      s.target,
    );
    await expect(run).rejects.toThrow(/parent 'c' is a symlink/);
    expectOutsideUntouched(s);
    expect(readdirSync(s.canary)).toEqual(['keep']);
  });

  it('refuses a symlink to a parent directory used as a path', async () => {
    await expectRefused(
      [
        { name: 'up', type: 'symlink', linkname: '..' },
        { name: 'up/escaped', body: 'pwned' },
      ],
      /parent 'up' is a symlink/,
    );
    await expectRefused(
      [
        { name: 'd/', type: 'directory' },
        { name: 'd/up', type: 'symlink', linkname: '../../canary' },
        { name: 'd/up/keep', body: 'overwritten?' },
      ],
      /parent 'd\/up' is a symlink/,
    );
  });

  it('replaces a symlink by a file (unlink first) instead of writing through it', async () => {
    const s = scene();
    const report = await unpackLayer(
      streamOf(
        await tarOf([
          { name: 's', type: 'symlink', linkname: join(s.canary, 'keep') },
          { name: 's', body: 'replaced' },
          { name: 'd', type: 'symlink', linkname: s.canary },
          { name: 'd/', type: 'directory' }, // a directory over a symlink: the link goes, the canary stays
        ]),
      ),
      s.target,
    );
    expect(report.counts.file).toBe(1);
    expect(lstatSync(join(s.target, 's')).isFile()).toBe(true);
    expect(lstatSync(join(s.target, 'd')).isDirectory()).toBe(true);
    expectOutsideUntouched(s, true);
  });

  it('a file replacing a directory that holds a symlink to the canary removes the link, not the canary', async () => {
    const s = scene();
    await unpackLayer(
      streamOf(
        await tarOf([
          { name: 'd/', type: 'directory' },
          { name: 'd/s', type: 'symlink', linkname: s.canary },
          { name: 'd', body: 'now a file' },
          { name: 'e', body: 'file' },
          { name: 'e/', type: 'directory' },
        ]),
      ),
      s.target,
    );
    expect(lstatSync(join(s.target, 'd')).isFile()).toBe(true);
    expect(lstatSync(join(s.target, 'e')).isDirectory()).toBe(true);
    expectOutsideUntouched(s, true);
  });
});

describe('a directory replaced after entries were written below it', () => {
  // The parent walk remembers directories it has checked: replacing one must
  // make the next walk look again.
  it('refuses a write through a symlink that replaced a directory already walked', async () => {
    const s = scene();
    await expectRefused(
      [
        { name: 'd/', type: 'directory' },
        { name: 'd/sub/', type: 'directory' },
        { name: 'd/sub/f', body: 'walked' },
        { name: 'd/sub', type: 'symlink', linkname: s.canary },
        { name: 'd/sub/keep', body: 'overwritten?' },
      ],
      /parent 'd\/sub' is a symlink/,
    );
    await expectRefused(
      [
        { name: 'd/sub/f', body: 'walked' },
        { name: 'd', type: 'symlink', linkname: s.canary },
        { name: 'd/keep', body: 'overwritten?' },
      ],
      /parent 'd' is a symlink/,
    );
    await expectRefused(
      [
        { name: 'd/f', body: 'walked' },
        { name: 'd', body: 'now a file' },
        { name: 'd/g', body: 'below a file?' },
      ],
      /parent 'd' is not a directory/,
    );
    expect(readdirSync(s.canary)).toEqual(['keep']);
  });
});

describe('hardlinks only to regular files of this layer', () => {
  it('refuses a hardlink to /etc/passwd and to ../x', async () => {
    const nlink = statSync('/etc/passwd').nlink;
    await expectRefused([{ name: 'h', type: 'link', linkname: '/etc/passwd' }], /'h': absolute hardlink target/);
    await expectRefused([{ name: 'h', type: 'link', linkname: '../canary/keep' }], /parent directory traversal in hardlink target/);
    expect(statSync('/etc/passwd').nlink).toBe(nlink);
  });

  it('refuses a hardlink to a path not extracted in this layer, to a symlink, to a directory, to itself', async () => {
    await expectRefused([{ name: 'h', type: 'link', linkname: 'etc/passwd' }], /not a regular file extracted earlier/);
    await expectRefused(
      [
        { name: 's', type: 'symlink', linkname: '/etc/passwd' },
        { name: 'h', type: 'link', linkname: 's' },
      ],
      /not a regular file extracted earlier/,
    );
    await expectRefused([{ name: 'd/', type: 'directory' }, { name: 'h', type: 'link', linkname: 'd' }], /not a regular file/);
    await expectRefused([{ name: 'f', body: 'x' }, { name: 'f', type: 'link', linkname: 'f' }], /hardlink to itself/);
  });

  it('refuses a hardlink whose target path now runs through a symlink', async () => {
    const s = scene();
    const run = unpackLayer(
      streamOf(
        await tarOf([
          { name: 'a/f', body: 'x' },
          { name: 'a', type: 'symlink', linkname: s.canary },
          { name: 'h', type: 'link', linkname: 'a/keep' },
          { name: 'h2', type: 'link', linkname: 'a/f' },
        ]),
      ),
      s.target,
      { strict: false },
    );
    const report = await run;
    expect(report.refused.map((r) => r.name)).toEqual(['h', 'h2']);
    expect(report.refused[1]!.rule).toMatch(/hardlink target parent 'a' is a symlink/);
    expect(statSync(join(s.canary, 'keep')).nlink).toBe(1);
    expectOutsideUntouched(s, true);
  });
});

describe('device nodes and whiteout names', () => {
  it('skips device nodes with a note and creates nothing', async () => {
    const { s, run } = await unpackHostile([
      { name: 'dev/kmem', type: 'character-device', devmajor: 1, devminor: 2 },
      { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
    ]);
    const report = await run;
    expect(report.skipped.map((e) => e.name)).toEqual(['dev/kmem', 'dev/sda']);
    expect(readdirSync(s.target)).toEqual([]);
    expectOutsideUntouched(s, true);
  });

  it('refuses whiteouts of . and .., and whiteouts through a symlink', async () => {
    await expectRefused([{ name: 'a/.wh..', body: '' }], /whiteout of an invalid name '\.'/);
    await expectRefused([{ name: '.wh...', body: '' }], /whiteout of an invalid name '\.\.'/);
    await expectRefused([{ name: 'l', type: 'symlink', linkname: '/' }, { name: 'l/.wh.etc', body: '' }], /parent 'l' is a symlink/);
    await expectRefused([{ name: 'l', type: 'symlink', linkname: '/' }, { name: 'l/.wh..wh..opq', body: '' }], /not a directory/);
  });
});

describe('limits (decompression bombs)', () => {
  const MiB = 1024 * 1024;
  const dirSize = (dir: string): number =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .reduce((n, d) => n + statSync(join(d.parentPath, d.name)).size, 0);

  it('refuses a gzip bomb (100 MiB of zeros) at maxBytes = 10 MiB without writing more than the limit', async () => {
    const s = scene();
    const bomb = gzip(await tarOf([{ name: 'small', body: 'ok' }, { name: 'zeros', body: Buffer.alloc(100 * MiB) }]));
    expect(bomb.length).toBeLessThan(1 * MiB);
    await expect(unpackLayer(streamOf(bomb), s.target, { maxBytes: 10 * MiB })).rejects.toThrow(/'zeros' \(104857600 bytes\): layer data exceeds maxBytes/);
    expect(dirSize(s.target)).toBeLessThanOrEqual(10 * MiB);
    expectOutsideUntouched(s);
  });

  it.skipIf(!HAVE_ZSTD)('refuses a zstd bomb the same way (needs the zstd CLI to make it)', async () => {
    const s = scene();
    const bomb = zstd(await tarOf([{ name: 'zeros', body: Buffer.alloc(100 * MiB) }]));
    expect(bomb.length).toBeLessThan(1 * MiB);
    await expect(unpackLayer(streamOf(bomb), s.target, { maxBytes: 10 * MiB })).rejects.toThrow(/exceeds maxBytes/);
    expect(dirSize(s.target)).toBeLessThanOrEqual(10 * MiB);
    expectOutsideUntouched(s);
  });

  it('refuses many files that add up past maxBytes', async () => {
    const s = scene();
    const entries = Array.from({ length: 8 }, (_, i) => ({ name: `f${i}`, body: Buffer.alloc(3 * MiB) }));
    await expect(unpackLayer(streamOf(gzip(await tarOf(entries))), s.target, { maxBytes: 10 * MiB })).rejects.toThrow(/'f3'.*exceeds maxBytes/);
    expect(dirSize(s.target)).toBeLessThanOrEqual(10 * MiB);
  });

  it('refuses too many entries', async () => {
    const s = scene();
    const entries = Array.from({ length: 50 }, (_, i) => ({ name: `e${i}`, body: '' }));
    await expect(unpackLayer(streamOf(await tarOf(entries)), s.target, { maxEntries: 10 })).rejects.toThrow(/more than maxEntries \(10\)/);
    expect(readdirSync(s.target).length).toBeLessThanOrEqual(10);
    expectOutsideUntouched(s);
  });
});

describe('strict: false', () => {
  it('skips refused entries, lists them, extracts the rest, writes nothing outside', async () => {
    const s = scene();
    const report = await unpackLayer(
      streamOf(
        await tarOf([
          { name: '../x', body: 'pwned' },
          { name: 'ok', body: 'fine' },
          { name: 'link', type: 'symlink', linkname: s.canary },
          { name: 'link/y', body: 'pwned' },
          { name: 'h', type: 'link', linkname: '/etc/passwd' },
        ]),
      ),
      s.target,
      { strict: false },
    );
    expect(report.refused.map((r) => r.name)).toEqual(['../x', 'link/y', 'h']);
    expect(report.counts).toMatchObject({ file: 1, symlink: 1, refused: 3 });
    expect(readdirSync(s.target).sort()).toEqual(['link', 'ok']);
    expectOutsideUntouched(s, true);
    expect(readdirSync(s.canary)).toEqual(['keep']);
  });
});

describe('removeTree never follows symlinks', () => {
  it('removes links to the canary directory and file, not their targets', () => {
    const s = scene();
    mkdirSync(join(s.target, 'sub'));
    symlinkSync(s.canary, join(s.target, 'sub', 'dirlink'));
    symlinkSync(join(s.canary, 'keep'), join(s.target, 'filelink'));
    removeTree(s.target);
    expect(existsSync(s.target)).toBe(false);
    expect(readdirSync(s.canary)).toEqual(['keep']);
  });

  it('removes only the link when the tree itself is a symlink, and copes with 0555 directories', () => {
    const s = scene();
    const link = join(s.parent, 'link-to-canary');
    symlinkSync(s.canary, link);
    removeTree(link);
    expect(readdirSync(s.canary)).toEqual(['keep']);
    mkdirSync(join(s.target, 'ro'));
    writeFileSync(join(s.target, 'ro', 'f'), '');
    chmodSync(join(s.target, 'ro'), 0o555);
    removeTree(s.target);
    expect(existsSync(s.target)).toBe(false);
  });
});

describe('digest: verify before unpacking', () => {
  it('accepts the right sha256 and rejects a mismatch', async () => {
    const s = scene();
    const blob = join(s.parent, 'blob');
    writeFileSync(blob, 'layer bytes');
    const right = `sha256:${createHash('sha256').update('layer bytes').digest('hex')}`;
    await expect(verifyDigest(blob, right)).resolves.toBeUndefined();
    await expect(verifyDigest(blob, `sha256:${'0'.repeat(64)}`)).rejects.toThrow(/digest mismatch/);
    await expect(verifyDigest(blob, 'md5:abc')).rejects.toThrow(/unsupported digest/);
  });
});
