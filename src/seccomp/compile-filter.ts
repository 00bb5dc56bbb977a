// Compiles a filter plan to BPF with libseccomp.
//
// libseccomp keeps one decision per system call: an unconditional rule makes
// it drop any conditional rule for the same call with another action
// ("allow ioctl" + "EPERM for ioctl TIOCSTI" silently becomes "allow ioctl").
// The kernel runs every stacked filter and the most restrictive answer wins,
// so such stricter conditional rules go into a second program (default
// allow) that the stage loads together with the main one.
import { SandboxError } from '../errors.js';
import { FilterContext, LibseccompError, NR_SCMP_ERROR, SCMP_ACT, SCMP_CMP, SCMP_FLTATR, resolveSyscall, type ArgCmp } from './libseccomp.js';
import type { FilterAction, FilterPlan, FilterRule } from './resolve-policy.js';

export interface CompiledFilter {
  /** BPF programs (struct sock_filter[]) to load in order; one, or two with the overlay. */
  readonly programs: readonly Buffer[];
  /** seccomp(2) flags for loading. */
  readonly flags: number;
  readonly ruleCount: number;
  /** Real system calls this libseccomp cannot name: left to the default action. */
  readonly skipped: readonly { readonly syscall: string; readonly pointer: string }[];
  /** Conditional rules an unconditional, stricter rule for the same call overrides (libseccomp drops them). */
  readonly shadowed: readonly { readonly syscall: string; readonly pointer: string }[];
}

/**
 * System calls newer than libseccomp 2.5.4 knows. Policies written for newer
 * kernels name them; they are skipped (the default action applies) instead
 * of being refused as typos.
 */
const NEWER_SYSCALLS = new Set([
  'cachestat', 'fchmodat2', 'map_shadow_stack', 'futex_wake', 'futex_wait', 'futex_requeue', 'statmount', 'listmount',
  'lsm_get_self_attr', 'lsm_set_self_attr', 'lsm_list_modules', 'mseal', 'setxattrat', 'getxattrat', 'listxattrat',
  'removexattrat', 'open_tree_attr', 'uretprobe', 'futex_waitv', 'set_mempolicy_home_node', 'memfd_secret',
  'process_mrelease', 'landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self', 'quotactl_fd',
  'file_getattr', 'file_setattr',
]);

/** Kernel precedence: lower is more restrictive and wins across stacked filters. */
const PRECEDENCE: Record<FilterAction['kind'], number> = {
  'kill-process': 0, 'kill-thread': 1, trap: 2, errno: 3, trace: 4, log: 5, allow: 6,
};

export function actionValue(a: FilterAction): number {
  switch (a.kind) {
    case 'allow': return SCMP_ACT.ALLOW;
    case 'log': return SCMP_ACT.LOG;
    case 'trap': return SCMP_ACT.TRAP;
    case 'kill-thread': return SCMP_ACT.KILL_THREAD;
    case 'kill-process': return SCMP_ACT.KILL_PROCESS;
    case 'errno': return (SCMP_ACT.ERRNO | (a.value & 0xffff)) >>> 0;
    case 'trace': return (SCMP_ACT.TRACE | (a.value & 0xffff)) >>> 0;
  }
}

function argCmps(rule: FilterRule): ArgCmp[] {
  return rule.args.map((a) => ({
    arg: a.index,
    op: SCMP_CMP[a.op.replace('SCMP_CMP_', '') as keyof typeof SCMP_CMP],
    datumA: BigInt(a.value),
    datumB: BigInt(a.valueTwo ?? 0),
  }));
}

