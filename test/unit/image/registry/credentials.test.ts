// WWW-Authenticate parsing, auth-file lookup and the small registry helpers.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { authFilePaths, parseWwwAuthenticate, readCredentials } from '../../../../src/image/registry/credentials.js';
import type { Descriptor } from '../../../../src/image/oci-types.js';
import { formatPlatform, parsePlatform, selectPlatform } from '../../../../src/image/platform.js';
import { mapLimit } from '../../../../src/image/registry/map-limit.js';
import { registryErrorMessages } from '../../../../src/image/registry/registry-transport.js';
import { blobPath } from '../../../../src/image/registry/pull-image.js';

describe('parseWwwAuthenticate', () => {
  it('reads a Bearer challenge with quoted realm, service and scope', () => {
    expect(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"'))
      .toEqual([{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } }]);
  });
  it('keeps commas inside quoted values and reads escapes, unquoted values and spaces', () => {
    const [c] = parseWwwAuthenticate('Bearer realm="http://t/token", scope="repository:a:pull,push" , error=insufficient_scope, x="a\\"b"');
    expect(c).toEqual({ scheme: 'bearer', params: { realm: 'http://t/token', scope: 'repository:a:pull,push', error: 'insufficient_scope', x: 'a"b' } });
  });
  it('reads Basic and several challenges in one header, schemes case-insensitive', () => {
    expect(parseWwwAuthenticate('Basic realm="basic-realm"')).toEqual([{ scheme: 'basic', params: { realm: 'basic-realm' } }]);
    expect(parseWwwAuthenticate('BASIC realm="a", Bearer realm="b",service="s"').map((c) => [c.scheme, c.params['realm']]))
      .toEqual([['basic', 'a'], ['bearer', 'b']]);
    expect(parseWwwAuthenticate('')).toEqual([]);
  });
});

describe('readCredentials', () => {
  const home = mkdtempSync(join(tmpdir(), 'sandbox-creds-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const runtime = join(home, 'run');
  mkdirSync(join(runtime, 'containers'), { recursive: true });
  mkdirSync(join(home, '.docker'), { recursive: true });
  writeFileSync(join(runtime, 'containers', 'auth.json'), JSON.stringify({ auths: {
    'quay.io': { auth: b64('podman-user:pa:ss') },
    'quay.io/team': { auth: b64('team-user:t') },
  } }));
  writeFileSync(join(home, '.docker', 'config.json'), JSON.stringify({ auths: {
    'https://index.docker.io/v1/': { auth: b64('hub-user:hubpw') },
    'quay.io': { auth: b64('docker-user:x') },
    'https://ghcr.io': { auth: b64('gh:tok') },
    'broken.io': { auth: b64('nocolon') },
  } }));
  const env = { XDG_RUNTIME_DIR: runtime, HOME: home };

  it('prefers $XDG_RUNTIME_DIR/containers/auth.json, then ~/.docker/config.json; passwords may contain ":"', () => {
    expect(readCredentials('quay.io', { env, home })).toEqual({ username: 'podman-user', password: 'pa:ss' });
    expect(readCredentials('quay.io', { env: { HOME: home }, home })).toEqual({ username: 'docker-user', password: 'x' });
  });
  it('knows Docker Hub\'s legacy key and URL-form keys, and per-namespace keys', () => {
    expect(readCredentials('docker.io', { env, home })).toEqual({ username: 'hub-user', password: 'hubpw' });
    expect(readCredentials('ghcr.io', { env, home })).toEqual({ username: 'gh', password: 'tok' });
    expect(readCredentials('quay.io', { env, home, repository: 'team/app' })).toEqual({ username: 'team-user', password: 't' });
  });
  it('returns null for unknown hosts, malformed entries and missing or broken files', () => {
    expect(readCredentials('example.com', { env, home })).toBeNull();
    expect(readCredentials('broken.io', { env, home })).toBeNull();
    const empty = mkdtempSync(join(tmpdir(), 'sandbox-creds-empty-'));
    writeFileSync(join(empty, 'bad.json'), '{not json');
    expect(readCredentials('quay.io', { env: { REGISTRY_AUTH_FILE: join(empty, 'bad.json') }, home: empty })).toBeNull();
    rmSync(empty, { recursive: true });
  });
  it('looks at $REGISTRY_AUTH_FILE first and honours XDG_CONFIG_HOME and DOCKER_CONFIG', () => {
    expect(authFilePaths({ env: { REGISTRY_AUTH_FILE: '/a.json', XDG_RUNTIME_DIR: '/run/user/1', XDG_CONFIG_HOME: '/cfg', DOCKER_CONFIG: '/dc' }, home: '/h' }))
      .toEqual(['/a.json', '/run/user/1/containers/auth.json', '/cfg/containers/auth.json', '/dc/config.json']);
    expect(authFilePaths({ env: {}, home: '/h' })).toEqual(['/h/.config/containers/auth.json', '/h/.docker/config.json']);
  });
});

describe('registry helpers', () => {
  const d = (arch: string, variant?: string): Descriptor => ({
    mediaType: 'm', digest: `sha256:${arch}${variant ?? ''}`, size: 1,
    platform: { os: 'linux', architecture: arch, ...(variant ? { variant } : {}) },
  });
  it('selects the platform from an index, arm64 without a variant meaning v8', () => {
    const index = { schemaVersion: 2 as const, manifests: [d('amd64'), d('arm64', 'v8'), d('arm', 'v6'), d('arm', 'v7')] };
    expect(selectPlatform(index, parsePlatform('linux/amd64'))?.digest).toBe('sha256:amd64');
    expect(selectPlatform(index, parsePlatform('linux/arm64'))?.digest).toBe('sha256:arm64v8');
    expect(selectPlatform(index, parsePlatform('linux/arm/v7'))?.digest).toBe('sha256:armv7');
    expect(selectPlatform(index, parsePlatform('linux/s390x'))).toBeNull();
    expect(selectPlatform({ schemaVersion: 2, manifests: [d('arm64')] }, parsePlatform('linux/arm64/v8'))?.digest).toBe('sha256:arm64');
  });
  it('parses and formats platforms, refusing malformed ones', () => {
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(formatPlatform({ os: 'linux', architecture: 'amd64' })).toBe('linux/amd64');
    expect(() => parsePlatform('amd64')).toThrow(/invalid platform "amd64": expected os\/arch/);
    expect(() => parsePlatform('linux/amd64/v1/x')).toThrow(/invalid platform/);
  });
  it('reads the distribution spec error body', () => {
    expect(registryErrorMessages('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}'))
      .toEqual({ codes: ['MANIFEST_UNKNOWN'], messages: ['manifest unknown'] });
    expect(registryErrorMessages('<html>bad gateway</html>').messages).toEqual(['<html>bad gateway</html>']);
  });
  it('places blobs by digest and refuses other algorithms', () => {
    expect(blobPath('/b', `sha256:${'0'.repeat(64)}`)).toBe(`/b/sha256/${'0'.repeat(64)}`);
    expect(() => blobPath('/b', 'sha512:00')).toThrow(/only sha256/);
    expect(() => blobPath('/b', 'sha256:../../etc')).toThrow(/unsupported digest/);
  });
  it('mapLimit keeps the order and the bound', async () => {
    let active = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, n * 3));
      active--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
    await expect(mapLimit([1, 2], 3, async (n) => { if (n === 2) throw new Error('boom'); return n; })).rejects.toThrow('boom');
  });
});
