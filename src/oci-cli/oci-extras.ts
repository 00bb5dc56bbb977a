// What `sandbox-oci run` does with the OciExtras of config-to-run.ts: each
// one is applied where the run path already can (umask, the seccomp policy,
// masked and read-only paths the sandbox already covers, namespaces it adds,
// id mappings equal to its own), and refused otherwise with the JSON pointer
// of the field. Fail closed: nothing is dropped on the way. Pure: the host's
// layout and what exists on it come in as data.
// Must not: start anything, or touch the file system.
import { SandboxError } from '../errors.js';
import type { IdMapLine } from '../idmap/plan-idmap.js';
import type { OciConfig, OciIdMapping } from '../oci/oci-config.js';
import type { OciExtras } from '../oci/oci-run.js';
import type { SeccompPolicy } from '../seccomp/policy.js';

const FILE = 'config.json';

function refuse(pointer: string, message: string, hint: string): never {
  throw new SandboxError('config', `${FILE}#${pointer}: ${message}`, hint);
}

const NOT_YET = 'not supported by sandbox-oci yet';

/** What the sandbox hides and makes read-only in the run (see rootfs/host-image.ts and plan-rootfs.ts). */
export interface SandboxPaths {
  /** Masked files and directories (/proc and /sys). */
  readonly masked: readonly string[];
  /** Read-only paths under /proc; all of /sys is read-only too. */
  readonly readOnly: readonly string[];
  /** Whether a path exists on this host (the sandbox's /proc and /sys are of this kernel). */
  readonly exists: (path: string) => boolean;
}

/** What the runner applies itself, beyond ExecOptions. */
export interface AppliedExtras {
  /** process.user.umask: set on this process, which the stage hands to the workload; null: the caller's, as the spec says. */
  readonly umask: number | null;
  /** linux.seccomp: the policy the run compiles (passed as a private file), or null (ExecOptions says unconfined). */
  readonly seccomp: SeccompPolicy | null;
}

const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

function checkPaths(extras: OciExtras, paths: SandboxPaths): void {
  const masked = (p: string) => paths.masked.some((m) => under(p, m));
  extras.maskedPaths.forEach((p, i) => {
    // absent from this kernel: nothing to hide, as runc skips it
    if (masked(p) || !paths.exists(p)) return;
    refuse(`/linux/maskedPaths/${i}`, `${p} is not one of the paths the sandbox masks, and masking others is not supported yet`,
      `remove it, or accept the sandbox's masked paths: ${paths.masked.join(', ')}`);
  });
  extras.readonlyPaths.forEach((p, i) => {
    // a masked path cannot be written either; /sys is read-only as a whole
    if (masked(p) || under(p, '/sys') || paths.readOnly.some((r) => under(p, r)) || !paths.exists(p)) return;
    refuse(`/linux/readonlyPaths/${i}`, `${p} is not one of the paths the sandbox makes read-only, and others are not supported yet`,
      `remove it, or accept the sandbox's read-only paths: ${paths.readOnly.join(', ')}, /sys`);
  });
}

function checkCapabilities(config: OciConfig, extras: OciExtras): void {
  const caps = extras.capabilities;
  for (const kind of ['inheritable', 'ambient'] as const) {
    if (caps[kind].length) refuse(`/process/capabilities/${kind}`, `${kind} capabilities are ${NOT_YET}`, `remove process.capabilities.${kind}`);
  }
  // root of the sandbox holds its whole bounding set; any other user loses every capability at exec (no ambient ones), as under runc
  if ((config.process?.user?.uid ?? 0) !== 0) return;
  const same = (a: readonly string[], b: readonly string[]) => a.length === new Set(b).size && a.every((c) => b.includes(c)) && b.every((c) => a.includes(c));
  for (const kind of ['effective', 'permitted'] as const) {
    if (!same(caps[kind], caps.bounding)) {
      refuse(`/process/capabilities/${kind}`, `the ${kind} set differs from the bounding set: root in the sandbox holds exactly its bounding set`,
        `make process.capabilities.${kind} the same list as bounding`);
    }
  }
}

function rlimitPointer(config: OciConfig, type: string): string {
  const i = (config.process?.rlimits ?? []).findIndex((r) => r.type === type);
  return `/process/rlimits/${i}`;
}

function mountPointer(config: OciConfig, destination: string): string {
  const i = (config.mounts ?? []).findIndex((m) => m.destination.replace(/(.)\/+$/, '$1') === destination || m.destination === destination);
  return `/mounts/${i}`;
}

/**
 * Checks every extra against what the runner can apply; returns the ones it
 * applies itself. Throws a SandboxError naming the first field it cannot.
 */
