import { describe, expect, it } from 'vitest';
import { loadProfile } from '../../../src/config/load-profile.js';
import { planRun, SYNC_WHAT } from '../../../src/launch/plan-run.js';
import { parseNetwork } from '../../../src/network/parse-network.js';
import { pastaArgs } from '../../../src/network/pasta.js';
import { formatPublish, parsePublish } from '../../../src/network/publish.js';
import { renderResolvConf } from '../../../src/network/resolv-conf.js';
import { slirp4netnsArgs } from '../../../src/network/slirp4netns.js';
import { generatedEtcFiles } from '../../../src/rootfs/generated-etc.js';
import { CLONE } from '../../../src/stage/plan.js';
import { Op } from '../../../src/stage/protocol.js';
import { aliceSubid, handProfile, refused, resolve, TOOLS } from '../support/fixtures.js';

const usage = (fn: () => unknown) => refused(fn, 'usage');
const HOST_RESOLV = 'nameserver 127.0.0.53\nsearch example.org\noptions edns0\n';

describe('--network', () => {
  it('modes and the host-loopback opt-in, in our and podman\'s spellings', () => {
    expect(parseNetwork('none')).toEqual({ mode: 'none', allowHostLoopback: false });
    expect(parseNetwork('pasta')).toEqual({ mode: 'pasta', allowHostLoopback: false });
    expect(parseNetwork('pasta:allow-host-loopback')).toEqual({ mode: 'pasta', allowHostLoopback: true });
    expect(parseNetwork('pasta:--map-gw').allowHostLoopback).toBe(true);
    expect(parseNetwork('slirp4netns:allow_host_loopback=true')).toEqual({ mode: 'slirp4netns', allowHostLoopback: true });
    expect(parseNetwork('slirp4netns:allow_host_loopback=false').allowHostLoopback).toBe(false);
    expect(parseNetwork('host')).toEqual({ mode: 'host', allowHostLoopback: false });
  });

  it('refuses unknown modes and options, by name', () => {
    expect(usage(() => parseNetwork('bridge')).message).toBe('unknown network mode "bridge" (--network)');
    expect(usage(() => parseNetwork('pasta:--tcp-ports=all')).message).toBe('unknown pasta option "--tcp-ports=all" in "pasta:--tcp-ports=all" (--network)');
    expect(usage(() => parseNetwork('slirp4netns:--map-gw')).message).toContain('unknown slirp4netns option');
    expect(usage(() => parseNetwork('host:allow-host-loopback')).message).toContain('network mode host takes no options');
    expect(usage(() => parseNetwork('pasta:')).message).toContain('empty option');
  });
});

