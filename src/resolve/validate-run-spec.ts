// The last step of resolving: a RunSpec is checked as a whole for meaning
// (one mount per target, none over what the sandbox provides, absolute
// paths, no NUL the kernel would cut at, a workload user the map has) and
// for feasibility on this host (the id map's helpers, an image's layer
// count), so that nothing after resolve fails on bad input. Pure.
// Must not: apply defaults (resolve-run-spec.ts does) or touch the host.
import { SandboxError } from '../errors.js';
import type { HostFacts } from '../host/probe-host.js';
import { isMapped } from '../idmap/plan-idmap.js';
import type { RunSpec } from './run-spec.js';

/** Docker refuses more than 127 layers too. */
export const MAX_LAYERS = 128;
/** Mount targets that would hide what the sandbox itself provides. */
export const RESERVED_TARGETS = ['/', '/proc', '/dev', '/dev/pts'];

export function isReservedTarget(path: string): boolean {
  return RESERVED_TARGETS.includes(path) || path.startsWith('/proc/');
}

/** Returns the spec when it can run as it is; throws a SandboxError naming the first problem. */
export function validateRunSpec(spec: RunSpec, host: Pick<HostFacts, 'newuidmap' | 'newgidmap'>): RunSpec {
  if (spec.argv.length === 0 || spec.argv[0] === '') throw new SandboxError('usage', 'missing command', 'give the program to run after the image, e.g. `sandbox exec host -- /bin/echo hi`');
  spec.argv.forEach((arg, i) => rejectNul(arg, `argument ${i} of the command`));
  spec.env.forEach((e) => rejectNul(e, `environment variable ${e.split('=')[0]}`));
  rejectNul(spec.cwd, 'the working directory (-w)');
  if (!spec.cwd.startsWith('/')) throw new SandboxError('usage', `working directory "${spec.cwd}" is not absolute (-w)`, 'write it from /, e.g. -w /tmp');

  const seen = new Set<string>();
  for (const target of [...spec.tmpfs.map((t) => t.path), ...spec.volumes.map((v) => v.target)]) {
    rejectNul(target, `mount target ${target}`);
    if (!target.startsWith('/')) throw new SandboxError('usage', `"${target}" (mount target) is not an absolute path`, 'write it from /');
    if (isReservedTarget(target)) {
      throw new SandboxError('usage', `cannot mount over ${target}`, 'the sandbox provides /, /proc and /dev itself; choose another path');
    }
    if (seen.has(target)) throw new SandboxError('usage', `two mounts on ${target}`, 'give each volume and tmpfs its own target');
    seen.add(target);
  }

  const { idmap, user } = spec;
  if (!isMapped(idmap.uidMap, user.uid) || !isMapped(idmap.gidMap, user.gid)) {
    throw new SandboxError('usage', `user ${user.uid}:${user.gid} is not mapped in the run's user namespace`, 'choose an id the id map has (sandbox doctor shows the ranges)');
  }
  if (idmap.method === 'newidmap' && (!host.newuidmap || !host.newgidmap)) {
    throw new SandboxError('host', 'the id map needs newuidmap and newgidmap, which are not installed',
      'install them (Debian: apt-get install uidmap), or run without a subordinate range');
  }

  if (spec.image.kind === 'oci' && (spec.image.layers.length === 0 || spec.image.layers.length > MAX_LAYERS)) {
    throw new SandboxError('usage', `image ${spec.image.ref} has ${spec.image.layers.length} layers`,
      `an image needs 1 to ${MAX_LAYERS} layers; squash it (e.g. podman build --squash)`);
  }
  return spec;
}

/** The kernel takes NUL-terminated strings: refuse NUL bytes here, by name. */
export function rejectNul(value: string, what: string): void {
  if (value.includes('\0')) throw new SandboxError('usage', `${what} contains a NUL byte`, 'remove the NUL (\\0) character');
}
