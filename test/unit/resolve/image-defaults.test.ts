// An OCI image's config applied to a run as podman applies it: Entrypoint +
// (command or Cmd), Env under the flags, WorkingDir and User unless -w/-u,
// user names from the image's own /etc/passwd and /etc/group.
import { describe, expect, it } from 'vitest';
import { imageArgv, imageEnv, resolveImageUser, type ResolvedImage } from '../../../src/resolve/image-defaults.js';
import { DEFAULT_PATH } from '../../../src/resolve/resolve-run-spec.js';
import { fakeLayout, refused, resolve } from '../support/fixtures.js';

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www:/var/www:/usr/sbin/nologin\napp:x:1000:1001:App:/home/app:/bin/sh\n';
const GROUP = 'root:x:0:\nwww-data:x:33:\nstaff:x:50:\n';

function image(config: ResolvedImage['config'] = {}, extra: Partial<ResolvedImage> = {}): ResolvedImage {
  return { ref: 'test:1', digest: `sha256:${'a'.repeat(64)}`, layers: ['/store/l0', '/store/l1'], overlay: { kind: 'native' }, config, passwd: PASSWD, group: GROUP, ...extra };
}

const run = (config: ResolvedImage['config'], options: Parameters<typeof resolve>[0] = {}, extra: Partial<ResolvedImage> = {}) =>
  resolve({ image: 'test:1', command: [], ...options }, { image: image(config, extra) });

describe('imageArgv', () => {
  it('is Entrypoint + Cmd, or Entrypoint + the command given', () => {
    expect(imageArgv({ Entrypoint: ['/bin/echo', 'entry'], Cmd: ['default-cmd'] }, [])).toEqual(['/bin/echo', 'entry', 'default-cmd']);
    expect(imageArgv({ Entrypoint: ['/bin/echo', 'entry'], Cmd: ['default-cmd'] }, ['mine'])).toEqual(['/bin/echo', 'entry', 'mine']);
    expect(imageArgv({ Cmd: ['/bin/sh'] }, [])).toEqual(['/bin/sh']);
    expect(imageArgv({ Entrypoint: null, Cmd: null }, [])).toEqual([]);
  });
});

describe('resolveImageUser', () => {
  it('takes names and ids, with the primary group and home from passwd', () => {
    expect(resolveImageUser('www-data', image(), 'u')).toEqual({ uid: 33, gid: 33, name: 'www-data', home: '/var/www' });
    expect(resolveImageUser('1000', image(), 'u')).toEqual({ uid: 1000, gid: 1001, name: 'app', home: '/home/app' });
    expect(resolveImageUser('app:staff', image(), 'u')).toEqual({ uid: 1000, gid: 50, name: 'app', home: '/home/app' });
    expect(resolveImageUser('4242:7', image(), 'u')).toEqual({ uid: 4242, gid: 7, name: '4242', home: '/' });
    expect(resolveImageUser('4242', image({}, { passwd: null }), 'u')).toEqual({ uid: 4242, gid: 4242, name: '4242', home: '/' });
  });

  it('refuses names the image does not define, and bad syntax, naming where the user came from', () => {
    expect(refused(() => resolveImageUser('nobody-here', image(), '-u'), 'usage').message).toBe('user "nobody-here" (-u) is not in the image\'s /etc/passwd (test:1)');
    expect(refused(() => resolveImageUser('app:nogroup', image(), 'User'), 'usage').message).toBe('group "nogroup" (User) is not in the image\'s /etc/group (test:1)');
    expect(refused(() => resolveImageUser('a:b:c', image(), '-u'), 'usage').message).toBe('invalid user "a:b:c" (-u)');
    expect(refused(() => resolveImageUser(':5', image(), '-u'), 'usage').message).toBe('invalid user ":5" (-u)');
  });
});

describe('resolveRunSpec with an image', () => {
  const layered = { Entrypoint: ['/bin/echo', 'entry'], Cmd: ['default-cmd'], WorkingDir: '/data', User: '1000:1000', Env: ['PATH=/usr/bin:/bin', 'FOO=bar'] };

  it('applies Entrypoint, Cmd, WorkingDir, User and Env', () => {
    const spec = run(layered);
    expect(spec.image).toEqual({ kind: 'oci', ref: 'test:1', digest: `sha256:${'a'.repeat(64)}`, layers: ['/store/l0', '/store/l1'], overlay: { kind: 'native' }, proc: fakeLayout().proc, sys: fakeLayout().sys });
    expect(spec.argv).toEqual(['/bin/echo', 'entry', 'default-cmd']);
    expect(spec.cwd).toBe('/data');
    expect(spec.user).toEqual({ uid: 1000, gid: 1000, name: 'app', home: '/home/app' });
    expect(spec.env).toEqual(['PATH=/usr/bin:/bin', 'HOME=/home/app', 'HOSTNAME=sandbox', 'FOO=bar']);
    expect(spec.searchPath).toBe('/usr/bin:/bin');
  });

  it('lets the command, -w, -u, -e and --entrypoint override the config', () => {
    const spec = run(layered, { command: ['x'], workdir: '/w', user: 'www-data', env: ['FOO=baz'] });
    expect(spec.argv).toEqual(['/bin/echo', 'entry', 'x']);
    expect(spec.cwd).toBe('/w');
    expect(spec.user).toEqual({ uid: 33, gid: 33, name: 'www-data', home: '/var/www' });
    expect(spec.env).toContain('FOO=baz');
    expect(run(layered, { entrypoint: ['/bin/sh', '-c'], command: ['id'] }).argv).toEqual(['/bin/sh', '-c', 'id']);
    // like podman: a new entrypoint drops the image's Cmd
    expect(run(layered, { entrypoint: ['/bin/true'] }).argv).toEqual(['/bin/true']);
  });

  it('without User, WorkingDir and Env: the profile\'s user, /, the default PATH and passwd\'s home', () => {
    const spec = run({ Cmd: ['/bin/sh'] });
    expect(spec.user).toEqual({ uid: 0, gid: 0, name: 'root', home: '/root' });
    expect(spec.cwd).toBe('/');
    expect(spec.env).toEqual([`PATH=${DEFAULT_PATH}`, 'HOME=/root', 'HOSTNAME=sandbox']);
  });

  it('refuses an image with neither a command nor Entrypoint/Cmd', () => {
    const err = refused(() => run({}), 'usage');
    expect(err.message).toBe('image test:1 has no default command (Entrypoint and Cmd are empty)');
    expect(err.hint).toContain('sandbox exec test:1 -- /bin/echo hi');
  });
});
