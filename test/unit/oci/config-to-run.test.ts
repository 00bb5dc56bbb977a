// config.json → OciRun: a podman-shaped config translated field by field,
// the result resolving into a RunSpec, and one refusal per unsupported field
// with the exact JSON pointer in its message.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configToRun, type OciContext } from '../../../src/oci/config-to-run.js';
import type { OciConfig } from '../../../src/oci/oci-config.js';
import { parseOciConfig } from '../../../src/oci/read-bundle.js';
import { resolvePolicy } from '../../../src/seccomp/resolve-policy.js';
import type { ResolvedImage } from '../../../src/resolve/image-defaults.js';
import { aliceSubid, refused, resolve, rootNoRange, rootSubid } from '../support/fixtures.js';

const FIXTURE = readFileSync(new URL('./fixtures/podman-config.json', import.meta.url), 'utf8');
const podman = (): OciConfig => parseOciConfig(FIXTURE);
/** A mutable copy for the refusal cases. */
const mutable = () => JSON.parse(FIXTURE);
const BUNDLE = '/bundles/web';
const ctx: OciContext = { bundle: BUNDLE, rootPath: `${BUNDLE}/rootfs`, host: aliceSubid };
const USERDATA = (f: string) => `/run/containers/storage/overlay-containers/3f1c2a9e8b7d/userdata/${f}`;
const PODMAN_CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETFCAP',
  'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT'];

