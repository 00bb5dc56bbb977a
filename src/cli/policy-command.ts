// `sandbox policy ls | show NAME | check FILE | export NAME --format bpf|pfc`.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { SandboxError } from '../errors.js';
import { compilePolicy } from '../seccomp/compile-policy.js';
import { libseccompVersion } from '../seccomp/libseccomp.js';
import { listBuiltinPolicies, loadPolicy, UNCONFINED } from '../seccomp/load-policy.js';
import { reportError } from './report-error.js';
import { ALL, normalizeCapability } from '../resolve/capabilities.js';

interface PolicyFlags { network?: boolean; caps?: string }

/** --caps a,b: the capabilities the sandbox's workload holds (includes.caps / excludes.caps). */
function capsOf(flags: PolicyFlags): string[] {
  return flags.caps ? flags.caps.split(',').filter(Boolean).map((c) => normalizeCapability(c, '--caps')).filter((c) => c !== ALL) : [];
}


function guarded(fn: (...args: any[]) => void) {
  return (...args: any[]) => {
    try {
      fn(...args);
    } catch (e) {
      process.exitCode = reportError(e);
    }
  };
}

export function registerPolicyCommand(program: Command): void {
  const policy = program.command('policy').description('list, show, check and export seccomp policies (what a sandbox may call)');
  policy.command('ls').description('list the shipped policies').action(guarded(() => {
    process.stdout.write([...listBuiltinPolicies(), 'unconfined'].map((n) => `${n}\n`).join(''));
  }));
  policy.command('show').description('print a policy').argument('<name|path>').action(guarded((ref: string) => {
    if (ref === UNCONFINED) process.stderr.write('unconfined: no filter is loaded, every system call is allowed\n');
    else process.stdout.write(readFileSync(loadPolicy(ref).file, 'utf8'));
  }));
  policy.command('check').description('validate and compile a policy; report its rules and BPF size')
    .argument('<name|path>')
    .option('--network', 'compile for a sandbox with a network (rules with includes.network)')
    .option('--caps <list>', 'compile for a workload holding these capabilities, e.g. CHOWN,SYS_CHROOT (default: none)')
    .action(guarded((ref: string, flags: PolicyFlags) => {
      if (ref === UNCONFINED) {
        process.stdout.write('unconfined: no filter is loaded, every system call is allowed\n');
        return;
      }
      const compiled = compilePolicy(ref, { network: flags.network ?? false, caps: capsOf(flags) });
      const sizes = compiled.programs.map((p) => `${p.length / 8} instructions (${p.length} bytes)`);
      process.stdout.write([
        `${compiled.file}: ok`,
        `architectures: ${compiled.plan.arches.join(', ')}`,
        `rules: ${compiled.ruleCount} (system call and condition pairs)`,
        `bpf: ${sizes.join(' + ')}${compiled.programs.length > 1 ? ' (a second, stacked filter holds conditional denials libseccomp cannot combine with an unconditional rule)' : ''}`,
        ...(compiled.shadowed.length ? [`shadowed (an unconditional rule for the same call wins): ${compiled.shadowed.map((s) => `${s.syscall} at ${s.pointer}`).join(', ')}`] : []),
        ...(compiled.skipped.length ? [`skipped (unknown to libseccomp ${libseccompVersion()}, left to the default action): ${compiled.skipped.map((s) => s.syscall).join(', ')}`] : []),
        '',
      ].join('\n'));
    }));
  policy.command('export').description('print the compiled filter: raw BPF (struct sock_filter[]) or libseccomp\'s readable PFC')
    .argument('<name|path>')
    .requiredOption('--format <bpf|pfc>', 'bpf or pfc')
    .option('--network', 'compile for a sandbox with a network')
    .option('--caps <list>', 'compile for a workload holding these capabilities, e.g. CHOWN,SYS_CHROOT (default: none)')
    .action(guarded((ref: string, flags: PolicyFlags & { format: string }) => {
      if (ref === UNCONFINED) throw new SandboxError('usage', 'unconfined has no filter to export', 'name a policy: `sandbox policy ls`');
      if (flags.format !== 'bpf' && flags.format !== 'pfc') {
        throw new SandboxError('usage', `unknown format "${flags.format}" (--format)`, 'use bpf or pfc');
      }
      const compiled = compilePolicy(ref, { network: flags.network ?? false, caps: capsOf(flags), format: flags.format });
      if (compiled.programs.length > 1) {
        process.stderr.write(`note: ${compiled.programs.length} programs, loaded in this order: ${compiled.programs.map((p) => p.length).join(' + ')} bytes\n`);
      }
      for (const p of compiled.programs) process.stdout.write(p);
    }));
}
