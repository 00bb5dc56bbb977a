// prepareSeccomp: the filter of one run, compiled once and then read from the
// cache under $XDG_CACHE_HOME (a temp dir here). Uses the real libseccomp.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileFilter } from '../../../src/seccomp/compile-filter.js';
import { cacheKey } from '../../../src/seccomp/filter-cache.js';
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

  it('a shipped policy by name, twice', () => {
    const first = prepareSeccomp('strict', CTX);
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
