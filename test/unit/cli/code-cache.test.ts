// The CLI's V8 code cache (bin/code-cache.cjs): used when it is the caller's
// own and fits; ignored (the bundle still runs, compiled afresh) when it is
// missing, corrupt, made for another bundle or Node, a link, writable by
// others, or not the caller's.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const REPO = join(import.meta.dirname, '../../..');
const cc = require(join(REPO, 'bin/code-cache.cjs')) as {
  loadWithCache(bundle: string, o?: { dir?: string; disabled?: boolean }): { file: string; used: boolean; rejected: boolean };
  cacheFile(bundle: string, st: ReturnType<typeof statSync>, dir?: string): string;
  readTrusted(file: string, uid?: number): Buffer | undefined;
  writePrivate(file: string, data: Buffer): boolean;
  readSource(bundle: string): string;
};
const isRoot = process.getuid?.() === 0;

const work = mkdtempSync(join(tmpdir(), 'code-cache-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const dir = join(work, 'cache');
mkdirSync(dir, { mode: 0o700 });

/** A bundle that counts its runs in a global, as the CLI would do its work. */
function makeBundle(name: string): string {
  const file = join(work, name);
  writeFileSync(file, `globalThis.__ccRuns = (globalThis.__ccRuns ?? 0) + 1; module.exports = { sum: (a, b) => a + b, self: __filename };\n`);
  return file;
}
const runs = () => (globalThis as { __ccRuns?: number }).__ccRuns ?? 0;
/** Cached data that fits `bundle` exactly (what the CLI writes after a run). */
function goodData(bundle: string): Buffer {
  const s = new Script(require('node:module').wrap(readFileSync(bundle, 'utf8')), { filename: bundle });
  return s.createCachedData();
}

describe('code cache', () => {
  it('missing: the bundle runs compiled afresh (and a cache is due)', () => {
    const bundle = makeBundle('a.cjs');
    const before = runs();
    const r = cc.loadWithCache(bundle, { dir });
    expect(runs()).toBe(before + 1);
    expect(r).toMatchObject({ used: false, rejected: false });
  });

  it('a private cache of the caller that fits is used', () => {
    const bundle = makeBundle('b.cjs');
    const file = cc.cacheFile(bundle, statSync(bundle), dir);
    expect(cc.writePrivate(file, goodData(bundle))).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const before = runs();
    expect(cc.loadWithCache(bundle, { dir })).toMatchObject({ used: true, rejected: false });
    expect(runs()).toBe(before + 1);
  });

  it('corrupt data: V8 rejects it and the bundle still runs', () => {
    const bundle = makeBundle('c.cjs');
    writeFileSync(cc.cacheFile(bundle, statSync(bundle), dir), Buffer.from('not a code cache at all'), { mode: 0o600 });
    const before = runs();
    expect(cc.loadWithCache(bundle, { dir })).toMatchObject({ used: false, rejected: true });
    expect(runs()).toBe(before + 1);
  });

  it('data of another bundle under this bundle\'s name is rejected', () => {
    const bundle = makeBundle('d.cjs');
    const other = join(work, 'other.cjs');
    writeFileSync(other, 'module.exports = 42;\n'.repeat(50));
    writeFileSync(cc.cacheFile(bundle, statSync(bundle), dir), goodData(other), { mode: 0o600 });
    expect(cc.loadWithCache(bundle, { dir })).toMatchObject({ used: false, rejected: true });
  });

  it('another Node version or a changed bundle looks at another file', () => {
    const bundle = makeBundle('e.cjs');
    const name = cc.cacheFile(bundle, statSync(bundle), dir);
    expect(name).toContain(process.version);
    writeFileSync(name.replace(process.version, 'v18.0.0'), goodData(bundle), { mode: 0o600 });
    expect(cc.loadWithCache(bundle, { dir }).used).toBe(false);
    writeFileSync(bundle, `${readFileSync(bundle, 'utf8')}// changed\n`);
    expect(cc.cacheFile(bundle, statSync(bundle), dir)).not.toBe(name);
  });

  it('a link, a file others may write, or a file of another user is not trusted', () => {
    const bundle = makeBundle('f.cjs');
    const file = cc.cacheFile(bundle, statSync(bundle), dir);
    const real = join(work, 'elsewhere.bin');
    writeFileSync(real, goodData(bundle), { mode: 0o600 });
    symlinkSync(real, file);
    expect(cc.readTrusted(file)).toBeUndefined();
    rmSync(file);
    writeFileSync(file, goodData(bundle), { mode: 0o600 });
    expect(cc.readTrusted(file)).toBeInstanceOf(Buffer);
    chmodSync(file, 0o622);
    expect(cc.readTrusted(file)).toBeUndefined();
    chmodSync(file, 0o600);
    expect(cc.readTrusted(file, (process.getuid?.() ?? 0) + 1)).toBeUndefined();
    if (isRoot) {
      chownSync(file, 65534, 65534);
      expect(cc.readTrusted(file)).toBeUndefined();
      expect(cc.loadWithCache(bundle, { dir }).used).toBe(false);
    }
  });

  it('the source reads the same fast (ASCII) or not (UTF-8)', () => {
    const ascii = join(work, 'ascii.js');
    const utf8 = join(work, 'utf8.js');
    writeFileSync(ascii, 'module.exports = "plain \\u2014 escaped";\n');
    writeFileSync(utf8, 'module.exports = "em dash \u2014 and \u{1F600}";\n');
    expect(cc.readSource(ascii)).toBe(readFileSync(ascii, 'utf8'));
    expect(cc.readSource(utf8)).toBe(readFileSync(utf8, 'utf8'));
    expect(cc.readSource(utf8)).toContain('\u2014');
    // the shipped bundle takes the fast path and decodes to the same text
    const bundle = join(REPO, 'dist/cli.cjs');
    expect(require('node:buffer').isAscii(readFileSync(bundle))).toBe(true);
    expect(cc.readSource(bundle)).toBe(readFileSync(bundle, 'utf8'));
  });

  it('the real CLI works with a corrupt cache and with the cache turned off', () => {
    const home = mkdtempSync(join(work, 'home-'));
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, XDG_CACHE_HOME: join(home, '.cache') };
    const cli = join(REPO, 'bin/sandbox.cjs');
    const first = spawnSync(process.execPath, [cli, '--version'], { env, encoding: 'utf8' });
    expect(first.stdout.trim()).toBe('0.1.0');
    const v8dir = join(home, '.cache/rootless-sandbox/v8');
    const [name] = require('node:fs').readdirSync(v8dir) as string[];
    expect(name).toMatch(/^cli\.cjs-/);
    writeFileSync(join(v8dir, name!), 'garbage');
    expect(spawnSync(process.execPath, [cli, '--version'], { env, encoding: 'utf8' }).stdout.trim()).toBe('0.1.0');
    expect(spawnSync(process.execPath, [cli, '--version'], { env: { ...env, SANDBOX_CODE_CACHE: '0' }, encoding: 'utf8' }).stdout.trim()).toBe('0.1.0');
  });
});
