// `sandbox-oci spec` and `features`: the template is valid, the translator
// takes it (as root, and --rootless as an unprivileged caller), and the
// features document claims only what the translator accepts.
import { describe, expect, it } from 'vitest';
import { configToRun, MOUNT_OPTIONS } from '../../../src/oci/config-to-run.js';
import { ociFeatures, OCI_VERSION } from '../../../src/oci/features.js';
import { parseOciConfig } from '../../../src/oci/read-bundle.js';
import { specTemplate } from '../../../src/oci/spec-template.js';
import { aliceNoRange, aliceSubid, refused, rootNoRange, rootSubid } from '../support/fixtures.js';

const ctx = { bundle: '/b', rootPath: '/b/rootfs' };
const roundTrip = (c: unknown) => parseOciConfig(JSON.stringify(c));

describe('spec template', () => {
  it('passes the schema and the translator as root (with or without a range)', () => {
    for (const host of [rootSubid, rootNoRange]) {
      const { options, extras } = configToRun(roundTrip(specTemplate()), { ...ctx, host });
      expect(options).toMatchObject({
        image: 'dir:/b/rootfs', command: ['sh'], workdir: '/', readOnly: true, tty: true, network: 'none', hostname: 'sandbox',
        capDrop: ['ALL'], capAdd: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'], noNewPrivileges: true,
        limits: { nofile: 1024 }, seccomp: 'unconfined', tmpfs: [{ path: '/dev/shm', size: '65536k', mode: '1777' }], volumes: [],
      });
      expect(extras.addedNamespaces).toEqual(['user']);
      expect(extras.kernelMounts.map((m) => m.destination)).toEqual(['/dev/mqueue', '/sys/fs/cgroup']);
    }
  });

  it('--rootless maps the caller\'s own ids and passes as that caller', () => {
    const c = roundTrip(specTemplate({ rootless: { uid: 1000, gid: 1000 } }));
    for (const host of [aliceSubid, aliceNoRange]) {
      const { extras } = configToRun(c, { ...ctx, host });
      expect(extras.idMappings).toEqual({ uid: [{ containerID: 0, hostID: 1000, size: 1 }], gid: [{ containerID: 0, hostID: 1000, size: 1 }] });
      expect(extras.addedNamespaces).toEqual([]);
    }
    expect(c.mounts?.find((m) => m.type === 'devpts')?.options).not.toContain('gid=5');
    expect(c.linux?.resources).toBeUndefined();
  });

  it('without --rootless, an unprivileged caller is told to use it', () => {
    const err = refused(() => configToRun(roundTrip(specTemplate()), { ...ctx, host: aliceSubid }), 'config');
    expect(err.message).toMatch(/^config\.json#\/linux\/namespaces: no user namespace/);
    expect(err.hint).toMatch(/--rootless/);
  });
});

describe('features', () => {
  const f = ociFeatures('1.2.3');

  it('covers the template\'s version, namespaces and mount options', () => {
    expect(f.ociVersionMax).toBe(OCI_VERSION);
    expect(specTemplate().ociVersion).toBe(OCI_VERSION);
    const types = specTemplate({ rootless: { uid: 1, gid: 1 } }).linux!.namespaces!.map((n) => n.type);
    expect(f.linux.namespaces).toEqual(expect.arrayContaining(types));
    const options = specTemplate().mounts!.flatMap((m) => m.options ?? []).map((o) => o.split('=')[0]);
    expect(MOUNT_OPTIONS).toEqual(expect.arrayContaining(options));
  });

  it('claims nothing the translator refuses', () => {
    expect(f.linux.namespaces).not.toContain('time');
    expect(f.linux.seccomp.actions).not.toContain('SCMP_ACT_NOTIFY');
    expect(f.linux.seccomp.actions).toContain('SCMP_ACT_ERRNO');
    expect(f.linux.seccomp.operators).toContain('SCMP_CMP_MASKED_EQ');
    expect(f.linux.apparmor.enabled).toBe(false);
    expect(f.linux.selinux.enabled).toBe(false);
    expect(f.linux.mountExtensions.idmap.enabled).toBe(false);
    expect(f.linux.capabilities).toContain('CAP_CHECKPOINT_RESTORE');
    expect(f.annotations).toEqual({ 'dev.rootless-sandbox.version': '1.2.3' });
  });
});