describe('a podman config.json', () => {
  const { options, extras } = configToRun(podman(), ctx);

  it('maps the process', () => {
    expect(options.image).toBe('dir:/bundles/web/rootfs');
    expect(options.command).toEqual(['/bin/sh', '-c', 'echo hi']);
    expect(options.env).toEqual([
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm', 'container=podman', 'HOSTNAME=3f1c2a9e8b7d', 'HOME=/root',
    ]);
    expect(options.cleanEnv).toBe(true);
    expect(options.workdir).toBe('/');
    expect(options.user).toEqual({ uid: 0, gid: 0 });
    expect(options.tty).toBe(false);
    expect(options.interactive).toBe(true);
    // absent in the config: OCI's default (false), not the sandbox's
    expect(options.noNewPrivileges).toBe(false);
    expect(options.capDrop).toEqual(['ALL']);
    expect(options.capAdd).toEqual(PODMAN_CAPS);
    expect(extras.capabilities).toEqual({ bounding: PODMAN_CAPS, effective: PODMAN_CAPS, permitted: PODMAN_CAPS, inheritable: [], ambient: [] });
    expect(extras.umask).toBe(0o022);
    expect(extras.additionalGids).toEqual([0, 10]);
    expect(extras.oomScoreAdj).toBe(100);
    expect(extras.consoleSize).toBeNull();
  });

  it('maps rlimits and resources to limits, and keeps the rest', () => {
    expect(options.limits).toEqual({ nofile: 1048576, memory: 268435456, pids: 2048 });
    expect(extras.rlimits).toEqual([{ type: 'RLIMIT_NPROC', soft: 4194304, hard: 4194304 }]);
    expect(extras.cpu).toEqual({ quota: 50000, period: 100000 });
    expect(extras.cgroupsPath).toBe('machine.slice:libpod:3f1c2a9e8b7d');
  });

  it('maps root, hostname and namespaces', () => {
    expect(options.readOnly).toBe(false);
    expect(options.hostname).toBe('3f1c2a9e8b7d');
    expect(extras.domainname).toBeNull();
    // a new network namespace and nothing in it: --network none
    expect(options.network).toBe('none');
    expect(extras.namespaceJoins).toEqual([]);
    expect(extras.addedNamespaces).toEqual([]);
    expect(extras.idMappings).toEqual({
      uid: [{ containerID: 0, hostID: 100000, size: 65536 }], gid: [{ containerID: 0, hostID: 300000, size: 65536 }],
    });
    expect(extras.sysctl).toEqual({ 'net.ipv4.ping_group_range': '0 0' });
  });

  it('maps mounts: binds to volumes, tmpfs to tmpfs, the kernel file systems the sandbox has to nothing', () => {
    expect(options.volumes).toEqual([
      { source: USERDATA('hostname'), target: '/etc/hostname', writable: true },
      { source: USERDATA('resolv.conf'), target: '/etc/resolv.conf', writable: true },
      { source: USERDATA('hosts'), target: '/etc/hosts', writable: true },
      { source: '/var/lib/containers/storage/overlay-containers/3f1c2a9e8b7d/userdata/shm', target: '/dev/shm', writable: true, noexec: true },
      { source: USERDATA('.containerenv'), target: '/run/.containerenv', writable: true },
      { source: '/srv/data', target: '/data', writable: false },
      { source: '/srv/work', target: '/work', writable: true, noexec: true },
    ]);
    expect(options.tmpfs).toEqual([{ path: '/scratch', size: '16m', mode: '1777' }]);
    expect(extras.kernelMounts).toEqual([
      { type: 'mqueue', destination: '/dev/mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { type: 'cgroup', destination: '/sys/fs/cgroup', options: ['rprivate', 'nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ]);
    expect(extras.mountOptions).toEqual([
      ...['/etc/hostname', '/etc/resolv.conf', '/etc/hosts', '/dev/shm', '/run/.containerenv'].map((d) => ({ destination: d, options: ['bind'] })),
      { destination: '/scratch', options: ['noexec'] },
    ]);
  });

  it('keeps masked and read-only paths, annotations and hooks', () => {
    expect(extras.maskedPaths).toEqual(podman().linux!.maskedPaths);
    expect(extras.readonlyPaths).toEqual(podman().linux!.readonlyPaths);
    expect(extras.annotations).toEqual(podman().annotations);
    expect(extras.hooks).toEqual({ prestart: [], createRuntime: [], createContainer: [], startContainer: [], poststart: [], poststop: [] });
  });

  it('hands the seccomp policy to the existing compiler as it is', () => {
    expect(options.seccomp).toBeUndefined();
    expect(extras.seccomp).toEqual(podman().linux!.seccomp);
    const plan = resolvePolicy(extras.seccomp!, { arch: 'x64', kernel: '6.1.0-18-amd64', network: false, caps: PODMAN_CAPS }, 'config.json#/linux/seccomp');
    expect(plan.defaultAction).toEqual({ kind: 'errno', value: 38 });
    expect(plan.arches).toEqual(['x86_64', 'x86', 'x32']);
    expect(plan.rules.find((r) => r.syscall === 'personality')?.args).toEqual([{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }]);
  });

  it('resolves into a RunSpec with the config\'s values', () => {
    const paths = new Set(options.volumes!.map((v) => (typeof v === 'string' ? v : v.source)));
    const image: ResolvedImage = { ref: options.image!, digest: '', layers: [ctx.rootPath], overlay: { kind: 'native' }, config: {}, passwd: 'root:x:0:0:root:/root:/bin/sh\n', group: null };
    const spec = resolve(options, {
      image,
      inspectPath: (p) => (paths.has(p) ? { real: p, kind: p.includes('/userdata/') && !p.endsWith('/shm') ? 'file' : 'dir' } : null),
    });
    expect(spec.argv).toEqual(['/bin/sh', '-c', 'echo hi']);
    expect(spec.env).toEqual(options.env);
    expect([...spec.capabilities].sort()).toEqual([...PODMAN_CAPS].sort()); // in bit order
    expect(spec.network.mode).toBe('none');
    expect(spec.noNewPrivileges).toBe(false);
    expect(spec.seccomp).toBe('default'); // the runner compiles extras.seccomp instead (see OciExtras.seccomp)
    expect(spec.limits).toMatchObject({ nofile: 1048576, memoryBytes: 268435456, pids: 2048 });
    expect(spec.volumes.find((v) => v.target === '/work')).toMatchObject({ writable: true, noexec: true, kind: 'dir' });
    expect(spec.tmpfs.find((t) => t.path === '/scratch')).toMatchObject({ sizeBytes: 16 * 1024 * 1024, mode: 0o1777 });
  });
});

describe('namespaces', () => {
  it('no network namespace shares the host network; a path is a join for the runner', () => {
    const c = mutable();
    c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== 'network');
    delete c.linux.sysctl;
    expect(configToRun(c, ctx).options.network).toBe('host');
    c.linux.namespaces.push({ type: 'network', path: '/run/user/1000/netns/netns-1234' });
    const run = configToRun(c, ctx);
    expect(run.options.network).toBe('none');
    expect(run.extras.namespaceJoins).toEqual([{ type: 'network', path: '/run/user/1000/netns/netns-1234' }]);
  });

  it('root without a user namespace still gets one (never host root), recorded', () => {
    const c = mutable();
    c.linux.namespaces = [{ type: 'pid' }, { type: 'mount' }];
    delete c.linux.uidMappings;
    delete c.linux.gidMappings;
    delete c.linux.sysctl;
    const run = configToRun(c, { ...ctx, host: rootSubid });
    expect(run.extras.addedNamespaces).toEqual(['ipc', 'uts', 'user', 'cgroup']);
    expect(run.extras.idMappings).toBeNull();
  });

  it('root maps only its subordinate range', () => {
    const c = mutable();
    c.linux.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: 400000, size: 65536 }];
    expect(configToRun(c, { ...ctx, host: rootSubid }).extras.idMappings?.uid).toEqual(c.linux.uidMappings);
    const err = refused(() => configToRun(c, { ...ctx, host: rootNoRange }), 'config');
    expect(err.message).toContain('config.json#/linux/uidMappings/0: ');
  });
});

