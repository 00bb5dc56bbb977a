// Regression tests for bugs found in review (one case each).
import { describe, expect, it } from 'vitest';
import { planIdMap } from '../../src/idmap/plan-idmap.js';
import { generatedEtcFiles } from '../../src/rootfs/generated-etc.js';
import { planRootfs } from '../../src/rootfs/plan-rootfs.js';
import { Op } from '../../src/stage/protocol.js';
import { aliceSubid, caught, fakeLayout, resolve } from './support/fixtures.js';

describe('review regressions', () => {
  it('a gid outside the range is reported with the gid map\'s range', () => {
    const host = { ...aliceSubid, subgid: { start: 300000, count: 1000 } };
    expect(() => planIdMap(host, { uid: 0, gid: 5000 })).toThrow('gid 5000 does not exist inside the sandbox (-u): ids 0-1000 are mapped');
  });

  it('/etc/group has one root group whatever the user', () => {
    const spec = resolve({ user: '0:1000' });
    const group = generatedEtcFiles(spec).find((f) => f.path === '/etc/group')!.content;
    expect(group.split('\n').filter((l) => l.startsWith('root:'))).toEqual(['root:x:0:']);
    expect(group).toContain('sandbox:x:1000:');
  });

  it('NUL bytes in the command or the environment are usage errors naming them', () => {
    expect(caught(() => resolve({ command: ['/bin/echo', 'a\0b'] }))).toMatchObject({ code: 'usage', message: 'argument 1 of the command contains a NUL byte' });
    expect(caught(() => resolve({ env: { A: 'x\0y' } }))).toMatchObject({ code: 'usage', message: 'environment variable A contains a NUL byte' });
  });

  it('env map keys with "=" are refused, not re-split', () => {
    expect(caught(() => resolve({ env: { 'A=B': 'c' } }))).toMatchObject({ code: 'usage' });
  });

  it('the spec is frozen all the way down and the caller\'s layout is left alone', () => {
    const layout = fakeLayout();
    const spec = resolve({}, { layout });
    expect(Object.isFrozen(spec.image.layout.rootEntries)).toBe(true);
    expect(Object.isFrozen(layout)).toBe(false);
  });

  it('no home directory is created inside a host volume', () => {
    const spec = resolve({ volumes: ['/src:/home'], user: '1000' });
    const mkdirs = planRootfs(spec).filter((o) => o.code === Op.MKDIR).map((o) => o.strs[0]);
    expect(mkdirs).not.toContain('/newroot/home/sandbox');
  });
});

describe('seccomp review regressions', () => {
  const ctx = { arch: 'x64', kernel: '6.1.0', network: false };
  const file = '/p/policy.json';

  it('an architecture libseccomp does not know is a config error, not an internal one', async () => {
    const { compileFilter } = await import('../../src/seccomp/compile-filter.js');
    const { resolvePolicy } = await import('../../src/seccomp/resolve-policy.js');
    const plan = resolvePolicy({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_FOO'] }, ctx, file);
    expect(caught(() => compileFilter(plan, file))).toMatchObject({ code: 'config', message: expect.stringContaining('does not know the architecture "foo"') });
  });

  it('an errno above 4095 is refused instead of wrapping to success', async () => {
    const { resolvePolicy } = await import('../../src/seccomp/resolve-policy.js');
    const policy = { defaultAction: 'SCMP_ACT_ALLOW' as const, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO' as const, errnoRet: 65536 }] };
    expect(caught(() => resolvePolicy(policy, ctx, file))).toMatchObject({ code: 'config', message: `errno 65536 at ${file}#/syscalls/0 is out of range` });
  });

  it('minKernel must be MAJOR.MINOR exactly', async () => {
    const { parsePolicy } = await import('../../src/seccomp/load-policy.js');
    const text = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '6.1-rc1' } }] });
    expect(caught(() => parsePolicy(text, file)).message).toContain('/syscalls/0/includes/minKernel');
  });

  it('"name" and "names" in one rule are refused', async () => {
    const { resolvePolicy } = await import('../../src/seccomp/resolve-policy.js');
    const policy = { defaultAction: 'SCMP_ACT_ALLOW' as const, syscalls: [{ names: ['read'], name: 'write', action: 'SCMP_ACT_ERRNO' as const }] };
    expect(caught(() => resolvePolicy(policy, ctx, file))).toMatchObject({ code: 'config', message: expect.stringContaining('has both "name" and "names"') });
  });
});
