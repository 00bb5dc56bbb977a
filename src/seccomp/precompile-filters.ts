// Build time: compiles the shipped policies for this host into the package
// (dist/seccomp/KEY.bpf, content-keyed like the user cache), so that no first
// run pays libseccomp's compile (its BPF export of the three x86 ABIs alone
// takes most of it). Entries apply only where arch, kernel MAJOR.MINOR,
// libseccomp build and policy text all match; anywhere else the normal
// compile path runs. Contexts: each shipped profile's policy with its
// capabilities, and each shipped policy holding none, with and without network.
// Must not: be needed at run time; a host without libseccomp builds without it.
import { chmodSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { listBuiltinProfiles, loadProfile } from '../config/load-profile.js';
import { mergeCapabilities, PODMAN_DEFAULT_CAPS } from '../resolve/capabilities.js';
import { compileFilter } from './compile-filter.js';
import { cacheKey, precompiledDir, writeCachedFilter } from './filter-cache.js';
import { listBuiltinPolicies, loadPolicy, UNCONFINED } from './load-policy.js';
import { filterContext } from './prepare-seccomp.js';
import { resolvePolicy } from './resolve-policy.js';

/** (policy, capabilities) pairs a shipped profile or policy runs with. */
function builtinUses(): { policy: string; caps: readonly string[] }[] {
  const uses = listBuiltinPolicies().map((policy) => ({ policy, caps: [] as readonly string[] }));
  for (const name of listBuiltinProfiles()) {
    const { profile, file } = loadProfile(name);
    const policy = profile.seccomp ?? 'default';
    if (policy === UNCONFINED) continue;
    const caps = mergeCapabilities(PODMAN_DEFAULT_CAPS, profile.capabilities?.add ?? [], profile.capabilities?.drop ?? [],
      { add: `${file}#/capabilities/add`, drop: `${file}#/capabilities/drop` });
    uses.push({ policy, caps });
  }
  return uses;
}

/** Replaces `dir` with this host's filters of the shipped policies; returns the keys written. */
export function precompileBuiltinFilters(dir = precompiledDir()): string[] {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755); // every user of the package reads it
  const keys = new Set<string>();
  for (const { policy, caps } of builtinUses()) {
    const loaded = loadPolicy(policy);
    for (const network of [false, true]) {
      const ctx = filterContext(network, caps);
      const key = cacheKey(loaded.text, ctx);
      if (keys.has(key)) continue;
      const compiled = compileFilter(resolvePolicy(loaded.policy, ctx, loaded.file), loaded.file);
      writeCachedFilter(key, { programs: [...compiled.programs], flags: compiled.flags }, dir, 0o644);
      chmodSync(join(dir, `${key}.bpf`), 0o644); // whatever the umask
      keys.add(key);
    }
  }
  const written = readdirSync(dir).filter((f) => f.endsWith('.bpf')).length;
  if (written !== keys.size) throw new Error(`precompiled seccomp filters: ${written} of ${keys.size} written to ${dir}`);
  return [...keys];
}