/** Splits off the stricter conditional rules that libseccomp would drop (see the file comment). */
export function splitOverlay(rules: readonly FilterRule[]): { main: FilterRule[]; overlay: FilterRule[]; shadowed: FilterRule[] } {
  const unconditional = new Map<string, FilterAction>();
  for (const r of rules) if (r.args.length === 0 && !unconditional.has(r.syscall)) unconditional.set(r.syscall, r.action);
  const main: FilterRule[] = [];
  const overlay: FilterRule[] = [];
  const shadowed: FilterRule[] = [];
  for (const r of rules) {
    const u = unconditional.get(r.syscall);
    if (r.args.length > 0 && u && PRECEDENCE[r.action.kind] < PRECEDENCE[u.kind]) overlay.push(r);
    else {
      if (r.args.length > 0 && u && PRECEDENCE[r.action.kind] > PRECEDENCE[u.kind]) shadowed.push(r);
      main.push(r);
    }
  }
  return { main, overlay, shadowed };
}

function buildProgram(
  defaultAction: FilterAction, badArch: FilterAction, arches: readonly string[],
  rules: readonly { rule: FilterRule; nr: number }[], file: string, format: 'bpf' | 'pfc',
): Buffer {
  const ctx = new FilterContext(actionValue(defaultAction));
  try {
    ctx.setAttr(SCMP_FLTATR.ACT_BADARCH, actionValue(badArch));
    try {
      ctx.setAttr(SCMP_FLTATR.CTL_OPTIMIZE, 2); // binary tree of syscall numbers
    } catch {
      /* older libseccomp: linear list */
    }
    for (const arch of arches.slice(1)) {
      try {
        ctx.addArch(arch);
      } catch (e) {
        if (!(e instanceof LibseccompError)) throw e;
        throw new SandboxError('config', `seccomp policy ${file}: libseccomp does not know the architecture "${arch}" (architectures / archMap)`,
          'use SCMP_ARCH_ names libseccomp supports (e.g. SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_ARM)');
      }
    }
    const def = actionValue(defaultAction);
    for (const { rule, nr } of rules) {
      const action = actionValue(rule.action);
      if (action === def) continue; // the default already does it (libseccomp refuses such rules)
      try {
        ctx.addRule(action, nr, argCmps(rule));
      } catch (e) {
        if (!(e instanceof LibseccompError)) throw e;
        throw new SandboxError('config', `seccomp policy ${file}: cannot add the rule for "${rule.syscall}" at ${rule.pointer}: ${e.message}`,
          'check the action and the argument comparisons of that rule (one comparison per argument index)');
      }
    }
    return ctx.export(format);
  } finally {
    ctx.release();
  }
}

/** `format` "pfc" gives libseccomp's readable dump of each program instead of BPF. */
export function compileFilter(plan: FilterPlan, file: string, format: 'bpf' | 'pfc' = 'bpf'): CompiledFilter {
  const skipped: { syscall: string; pointer: string }[] = [];
  const named: FilterRule[] = [];
  const numbers = new Map<FilterRule, number>();
  for (const rule of plan.rules) {
    const nr = resolveSyscall(rule.syscall);
    if (nr === NR_SCMP_ERROR) {
      if (NEWER_SYSCALLS.has(rule.syscall)) { skipped.push({ syscall: rule.syscall, pointer: rule.pointer }); continue; }
      throw new SandboxError('config', `unknown system call "${rule.syscall}" in seccomp policy ${file} at ${rule.pointer}`,
        'check the spelling; names are the kernel\'s (see syscalls(2))');
    }
    named.push(rule);
    numbers.set(rule, nr);
  }
  const { main, overlay, shadowed } = splitOverlay(named);
  const withNr = (rs: FilterRule[]) => rs.map((rule) => ({ rule, nr: numbers.get(rule)! }));
  // a call from an architecture the policy does not list can never be allowed
  const programs = [buildProgram(plan.defaultAction, { kind: 'kill-process' }, plan.arches, withNr(main), file, format)];
  if (overlay.length > 0) programs.push(buildProgram({ kind: 'allow' }, { kind: 'allow' }, plan.arches, withNr(overlay), file, format));
  return {
    programs, flags: plan.flags, ruleCount: named.length, skipped,
    shadowed: shadowed.map((r) => ({ syscall: r.syscall, pointer: r.pointer })),
  };
}
