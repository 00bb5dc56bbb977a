// resolvePolicy: a policy file resolved for one machine and one sandbox.
// Pure: no libseccomp, no host. Contexts are made up (x64 / arm64, a Debian
// 6.1 kernel); errno numbers are Linux's.
import { describe, expect, it } from 'vitest';
import type { SeccompPolicy, SeccompRule } from '../../../src/seccomp/policy.js';
import { archName, nativeArch, resolvePolicy, type FilterContext, type FilterPlan } from '../../../src/seccomp/resolve-policy.js';
import { refused } from '../support/fixtures.js';

const FILE = '/etc/sandbox/p.json';
const X64: FilterContext = { arch: 'x64', kernel: '6.1.0-13-amd64', network: false, caps: [] };
const ARM64: FilterContext = { arch: 'arm64', kernel: '6.1.0-13-arm64', network: false, caps: [] };

function plan(policy: Partial<SeccompPolicy>, ctx: FilterContext = X64): FilterPlan {
  return resolvePolicy({ defaultAction: 'SCMP_ACT_ERRNO', ...policy }, ctx, FILE);
}

/** The system calls of a one-rule policy that survive includes/excludes. */
function kept(rule: Partial<SeccompRule>, ctx: FilterContext = X64): string[] {
  return plan({ syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', ...rule }] }, ctx).rules.map((r) => r.syscall);
}

/** The action of the only rule of a one-rule policy. */
function ruleAction(rule: Partial<SeccompRule>, policy: Partial<SeccompPolicy> = {}) {
  const p = plan({ ...policy, syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO', ...rule }] });
  expect(p.rules).toHaveLength(1);
  return p.rules[0]!.action;
}

const X64_MAP = [
  { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
  { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
];

describe('nativeArch / archName', () => {
  it('maps Node arches to libseccomp and Go names', () => {
    expect(nativeArch('x64')).toEqual({ seccomp: 'x86_64', go: 'amd64' });
    expect(nativeArch('arm64')).toEqual({ seccomp: 'aarch64', go: 'arm64' });
    expect(nativeArch('ia32')).toEqual({ seccomp: 'x86', go: '386' });
  });

  it('an architecture without seccomp support is a host error', () => {
    const e = refused(() => nativeArch('sparc'), 'host');
    expect(e.message).toBe('no seccomp support for the sparc architecture');
    expect(() => plan({}, { ...X64, arch: 'sparc' })).toThrow('no seccomp support for the sparc architecture');
  });

  it('archName strips SCMP_ARCH_ and lower-cases', () => {
    expect(archName('SCMP_ARCH_X86_64')).toBe('x86_64');
    expect(archName('SCMP_ARCH_X32')).toBe('x32');
    expect(archName('SCMP_ARCH_AARCH64')).toBe('aarch64');
  });
});

describe('architectures and archMap', () => {
  it('neither: only the native architecture', () => {
    expect(plan({}).arches).toEqual(['x86_64']);
    expect(plan({ architectures: null, archMap: null }).arches).toEqual(['x86_64']);
    expect(plan({}, ARM64).arches).toEqual(['aarch64']);
  });

  it('archMap: the native entry with its compat arches, native first', () => {
    expect(plan({ archMap: X64_MAP }).arches).toEqual(['x86_64', 'x86', 'x32']);
    expect(plan({ archMap: X64_MAP }, ARM64).arches).toEqual(['aarch64', 'arm']);
  });

  it('archMap: an entry without subArchitectures gives only native', () => {
    expect(plan({ archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: null }] }).arches).toEqual(['x86_64']);
    expect(plan({ archMap: [{ architecture: 'SCMP_ARCH_X86_64' }] }).arches).toEqual(['x86_64']);
  });

  it('archMap without the native architecture gives only native', () => {
    expect(plan({ archMap: [{ architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] }] }).arches).toEqual(['x86_64']);
  });

  it('architectures: native moved first, duplicates dropped', () => {
    expect(plan({ architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_X86'] }).arches)
      .toEqual(['x86_64', 'x86', 'x32']);
  });

  it('architectures wins over archMap; an empty list falls back to archMap', () => {
    expect(plan({ architectures: ['SCMP_ARCH_X86_64'], archMap: X64_MAP }).arches).toEqual(['x86_64']);
    expect(plan({ architectures: [], archMap: X64_MAP }).arches).toEqual(['x86_64', 'x86', 'x32']);
  });

  it('architectures lacking the native one is a config error naming /architectures', () => {
    const e = refused(() => plan({ architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }), 'config');
    expect(e.message).toBe(`seccomp policy ${FILE} does not cover this machine's architecture (x86_64): /architectures`);
    expect(e.hint).toBe('add SCMP_ARCH_X86_64 to "architectures"');
  });

  it('the same policy covers arm64 only where it is native', () => {
    const e = refused(() => plan({ architectures: ['SCMP_ARCH_X86_64'] }, ARM64), 'config');
    expect(e.message).toContain('(aarch64): /architectures');
  });
});

describe('includes / excludes', () => {
  it('caps without capabilities held: includes never holds, excludes never triggers', () => {
    expect(kept({ includes: { caps: ['CAP_SYS_ADMIN'] } })).toEqual([]);
    expect(kept({ excludes: { caps: ['CAP_SYS_ADMIN'] } })).toEqual(['read']);
    // an empty list is no condition at all
    expect(kept({ includes: { caps: [] } })).toEqual(['read']);
  });

  it('caps against the capabilities held: includes needs all of them, excludes any; names with or without CAP_', () => {
    const held = { ...X64, caps: ['CAP_CHOWN', 'CAP_SYS_CHROOT'] };
    expect(kept({ includes: { caps: ['CAP_SYS_CHROOT'] } }, held)).toEqual(['read']);
    expect(kept({ includes: { caps: ['sys_chroot', 'CAP_CHOWN'] } }, held)).toEqual(['read']);
    expect(kept({ includes: { caps: ['CAP_SYS_CHROOT', 'CAP_SYS_ADMIN'] } }, held)).toEqual([]);
    expect(kept({ excludes: { caps: ['CAP_SYS_ADMIN', 'CAP_CHOWN'] } }, held)).toEqual([]);
    expect(kept({ excludes: { caps: ['CAP_SYS_ADMIN'] } }, held)).toEqual(['read']);
  });

  it('podman pairs (allow with the cap, deny without) keep the allow when the capability is held', () => {
    const p = plan({
      syscalls: [
        { names: ['chroot'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_CHROOT'] } },
        { names: ['chroot'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_CHROOT'] } },
      ],
    }, { ...X64, caps: ['CAP_SYS_CHROOT'] });
    expect(p.rules).toEqual([{ syscall: 'chroot', action: { kind: 'allow' }, args: [], pointer: `${FILE}#/syscalls/0/names/0` }]);
  });

  it('podman pairs (allow with the cap, deny without) keep only the denial', () => {
    const p = plan({
      syscalls: [
        { names: ['chroot'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_CHROOT'] } },
        { names: ['chroot'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_CHROOT'] } },
      ],
    });
    expect(p.rules).toEqual([{ syscall: 'chroot', action: { kind: 'errno', value: 1 }, args: [], pointer: `${FILE}#/syscalls/1/names/0` }]);
  });

  it('empty includes and excludes (podman writes {}) keep the rule', () => {
    expect(kept({ includes: {}, excludes: {} })).toEqual(['read']);
  });

  it('arches are Go names: amd64 on x64, arm64 on arm64', () => {
    expect(kept({ includes: { arches: ['amd64', 'x32'] } })).toEqual(['read']);
    expect(kept({ includes: { arches: ['x86_64'] } })).toEqual([]); // libseccomp's name is not Go's
    expect(kept({ includes: { arches: ['arm', 'arm64'] } })).toEqual([]);
    expect(kept({ includes: { arches: ['arm', 'arm64'] } }, ARM64)).toEqual(['read']);
    expect(kept({ excludes: { arches: ['amd64'] } })).toEqual([]);
    expect(kept({ excludes: { arches: ['arm64'] } })).toEqual(['read']);
  });

  it('minKernel compares MAJOR.MINOR of the running kernel', () => {
    expect(kept({ includes: { minKernel: '5.8' } })).toEqual(['read']);
    expect(kept({ includes: { minKernel: '6.1' } })).toEqual(['read']);
    expect(kept({ includes: { minKernel: '6.2' } })).toEqual([]);
    expect(kept({ includes: { minKernel: '7.0' } })).toEqual([]);
    expect(kept({ excludes: { minKernel: '5.8' } })).toEqual([]);
    expect(kept({ excludes: { minKernel: '6.2' } })).toEqual(['read']);
  });

  it('minKernel compares numbers, not strings', () => {
    expect(kept({ includes: { minKernel: '6.10' } }, { ...X64, kernel: '6.9.0-1-amd64' })).toEqual([]);
    expect(kept({ includes: { minKernel: '6.9' } }, { ...X64, kernel: '6.10.3' })).toEqual(['read']);
    expect(kept({ includes: { minKernel: '5.15' } }, { ...X64, kernel: '10.0.0' })).toEqual(['read']);
  });

  it('network: the rule holds for the matching sandbox only', () => {
    const withNet = { ...X64, network: true };
    expect(kept({ includes: { network: true } }, withNet)).toEqual(['read']);
    expect(kept({ includes: { network: true } }, X64)).toEqual([]);
    expect(kept({ includes: { network: false } }, X64)).toEqual(['read']);
    expect(kept({ includes: { network: false } }, withNet)).toEqual([]);
    expect(kept({ excludes: { network: true } }, withNet)).toEqual([]);
    expect(kept({ excludes: { network: true } }, X64)).toEqual(['read']);
    expect(kept({ excludes: { network: false } }, X64)).toEqual([]);
    expect(kept({ excludes: { network: false } }, withNet)).toEqual(['read']);
  });

  it('includes needs all of its conditions, excludes any of them', () => {
    expect(kept({ includes: { arches: ['amd64'], minKernel: '6.2' } })).toEqual([]);
    expect(kept({ includes: { arches: ['amd64'], minKernel: '5.8', network: false } })).toEqual(['read']);
    expect(kept({ excludes: { arches: ['arm64'], minKernel: '5.8' } })).toEqual([]);
    expect(kept({ excludes: { arches: ['arm64'], minKernel: '6.2', caps: ['CAP_SYS_ADMIN'] } })).toEqual(['read']);
  });
});

describe('errno values', () => {
  it('errnoRet first', () => {
    expect(ruleAction({ errnoRet: 13, errno: 'ENOENT' }, { defaultErrnoRet: 38, defaultErrno: 'EINVAL' })).toEqual({ kind: 'errno', value: 13 });
  });

  it('errnoRet 0 is a value, not absent', () => {
    expect(ruleAction({ errnoRet: 0, errno: 'ENOENT' })).toEqual({ kind: 'errno', value: 0 });
  });

  it('then the errno name', () => {
    expect(ruleAction({ errno: 'EACCES' }, { defaultErrnoRet: 38, defaultErrno: 'EINVAL' })).toEqual({ kind: 'errno', value: 13 });
  });

  it('then defaultErrnoRet', () => {
    expect(ruleAction({}, { defaultErrnoRet: 38, defaultErrno: 'EINVAL' })).toEqual({ kind: 'errno', value: 38 });
  });

  it('then the defaultErrno name', () => {
    expect(ruleAction({}, { defaultErrno: 'EINVAL' })).toEqual({ kind: 'errno', value: 22 });
  });

  it('then EPERM', () => {
    expect(ruleAction({})).toEqual({ kind: 'errno', value: 1 });
  });

  it('the default action follows defaultErrnoRet, defaultErrno, EPERM', () => {
    expect(plan({ defaultErrnoRet: 38, defaultErrno: 'EINVAL' }).defaultAction).toEqual({ kind: 'errno', value: 38 });
    expect(plan({ defaultErrno: 'ENOSYS' }).defaultAction).toEqual({ kind: 'errno', value: 38 });
    expect(plan({}).defaultAction).toEqual({ kind: 'errno', value: 1 });
  });

  it('an unknown errno name on a rule is a config error naming its pointer', () => {
    const e = refused(() => plan({ syscalls: [
      { names: ['read'], action: 'SCMP_ACT_ALLOW' },
      { names: ['mount'], action: 'SCMP_ACT_ERRNO', errno: 'ENOPE' },
    ] }), 'config');
    expect(e.message).toBe(`unknown errno "ENOPE" at ${FILE}#/syscalls/1/errno`);
  });

  it('an unknown defaultErrno is a config error naming /defaultErrno', () => {
    const e = refused(() => plan({ defaultErrno: 'EBOGUS' }), 'config');
    expect(e.message).toBe(`unknown errno "EBOGUS" at ${FILE}#/defaultErrno`);
  });

  it('SCMP_ACT_TRACE carries errnoRet as its message, else 0', () => {
    expect(ruleAction({ action: 'SCMP_ACT_TRACE', errnoRet: 7 })).toEqual({ kind: 'trace', value: 7 });
    expect(ruleAction({ action: 'SCMP_ACT_TRACE' }, { defaultErrnoRet: 38 })).toEqual({ kind: 'trace', value: 0 });
  });
});

describe('actions', () => {
  it.each([
    ['SCMP_ACT_KILL', { kind: 'kill-thread' }],
    ['SCMP_ACT_KILL_THREAD', { kind: 'kill-thread' }],
    ['SCMP_ACT_KILL_PROCESS', { kind: 'kill-process' }],
    ['SCMP_ACT_TRAP', { kind: 'trap' }],
    ['SCMP_ACT_LOG', { kind: 'log' }],
    ['SCMP_ACT_ALLOW', { kind: 'allow' }],
  ] as const)('%s → %o', (action, expected) => {
    expect(ruleAction({ action })).toEqual(expected);
    expect(plan({ defaultAction: action }).defaultAction).toEqual(expected);
  });

  it('SCMP_ACT_NOTIFY on a rule is refused with its pointer', () => {
    const e = refused(() => plan({ syscalls: [
      { names: ['read'], action: 'SCMP_ACT_ALLOW' },
      { names: ['mount'], action: 'SCMP_ACT_NOTIFY' },
    ] }), 'config');
    expect(e.message).toBe(`SCMP_ACT_NOTIFY at ${FILE}#/syscalls/1 needs a seccomp listener, which rootless-sandbox does not run`);
  });

  it('SCMP_ACT_NOTIFY as the default action is refused naming /defaultAction', () => {
    const e = refused(() => plan({ defaultAction: 'SCMP_ACT_NOTIFY' }), 'config');
    expect(e.message).toBe(`SCMP_ACT_NOTIFY at ${FILE}#/defaultAction needs a seccomp listener, which rootless-sandbox does not run`);
  });

  it('a NOTIFY rule excluded for this sandbox is not refused', () => {
    expect(kept({ action: 'SCMP_ACT_NOTIFY', includes: { caps: ['CAP_SYS_ADMIN'] } })).toEqual([]);
  });
});

describe('args', () => {
  it('a rule comparing one argument index twice is refused with its pointer', () => {
    const e = refused(() => plan({ syscalls: [
      { names: ['read'], action: 'SCMP_ACT_ALLOW' },
      { names: ['write'], action: 'SCMP_ACT_ALLOW' },
      { names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [
        { index: 1, value: 1, op: 'SCMP_CMP_GE' }, { index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 1, value: 9, op: 'SCMP_CMP_LE' },
      ] },
    ] }), 'config');
    expect(e.message).toBe(`seccomp policy rule ${FILE}#/syscalls/2/args compares one argument twice`);
  });

  it('args are passed through, one comparison per index', () => {
    const args = [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 2, value: 0xff, valueTwo: 0x10, op: 'SCMP_CMP_MASKED_EQ' }] as const;
    const p = plan({ syscalls: [{ names: ['socket', 'socketpair'], action: 'SCMP_ACT_ALLOW', args }] });
    expect(p.rules.map((r) => r.args)).toEqual([args, args]);
  });

  it('absent or null args are an empty list', () => {
    const p = plan({ syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: null }, { names: ['write'], action: 'SCMP_ACT_ALLOW' }] });
    expect(p.rules.map((r) => r.args)).toEqual([[], []]);
  });
});

describe('rules and pointers', () => {
  it('one rule per name, in file order, with FILE#/syscalls/N/names/K pointers', () => {
    const p = plan({ syscalls: [
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
      { names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
    ] });
    expect(p.rules).toEqual([
      { syscall: 'read', action: { kind: 'allow' }, args: [], pointer: `${FILE}#/syscalls/0/names/0` },
      { syscall: 'write', action: { kind: 'allow' }, args: [], pointer: `${FILE}#/syscalls/0/names/1` },
      { syscall: 'mount', action: { kind: 'errno', value: 13 }, args: [], pointer: `${FILE}#/syscalls/1/names/0` },
    ]);
  });

  it('pointers keep the file position when earlier rules are dropped', () => {
    const p = plan({ syscalls: [
      { names: ['a1'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['a2'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['s390x'] } },
      { names: ['a3'], action: 'SCMP_ACT_ALLOW', includes: { network: true } },
      { names: ['getppid', 'gettid'], action: 'SCMP_ACT_ALLOW' },
    ] });
    expect(p.rules.map((r) => [r.syscall, r.pointer])).toEqual([
      ['getppid', `${FILE}#/syscalls/3/names/0`],
      ['gettid', `${FILE}#/syscalls/3/names/1`],
    ]);
  });

  it('the old single `name` form, pointed at /name', () => {
    const p = plan({ syscalls: [{ name: 'chmod', action: 'SCMP_ACT_ALLOW' }] });
    expect(p.rules).toEqual([{ syscall: 'chmod', action: { kind: 'allow' }, args: [], pointer: `${FILE}#/syscalls/0/name` }]);
  });

  it('no syscalls (absent or null): no rules', () => {
    expect(plan({}).rules).toEqual([]);
    expect(plan({ syscalls: null }).rules).toEqual([]);
    expect(plan({ syscalls: [{ names: [], action: 'SCMP_ACT_ALLOW' }] }).rules).toEqual([]);
  });
});

describe('flags', () => {
  it('map to seccomp(2) flag bits', () => {
    expect(plan({}).flags).toBe(0);
    expect(plan({ flags: null }).flags).toBe(0);
    expect(plan({ flags: ['SECCOMP_FILTER_FLAG_TSYNC'] }).flags).toBe(1);
    expect(plan({ flags: ['SECCOMP_FILTER_FLAG_LOG'] }).flags).toBe(2);
    expect(plan({ flags: ['SECCOMP_FILTER_FLAG_SPEC_ALLOW'] }).flags).toBe(4);
    expect(plan({ flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] }).flags).toBe(32);
    expect(plan({ flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'] }).flags).toBe(6);
    expect(plan({ flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_LOG'] }).flags).toBe(2);
  });
});