describe('-p', () => {
  it('binds 127.0.0.1 unless an address is given; tcp unless udp', () => {
    expect(parsePublish('8080:80')).toEqual({ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' });
    expect(parsePublish('0.0.0.0:5353:53/udp')).toEqual({ hostIp: '0.0.0.0', hostPort: 5353, containerPort: 53, protocol: 'udp' });
    expect(parsePublish('[::1]:8080:80/tcp')).toEqual({ hostIp: '::1', hostPort: 8080, containerPort: 80, protocol: 'tcp' });
    expect(formatPublish(parsePublish('[::1]:8080:80'))).toBe('[::1]:8080:80/tcp');
  });

  it('refuses what is not a mapping', () => {
    for (const bad of ['80', '8080:80/sctp', '0:80', '8080:65536', 'x:80', '1.2.3:8080:80', '::1:8080:80', '[1.2.3.4]:8080:80', 'a:b:c:d']) {
      expect(usage(() => parsePublish(bad)).hint, bad).toContain('HOSTPORT:CTRPORT');
    }
  });
});

describe('resolving the network', () => {
  it('a helper mode records the helper, the ports and resolv.conf', () => {
    const spec = resolve({ network: 'pasta', publish: ['8080:80', '127.0.0.1:5353:53/udp'] }, { hostResolvConf: HOST_RESOLV });
    expect(spec.network).toEqual({
      mode: 'pasta', helper: '/usr/bin/pasta', allowHostLoopback: false,
      publish: [parsePublish('8080:80'), parsePublish('127.0.0.1:5353:53/udp')],
      resolvConf: 'nameserver 169.254.1.1\nsearch example.org\noptions edns0\n',
    });
    expect(resolve({ network: 'slirp4netns:allow-host-loopback' }).network).toMatchObject({ mode: 'slirp4netns', allowHostLoopback: true });
  });

  it('a missing helper is refused with the package to install, never another mode', () => {
    const e = refused(() => resolve({ network: 'slirp4netns' }, { host: { ...aliceSubid, slirp4netns: null } }), 'host');
    expect(e.message).toBe('network mode slirp4netns needs the slirp4netns program, which is not in PATH (--network)');
    expect(e.hint).toContain('apt-get install slirp4netns');
    expect(refused(() => resolve({ network: 'pasta' }, { host: { ...aliceSubid, pasta: null } })).hint).toContain('apt-get install passt');
  });

  it('host keeps the host\'s resolv.conf; the strict profile refuses it', () => {
    expect(resolve({ network: 'host' }, { hostResolvConf: HOST_RESOLV }).network).toEqual({ mode: 'host', resolvConf: HOST_RESOLV });
    const strict = loadProfile('strict');
    expect(usage(() => resolve({ network: 'host' }, { profile: strict })).message).toBe('profile strict refuses --network host');
    expect(resolve({ network: 'pasta' }, { profile: strict }).network.mode).toBe('pasta');
  });

  it('ports need a helper; the profile\'s ports are replaced by -p', () => {
    expect(usage(() => resolve({ publish: ['8080:80'] })).hint).toContain('--network pasta');
    expect(usage(() => resolve({ network: 'host', publish: ['8080:80'] })).message).toBe('cannot publish ports with --network host (-p)');
    expect(usage(() => resolve({ network: 'pasta', publish: ['8080:80', '8080:81'] })).message).toContain('published twice');
    const profile = handProfile({ network: 'slirp4netns', publish: ['9000:90'] });
    expect(resolve({}, { profile }).network).toMatchObject({ publish: [parsePublish('9000:90')] });
    expect(resolve({ publish: ['9001:91'] }, { profile }).network).toMatchObject({ publish: [parsePublish('9001:91')] });
    expect(usage(() => resolve({}, { profile: handProfile({ network: 'pasta:nope' }) })).message).toContain('hand.json#/network)');
  });

  it('resolv.conf: the forwarder of each helper, the host\'s search and options', () => {
    expect(renderResolvConf('none', HOST_RESOLV)).toBeNull();
    expect(renderResolvConf('slirp4netns', HOST_RESOLV)).toBe('nameserver 10.0.2.3\nsearch example.org\noptions edns0\n');
    expect(renderResolvConf('pasta', null)).toBe('nameserver 169.254.1.1\n');
    const etc = (network: string) => generatedEtcFiles(resolve({ network }, { hostResolvConf: HOST_RESOLV })).map((f) => f.path);
    expect(etc('none')).not.toContain('/etc/resolv.conf');
    expect(etc('pasta')).toContain('/etc/resolv.conf');
  });
});

describe('the plan', () => {
  const plan = (network: string) => planRun(resolve({ network }), TOOLS);
  const unshareFlags = (p: ReturnType<typeof plan>) => Number(p.find((o) => o.code === Op.UNSHARE)!.ints[0]);

  it('helpers get a SYNC right after the namespaces exist, before pid 1', () => {
    const p = plan('pasta');
    const i = p.findIndex((o) => o.code === Op.SYNC);
    expect(p.slice(p.findIndex((o) => o.code === Op.UNSHARE), i).map((o) => o.code)).toEqual([Op.UNSHARE, Op.WRITE_FILE]);
    expect(p[i]).toMatchObject({ code: Op.SYNC, what: SYNC_WHAT.network });
    expect(p.findIndex((o) => o.code === Op.FORK_INIT)).toBeGreaterThan(i);
    expect(plan('none').some((o) => o.code === Op.SYNC)).toBe(false);
  });

  it('with a systemd scope too: the cgroup SYNC first, then the network SYNC', () => {
    const cgroup = { backend: 'cgroup2', attach: async () => {}, joinFiles: [] } as unknown as Parameters<typeof planRun>[3];
    const syncs = planRun(resolve({ network: 'slirp4netns' }), TOOLS, undefined, cgroup).filter((o) => o.code === Op.SYNC).map((o) => o.what);
    expect(syncs).toEqual([SYNC_WHAT.cgroup, SYNC_WHAT.network]);
  });

  it('host keeps the host\'s network namespace and does not touch lo', () => {
    expect(unshareFlags(plan('host')) & CLONE.NEWNET).toBe(0);
    expect(plan('host').some((o) => o.code === Op.LOOPBACK_UP)).toBe(false);
    for (const n of ['none', 'pasta', 'slirp4netns']) {
      expect(unshareFlags(plan(n)) & CLONE.NEWNET).toBe(CLONE.NEWNET);
      expect(plan(n).some((o) => o.code === Op.LOOPBACK_UP)).toBe(true);
    }
  });
});

describe('helper arguments', () => {
  const spec = (allowHostLoopback: boolean, publish: string[] = []) =>
    ({ helper: '/usr/bin/x', allowHostLoopback, publish: publish.map((p) => parsePublish(p)) });

  it('pasta: no port forwarding and no gateway mapping unless asked; runs as root when root', () => {
    const args = pastaArgs(spec(false), 1000).join(' ');
    expect(args).toContain('-t none -u none -T none -U none --no-map-gw');
    expect(args).not.toContain('--runas');
    expect(pastaArgs(spec(false), 0).join(' ')).toContain('--runas 0:0');
    const open = pastaArgs(spec(true, ['8080:80', '[::1]:53:53/udp']), 1000).join(' ');
    expect(open).toContain('-t 127.0.0.1/8080:80 -u ::1/53:53 -T auto -U auto');
    expect(open).not.toContain('--no-map-gw');
  });

  it('slirp4netns: host loopback off unless asked; API socket only with ports; its sandbox as root', () => {
    expect(slirp4netnsArgs(spec(false), 42, null, 1000)).toEqual([
      '--configure', '--mtu=65520', '--disable-host-loopback', '--enable-seccomp', '--ready-fd=3', '--exit-fd=4',
      '--userns-path=/proc/42/ns/user', '--netns-type=path', '/proc/42/ns/net', 'tap0',
    ]);
    expect(slirp4netnsArgs(spec(false), 42, null, 0)).toContain('--enable-sandbox');
    const open = slirp4netnsArgs(spec(true, ['8080:80']), 42, '/run/x/api.sock', 1000);
    expect(open).not.toContain('--disable-host-loopback');
    expect(open).toContain('--api-socket=/run/x/api.sock');
  });
});