type Case = [string, (c: any) => void, string];
const CASES: Case[] = [
  ['apparmorProfile', (c) => { c.process.apparmorProfile = 'containers-default-0.50.0'; }, '/process/apparmorProfile'],
  ['selinuxLabel', (c) => { c.process.selinuxLabel = 'system_u:system_r:container_t:s0:c1,c2'; }, '/process/selinuxLabel'],
  ['mountLabel', (c) => { c.linux.mountLabel = 'system_u:object_r:container_file_t:s0:c1,c2'; }, '/linux/mountLabel'],
  ['scheduler', (c) => { c.process.scheduler = { policy: 'SCHED_FIFO' }; }, '/process/scheduler'],
  ['ioPriority', (c) => { c.process.ioPriority = { class: 'IOPRIO_CLASS_RT' }; }, '/process/ioPriority'],
  ['execCPUAffinity', (c) => { c.process.execCPUAffinity = { initial: '0' }; }, '/process/execCPUAffinity'],
  ['seccomp listenerPath', (c) => { c.linux.seccomp.listenerPath = '/run/seccomp.sock'; }, '/linux/seccomp/listenerPath'],
  ['seccomp listenerMetadata', (c) => { c.linux.seccomp.listenerMetadata = 'x'; }, '/linux/seccomp/listenerMetadata'],
  ['seccomp SCMP_ACT_NOTIFY', (c) => { c.linux.seccomp.syscalls[1].action = 'SCMP_ACT_NOTIFY'; }, '/linux/seccomp/syscalls/1/action'],
  ['seccomp default SCMP_ACT_NOTIFY', (c) => { c.linux.seccomp.defaultAction = 'SCMP_ACT_NOTIFY'; }, '/linux/seccomp/defaultAction'],
  ['an unknown mount type', (c) => { c.mounts.push({ destination: '/mnt', type: 'nfs', source: 'srv:/x' }); }, '/mounts/14/type'],
  ['a tmpfs option we cannot apply', (c) => { c.mounts[12].options.push('tmpcopyup'); }, '/mounts/12/options/7'],
  ['a tmpfs size in percent', (c) => { c.mounts[12].options[5] = 'size=50%'; }, '/mounts/12/options/5'],
  ['shared propagation on a bind', (c) => { c.mounts[10].options[1] = 'rshared'; }, '/mounts/10/options/1'],
  ['suid on a bind', (c) => { c.mounts[11].options.push('suid'); }, '/mounts/11/options/6'],
  ['proc elsewhere than /proc', (c) => { c.mounts.push({ destination: '/mnt/proc', type: 'proc', source: 'proc' }); }, '/mounts/14/destination'],
  ['a sysfs option the sandbox does not give', (c) => { c.mounts[2].options[3] = 'rw'; }, '/mounts/2/options/3'],
  ['a second mount on one target', (c) => { c.mounts.push({ destination: '/data/', type: 'tmpfs' }); }, '/mounts/14/destination'],
  ['a bind over /proc/sys', (c) => { c.mounts.push({ destination: '/proc/sys', type: 'bind', source: '/proc/sys', options: ['rbind'] }); }, '/mounts/14/destination'],
  ['a tmpfs on /dev/pts', (c) => { c.mounts.push({ destination: '/dev/pts', type: 'tmpfs', source: 'tmpfs' }); }, '/mounts/14/destination'],
  ['a bind without a source', (c) => { delete c.mounts[10].source; }, '/mounts/10/source'],
  ['a relative mount destination', (c) => { c.mounts[10].destination = 'data'; }, '/mounts/10/destination'],
  ['an id-mapped mount', (c) => { c.mounts[10].uidMappings = [{ containerID: 0, hostID: 100000, size: 1 }]; }, '/mounts/10/uidMappings'],
  ['a sysctl that is not namespaced', (c) => { c.linux.sysctl['kernel.panic'] = '1'; }, '/linux/sysctl/kernel.panic'],
  ['a net sysctl with the host network', (c) => { c.linux.namespaces.splice(1, 1); }, '/linux/sysctl/net.ipv4.ping_group_range'],
  ['a sysctl written with slashes', (c) => { c.linux.sysctl['vm/overcommit_memory'] = '1'; }, '/linux/sysctl/vm~1overcommit_memory'],
  ['personality LINUX32', (c) => { c.linux.personality = { domain: 'LINUX32' }; }, '/linux/personality/domain'],
  ['personality flags', (c) => { c.linux.personality = { domain: 'LINUX', flags: ['ADDR_NO_RANDOMIZE'] }; }, '/linux/personality/flags'],
  ['timeOffsets', (c) => { c.linux.timeOffsets = { monotonic: { secs: 1, nanosecs: 0 } }; }, '/linux/timeOffsets'],
  ['a time namespace', (c) => { c.linux.namespaces.push({ type: 'time' }); }, '/linux/namespaces/7/type'],
  ['a namespace twice', (c) => { c.linux.namespaces.push({ type: 'pid' }); }, '/linux/namespaces/7/type'],
  ['a relative namespace path', (c) => { c.linux.namespaces[1].path = 'netns'; }, '/linux/namespaces/1/path'],
  ['no user namespace for a non-root caller', (c) => { c.linux.namespaces.pop(); delete c.linux.uidMappings; delete c.linux.gidMappings; }, '/linux/namespaces'],
  ['a device beyond the default set', (c) => { c.linux.devices = [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229 }]; }, '/linux/devices/0'],
  ['a default device with another mode', (c) => { c.linux.devices = [{ type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o600 }]; }, '/linux/devices/0'],
  ['a device rule allowing more than the default set', (c) => { c.linux.resources.devices.push({ allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' }); }, '/linux/resources/devices/1'],
  ['shared root propagation', (c) => { c.linux.rootfsPropagation = 'rshared'; }, '/linux/rootfsPropagation'],
  ['a uid mapping outside the caller\'s range', (c) => { c.linux.uidMappings[0].hostID = 0; }, '/linux/uidMappings/0'],
  ['overlapping uid mappings', (c) => { c.linux.uidMappings.push({ containerID: 100, hostID: 1000, size: 1 }); }, '/linux/uidMappings/1/containerID'],
  ['uid mappings without gid mappings', (c) => { delete c.linux.gidMappings; }, '/linux/uidMappings'],
  ['a user outside the mappings', (c) => { c.process.user.uid = 70000; }, '/process/user/uid'],
  ['an additional gid outside the mappings', (c) => { c.process.user.additionalGids.push(70000); }, '/process/user/additionalGids/2'],
  ['swap beyond the memory limit', (c) => { c.linux.resources.memory.swap = 536870912; }, '/linux/resources/memory/swap'],
  ['a memory reservation', (c) => { c.linux.resources.memory.reservation = 1; }, '/linux/resources/memory/reservation'],
  ['kernel memory', (c) => { c.linux.resources.memory.kernel = 1; }, '/linux/resources/memory/kernel'],
  ['kernel TCP memory', (c) => { c.linux.resources.memory.kernelTCP = 1; }, '/linux/resources/memory/kernelTCP'],
  ['swappiness', (c) => { c.linux.resources.memory.swappiness = 10; }, '/linux/resources/memory/swappiness'],
  ['disableOOMKiller', (c) => { c.linux.resources.memory.disableOOMKiller = true; }, '/linux/resources/memory/disableOOMKiller'],
  ['real-time CPU', (c) => { c.linux.resources.cpu.realtimeRuntime = 1000; }, '/linux/resources/cpu/realtimeRuntime'],
  ['CPU burst', (c) => { c.linux.resources.cpu.burst = 1000; }, '/linux/resources/cpu/burst'],
  ['SCHED_IDLE', (c) => { c.linux.resources.cpu.idle = 1; }, '/linux/resources/cpu/idle'],
  ['blockIO', (c) => { c.linux.resources.blockIO = { weight: 10 }; }, '/linux/resources/blockIO'],
  ['hugepageLimits', (c) => { c.linux.resources.hugepageLimits = [{ pageSize: '2MB', limit: 1 }]; }, '/linux/resources/hugepageLimits'],
  ['network resources', (c) => { c.linux.resources.network = { classID: 1 }; }, '/linux/resources/network'],
  ['rdma', (c) => { c.linux.resources.rdma = { mlx5_1: { hcaHandles: 3 } }; }, '/linux/resources/rdma'],
  ['unified', (c) => { c.linux.resources.unified = { 'io.weight': '10' }; }, '/linux/resources/unified'],
  ['intelRdt', (c) => { c.linux.intelRdt = { closID: 'x' }; }, '/linux/intelRdt'],
  ['memoryPolicy', (c) => { c.linux.memoryPolicy = { mode: 'MPOL_BIND' }; }, '/linux/memoryPolicy'],
  ['netDevices', (c) => { c.linux.netDevices = { eth1: {} }; }, '/linux/netDevices'],
  ['solaris', (c) => { c.solaris = { milestone: 'x' }; }, '/solaris'],
  ['windows', (c) => { c.windows = { layerFolders: [] , x: 1 }; }, '/windows'],
  ['vm', (c) => { c.vm = { kernel: { path: '/k' } }; }, '/vm'],
  ['zos', (c) => { c.zos = { devices: [1] }; }, '/zos'],
  ['an unknown capability', (c) => { c.process.capabilities.bounding.push('CAP_BOGUS'); }, '/process/capabilities/bounding/11'],
  ['ALL as a capability', (c) => { c.process.capabilities.bounding.push('ALL'); }, '/process/capabilities/bounding/11'],
  ['an effective capability outside the bounding set', (c) => { c.process.capabilities.effective.push('CAP_SYS_ADMIN'); }, '/process/capabilities/effective/11'],
  ['an ambient capability outside the bounding set', (c) => { c.process.capabilities.ambient = ['CAP_NET_RAW']; }, '/process/capabilities/ambient/0'],
  ['an rlimit twice', (c) => { c.process.rlimits.push({ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }); }, '/process/rlimits/2/type'],
  ['an rlimit soft above hard', (c) => { c.process.rlimits[0].soft = 2000000; }, '/process/rlimits/0/soft'],
  ['an env entry without =', (c) => { c.process.env.push('SECRET'); }, '/process/env/5'],
  ['an ociVersion we do not know', (c) => { c.ociVersion = '2.0.0'; }, '/ociVersion'],
  ['no args', (c) => { c.process.args = []; }, '/process/args'],
  ['a relative cwd', (c) => { c.process.cwd = 'srv'; }, '/process/cwd'],
  ['an invalid hostname', (c) => { c.hostname = 'no spaces allowed'; }, '/hostname'],
  ['no process', (c) => { delete c.process; }, '/process'],
  ['a relative masked path', (c) => { c.linux.maskedPaths.push('proc/kcore'); }, '/linux/maskedPaths/11'],
];

describe('refusals name the JSON pointer', () => {
  it.each(CASES)('%s', (_what, mutate, pointer) => {
    const c = mutable();
    mutate(c);
    // each case must still be valid by shape: the refusal is the translator's
    const err = refused(() => configToRun(parseOciConfig(JSON.stringify(c)), ctx), 'config');
    expect(err.message).toContain(`config.json#${pointer}: `);
  });
});

describe('what the podman config does not show', () => {
  const base = () => {
    const c = mutable();
    c.process.terminal = true;
    c.process.consoleSize = { height: 24, width: 80 };
    c.process.noNewPrivileges = true;
    c.process.rlimits = [
      { type: 'RLIMIT_CPU', soft: 10, hard: 10 }, { type: 'RLIMIT_STACK', soft: 8388608, hard: 8388608 },
      { type: 'RLIMIT_FSIZE', soft: 1024, hard: 2048 }, { type: 'RLIMIT_AS', soft: 18446744073709551615, hard: 18446744073709551615 },
    ];
    c.domainname = 'example.org';
    c.root = { path: 'rootfs', readonly: true };
    c.mounts = [{ destination: '/cfg', type: 'none', source: 'etc/app', options: ['rbind', 'ro', 'noatime'] }];
    c.hooks = { createRuntime: [{ path: '/usr/libexec/hook', args: ['hook', 'create'], timeout: 5 }] };
    c.linux.namespaces[1] = { type: 'network', path: '/proc/42/ns/net' };
    c.linux.devices = [{ type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 438, uid: 0, gid: 0 }];
    c.linux.resources.devices.push({ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, { allow: true, type: 'c', major: 136, access: 'rwm' },
      { allow: true, type: 'b', access: 'm' });
    c.linux.rootfsPropagation = 'rprivate';
    c.linux.personality = { domain: 'LINUX' };
    return c;
  };

  it('maps or keeps them', () => {
    const { options, extras } = configToRun(parseOciConfig(JSON.stringify(base())), ctx);
    expect(options).toMatchObject({ tty: true, noNewPrivileges: true, readOnly: true, network: 'none' });
    // a relative bind source is relative to the bundle
    expect(options.volumes).toEqual([{ source: '/bundles/web/etc/app', target: '/cfg', writable: false }]);
    expect(options.limits).toEqual({ stack: 8388608, memory: 268435456, pids: 2048 });
    expect(extras.rlimits).toEqual([
      { type: 'RLIMIT_CPU', soft: 10, hard: 10 }, { type: 'RLIMIT_FSIZE', soft: 1024, hard: 2048 },
      { type: 'RLIMIT_AS', soft: Number.MAX_SAFE_INTEGER + 1, hard: Number.MAX_SAFE_INTEGER + 1 },
    ]);
    expect(extras.consoleSize).toEqual({ height: 24, width: 80 });
    expect(extras.domainname).toBe('example.org');
    expect(extras.mountOptions).toEqual([{ destination: '/cfg', options: ['noatime'] }]);
    expect(extras.namespaceJoins).toEqual([{ type: 'network', path: '/proc/42/ns/net' }]);
    expect(extras.hooks.createRuntime).toEqual([{ path: '/usr/libexec/hook', args: ['hook', 'create'], timeout: 5 }]);
    expect(extras.hooks.poststop).toEqual([]);
  });

  it('refuses mappings for a joined user namespace', () => {
    const c = base();
    c.linux.namespaces[6] = { type: 'user', path: '/proc/42/ns/user' };
    const err = refused(() => configToRun(parseOciConfig(JSON.stringify(c)), ctx), 'config');
    expect(err.message).toContain('config.json#/linux/uidMappings: ');
  });
});
