// compileFilter: plans compiled to BPF by the real libseccomp (through koffi)
// for this machine; splitOverlay (pure): which conditional rules need the
// second, stacked program. Loading filters is left to the integration tests.
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { describe, expect, it } from 'vitest';
import { actionValue, compileFilter, splitOverlay } from '../../../src/seccomp/compile-filter.js';
import { resolveSyscall } from '../../../src/seccomp/libseccomp.js';
import { listBuiltinPolicies, loadPolicy } from '../../../src/seccomp/load-policy.js';
import type { SeccompArg, SeccompPolicy } from '../../../src/seccomp/policy.js';
import { resolvePolicy, type FilterAction, type FilterContext, type FilterPlan, type FilterRule } from '../../../src/seccomp/resolve-policy.js';
import { refused } from '../support/fixtures.js';

const FILE = '/etc/sandbox/tiny.json';
/** compileFilter uses libseccomp's native architecture: plans are for this machine. */
const HERE: FilterContext = { arch: process.arch, kernel: release(), network: false, caps: [] };
/** AUDIT_ARCH_* of this machine, what the arch check compares seccomp_data.arch with. */
const AUDIT_ARCH: number | undefined = ({ x64: 0xc000003e, arm64: 0xc00000b7 } as Record<string, number>)[process.arch];

const TIOCSTI = 0x5412;
const ALLOW: FilterAction = { kind: 'allow' };
const EPERM: FilterAction = { kind: 'errno', value: 1 };

interface Insn { code: number; jt: number; jf: number; k: number }

/** struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; } in host (little-endian) order. */
function decode(program: Buffer): Insn[] {
  const out: Insn[] = [];
  for (let off = 0; off < program.length; off += 8) {
    out.push({ code: program.readUInt16LE(off), jt: program[off + 2]!, jf: program[off + 3]!, k: program.readUInt32LE(off + 4) });
  }
  return out;
}
const BPF_RET_K = 0x06;
const BPF_JEQ_K = 0x15;
const returns = (p: Buffer) => new Set(decode(p).filter((i) => i.code === BPF_RET_K).map((i) => i.k));
const compared = (p: Buffer) => new Set(decode(p).filter((i) => i.code === BPF_JEQ_K).map((i) => i.k));

function plan(policy: Partial<SeccompPolicy>): FilterPlan {
  return resolvePolicy({ defaultAction: 'SCMP_ACT_ERRNO', ...policy }, HERE, FILE);
}

