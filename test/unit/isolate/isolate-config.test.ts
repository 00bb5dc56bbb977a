// The isolate mode's configuration file: isolate's key = value format, errors with file:line.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configPath, defaultBoxRoot, IsolateConfigError, loadIsolateConfig, parseIsolateConfig } from '../../../src/isolate/isolate-config.js';

const F = '/etc/test-isolate.cf';
const userEnv = { HOME: '/home/u', XDG_STATE_HOME: '/home/u/.state', XDG_CONFIG_HOME: '/home/u/.cfg' };
const error = (text: string) => {
  try {
    parseIsolateConfig(text, F, userEnv, 1000);
  } catch (e) {
    expect(e).toBeInstanceOf(IsolateConfigError);
    return (e as Error).message;
  }
  throw new Error('no error');
};

describe('parseIsolateConfig', () => {
  it('defaults: the user\'s state dir, 1000 boxes, refuse', () => {
    expect(parseIsolateConfig('', F, userEnv, 1000)).toEqual({ file: F, boxRoot: '/home/u/.state/rootless-sandbox/isolate', numBoxes: 1000, cgFallback: 'refuse' });
    expect(parseIsolateConfig('', F, {}, 0).boxRoot).toBe('/var/local/lib/isolate');
  });
  it('keys, spaces, comments and blank lines', () => {
    const c = parseIsolateConfig('# boxes\n\nbox_root = /srv/boxes  # here\nnum_boxes=20\n  cg_fallback =   rlimit\n', F, userEnv, 1000);
    expect(c).toEqual({ file: F, boxRoot: '/srv/boxes', numBoxes: 20, cgFallback: 'rlimit' });
  });
  it("isolate's own keys are accepted and unused", () => {
    expect(parseIsolateConfig('lock_root = /run/isolate/locks\ncg_root = auto:/run/isolate/cgroup\nfirst_uid = 60000\nfirst_gid = 60000\nrestricted_init = 1\nbox3.cpus = 1\nbox3.node = 0\n', F, userEnv, 1000).numBoxes).toBe(1000);
  });
  it('errors name the file and the line', () => {
    expect(error('box_root = /a\n\nbogus = 1\n')).toBe(`${F}:3: unknown key bogus (known: box_root, num_boxes, cg_fallback, and isolate's own keys, which are not used here)`);
    expect(error('# c\nbox_root = relative/dir\n')).toMatch(new RegExp(`^${F}:2: box_root must be an absolute path`));
    expect(error('num_boxes = 0\n')).toMatch(new RegExp(`^${F}:1: num_boxes must be a whole number of at least 1`));
    expect(error('num_boxes = 1.5\n')).toMatch(`${F}:1:`);
    expect(error('\n\n\ncg_fallback = maybe\n')).toMatch(new RegExp(`^${F}:4: cg_fallback must be refuse or rlimit, not "maybe"`));
    expect(error('box_root /x\n')).toBe(`${F}:1: expected "key = value", found "box_root /x"`);
  });
});

describe('where the file is', () => {
  it('$ISOLATE_CONFIG_FILE, else per user / root', () => {
    expect(configPath({ ISOLATE_CONFIG_FILE: '/x.cf' }, 1000)).toBe('/x.cf');
    expect(configPath(userEnv, 1000)).toBe('/home/u/.cfg/rootless-sandbox/isolate.cf');
    expect(configPath({}, 0)).toBe('/etc/rootless-sandbox/isolate.cf');
    expect(defaultBoxRoot(userEnv, 1000)).toBe('/home/u/.state/rootless-sandbox/isolate');
  });

  const dir = mkdtempSync(join(tmpdir(), 'isolate-config-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('loadIsolateConfig: a named file that is missing is an error; its errors carry its path', () => {
    expect(() => loadIsolateConfig({ ISOLATE_CONFIG_FILE: join(dir, 'missing.cf') })).toThrow(/cannot read the configuration file .*missing\.cf: ENOENT/);
    const f = join(dir, 'bad.cf');
    writeFileSync(f, 'box_root = /tmp/x\nnum_boxes = lots\n');
    expect(() => loadIsolateConfig({ ISOLATE_CONFIG_FILE: f })).toThrow(`${f}:2: num_boxes`);
    writeFileSync(f, `box_root = ${dir}/boxes\nnum_boxes = 5\n`);
    expect(loadIsolateConfig({ ISOLATE_CONFIG_FILE: f })).toMatchObject({ file: f, boxRoot: `${dir}/boxes`, numBoxes: 5 });
  });
});
