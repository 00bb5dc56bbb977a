// prepareSeccomp: the filter of one run, compiled once and then read from the
// cache under $XDG_CACHE_HOME (a temp dir here). Uses the real libseccomp.
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileFilter } from '../../../src/seccomp/compile-filter.js';
import { cacheKey, identityFileName, identityKey } from '../../../src/seccomp/filter-cache.js';
import { loadPolicy } from '../../../src/seccomp/load-policy.js';
import { precompileBuiltinFilters } from '../../../src/seccomp/precompile-filters.js';
import { filterContext, prepareSeccomp } from '../../../src/seccomp/prepare-seccomp.js';
import { resolvePolicy } from '../../../src/seccomp/resolve-policy.js';
import { refused } from '../support/fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'sandbox-prepare-seccomp-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const CTX = filterContext(false);
const savedCache = process.env.XDG_CACHE_HOME;
let cacheHome = '';
let n = 0;

beforeEach(() => {
  cacheHome = join(root, `cache${n++}`);
  process.env.XDG_CACHE_HOME = cacheHome;
});
afterEach(() => {
  if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = savedCache;
});

const TINY = {
  defaultAction: 'SCMP_ACT_ERRNO',
  flags: ['SECCOMP_FILTER_FLAG_LOG'],
  syscalls: [{ names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' }],
};
const IOCTL = {
  defaultAction: 'SCMP_ACT_KILL_PROCESS',
  syscalls: [
    { names: ['ioctl', 'exit_group'], action: 'SCMP_ACT_ALLOW' },
    { names: ['ioctl'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 1, value: 0x5412, op: 'SCMP_CMP_EQ' }] },
  ],
};

function writePolicy(name: string, policy: unknown): string {
  const file = join(root, name);
  writeFileSync(file, typeof policy === 'string' ? policy : JSON.stringify(policy, null, 2));
  return file;
}

const cacheFiles = () => {
  const dir = join(cacheHome, 'rootless-sandbox', 'seccomp');
  return existsSync(dir) ? readdirSync(dir) : [];
};

describe('filterContext', () => {
  it('is this machine: process.arch, the running kernel, the network flag', () => {
    expect(filterContext(true)).toEqual({ arch: process.arch, kernel: release(), network: true, caps: [] });
    expect(filterContext(false, ['CAP_SETUID', 'CAP_CHOWN']).caps).toEqual(['CAP_CHOWN', 'CAP_SETUID']);
    expect(CTX.network).toBe(false);
  });
});

describe('prepareSeccomp', () => {
  it('compiles first, then reads the identical programs from the cache', () => {
    const file = writePolicy('tiny.json', TINY);
    const first = prepareSeccomp(file, CTX);
    expect(first.source).toBe('compiled');
    expect(first.policy).toBe('tiny');
    expect(first.flags).toBe(2);
    expect(first.programs).toHaveLength(1);
    expect(first.programs[0]!.length % 8).toBe(0);

    const second = prepareSeccomp(file, CTX);
    expect(second.source).toBe('cache');
    expect(second.policy).toBe('tiny');
    expect(second.flags).toBe(2);
    expect(second.programs).toHaveLength(1);
    expect(second.programs[0]!.equals(first.programs[0]!)).toBe(true);
  });

  it('caches under $XDG_CACHE_HOME/rootless-sandbox/seccomp/KEY.bpf, KEY from the policy text', () => {
    const file = writePolicy('keyed.json', TINY);
    prepareSeccomp(file, CTX);
    expect(cacheFiles()).toEqual([`${cacheKey(readFileSync(file, 'utf8'), CTX)}.bpf`]);
  });

  it('the programs are what compileFilter makes of the resolved policy', () => {
    const file = writePolicy('same.json', TINY);
    const expected = compileFilter(resolvePolicy(TINY as never, CTX, file), file).programs;
    const compiled = prepareSeccomp(file, CTX).programs;
    const cached = prepareSeccomp(file, CTX).programs;
    expect(compiled.map((p) => p.toString('hex'))).toEqual(expected.map((p) => p.toString('hex')));
    expect(cached.map((p) => p.toString('hex'))).toEqual(expected.map((p) => p.toString('hex')));
  });

  it('both programs of an overlay policy come back from the cache in order', () => {
    const file = writePolicy('ioctl.json', IOCTL);
    const first = prepareSeccomp(file, CTX);
    expect(first.source).toBe('compiled');
    expect(first.programs).toHaveLength(2);
    const second = prepareSeccomp(file, CTX);
    expect(second.source).toBe('cache');
    expect(second.programs.map((p) => p.toString('hex'))).toEqual(first.programs.map((p) => p.toString('hex')));
  });

  it('"unconfined": no programs, source none, no cache written', () => {
    expect(prepareSeccomp('unconfined', CTX)).toEqual({ policy: 'unconfined', programs: [], flags: 0, source: 'none' });
    expect(existsSync(cacheHome)).toBe(false);
  });

  it('after the policy file is edited, it is compiled again (and then cached again)', () => {
    const file = writePolicy('edited.json', TINY);
    const before = prepareSeccomp(file, CTX);
    expect(prepareSeccomp(file, CTX).source).toBe('cache');
    writePolicy('edited.json', { ...TINY, syscalls: [{ names: ['read', 'write', 'exit_group', 'getpid'], action: 'SCMP_ACT_ALLOW' }] });
    const after = prepareSeccomp(file, CTX);
    expect(after.source).toBe('compiled');
    expect(after.programs[0]!.equals(before.programs[0]!)).toBe(false);
    expect(prepareSeccomp(file, CTX).source).toBe('cache');
    expect(cacheFiles()).toHaveLength(2);
  });

  it('a whitespace-only edit is a new key too', () => {
    const file = writePolicy('ws.json', TINY);
    prepareSeccomp(file, CTX);
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n`);
    expect(prepareSeccomp(file, CTX).source).toBe('compiled');
  });

  it('another network setting is another cache entry', () => {
    const file = writePolicy('net.json', TINY);
    expect(prepareSeccomp(file, CTX).source).toBe('compiled');
    expect(prepareSeccomp(file, filterContext(true)).source).toBe('compiled');
    expect(prepareSeccomp(file, filterContext(true)).source).toBe('cache');
    expect(prepareSeccomp(file, CTX).source).toBe('cache');
  });

  it('a damaged cache entry is compiled again and rewritten', () => {
    const file = writePolicy('damaged.json', TINY);
    const good = prepareSeccomp(file, CTX);
    const entry = join(cacheHome, 'rootless-sandbox', 'seccomp', cacheFiles()[0]!);
    writeFileSync(entry, readFileSync(entry).subarray(0, 20));
    const again = prepareSeccomp(file, CTX);
    expect(again.source).toBe('compiled');
    expect(again.programs[0]!.equals(good.programs[0]!)).toBe(true);
    expect(prepareSeccomp(file, CTX).source).toBe('cache');
  });

  it('a shipped policy by name, twice (no precompiled filters)', () => {
    const first = prepareSeccomp('strict', CTX, { precompiledDir: null });
    expect(first).toMatchObject({ policy: 'strict', source: 'compiled' });
    expect(prepareSeccomp('strict', CTX)).toMatchObject({ policy: 'strict', source: 'cache' });
  });

  it('an invalid policy is refused and nothing is cached', () => {
    const file = writePolicy('bad.json', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['getppidd'], action: 'SCMP_ACT_ALLOW' }] });
    expect(refused(() => prepareSeccomp(file, CTX), 'config').message).toContain('unknown system call "getppidd"');
    expect(cacheFiles()).toEqual([]);
  });

  it('a missing file and an unknown name are refused as loadPolicy does', () => {
    const file = join(root, 'absent.json');
    expect(refused(() => prepareSeccomp(file, CTX), 'config').message).toBe(`cannot read seccomp policy ${file}: ENOENT`);
    expect(refused(() => prepareSeccomp('nope', CTX), 'usage').message).toBe('unknown seccomp policy "nope" (--security-opt seccomp=)');
  });
});

const hex = (ps: readonly Buffer[]) => ps.map((p) => p.toString('hex'));
/** What a fresh compile of a shipped policy gives in a context. */
function freshCompile(name: string, ctx = CTX): string[] {
  const loaded = loadPolicy(name);
  return hex(compileFilter(resolvePolicy(loaded.policy, ctx, loaded.file), loaded.file).programs);
}

describe('precompiled filters (dist/seccomp, written by the build)', () => {
  let d = 0;
  /** A fresh precompiled directory for this host, like the build's. */
  const shipped = () => {
    const dir = join(root, `shipped${d++}`);
    precompileBuiltinFilters(dir);
    return dir;
  };

  it('the build covers default and strict, with and without network; entries are root\'s or the caller\'s, 0644, in a 0755 directory', () => {
    const dir = shipped();
    const files = readdirSync(dir);
    const text = (n: string) => loadPolicy(n).text;
    for (const name of ['default', 'strict']) {
      for (const net of [false, true]) expect(files).toContain(`${cacheKey(text(name), filterContext(net))}.bpf`);
    }
    expect(statSync(dir).mode & 0o777).toBe(0o755);
    for (const f of files) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o644);
  });

  it('a first run of a shipped policy uses them: the same bytes as a fresh compile; then the user cache', () => {
    const dir = shipped();
    for (const name of ['default', 'strict']) {
      const first = prepareSeccomp(name, CTX, { precompiledDir: dir });
      expect(first).toMatchObject({ policy: name, source: 'precompiled' });
      expect(hex(first.programs)).toEqual(freshCompile(name));
      const second = prepareSeccomp(name, CTX, { precompiledDir: dir });
      expect(second.source).toBe('cache');
      expect(hex(second.programs)).toEqual(freshCompile(name));
    }
  });

  it('the default policy keeps its three x86 ABIs and both programs when precompiled', () => {
    const got = prepareSeccomp('default', filterContext(true), { precompiledDir: shipped() });
    expect(got.source).toBe('precompiled');
    expect(hex(got.programs)).toEqual(freshCompile('default', filterContext(true)));
  });

  it('a missing directory or entry: compiled, the same bytes', () => {
    const got = prepareSeccomp('default', CTX, { precompiledDir: join(root, 'absent') });
    expect(got.source).toBe('compiled');
    expect(hex(got.programs)).toEqual(freshCompile('default'));
  });

  it('a corrupt entry: compiled, the same bytes', () => {
    const dir = shipped();
    const entry = join(dir, `${cacheKey(loadPolicy('default').text, CTX)}.bpf`);
    const bytes = readFileSync(entry);
    writeFileSync(entry, bytes.subarray(0, bytes.length - 8));
    const got = prepareSeccomp('default', CTX, { precompiledDir: dir });
    expect(got.source).toBe('compiled');
    expect(hex(got.programs)).toEqual(freshCompile('default'));
  });

  it('another kernel MAJOR.MINOR: not used, compiled', () => {
    const dir = shipped();
    const other = { ...CTX, kernel: '5.10.0-30-amd64' };
    const got = prepareSeccomp('default', other, { precompiledDir: dir });
    expect(got.source).toBe('compiled');
    expect(hex(got.programs)).toEqual(freshCompile('default', other));
  });

  it('an entry made under another key (another libseccomp build, kernel or text) is not used under this one', () => {
    const dir = shipped();
    const key = cacheKey(loadPolicy('default').text, CTX);
    const foreign = cacheKey(loadPolicy('strict').text, CTX); // a valid entry, for other inputs
    rmSync(join(dir, `${key}.bpf`));
    renameSync(join(dir, `${foreign}.bpf`), join(dir, `${key}.bpf`));
    const got = prepareSeccomp('default', CTX, { precompiledDir: dir });
    expect(got.source).toBe('compiled');
    expect(hex(got.programs)).toEqual(freshCompile('default'));
  });

  it('not trusted: writable by others, or owned by another user (not root, not the caller)', () => {
    const dir = shipped();
    const entry = join(dir, `${cacheKey(loadPolicy('default').text, CTX)}.bpf`);
    chmodSync(entry, 0o666);
    expect(prepareSeccomp('default', CTX, { precompiledDir: dir }).source).toBe('compiled');
    if (process.getuid?.() === 0) {
      process.env.XDG_CACHE_HOME = join(root, `cache${n++}`);
      chmodSync(entry, 0o644);
      chownSync(entry, 65534, 65534);
      const got = prepareSeccomp('default', CTX, { precompiledDir: dir });
      expect(got.source).toBe('compiled');
      expect(hex(got.programs)).toEqual(freshCompile('default'));
    }
  });

  it('a link in place of an entry is not followed', () => {
    const dir = shipped();
    const entry = join(dir, `${cacheKey(loadPolicy('default').text, CTX)}.bpf`);
    renameSync(entry, join(root, `moved${d}`));
    symlinkSync(join(root, `moved${d}`), entry);
    expect(prepareSeccomp('default', CTX, { precompiledDir: dir }).source).toBe('compiled');
  });
});

describe('the warm path: identity entries (no hash of the policy text)', () => {
  const ids = () => cacheFiles().filter((f) => f.startsWith('id-'));
  /** A settle time in the future: every file counts as settled (its ctime cannot be moved back). */
  const SETTLED = { precompiledDir: null, settleMs: -1000 };
  /** Waits past any coarse timestamp tick, so a rewrite gets new times as it would after the real settle time. */
  const tick = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30);

  it('a settled policy file gets an identity entry; the next run is served by it alone', () => {
    const file = writePolicy('warm.json', TINY);
    const first = prepareSeccomp(file, CTX, SETTLED);
    expect(first.source).toBe('compiled');
    expect(ids()).toHaveLength(1);
    const st = statSync(file, { bigint: true });
    expect(ids()[0]).toBe(identityFileName(identityKey(st, CTX, -1000)!));
    // without the content entry, only the identity entry can serve it
    unlinkSync(join(cacheHome, 'rootless-sandbox', 'seccomp', `${cacheKey(readFileSync(file, 'utf8'), CTX)}.bpf`));
    const warm = prepareSeccomp(file, CTX, SETTLED);
    expect(warm).toMatchObject({ policy: 'warm', source: 'cache', flags: 2 });
    expect(hex(warm.programs)).toEqual(hex(first.programs));
  });

  it('a file changed less than the settle time ago gets none (the content entry serves it)', () => {
    const file = writePolicy('fresh.json', TINY);
    expect(prepareSeccomp(file, CTX, { precompiledDir: null }).source).toBe('compiled');
    expect(prepareSeccomp(file, CTX, { precompiledDir: null }).source).toBe('cache');
    expect(ids()).toEqual([]);
  });

  it('a rewrite of the same size is a new identity: compiled again, never the old filter', () => {
    const file = writePolicy('swap.json', TINY);
    const before = prepareSeccomp(file, CTX, SETTLED);
    const other = JSON.stringify({ ...TINY, syscalls: [{ names: ['read', 'write', 'getpid'], action: 'SCMP_ACT_ALLOW' }] }, null, 2);
    const padded = other.padEnd(readFileSync(file, 'utf8').length, ' ');
    expect(padded.length).toBe(readFileSync(file, 'utf8').length);
    tick();
    writeFileSync(file, padded);
    const after = prepareSeccomp(file, CTX, SETTLED);
    expect(after.source).toBe('compiled');
    expect(hex(after.programs)).not.toEqual(hex(before.programs));
  });

  it('another file swapped in under the same path (another inode) is not served by the old entry', () => {
    const a = writePolicy('swap-a.json', TINY);
    const b = writePolicy('swap-b.json', IOCTL);
    prepareSeccomp(a, CTX, SETTLED);
    renameSync(b, a);
    const got = prepareSeccomp(a, CTX, SETTLED);
    expect(got.source).toBe('compiled');
    expect(got.programs).toHaveLength(2);
  });

  it('an identity entry renamed to stand for another file is refused (it carries its whole key)', () => {
    const a = writePolicy('id-a.json', TINY);
    const b = writePolicy('id-b.json', IOCTL);
    prepareSeccomp(a, CTX, SETTLED);
    const dir = join(cacheHome, 'rootless-sandbox', 'seccomp');
    for (const f of readdirSync(dir)) if (!f.startsWith('id-')) unlinkSync(join(dir, f));
    renameSync(join(dir, ids()[0]!), join(dir, identityFileName(identityKey(statSync(b, { bigint: true }), CTX, -1000)!)));
    const got = prepareSeccomp(b, CTX, SETTLED);
    expect(got.source).toBe('compiled');
    expect(got.programs).toHaveLength(2);
  });

  it('a precompiled hit also writes the identity entry; the warm run then needs neither', () => {
    const dir = join(root, 'shipped-warm');
    precompileBuiltinFilters(dir);
    const first = prepareSeccomp('default', CTX, { precompiledDir: dir, settleMs: -1000 });
    expect(first.source).toBe('precompiled');
    expect(ids()).toHaveLength(1);
    rmSync(dir, { recursive: true, force: true });
    for (const f of cacheFiles()) if (!f.startsWith('id-')) unlinkSync(join(cacheHome, 'rootless-sandbox', 'seccomp', f));
    const warm = prepareSeccomp('default', CTX, { precompiledDir: dir, settleMs: -1000 });
    expect(warm.source).toBe('cache');
    expect(hex(warm.programs)).toEqual(hex(first.programs));
  });
});