const TINY = plan({ syscalls: [{ names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' }] });

/** ioctl allowed, except TIOCSTI (a conditional denial libseccomp would drop). */
const IOCTL_POLICY: Partial<SeccompPolicy> = {
  defaultAction: 'SCMP_ACT_KILL_PROCESS',
  syscalls: [
    { names: ['ioctl', 'exit_group'], action: 'SCMP_ACT_ALLOW' },
    { names: ['ioctl'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 1, value: TIOCSTI, op: 'SCMP_CMP_EQ' }] },
  ],
};

function rule(syscall: string, action: FilterAction, args: readonly SeccompArg[] = [], n = 0): FilterRule {
  return { syscall, action, args, pointer: `${FILE}#/syscalls/${n}/names/0` };
}
const TIOCSTI_ARG: SeccompArg[] = [{ index: 1, value: TIOCSTI, op: 'SCMP_CMP_EQ' }];

describe('splitOverlay', () => {
  it('unconditional ALLOW + conditional ERRNO: the ERRNO rule goes to the overlay', () => {
    const allow = rule('ioctl', ALLOW, [], 0);
    const deny = rule('ioctl', EPERM, TIOCSTI_ARG, 1);
    expect(splitOverlay([allow, deny])).toEqual({ main: [allow], overlay: [deny], shadowed: [] });
  });

  it('the order of the two rules does not matter', () => {
    const allow = rule('ioctl', ALLOW, [], 1);
    const deny = rule('ioctl', EPERM, TIOCSTI_ARG, 0);
    expect(splitOverlay([deny, allow])).toEqual({ main: [allow], overlay: [deny], shadowed: [] });
  });

  it('conditional ALLOW with unconditional ERRNO stays in main, reported as shadowed', () => {
    const deny = rule('ioctl', EPERM, [], 0);
    const allow = rule('ioctl', ALLOW, TIOCSTI_ARG, 1);
    expect(splitOverlay([deny, allow])).toEqual({ main: [deny, allow], overlay: [], shadowed: [allow] });
  });

  it('no unconditional rule: everything in main', () => {
    const rules = [rule('ioctl', ALLOW, [{ index: 1, value: 0x5401, op: 'SCMP_CMP_EQ' }], 0), rule('ioctl', EPERM, TIOCSTI_ARG, 1), rule('read', ALLOW, [], 2)];
    expect(splitOverlay(rules)).toEqual({ main: rules, overlay: [], shadowed: [] });
  });

  it('an unconditional rule only affects its own system call', () => {
    const rules = [rule('read', ALLOW), rule('ioctl', EPERM, TIOCSTI_ARG, 1)];
    expect(splitOverlay(rules)).toEqual({ main: rules, overlay: [], shadowed: [] });
  });

  it('stricter means the kernel precedence: KILL_PROCESS beats ERRNO, equal kinds stay', () => {
    const errno = rule('ptrace', { kind: 'errno', value: 13 }, [], 0);
    const kill = rule('ptrace', { kind: 'kill-process' }, [{ index: 0, value: 16, op: 'SCMP_CMP_EQ' }], 1);
    const otherErrno = rule('ptrace', { kind: 'errno', value: 22 }, [{ index: 0, value: 17, op: 'SCMP_CMP_EQ' }], 2);
    const log = rule('ptrace', { kind: 'log' }, [{ index: 0, value: 18, op: 'SCMP_CMP_EQ' }], 3);
    expect(splitOverlay([errno, kill, otherErrno, log])).toEqual({ main: [errno, otherErrno, log], overlay: [kill], shadowed: [log] });
  });

  it('the first unconditional rule of a call decides (as in libseccomp)', () => {
    const first = rule('ioctl', EPERM, [], 0);
    const second = rule('ioctl', ALLOW, [], 1);
    const deny = rule('ioctl', { kind: 'errno', value: 25 }, TIOCSTI_ARG, 2);
    expect(splitOverlay([first, second, deny])).toEqual({ main: [first, second, deny], overlay: [], shadowed: [] });
  });
});

describe('actionValue', () => {
  it('gives libseccomp SCMP_ACT_* values', () => {
    expect(actionValue({ kind: 'allow' })).toBe(0x7fff0000);
    expect(actionValue({ kind: 'log' })).toBe(0x7ffc0000);
    expect(actionValue({ kind: 'trap' })).toBe(0x00030000);
    expect(actionValue({ kind: 'kill-thread' })).toBe(0);
    expect(actionValue({ kind: 'kill-process' })).toBe(0x80000000);
    expect(actionValue({ kind: 'errno', value: 1 })).toBe(0x00050001);
    expect(actionValue({ kind: 'errno', value: 38 })).toBe(0x00050026);
    expect(actionValue({ kind: 'trace', value: 5 })).toBe(0x7ff00005);
  });
});

describe('compileFilter (libseccomp)', () => {
  it('a tiny policy gives one program of whole sock_filter instructions', () => {
    const c = compileFilter(TINY, FILE);
    expect(c.programs).toHaveLength(1);
    const p = c.programs[0]!;
    expect(p.length).toBeGreaterThan(0);
    expect(p.length % 8).toBe(0);
    expect(c.ruleCount).toBe(3);
    expect(c.skipped).toEqual([]);
    expect(c.flags).toBe(0);
  });

  it('the first instruction loads seccomp_data.arch (BPF_LD|BPF_W|BPF_ABS, offset 4)', () => {
    const first = decode(compileFilter(TINY, FILE).programs[0]!)[0];
    expect(first).toEqual({ code: 0x20, jt: 0, jf: 0, k: 4 });
  });

  it.skipIf(AUDIT_ARCH === undefined)('the second compares it with this machine\'s AUDIT_ARCH', () => {
    const second = decode(compileFilter(TINY, FILE).programs[0]!)[1]!;
    expect(second.code).toBe(BPF_JEQ_K);
    expect(second.k).toBe(AUDIT_ARCH);
  });

  it('returns exactly: allow, the default ERRNO(EPERM), KILL_PROCESS for a foreign arch', () => {
    const p = compileFilter(TINY, FILE).programs[0]!;
    expect(returns(p)).toEqual(new Set([0x7fff0000, 0x00050001, 0x80000000]));
    const nrs = ['read', 'write', 'exit_group'].map(resolveSyscall);
    for (const nr of nrs) expect(compared(p)).toContain(nr);
  });

  it('flags are passed through', () => {
    expect(compileFilter(plan({ flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'] }), FILE).flags).toBe(6);
  });

  it('a rule with the default action is left out instead of refused', () => {
    const withRedundant = plan({ syscalls: [
      { names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' },
      { names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    ] });
    const c = compileFilter(withRedundant, FILE);
    expect(c.ruleCount).toBe(4);
    expect(c.programs[0]!.equals(compileFilter(TINY, FILE).programs[0]!)).toBe(true);
  });

  it('the same plan compiles to the same bytes', () => {
    expect(compileFilter(TINY, FILE).programs[0]!.equals(compileFilter(TINY, FILE).programs[0]!)).toBe(true);
  });

  it('allow ioctl + deny ioctl TIOCSTI gives two programs: main, then the overlay', () => {
    const c = compileFilter(plan(IOCTL_POLICY), FILE);
    expect(c.programs).toHaveLength(2);
    expect(c.ruleCount).toBe(3);
    for (const p of c.programs) expect(p.length % 8).toBe(0);
    const [main, overlay] = c.programs as [Buffer, Buffer];
    // main: allow or kill, no errno anywhere (libseccomp would have dropped it)
    expect(returns(main)).toEqual(new Set([0x7fff0000, 0x80000000]));
    // overlay: default allow (also for a foreign arch), EPERM for TIOCSTI
    expect(returns(overlay)).toEqual(new Set([0x7fff0000, 0x00050001]));
    expect(compared(overlay)).toContain(TIOCSTI);
    expect(compared(overlay)).toContain(resolveSyscall('ioctl'));
    expect(decode(overlay)[0]).toEqual({ code: 0x20, jt: 0, jf: 0, k: 4 });
  });

  it('the overlay in PFC: default ALLOW, ERRNO(1) on the TIOCSTI argument', () => {
    const [main, overlay] = compileFilter(plan(IOCTL_POLICY), FILE, 'pfc').programs.map(String) as [string, string];
    expect(main).not.toContain('ERRNO');
    expect(main).toContain('action KILL_PROCESS;');
    expect(overlay).toContain(`${TIOCSTI}`);
    expect(overlay).toContain('action ERRNO(1);');
    expect(overlay).toMatch(/# default action\n\s+action ALLOW;/);
    expect(overlay).toMatch(/# invalid architecture action\naction ALLOW;/);
  });

  it('an unknown system call is a config error naming the file and the pointer', () => {
    const p = plan({ syscalls: [{ names: ['getppid', 'getppidd'], action: 'SCMP_ACT_ALLOW' }] });
    const e = refused(() => compileFilter(p, FILE), 'config');
    expect(e.message).toBe(`unknown system call "getppidd" in seccomp policy ${FILE} at ${FILE}#/syscalls/0/names/1`);
    expect(e.message).toContain(FILE);
    expect(e.message).toContain('#/syscalls/0/names/1');
  });

  it('a real system call newer than this libseccomp is skipped, not refused', () => {
    // Debian's 2.5.4 has a newer syscall table than upstream 2.5.4: take the first it cannot name
    const newer = ['cachestat', 'fchmodat2', 'statmount', 'listmount', 'mseal', 'lsm_get_self_attr'].find((n) => resolveSyscall(n) === -1);
    expect(newer, 'every candidate is known to this libseccomp').toBeDefined();
    expect(resolveSyscall(newer!)).toBe(-1);
    const p = plan({ syscalls: [{ names: ['read', newer!, 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' }] });
    const c = compileFilter(p, FILE);
    expect(c.skipped).toEqual([{ syscall: newer, pointer: `${FILE}#/syscalls/0/names/1` }]);
    expect(c.ruleCount).toBe(3);
    expect(c.programs).toHaveLength(1);
    expect(c.programs[0]!.equals(compileFilter(TINY, FILE).programs[0]!)).toBe(true);
  });

  it('resolveSyscall: -1 for a typo, the native number for a real call', () => {
    expect(resolveSyscall('getppidd')).toBe(-1);
    if (process.arch === 'x64') {
      expect(resolveSyscall('read')).toBe(0);
      expect(resolveSyscall('exit_group')).toBe(231);
    }
  });

  it('format "pfc" gives libseccomp\'s pseudo filter code', () => {
    const c = compileFilter(TINY, FILE, 'pfc');
    expect(c.programs).toHaveLength(1);
    const text = c.programs[0]!.toString('utf8');
    expect(text).toContain('pseudo filter code start');
    expect(text).toContain('action ALLOW;');
    expect(text).toContain('action ERRNO(1);');
    expect(text).toMatch(/# invalid architecture action\naction KILL_PROCESS;/);
  });

  it.skipIf(process.arch !== 'x64')('archMap compat arches are filtered too (x86, x32)', () => {
    const p = plan({
      archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }],
      syscalls: [{ names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' }],
    });
    const text = compileFilter(p, FILE, 'pfc').programs[0]!.toString();
    expect(text).toContain('# filter for arch x86_64 (3221225534)');
    expect(text).toContain('# filter for arch x86 (1073741827)');
    expect(text).toContain('# filter for arch x32 (3221225534)');
    expect(compileFilter(p, FILE).programs[0]!.length).toBeGreaterThan(compileFilter(TINY, FILE).programs[0]!.length);
  });

  it('the binary-tree optimisation is on for a longer allow-list', () => {
    const names = [
      'read', 'write', 'open', 'close', 'stat', 'fstat', 'lstat', 'poll', 'lseek', 'mmap', 'mprotect', 'munmap', 'brk',
      'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'ioctl', 'pread64', 'pwrite64', 'readv', 'writev', 'access',
      'pipe', 'select', 'sched_yield', 'mremap', 'msync', 'mincore', 'madvise', 'dup', 'dup2', 'pause', 'nanosleep',
      'getitimer', 'alarm', 'setitimer', 'getpid', 'sendfile', 'socket', 'exit_group',
    ].filter((n) => resolveSyscall(n) >= 0); // some are x86-only
    expect(names.length).toBeGreaterThanOrEqual(30);
    const text = compileFilter(plan({ syscalls: [{ names, action: 'SCMP_ACT_ALLOW' }] }), FILE, 'pfc').programs[0]!.toString();
    expect(text).toContain('if ($syscall >');
  });
});

describe('whole policies', () => {
  it('every shipped policy resolves and compiles for this machine', () => {
    const names = listBuiltinPolicies();
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const loaded = loadPolicy(name);
      const c = compileFilter(resolvePolicy(loaded.policy, HERE, loaded.file), loaded.file);
      expect(c.programs.length, name).toBeGreaterThanOrEqual(1);
      for (const p of c.programs) expect(p.length % 8, name).toBe(0);
    }
  });

  const PODMAN = '/usr/share/containers/seccomp.json';
  if (!existsSync(PODMAN)) console.warn(`podman policy compile test skipped: ${PODMAN} is missing (Debian: golang-github-containers-common)`);
  it.skipIf(!existsSync(PODMAN))('podman\'s seccomp.json compiles, with and without network', () => {
    const loaded = loadPolicy(PODMAN);
    for (const network of [false, true]) {
      const c = compileFilter(resolvePolicy(loaded.policy, { ...HERE, network }, loaded.file), loaded.file);
      expect(c.programs).toHaveLength(1);
      expect(c.programs[0]!.length % 8).toBe(0);
      expect(c.ruleCount).toBeGreaterThan(300);
    }
  });
});
