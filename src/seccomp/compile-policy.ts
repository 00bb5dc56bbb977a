// Library entry for policies: load, resolve for a context, compile. What
// `sandbox policy check` and `export` do, without the CLI.
import { compileFilter, type CompiledFilter } from './compile-filter.js';
import { loadPolicy } from './load-policy.js';
import { filterContext } from './prepare-seccomp.js';
import { resolvePolicy, type FilterPlan } from './resolve-policy.js';

export interface CompiledPolicy extends CompiledFilter {
  readonly name: string;
  readonly file: string;
  readonly plan: FilterPlan;
}

/** Compiles a policy (name or path) as a sandbox with or without network, holding these capabilities, would load it. */
export function compilePolicy(ref: string, options: { network?: boolean; caps?: readonly string[]; format?: 'bpf' | 'pfc' } = {}): CompiledPolicy {
  const loaded = loadPolicy(ref);
  const plan = resolvePolicy(loaded.policy, filterContext(options.network ?? false, options.caps), loaded.file);
  return { name: loaded.name, file: loaded.file, plan, ...compileFilter(plan, loaded.file, options.format ?? 'bpf') };
}
