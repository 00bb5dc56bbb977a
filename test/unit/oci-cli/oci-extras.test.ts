// The runner's extras: applied when the sandbox already does the same
// (or more), refused with the field's JSON pointer otherwise.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configToRun, type OciContext } from '../../../src/oci/config-to-run.js';
import { parseOciConfig } from '../../../src/oci/read-bundle.js';
import { specTemplate } from '../../../src/oci/spec-template.js';
import type { OciConfig } from '../../../src/oci/oci-config.js';
import { applyExtras, checkIdMappings, type SandboxPaths } from '../../../src/oci-cli/oci-extras.js';
import { aliceSubid, rootSubid } from '../support/fixtures.js';

const ctx: OciContext = { bundle: '/b', rootPath: '/b/rootfs', host: rootSubid };
/** A host with every path of the template but /proc/timer_stats (gone since Linux 4.11). */
const paths: SandboxPaths = {
  masked: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/proc/latency_stats', '/proc/acpi', '/proc/asound', '/proc/scsi', '/sys/firmware'],
  readOnly: ['/proc/sys', '/proc/sysrq-trigger', '/proc/irq', '/proc/bus', '/proc/fs'],
  exists: (p) => p !== '/proc/timer_stats',
};
/** The template without what sandbox-oci does not apply yet: mqueue and cgroup mounts, a noexec tmpfs. */
function runnable(): any {
  const c = structuredClone(specTemplate()) as any;
  c.mounts = c.mounts.filter((m: any) => !['/dev/mqueue', '/sys/fs/cgroup'].includes(m.destination));
  const shm = c.mounts.find((m: any) => m.destination === '/dev/shm');
  shm.options = shm.options.filter((o: string) => o !== 'noexec');
  return c;
}
const apply = (c: unknown, p = paths) => {
  const config = c as OciConfig;
  return applyExtras(config, configToRun(config, ctx).extras, p);
};
const refusal = (c: unknown, p = paths) => {
  try {
    apply(c, p);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('not refused');
};

describe('applyExtras', () => {
  it('accepts the template without its mqueue and cgroup mounts', () => {
    expect(apply(runnable())).toEqual({ umask: null, seccomp: null });
  });
  it('refuses the template\'s mqueue mount and noexec /dev/shm by pointer', () => {
    expect(refusal(specTemplate())).toMatch(/^config\.json#\/mounts\/4: a mqueue mount on \/dev\/mqueue is not supported/);
    const c = structuredClone(specTemplate()) as any;
    c.mounts = c.mounts.filter((m: any) => !['/dev/mqueue', '/sys/fs/cgroup'].includes(m.destination));
    expect(refusal(c)).toMatch(/^config\.json#\/mounts\/3\/options: mount options noexec on \/dev\/shm are not supported/);
  });
  it('hands over umask and the seccomp policy', () => {
    const c = runnable();
    c.process.user.umask = 0o077;
    c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
    const a = apply(c);
    expect(a.umask).toBe(0o077);
    expect(a.seccomp?.defaultAction).toBe('SCMP_ACT_ALLOW');
  });
  it('a masked path the sandbox does not mask is refused', () => {
    const c = runnable();
    c.linux.maskedPaths.push('/proc/cpuinfo');
    expect(refusal(c)).toMatch(/^config\.json#\/linux\/maskedPaths\/10: \/proc\/cpuinfo/);
  });
  it('a read-only path: masked, under /sys or the sandbox\'s own are accepted; others refused', () => {
    const c = runnable();
    c.linux.readonlyPaths.push('/proc/kcore', '/sys/kernel', '/proc/sys/net');
    expect(() => apply(c)).not.toThrow();
    c.linux.readonlyPaths.push('/proc/meminfo');
    expect(refusal(c)).toMatch(/^config\.json#\/linux\/readonlyPaths\/8: /);
  });
  it.each([
    ['additionalGids', (c: any) => { c.process.user.additionalGids = [10]; }, '/process/user/additionalGids'],
    ['ambient caps', (c: any) => { c.process.capabilities.ambient = ['CAP_KILL']; }, '/process/capabilities/ambient'],
    ['root effective != bounding', (c: any) => { c.process.capabilities.effective = ['CAP_KILL']; }, '/process/capabilities/effective'],
    ['a soft rlimit', (c: any) => { c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 1024 }]; }, '/process/rlimits/0'],
    ['oomScoreAdj', (c: any) => { c.process.oomScoreAdj = 100; }, '/process/oomScoreAdj'],
    ['consoleSize', (c: any) => { c.process.consoleSize = { height: 24, width: 80 }; }, '/process/consoleSize'],
    ['domainname', (c: any) => { c.domainname = 'example.org'; }, '/domainname'],
    ['a namespace path', (c: any) => { c.linux.namespaces[1] = { type: 'network', path: '/proc/1/ns/net' }; }, '/linux/namespaces/1/path'],
    ['sysctl', (c: any) => { c.linux.sysctl = { 'net.ipv4.ip_forward': '1' }; }, '/linux/sysctl/net.ipv4.ip_forward'],
    ['cpu', (c: any) => { c.linux.resources.cpu = { shares: 512 }; }, '/linux/resources/cpu'],
    ['cgroupsPath', (c: any) => { c.linux.cgroupsPath = '/mine'; }, '/linux/cgroupsPath'],
    ['hooks', (c: any) => { c.hooks = { prestart: [{ path: '/bin/true' }] }; }, '/hooks/prestart'],
    ['a plain bind', (c: any) => { c.mounts.push({ destination: '/data', type: 'bind', source: '/tmp', options: ['bind'] }); }, '/mounts/5/options'],
  ])('%s is refused by pointer', (_what, edit, pointer) => {
    const c = runnable();
    edit(c);
    expect(refusal(c)).toMatch(new RegExp(`^config\\.json#${pointer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
  });
  it('a non-root user keeps no capabilities at exec, as under runc: effective sets are not compared', () => {
    const c = runnable();
    c.process.user = { uid: 1000, gid: 1000 };
    c.process.capabilities.effective = [];
    expect(() => apply(c)).not.toThrow();
  });
  it('podman\'s config is refused at its first unsupported field, not run with it dropped', () => {
    const podman = parseOciConfig(readFileSync(new URL('../oci/fixtures/podman-config.json', import.meta.url), 'utf8'));
    expect(() => applyExtras(podman, configToRun(podman, { bundle: '/b', rootPath: '/b/rootfs', host: aliceSubid }).extras, paths)).toThrow(/^config\.json#\//);
  });
});

describe('checkIdMappings', () => {
  const c = structuredClone(specTemplate({ rootless: { uid: 1000, gid: 1000 } })) as any;
  const { extras } = configToRun(c, { ...ctx, host: aliceSubid });
  it('accepts the sandbox\'s own map', () => {
    expect(() => checkIdMappings(extras, { uidMap: [{ inside: 0, outside: 1000, count: 1 }], gidMap: [{ inside: 0, outside: 1000, count: 1 }] })).not.toThrow();
  });
  it('refuses another map, naming the sandbox\'s', () => {
    expect(() => checkIdMappings(extras, {
      uidMap: [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 100000, count: 65536 }],
      gidMap: [{ inside: 0, outside: 1000, count: 1 }],
    })).toThrow(/^config\.json#\/linux\/uidMappings: .*0:1000:1 1:100000:65536/);
  });
  it('no mappings in the config: nothing to compare', () => {
    expect(() => checkIdMappings(configToRun(runnable(), ctx).extras, { uidMap: [], gidMap: [] })).not.toThrow();
  });
});
