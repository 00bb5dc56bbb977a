// Turns a policy into a flat filter plan for one machine and one sandbox:
// picks the architectures (architectures or Docker's archMap), applies
// includes/excludes (the capabilities the workload holds, as Docker reads
// them: includes needs all, excludes any; arches; kernel version; network),
// and names every errno. Pure.
import { constants } from 'node:os';
import { SandboxError } from '../errors.js';
import type { SeccompAction, SeccompArg, SeccompCondition, SeccompPolicy } from './policy.js';

export type FilterAction =
  | { readonly kind: 'allow' | 'log' | 'trap' | 'kill-thread' | 'kill-process' }
  | { readonly kind: 'errno' | 'trace'; readonly value: number };

export interface FilterRule {
  readonly syscall: string;
  readonly action: FilterAction;
  readonly args: readonly SeccompArg[];
  /** JSON pointer of the rule, for messages ("/syscalls/3/names/2"). */
  readonly pointer: string;
}

export interface FilterPlan {
  readonly defaultAction: FilterAction;
  /** libseccomp architecture names ("x86_64"), native first. */
  readonly arches: readonly string[];
  /** seccomp(2) flags. */
  readonly flags: number;
  readonly rules: readonly FilterRule[];
}

export interface FilterContext {
  /** Node's process.arch. */
  readonly arch: string;
  /** "6.1.0-13-amd64": MAJOR.MINOR is what minKernel compares. */
  readonly kernel: string;
  /** Whether the sandbox has a network besides lo. */
  readonly network: boolean;
  /** The workload's capabilities ("CAP_CHOWN", ...): its bounding set. */
  readonly caps: readonly string[];
}

/** Node arch → [libseccomp native arch, Go arch name used by Docker's includes.arches]. */
const ARCHES: Record<string, [string, string]> = {
  x64: ['x86_64', 'amd64'], arm64: ['aarch64', 'arm64'], ia32: ['x86', '386'], arm: ['arm', 'arm'],
  ppc64: ['ppc64le', 'ppc64le'], s390x: ['s390x', 's390x'], riscv64: ['riscv64', 'riscv64'],
  loong64: ['loongarch64', 'loong64'], mips: ['mips', 'mips'], mipsel: ['mipsel', 'mipsle'],
};

const FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1, SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
};

export function nativeArch(arch: string): { seccomp: string; go: string } {
  const a = ARCHES[arch];
  if (!a) throw new SandboxError('host', `no seccomp support for the ${arch} architecture`, 'run on x86_64 or aarch64, or use --security-opt seccomp=unconfined where the profile allows it');
  return { seccomp: a[0], go: a[1] };
}

/** "SCMP_ARCH_X86_64" → "x86_64". */
export function archName(scmp: string): string {
  return scmp.replace(/^SCMP_ARCH_/, '').toLowerCase();
}

function errnoValue(name: string, where: string): number {
  const value = (constants.errno as Record<string, number>)[name];
  if (value === undefined) throw new SandboxError('config', `unknown errno "${name}" at ${where}`, 'use a name such as EPERM, ENOSYS or EACCES');
  return value;
}

function kernelAtLeast(kernel: string, min: string): boolean {
  const [a = 0, b = 0] = kernel.split(/[.-]/).map(Number);
  const [c = 0, d = 0] = min.split('.').map(Number);
  return a > c || (a === c && b >= d);
}

function conditionHolds(c: SeccompCondition, ctx: FilterContext, mode: 'all' | 'any'): boolean {
  const go = nativeArch(ctx.arch).go;
  const checks: boolean[] = [];
  if (c.caps && c.caps.length > 0) {
    const held = c.caps.map((name) => ctx.caps.includes(capName(name)));
    // includes: every one of them held; excludes: any one of them
    checks.push(mode === 'all' ? held.every(Boolean) : held.some(Boolean));
  }
  if (c.arches && c.arches.length > 0) checks.push(c.arches.includes(go));
  if (c.minKernel !== undefined) checks.push(kernelAtLeast(ctx.kernel, c.minKernel));
  if (c.network !== undefined) checks.push(c.network === ctx.network);
  return mode === 'all' ? checks.every(Boolean) : checks.some(Boolean);
}

/** "sys_admin", "CAP_SYS_ADMIN" → "CAP_SYS_ADMIN". */
const capName = (name: string) => (name.toUpperCase().startsWith('CAP_') ? name.toUpperCase() : `CAP_${name.toUpperCase()}`);

