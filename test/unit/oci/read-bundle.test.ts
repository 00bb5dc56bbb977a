// Reading a bundle: config.json a regular file (never a symlink), capped in
// size, valid by shape with each problem's pointer; root.path a directory
// that is the bundle or inside it.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_MAX_BYTES, parseOciConfig, readBundle } from '../../../src/oci/read-bundle.js';
import { specTemplate } from '../../../src/oci/spec-template.js';
import { refused } from '../support/fixtures.js';

const top = realpathSync(mkdtempSync(join(tmpdir(), 'sandbox-oci-bundle-')));
afterAll(() => rmSync(top, { recursive: true, force: true }));
let n = 0;

/** A bundle directory with rootfs/ and the given config.json (an object, or raw text). */
function bundle(config: unknown = specTemplate()): string {
  const dir = join(top, `b${n++}`);
  mkdirSync(join(dir, 'rootfs'), { recursive: true });
  writeFileSync(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return dir;
}

const withRoot = (path: string) => ({ ...specTemplate(), root: { path, readonly: true } });

describe('readBundle', () => {
  it('reads config.json and resolves root.path in the bundle', () => {
    const dir = bundle();
    const b = readBundle(dir);
    expect(b).toMatchObject({ dir, configFile: join(dir, 'config.json'), rootPath: join(dir, 'rootfs') });
    expect(b.config).toEqual(specTemplate());
  });

  it('takes "." (the bundle itself) and an absolute path inside the bundle', () => {
    const dot = bundle(withRoot('.'));
    expect(readBundle(dot).rootPath).toBe(dot);
    const dir = join(top, `b${n}`);
    expect(readBundle(bundle(withRoot(join(dir, 'rootfs')))).rootPath).toBe(join(dir, 'rootfs'));
  });

  it('refuses a relative root outside the bundle, also through a symlink; an absolute one may be anywhere (as runc)', () => {
    expect(refused(() => readBundle(bundle(withRoot('..'))), 'config').message).toContain('config.json#/root/path: ');
    // podman, CRI-O and containerd point root.path into their own storage
    expect(readBundle(bundle(withRoot('/usr'))).rootPath).toBe('/usr');
    const dir = bundle(withRoot('link'));
    symlinkSync('/usr', join(dir, 'link'));
    expect(refused(() => readBundle(dir), 'config').message).toMatch(/^config\.json#\/root\/path: .*outside the bundle/);
  });

  it('refuses a root that is missing or not a directory', () => {
    expect(refused(() => readBundle(bundle(withRoot('nope'))), 'config').message).toMatch(/^config\.json#\/root\/path: .*ENOENT/);
    const dir = bundle(withRoot('config.json'));
    expect(refused(() => readBundle(dir), 'config').message).toMatch(/^config\.json#\/root\/path: .*not a directory/);
  });

  it('refuses a config.json that is a symlink, not a file, too big, or absent', () => {
    const real = bundle();
    const link = join(top, `b${n++}`);
    mkdirSync(join(link, 'rootfs'), { recursive: true });
    symlinkSync(join(real, 'config.json'), join(link, 'config.json'));
    expect(refused(() => readBundle(link), 'config').message).toMatch(/is a symlink$/);

    const dirConfig = join(top, `b${n++}`);
    mkdirSync(join(dirConfig, 'config.json'), { recursive: true });
    expect(refused(() => readBundle(dirConfig), 'config').message).toMatch(/is not a regular file$/);

    const big = bundle(' '.repeat(CONFIG_MAX_BYTES + 1));
    expect(refused(() => readBundle(big), 'config').message).toMatch(/more than 4194304$/);

    const empty = join(top, `b${n++}`);
    mkdirSync(empty);
    expect(refused(() => readBundle(empty), 'config').message).toMatch(/config\.json does not exist$/);
    expect(refused(() => readBundle(join(top, 'missing')), 'usage').message).toMatch(/ENOENT/);
  });

  it('refuses a config without root', () => {
    const { root: _root, ...noRoot } = specTemplate();
    expect(refused(() => readBundle(bundle(noRoot)), 'config').message).toBe('config.json#/root: missing');
  });
});

describe('parseOciConfig: shape errors name their pointer', () => {
  const template = () => JSON.parse(JSON.stringify(specTemplate()));

  it('an unknown rlimit type', () => {
    const c = template();
    c.process.rlimits.push({ type: 'RLIMIT_NICE', soft: 0, hard: 0 }, { type: 'RLIMIT_BOGUS', soft: 1, hard: 1 });
    expect(refused(() => parseOciConfig(JSON.stringify(c)), 'config').message).toContain('config.json#/process/rlimits/2/type: must be one of');
  });

  it('an unknown field', () => {
    const c = template();
    c.process.commandLine = 'sh';
    expect(refused(() => parseOciConfig(JSON.stringify(c)), 'config').message).toContain('config.json#/process/commandLine: unknown field "commandLine"');
  });

  it('an ill-typed field', () => {
    const c = template();
    c.linux.namespaces[0].path = 3;
    c.mounts[0].options = 'nosuid';
    const msg = refused(() => parseOciConfig(JSON.stringify(c)), 'config').message;
    expect(msg).toContain('config.json#/linux/namespaces/0/path: must be string');
    expect(msg).toContain('config.json#/mounts/0/options: must be array');
  });

  it('a bad seccomp policy, through the policy schema', () => {
    const c = template();
    c.linux.seccomp = { defaultAction: 'SCMP_ACT_BOGUS' };
    expect(refused(() => parseOciConfig(JSON.stringify(c)), 'config').message).toContain('config.json#/linux/seccomp/defaultAction: must be one of');
  });

  it('a missing ociVersion, and JSON that is not JSON', () => {
    expect(refused(() => parseOciConfig('{}'), 'config').message).toContain("config.json#/: must have required property 'ociVersion'");
    expect(refused(() => parseOciConfig('{'), 'config').message).toMatch(/^config\.json is not valid JSON/);
  });
});