export function applyExtras(config: OciConfig, extras: OciExtras, paths: SandboxPaths): AppliedExtras {
  if (extras.additionalGids.length) refuse('/process/user/additionalGids', `supplementary groups are ${NOT_YET}`, 'remove additionalGids');
  checkCapabilities(config, extras);
  if (extras.rlimits.length) {
    const r = extras.rlimits[0]!;
    refuse(rlimitPointer(config, r.type), `${r.type} with soft ${r.soft} and hard ${r.hard}: only RLIMIT_NOFILE, RLIMIT_FSIZE, RLIMIT_STACK and RLIMIT_AS with soft = hard (finite) are applied`,
      'give soft equal to hard, or remove the rlimit');
  }
  if (extras.consoleSize) refuse('/process/consoleSize', `a console size is ${NOT_YET} (the terminal takes the caller's size)`, 'remove consoleSize');
  if (extras.oomScoreAdj !== null) refuse('/process/oomScoreAdj', `oom_score_adj is ${NOT_YET}`, 'remove oomScoreAdj');
  if (extras.domainname !== null) refuse('/domainname', `a domain name is ${NOT_YET}`, 'remove domainname');
  checkPaths(extras, paths);
  if (extras.namespaceJoins.length) {
    const j = extras.namespaceJoins[0]!;
    const i = (config.linux?.namespaces ?? []).findIndex((n) => n.type === j.type);
    refuse(`/linux/namespaces/${i}/path`, `joining the ${j.type} namespace ${j.path} is not supported yet: the sandbox creates its own`, 'remove the path (a new namespace is made)');
  }
  // addedNamespaces: the sandbox never shares the host's; more isolation than asked for is not a setting dropped
  const sysctl = Object.keys(extras.sysctl);
  if (sysctl.length) refuse(`/linux/sysctl/${sysctl[0]!.replace(/~/g, '~0').replace(/\//g, '~1')}`, `sysctls are ${NOT_YET}`, 'remove linux.sysctl');
  if (extras.kernelMounts.length) {
    const m = extras.kernelMounts[0]!;
    refuse(mountPointer(config, m.destination), `a ${m.type} mount on ${m.destination} is ${NOT_YET}`,
      `remove this mount (\`sandbox-oci spec\` writes runc's template, which has ${m.destination})`);
  }
  if (extras.mountOptions.length) {
    const m = extras.mountOptions[0]!;
    refuse(`${mountPointer(config, m.destination)}/options`, `mount options ${m.options.join(', ')} on ${m.destination} are ${NOT_YET}`,
      'remove them (bind mounts are always recursive; tmpfs mounts are writable, exec, with the default atime)');
  }
  if (extras.cpu) refuse('/linux/resources/cpu', `CPU shares, quota and sets are ${NOT_YET}`, 'remove linux.resources.cpu');
  if (extras.cgroupsPath !== null) refuse('/linux/cgroupsPath', `placing the container in a given cgroup is ${NOT_YET}: the sandbox makes its own`, 'remove cgroupsPath');
  for (const [kind, hooks] of Object.entries(extras.hooks)) {
    if (hooks.length) refuse(`/hooks/${kind}`, `${kind} hooks are ${NOT_YET}`, `remove hooks.${kind}`);
  }
  // annotations are information for the runtime: none of them changes a run
  return { umask: extras.umask, seccomp: extras.seccomp };
}

const sameMap = (config: readonly OciIdMapping[], sandbox: readonly IdMapLine[]) =>
  config.length === sandbox.length
  && config.every((m) => sandbox.some((l) => l.inside === m.containerID && l.outside === m.hostID && l.count === m.size));

const show = (map: readonly IdMapLine[]) => map.map((l) => `${l.inside}:${l.outside}:${l.count}`).join(' ');

/**
 * linux.uidMappings and gidMappings are applied when they are the map the
 * sandbox uses for this caller; anything else is refused (it maps ids of its
 * own choosing, from the caller's subordinate range).
 */
export function checkIdMappings(extras: OciExtras, idmap: { readonly uidMap: readonly IdMapLine[]; readonly gidMap: readonly IdMapLine[] }): void {
  if (!extras.idMappings) return;
  if (!sameMap(extras.idMappings.uid, idmap.uidMap)) {
    refuse('/linux/uidMappings', `uid mappings other than the sandbox's own (${show(idmap.uidMap)}, inside:host:count) are not supported yet`,
      'remove uidMappings and gidMappings: the sandbox then maps the ids it is allowed to use');
  }
  if (!sameMap(extras.idMappings.gid, idmap.gidMap)) {
    refuse('/linux/gidMappings', `gid mappings other than the sandbox's own (${show(idmap.gidMap)}, inside:host:count) are not supported yet`,
      'remove uidMappings and gidMappings: the sandbox then maps the ids it is allowed to use');
  }
}
