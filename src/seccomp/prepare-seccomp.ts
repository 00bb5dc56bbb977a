// The filter of one run, from the first of: the caller's cache by the policy
// file's identity (a stat and one read: no hash, no libseccomp), the cache by
// the policy text's hash, the package's filters precompiled at build time for
// this host, and finally a compile (load, validate, resolve, libseccomp),
// whose result is cached. "unconfined" means no filter, and only when asked
// for by name. See filter-cache.ts for the keys and what is trusted.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { machineFacts } from '../host/probe-host.js';
import { compileFilter } from './compile-filter.js';
import {
  cacheKey, identityKey, readCachedFilter, readIdentityEntry, readPrecompiledFilter, SETTLE_MS, writeCachedFilter, writeIdentityEntry,
  type CachedFilter,
} from './filter-cache.js';
import { loadPolicy, policyFile, UNCONFINED } from './load-policy.js';
import { resolvePolicy, type FilterContext } from './resolve-policy.js';

export interface SeccompSetup {
  /** Policy name ("strict", a file's base name) or "unconfined". */
  readonly policy: string;
  readonly programs: readonly Buffer[];
  readonly flags: number;
  /** cache: the caller's cache; precompiled: the package's build-time filters; compiled: libseccomp, now. */
  readonly source: 'cache' | 'precompiled' | 'compiled' | 'none';
}

/** For tests: another precompiled directory (null: none), another settle time for identity entries. */
export interface PrepareOptions {
  readonly precompiledDir?: string | null;
  readonly settleMs?: number;
}

/** A machine (default: this one), a sandbox with or without a network, and the capabilities its workload holds. */
export function filterContext(
  network: boolean, caps: readonly string[] = [], machine: { readonly arch: string; readonly kernel: string } = machineFacts(),
): FilterContext {
  return { arch: machine.arch, kernel: machine.kernel, network, caps: [...caps].sort() };
}

export function prepareSeccomp(ref: string, ctx: FilterContext, options: PrepareOptions = {}): SeccompSetup {
  if (ref === UNCONFINED) return { policy: UNCONFINED, programs: [], flags: 0, source: 'none' };
  let fd: number | undefined;
  try {
    fd = openSync(policyFile(ref), constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    /* loadPolicy reports it with a hint */
  }
  try {
    return prepareFrom(ref, ctx, fd, options);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function prepareFrom(ref: string, ctx: FilterContext, fd: number | undefined, options: PrepareOptions): SeccompSetup {
  const settleMs = options.settleMs ?? SETTLE_MS;
  const st = fd !== undefined ? fstatSync(fd, { bigint: true }) : undefined;
  const idKey = st ? identityKey(st, ctx, settleMs) : null;
  const warm = idKey ? readIdentityEntry(idKey) : null;
  if (warm) return setup(policyNameOf(ref), warm, 'cache');

  let text: string | undefined;
  if (st?.isFile()) {
    try {
      text = readFileSync(fd!, 'utf8');
    } catch {
      /* loadPolicy reports it */
    }
  }
  // the identity stands for this text only if the file did not change while it was read
  const sameFile = idKey !== null && text !== undefined && identityKey(fstatSync(fd!, { bigint: true }), ctx, settleMs) === idKey;
  const remember = (filter: CachedFilter, forText: string) => {
    if (sameFile && forText === text) writeIdentityEntry(idKey!, filter);
  };
  const key = text !== undefined ? cacheKey(text, ctx) : undefined;
  const cached = key ? readCachedFilter(key) : null;
  if (cached) {
    remember(cached, text!);
    return setup(policyNameOf(ref), cached, 'cache');
  }
  const dir = options.precompiledDir;
  const shipped = key && dir !== null ? readPrecompiledFilter(key, dir) : null;
  if (shipped) {
    writeCachedFilter(key!, shipped);
    remember(shipped, text!);
    return setup(policyNameOf(ref), shipped, 'precompiled');
  }
  const loaded = loadPolicy(ref);
  const compiled = compileFilter(resolvePolicy(loaded.policy, ctx, loaded.file), loaded.file);
  const filter = { programs: [...compiled.programs], flags: compiled.flags };
  writeCachedFilter(cacheKey(loaded.text, ctx), filter);
  remember(filter, loaded.text);
  return setup(loaded.name, filter, 'compiled');
}

function setup(policy: string, filter: CachedFilter, source: SeccompSetup['source']): SeccompSetup {
  return { policy, programs: filter.programs, flags: filter.flags, source };
}

function policyNameOf(ref: string): string {
  const base = ref.split('/').pop() ?? ref;
  return base.endsWith('.json') ? base.slice(0, -5) : base;
}
