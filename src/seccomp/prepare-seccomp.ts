// The filter of one run: from the cache when the same policy was compiled for
// the same context before, else loaded, validated, resolved, compiled and
// cached. "unconfined" means no filter, and only when asked for by name.
import { readFileSync } from 'node:fs';
import { machineFacts } from '../host/probe-host.js';
import { compileFilter } from './compile-filter.js';
import { cacheKey, readCachedFilter, writeCachedFilter } from './filter-cache.js';
import { loadPolicy, policyFile, UNCONFINED } from './load-policy.js';
import { resolvePolicy, type FilterContext } from './resolve-policy.js';

export interface SeccompSetup {
  /** Policy name ("strict", a file's base name) or "unconfined". */
  readonly policy: string;
  readonly programs: readonly Buffer[];
  readonly flags: number;
  readonly source: 'cache' | 'compiled' | 'none';
}

/** A machine (default: this one), a sandbox with or without a network, and the capabilities its workload holds. */
export function filterContext(
  network: boolean, caps: readonly string[] = [], machine: { readonly arch: string; readonly kernel: string } = machineFacts(),
): FilterContext {
  return { arch: machine.arch, kernel: machine.kernel, network, caps: [...caps].sort() };
}

export function prepareSeccomp(ref: string, ctx: FilterContext): SeccompSetup {
  if (ref === UNCONFINED) return { policy: UNCONFINED, programs: [], flags: 0, source: 'none' };
  let text: string | undefined;
  try {
    text = readFileSync(policyFile(ref), 'utf8');
  } catch {
    /* loadPolicy reports it with a hint */
  }
  const key = text !== undefined ? cacheKey(text, ctx) : undefined;
  const cached = key ? readCachedFilter(key) : null;
  const loaded = cached ? null : loadPolicy(ref);
  const name = loaded?.name ?? policyNameOf(ref);
  if (cached) return { policy: name, programs: cached.programs, flags: cached.flags, source: 'cache' };
  const compiled = compileFilter(resolvePolicy(loaded!.policy, ctx, loaded!.file), loaded!.file);
  writeCachedFilter(cacheKey(loaded!.text, ctx), { programs: [...compiled.programs], flags: compiled.flags });
  return { policy: name, programs: compiled.programs, flags: compiled.flags, source: 'compiled' };
}

function policyNameOf(ref: string): string {
  const base = ref.split('/').pop() ?? ref;
  return base.endsWith('.json') ? base.slice(0, -5) : base;
}
