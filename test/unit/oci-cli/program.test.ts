// sandbox-oci's command line without running anything: the global flags,
// --version, features, spec, the refused and not-found verbs with exit 1,
// and the error line in each --log-format (stderr and --log).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkContainerId, checkRoot, defaultRoot, runOci, VERSION_TEXT } from '../../../src/oci-cli/program.js';
import { formatLogLine, makeLogger, rfc3339 } from '../../../src/oci-cli/oci-log.js';
import { parseOciConfig } from '../../../src/oci/read-bundle.js';

const dir = mkdtempSync(join(tmpdir(), 'oci-cli-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function oci(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runOci(['node', 'sandbox-oci', ...args], { stdout: (s) => { stdout += s; }, stderr: (s) => { stderr += s; } });
  return { code, stdout, stderr };
}

describe('log lines', () => {
  const when = new Date('2026-12-06T03:04:05.678Z');
  it('json is logrus\'s: level, msg, time (RFC 3339)', () => {
    expect(JSON.parse(formatLogLine('json', 'error', 'container x does not exist', when)))
      .toEqual({ level: 'error', msg: 'container x does not exist', time: '2026-12-06T03:04:05Z' });
    expect(rfc3339(when)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });
  it('text is logrus\'s key=value, the message quoted', () => {
    expect(formatLogLine('text', 'error', 'a "b"', when)).toBe('time="2026-12-06T03:04:05Z" level=error msg="a \\"b\\""');
  });
  it('a message of several lines is one log line', () => {
    let out = '';
    makeLogger({ format: 'json', debug: false }, (s) => { out += s; }).error('one\ntwo', 'three');
    expect(out.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(out).msg).toBe('one; two (hint: three)');
  });
  it('debug lines only with --debug', () => {
    let out = '';
    makeLogger({ format: 'text', debug: false }, (s) => { out += s; }).debug('quiet');
    expect(out).toBe('');
    makeLogger({ format: 'text', debug: true }, (s) => { out += s; }).debug('loud');
    expect(out).toContain('level=debug msg="loud"');
  });
});

describe('global flags', () => {
  it('--version prints runc-like lines', async () => {
    const r = await oci('--version');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${VERSION_TEXT}\n`);
    expect(r.stdout).toMatch(/^sandbox-oci version 0\.1\.0\nspec: 1\.2\.0\n$/);
    expect((await oci('-v')).stdout).toBe(r.stdout);
  });
  it('accepts --root, --systemd-cgroup, --debug and --log-format before the verb', async () => {
    const r = await oci('--root', dir, '--systemd-cgroup', '--debug', '--log-format', 'json', 'list', '--format', 'json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });
  it('refuses an unknown log format with exit 1', async () => {
    const r = await oci('--log-format', 'xml', 'list');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/xml/);
  });
  it('an unknown flag or verb is a usage error, exit 1', async () => {
    expect((await oci('--frobnicate', 'list')).code).toBe(1);
    const r = await oci('frobnicate');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('sandbox-oci: error:');
  });
  it('the default state directory is runc\'s, renamed', () => {
    expect(defaultRoot(0, {})).toBe('/run/sandbox-oci');
    expect(defaultRoot(1000, { XDG_RUNTIME_DIR: '/run/user/1000' })).toBe('/run/user/1000/sandbox-oci');
    expect(defaultRoot(1000, {})).toBe('/run/user/1000/sandbox-oci');
  });
  it('--root may not be / (runc\'s rule)', async () => {
    const r = await oci('--root', '/tmp/..', 'list');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--root argument should not be set to /');
    expect(checkRoot('state', '/srv')).toBe('/srv/state');
  });
  it('container ids follow runc\'s rule', () => {
    expect(checkContainerId('web-1_a.b+c')).toBe('web-1_a.b+c');
    for (const bad of ['..', '.', 'a/b', 'a b', '']) expect(() => checkContainerId(bad)).toThrow(/invalid container id/);
  });
});

describe('verbs', () => {
  it('features is the features document', async () => {
    const r = await oci('features');
    expect(r.code).toBe(0);
    const f = JSON.parse(r.stdout);
    expect(f.ociVersionMin).toBe('1.0.0');
    expect(f.ociVersionMax).toBe('1.2.0');
    // no hook runs yet: none is claimed
    expect(f.hooks).toEqual([]);
  });
  it('spec writes a valid config.json and never replaces one', async () => {
    const b = join(dir, 'spec');
    rmSync(b, { recursive: true, force: true });
    (await import('node:fs')).mkdirSync(b);
    expect((await oci('spec', '--bundle', b)).code).toBe(0);
    const config = parseOciConfig(readFileSync(join(b, 'config.json'), 'utf8'));
    expect(config.process?.args).toEqual(['sh']);
    writeFileSync(join(b, 'config.json'), '{"kept": true}');
    const again = await oci('spec', '--bundle', b);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists\. Remove it first/);
    expect(readFileSync(join(b, 'config.json'), 'utf8')).toBe('{"kept": true}');
  });
  it('spec --rootless maps the caller\'s ids and adds a user namespace', async () => {
    const b = mkdtempSync(join(dir, 'rootless-'));
    expect((await oci('spec', '--rootless', '-b', b)).code).toBe(0);
    const config = parseOciConfig(readFileSync(join(b, 'config.json'), 'utf8'));
    expect(config.linux?.uidMappings).toEqual([{ containerID: 0, hostID: process.getuid!(), size: 1 }]);
    expect(config.linux?.namespaces?.some((n) => n.type === 'user')).toBe(true);
  });
  it.each(['state', 'kill', 'start'])('%s of any id: container does not exist, exit 1', async (verb) => {
    const r = await oci('--root', dir, verb, 'nosuch');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('container nosuch does not exist');
  });
  it('delete: does not exist, but --force succeeds (runc)', async () => {
    expect((await oci('--root', dir, 'delete', 'nosuch')).code).toBe(1);
    expect((await oci('--root', dir, 'delete', '--force', 'nosuch')).code).toBe(0);
  });
  it('create of a bundle without config.json names the file and keeps nothing', async () => {
    const root = mkdtempSync(join(dir, 'root-'));
    const r = await oci('--root', root, 'create', '--bundle', dir, 'c1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('config.json does not exist');
    expect((await oci('--root', root, 'list', '-q')).stdout).toBe('');
  });
  it('create --console-socket is refused clearly', async () => {
    const r = await oci('--root', dir, 'create', '--console-socket', '/x', 'c1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--console-socket is not supported yet');
  });
  it('kill with an unknown signal names it', async () => {
    const r = await oci('--root', dir, 'kill', 'nosuch', 'SIGNOPE');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown signal "SIGNOPE"');
  });
  it.each(['exec', 'ps', 'pause', 'resume', 'update'])('%s: not supported yet, exit 1', async (verb) => {
    const r = await oci(verb, 'c1', '--bundle', '/x');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${verb} is not supported yet`);
  });
  it('run --detach is refused clearly', async () => {
    const r = await oci('run', '--detach', 'c1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--detach is not supported yet');
  });
  it('run of a bundle without config.json names the file', async () => {
    const r = await oci('run', '--bundle', dir, 'c1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('config.json does not exist');
  });
  it('errors go to --log in json, and to stderr in words', async () => {
    const log = join(dir, 'log.json');
    const r = await oci('--log', log, '--log-format', 'json', 'state', 'nosuch');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('sandbox-oci: error: container nosuch does not exist');
    const line = JSON.parse(readFileSync(log, 'utf8').trim());
    expect(line.level).toBe('error');
    expect(line.msg).toContain('container nosuch does not exist');
    expect(line.time).toMatch(/Z$/);
  });
  it('with --log-format json and no --log the json line is on stderr', async () => {
    const r = await oci('--log-format', 'json', 'state', 'nosuch');
    expect(JSON.parse(r.stderr.trim()).msg).toContain('does not exist');
  });
  it('--log in text format', async () => {
    const log = join(dir, 'log.txt');
    await oci('--log', log, 'kill', 'nosuch', 'KILL');
    expect(readFileSync(log, 'utf8')).toMatch(/^time="[^"]+Z" level=error msg="container nosuch does not exist/);
  });
});
