// The on-disk cache of compiled filters: what the key depends on, the file
// format round trip, damaged entries ignored, private modes, best effort.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  cacheDir, cacheKey, identityFileName, identityKey, readCachedFilter, readIdentityEntry, readPrecompiledFilter, writeCachedFilter, writeIdentityEntry,
  type CachedFilter,
} from '../../../src/seccomp/filter-cache.js';
import type { FilterContext } from '../../../src/seccomp/resolve-policy.js';

const root = mkdtempSync(join(tmpdir(), 'sandbox-filter-cache-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
/** A fresh, not yet existing cache directory. */
const freshDir = () => join(root, `c${n++}`, 'rootless-sandbox', 'seccomp');

const CTX: FilterContext = { arch: 'x64', kernel: '6.1.0-13', network: false, caps: [] };
const TEXT = '{ "defaultAction": "SCMP_ACT_ERRNO" }\n';
const KEY = cacheKey(TEXT, CTX);

/** Two programs of made-up sock_filter instructions (1 and 2 of them). */
const FILTER: CachedFilter = {
  programs: [
    Buffer.from([0x20, 0, 0, 0, 4, 0, 0, 0]),
    Buffer.from([0x20, 0, 0, 0, 4, 0, 0, 0, 0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]),
  ],
  flags: 6,
};

/** Header: magic, key (32 bytes), flags, count. */
const H = 44;

describe('cacheKey', () => {
  it('is a sha256 hex digest, stable for the same input', () => {
    expect(KEY).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheKey(TEXT, { ...CTX })).toBe(KEY);
  });

  it('changes with the policy text (even whitespace)', () => {
    expect(cacheKey(TEXT.trim(), CTX)).not.toBe(KEY);
    expect(cacheKey('{ "defaultAction": "SCMP_ACT_ALLOW" }\n', CTX)).not.toBe(KEY);
  });

  it('changes with the arch, the network and the capabilities held', () => {
    expect(cacheKey(TEXT, { ...CTX, arch: 'arm64' })).not.toBe(KEY);
    expect(cacheKey(TEXT, { ...CTX, network: true })).not.toBe(KEY);
    expect(cacheKey(TEXT, { ...CTX, caps: ['CAP_SYS_CHROOT'] })).not.toBe(KEY);
  });

  it('changes with the kernel MAJOR.MINOR', () => {
    expect(cacheKey(TEXT, { ...CTX, kernel: '6.2.0-13' })).not.toBe(KEY);
    expect(cacheKey(TEXT, { ...CTX, kernel: '5.1.0-13' })).not.toBe(KEY);
    expect(cacheKey(TEXT, { ...CTX, kernel: '6.10.0-13' })).not.toBe(KEY);
    expect(cacheKey(TEXT, { ...CTX, kernel: '16.1.0' })).not.toBe(KEY);
  });

  it('does not change with the kernel patch level or build', () => {
    expect(cacheKey(TEXT, { ...CTX, kernel: '6.1.5-2' })).toBe(KEY);
    expect(cacheKey(TEXT, { ...CTX, kernel: '6.1.0-13-amd64' })).toBe(KEY);
    expect(cacheKey(TEXT, { ...CTX, kernel: '6.1' })).toBe(KEY);
  });

  it('keys differ between every pair of the contexts above', () => {
    const keys = [
      KEY, cacheKey(TEXT, { ...CTX, arch: 'arm64' }), cacheKey(TEXT, { ...CTX, network: true }),
      cacheKey(TEXT, { ...CTX, kernel: '6.2' }), cacheKey(`${TEXT} `, CTX),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('cacheDir', () => {
  it('XDG_CACHE_HOME, else ~/.cache', () => {
    expect(cacheDir({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/rootless-sandbox/seccomp');
    expect(cacheDir({})).toBe(join(homedir(), '.cache', 'rootless-sandbox', 'seccomp'));
    expect(cacheDir({ XDG_CACHE_HOME: '' })).toBe(join(homedir(), '.cache', 'rootless-sandbox', 'seccomp'));
  });
});

describe('write / read', () => {
  it('round trip: same programs, same flags', () => {
    const dir = freshDir();
    writeCachedFilter(KEY, FILTER, dir);
    const back = readCachedFilter(KEY, dir);
    expect(back).not.toBeNull();
    expect(back!.flags).toBe(6);
    expect(back!.programs).toHaveLength(2);
    expect(back!.programs[0]!.equals(FILTER.programs[0]!)).toBe(true);
    expect(back!.programs[1]!.equals(FILTER.programs[1]!)).toBe(true);
  });

  it('writes KEY.bpf and leaves no temporary file behind', () => {
    const dir = freshDir();
    writeCachedFilter(KEY, FILTER, dir);
    expect(readdirSync(dir)).toEqual([`${KEY}.bpf`]);
  });

  it('the format: "SBXF", its own key, flags, count, then (length, bytes) per program, little-endian', () => {
    const dir = freshDir();
    writeCachedFilter(KEY, FILTER, dir);
    const data = readFileSync(join(dir, `${KEY}.bpf`));
    expect(data.subarray(0, 4).toString('latin1')).toBe('SBXF');
    expect(data.toString('hex', 4, 36)).toBe(KEY);
    expect(data.readUInt32LE(36)).toBe(6);
    expect(data.readUInt32LE(40)).toBe(2);
    expect(data.readUInt32LE(44)).toBe(8);
    expect(data.readUInt32LE(56)).toBe(16);
    expect(data.length).toBe(H + 4 + 8 + 4 + 16);
  });

  it('an entry is used only if it is the caller\'s own, not writable by others, and names its own key', () => {
    const dir = freshDir();
    writeCachedFilter(KEY, FILTER, dir);
    const path = join(dir, `${KEY}.bpf`);
    expect(readCachedFilter(KEY, dir)).not.toBeNull();
    chmodSync(path, 0o666);
    expect(readCachedFilter(KEY, dir)).toBeNull(); // others could have written it
    chmodSync(path, 0o600);
    if (process.getuid?.() === 0) {
      chownSync(path, 65534, 65534);
      expect(readCachedFilter(KEY, dir)).toBeNull(); // planted by someone else
      chownSync(path, 0, 0);
    }
    const other = KEY.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'));
    renameSync(path, join(dir, `${other}.bpf`));
    expect(readCachedFilter(other, dir)).toBeNull(); // an entry standing in for another key
    symlinkSync(join(dir, `${other}.bpf`), path);
    expect(readCachedFilter(KEY, dir)).toBeNull(); // never through a link
  });

  it('a second write replaces the entry', () => {
    const dir = freshDir();
    writeCachedFilter(KEY, FILTER, dir);
    writeCachedFilter(KEY, { programs: [FILTER.programs[0]!], flags: 0 }, dir);
    const back = readCachedFilter(KEY, dir)!;
    expect(back.flags).toBe(0);
    expect(back.programs).toHaveLength(1);
    expect(readdirSync(dir)).toEqual([`${KEY}.bpf`]);
  });

  it('a missing entry or directory reads as null', () => {
    const dir = freshDir();
    expect(readCachedFilter(KEY, dir)).toBeNull();
    writeCachedFilter(KEY, FILTER, dir);
    expect(readCachedFilter(cacheKey('{}', CTX), dir)).toBeNull();
  });

  it('the directory is created 0700 (parents too) and the file is 0600', () => {
    const dir = freshDir();
    writeCachedFilter(KEY, FILTER, dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, '..')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, `${KEY}.bpf`)).mode & 0o777).toBe(0o600);
  });

  it('an unwritable directory does not throw, and nothing is cached', () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'not a directory');
    const dir = join(file, 'seccomp'); // ENOTDIR, even for root
    expect(() => writeCachedFilter(KEY, FILTER, dir)).not.toThrow();
    expect(readCachedFilter(KEY, dir)).toBeNull();
  });
});

describe('damaged entries read as null', () => {
  /** A valid entry's bytes, to damage. */
  function validBytes(): Buffer {
    const dir = freshDir();
    writeCachedFilter(KEY, FILTER, dir);
    return readFileSync(join(dir, `${KEY}.bpf`));
  }

  function readRaw(bytes: Buffer): ReturnType<typeof readCachedFilter> {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${KEY}.bpf`), bytes);
    return readCachedFilter(KEY, dir);
  }

  function entry(flags: number, programs: Buffer[], lengths = programs.map((p) => p.length)): Buffer {
    const head = Buffer.alloc(H);
    head.write('SBXF', 0, 'latin1');
    head.write(KEY, 4, 32, 'hex');
    head.writeUInt32LE(flags, 36);
    head.writeUInt32LE(programs.length, 40);
    return Buffer.concat([head, ...programs.flatMap((p, i) => {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(lengths[i]!, 0);
      return [len, p];
    })]);
  }

  it('the hand-made valid entry reads (the helpers are right)', () => {
    expect(readRaw(validBytes())).not.toBeNull();
    expect(readRaw(entry(2, [Buffer.alloc(16)]))).toEqual({ programs: [Buffer.alloc(16)], flags: 2 });
  });

  it('wrong magic', () => {
    const b = validBytes();
    b.write('SBXG', 0, 'latin1');
    expect(readRaw(b)).toBeNull();
  });

  it('empty, or shorter than the header', () => {
    expect(readRaw(Buffer.alloc(0))).toBeNull();
    expect(readRaw(validBytes().subarray(0, H - 1))).toBeNull();
  });

  it('truncated: a byte, a length field or a whole program missing', () => {
    const b = validBytes();
    expect(readRaw(b.subarray(0, b.length - 1))).toBeNull();
    expect(readRaw(b.subarray(0, H + 4 + 8 + 2))).toBeNull();
    expect(readRaw(b.subarray(0, H + 4 + 8))).toBeNull();
  });

  it('a program length that is not a multiple of 8', () => {
    expect(readRaw(entry(0, [Buffer.alloc(12)]))).toBeNull();
  });

  it('a zero-length program, or no program at all', () => {
    expect(readRaw(entry(0, [Buffer.alloc(0)]))).toBeNull();
    expect(readRaw(entry(0, []))).toBeNull();
  });

  it('a length field that runs past the end', () => {
    expect(readRaw(entry(0, [Buffer.alloc(8)], [16]))).toBeNull();
  });

  it('trailing bytes after the last program', () => {
    expect(readRaw(Buffer.concat([validBytes(), Buffer.from([0])]))).toBeNull();
    expect(readRaw(Buffer.concat([validBytes(), Buffer.alloc(8)]))).toBeNull();
  });

  it('a count larger than the programs present', () => {
    const b = validBytes();
    b.writeUInt32LE(3, 40);
    expect(readRaw(b)).toBeNull();
    b.writeUInt32LE(0xffffffff, 40);
    expect(readRaw(b)).toBeNull();
  });
});

describe('identity entries (the warm path: keyed by the policy file\'s identity)', () => {
  const file = join(root, 'policy.json');
  writeFileSync(file, TEXT);
  const st = () => statSync(file, { bigint: true });
  const ID = () => identityKey(st(), CTX, -1000)!;

  it('the key names the context and the file\'s dev, inode, size, mtime and ctime', () => {
    const s = st();
    expect(ID()).toContain(`${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`);
    expect(identityKey(s, { ...CTX, network: true }, -1000)).not.toBe(ID());
    expect(identityKey(s, { ...CTX, kernel: '6.2' }, -1000)).not.toBe(ID());
    expect(identityKey(s, { ...CTX, caps: ['CAP_CHOWN'] }, -1000)).not.toBe(ID());
    expect(identityKey(s, { ...CTX, kernel: '6.1.9' }, -1000)).toBe(ID());
  });

  it('none for a file changed within the settle time, or for what is not a regular file', () => {
    expect(identityKey(st(), CTX, 2000, Date.now())).toBeNull();
    expect(identityKey(st(), CTX, 2000, Date.now() + 10_000)).not.toBeNull();
    expect(identityKey(statSync(root, { bigint: true }), CTX, -1000)).toBeNull();
  });

  it('file names: id-HASH.bpf, 16 hex digits, different for different keys', () => {
    expect(identityFileName(ID())).toMatch(/^id-[0-9a-f]{16}\.bpf$/);
    expect(identityFileName(`${ID()}x`)).not.toBe(identityFileName(ID()));
  });

  it('round trip; only the caller\'s own, not writable by others, never through a link, and only for its own key', () => {
    const dir = freshDir();
    writeIdentityEntry(ID(), FILTER, dir);
    const path = join(dir, identityFileName(ID()));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readIdentityEntry(ID(), dir)).toEqual(FILTER);
    chmodSync(path, 0o620);
    expect(readIdentityEntry(ID(), dir)).toBeNull();
    chmodSync(path, 0o600);
    if (process.getuid?.() === 0) {
      chownSync(path, 65534, 65534);
      expect(readIdentityEntry(ID(), dir)).toBeNull();
      chownSync(path, 0, 0);
    }
    const other = `${ID()}:other`;
    renameSync(path, join(dir, identityFileName(other)));
    expect(readIdentityEntry(other, dir)).toBeNull(); // it names another key inside
    symlinkSync(join(dir, identityFileName(other)), path);
    expect(readIdentityEntry(ID(), dir)).toBeNull();
  });

  it('damaged: truncated, trailing bytes, wrong magic, a key length past the end', () => {
    const dir = freshDir();
    writeIdentityEntry(ID(), FILTER, dir);
    const path = join(dir, identityFileName(ID()));
    const good = readFileSync(path);
    const bad = [good.subarray(0, good.length - 1), Buffer.concat([good, Buffer.alloc(8)]), Buffer.from(good).fill(0, 0, 4), (() => {
      const b = Buffer.from(good);
      b.writeUInt32LE(0xffffff, 4);
      return b;
    })(), Buffer.alloc(0)];
    for (const b of bad) {
      writeFileSync(path, b);
      expect(readIdentityEntry(ID(), dir)).toBeNull();
    }
  });
});

describe('precompiled entries (the package\'s, written by the build)', () => {
  it('read like cache entries, also when owned by root; never when writable by others or owned by someone else', () => {
    const dir = freshDir();
    writeCachedFilter(KEY, FILTER, dir, 0o644);
    const path = join(dir, `${KEY}.bpf`);
    chmodSync(path, 0o644);
    expect(readPrecompiledFilter(KEY, dir)).toEqual(FILTER);
    chmodSync(path, 0o664);
    expect(readPrecompiledFilter(KEY, dir)).toBeNull();
    chmodSync(path, 0o644);
    if (process.getuid?.() === 0) {
      chownSync(path, 65534, 65534);
      expect(readPrecompiledFilter(KEY, dir)).toBeNull();
    }
  });

  it('a missing directory reads as null', () => {
    expect(readPrecompiledFilter(KEY, join(root, 'no-such-dir'))).toBeNull();
  });
});