function toAction(action: SeccompAction, errnoRet: number | undefined, errno: string | undefined, fallbackErrno: number, where: string): FilterAction {
  switch (action) {
    case 'SCMP_ACT_ALLOW': return { kind: 'allow' };
    case 'SCMP_ACT_LOG': return { kind: 'log' };
    case 'SCMP_ACT_TRAP': return { kind: 'trap' };
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD': return { kind: 'kill-thread' };
    case 'SCMP_ACT_KILL_PROCESS': return { kind: 'kill-process' };
    case 'SCMP_ACT_ERRNO': {
      const value = errnoRet ?? (errno ? errnoValue(errno, `${where}/errno`) : fallbackErrno);
      // the kernel caps errno at 4095, and libseccomp keeps only 16 bits: 65536 would be "success"
      if (value > 4095) throw new SandboxError('config', `errno ${value} at ${where} is out of range`, 'use an errno between 0 and 4095 (e.g. 1 for EPERM, 38 for ENOSYS)');
      return { kind: 'errno', value };
    }
    case 'SCMP_ACT_TRACE':
      if ((errnoRet ?? 0) > 0xffff) throw new SandboxError('config', `trace message ${errnoRet} at ${where} is out of range`, 'use a value between 0 and 65535');
      return { kind: 'trace', value: errnoRet ?? 0 };
    case 'SCMP_ACT_NOTIFY':
      throw new SandboxError('config', `SCMP_ACT_NOTIFY at ${where} needs a seccomp listener, which rootless-sandbox does not run`,
        'use SCMP_ACT_ERRNO or SCMP_ACT_KILL_PROCESS instead');
  }
}

function pickArches(policy: SeccompPolicy, native: string, file: string): string[] {
  let arches: string[];
  if (policy.architectures && policy.architectures.length > 0) {
    arches = policy.architectures.map(archName);
  } else {
    const entry = (policy.archMap ?? []).find((e) => archName(e.architecture) === native);
    arches = entry ? [native, ...(entry.subArchitectures ?? []).map(archName)] : [native];
  }
  if (!arches.includes(native)) {
    throw new SandboxError('config', `seccomp policy ${file} does not cover this machine's architecture (${native}): /architectures`,
      `add SCMP_ARCH_${native.toUpperCase()} to "architectures"`);
  }
  return [native, ...new Set(arches.filter((a) => a !== native))];
}

export function resolvePolicy(policy: SeccompPolicy, ctx: FilterContext, file: string): FilterPlan {
  const native = nativeArch(ctx.arch).seccomp;
  const fallbackErrno = policy.defaultErrnoRet ?? (policy.defaultErrno ? errnoValue(policy.defaultErrno, `${file}#/defaultErrno`) : constants.errno.EPERM);
  const flags = (policy.flags ?? []).reduce((acc, f) => acc | (FLAGS[f] ?? 0), 0);
  const rules: FilterRule[] = [];
  (policy.syscalls ?? []).forEach((rule, i) => {
    const where = `${file}#/syscalls/${i}`;
    if (rule.includes && !conditionHolds(rule.includes, ctx, 'all')) return;
    if (rule.excludes && conditionHolds(rule.excludes, ctx, 'any')) return;
    const args = rule.args ?? [];
    const indexes = args.map((a) => a.index);
    if (new Set(indexes).size !== indexes.length) {
      throw new SandboxError('config', `seccomp policy rule ${where}/args compares one argument twice`,
        'libseccomp allows one comparison per argument in a rule: split it into two rules');
    }
    if (rule.names && rule.name !== undefined) {
      throw new SandboxError('config', `seccomp policy rule ${where} has both "name" and "names"`, 'keep "names" and move the old "name" into it');
    }
    const action = toAction(rule.action, rule.errnoRet, rule.errno, fallbackErrno, where);
    const names = rule.names ?? (rule.name ? [rule.name] : []);
    names.forEach((syscall, k) => rules.push({
      syscall, action, args, pointer: `${where}/${rule.names ? `names/${k}` : 'name'}`,
    }));
  });
  return {
    defaultAction: toAction(policy.defaultAction, policy.defaultErrnoRet, policy.defaultErrno, fallbackErrno, `${file}#/defaultAction`),
    arches: pickArches(policy, native, file),
    flags,
    rules,
  };
}
