// sandbox login's auth file: podman's format, 0600, other entries kept,
// registry names normalised, logout of one or all.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { authFileForWriting, registryKey, removeCredentials, storeCredentials } from '../../../../src/image/registry/auth-file.js';
import { readCredentials } from '../../../../src/image/registry/credentials.js';

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

describe('auth file', () => {
  it('picks REGISTRY_AUTH_FILE, then XDG_RUNTIME_DIR, then XDG_CONFIG_HOME', () => {
    expect(authFileForWriting({ REGISTRY_AUTH_FILE: '/a.json', XDG_RUNTIME_DIR: '/run/user/1' })).toBe('/a.json');
    expect(authFileForWriting({ XDG_RUNTIME_DIR: '/run/user/1' })).toBe('/run/user/1/containers/auth.json');
    expect(authFileForWriting({ HOME: '/home/u' })).toBe('/home/u/.config/containers/auth.json');
  });

  it('normalises registry names and refuses what is none', () => {
    expect(registryKey('https://quay.io/')).toBe('quay.io');
    expect(registryKey('index.docker.io')).toBe('docker.io');
    expect(registryKey('127.0.0.1:5000')).toBe('127.0.0.1:5000');
    expect(registryKey('quay.io/org')).toBe('quay.io/org');
    expect(() => registryKey('user@host')).toThrow(/not a registry/);
    expect(() => registryKey('')).toThrow(/not a registry/);
  });

  it('writes podman\'s format with mode 0600, keeps other entries, and removes one or all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'auth-file-test-'));
    made.push(dir);
    const file = join(dir, 'containers', 'auth.json');
    await storeCredentials('quay.io', { username: 'a', password: 'x' }, file);
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), credHelpers: { 'gcr.io': 'gcloud' } }));
    await storeCredentials('127.0.0.1:5000', { username: 'b', password: 'p:w' }, file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'containers')).mode & 0o777).toBe(0o700);
    const content = JSON.parse(readFileSync(file, 'utf8'));
    expect(content.credHelpers).toEqual({ 'gcr.io': 'gcloud' });
    expect(Buffer.from(content.auths['127.0.0.1:5000'].auth, 'base64').toString()).toBe('b:p:w');
    expect(readCredentials('127.0.0.1:5000', { env: { REGISTRY_AUTH_FILE: file }, home: dir })).toEqual({ username: 'b', password: 'p:w' });
    expect(await removeCredentials('quay.io', file)).toBe(true);
    expect(await removeCredentials('quay.io', file)).toBe(false);
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).auths)).toEqual(['127.0.0.1:5000']);
    expect(await removeCredentials(null, file)).toBe(true);
    expect(JSON.parse(readFileSync(file, 'utf8')).auths).toEqual({});
    writeFileSync(file, 'not json');
    await expect(storeCredentials('quay.io', { username: 'a', password: 'x' }, file)).rejects.toThrow(/not a valid auth file/);
  });
});
