// OciRun: what a config.json asks for, in this project's terms. `options`
// is what ExecOptions already expresses (the run as `sandbox exec` would
// make it, with an empty profile); `extras` is everything else the config
// asks for that the sandbox does not apply yet. A runner must apply every
// extra or refuse the run: nothing in here may be dropped on the way.
import type { Capability } from '../resolve/capabilities.js';
import type { ExecOptions } from '../resolve/exec-options.js';
import type { SeccompPolicy } from '../seccomp/policy.js';
import type { CapabilityKind, HookKind, NamespaceType, OciHook, OciIdMapping, OciRlimit } from './oci-config.js';

/** A namespace the config joins instead of creating (linux.namespaces[].path). */
export interface NamespaceJoin {
  readonly type: NamespaceType;
  readonly path: string;
}

/** A kernel file system the config mounts that the sandbox does not provide yet. */
export interface KernelMount {
  readonly type: 'mqueue' | 'cgroup' | 'cgroup2';
  readonly destination: string;
  readonly options: readonly string[];
}

/** Options of a mount that its volume or tmpfs does not apply yet ("bind": not recursive; "noexec" on a tmpfs; atime flags). */
export interface PendingMountOptions {
  readonly destination: string;
  readonly options: readonly string[];
}

export interface OciCpu {
  readonly shares?: number;
  readonly quota?: number;
  readonly period?: number;
  readonly cpus?: string;
  readonly mems?: string;
}

export interface OciExtras {
  /** process.user.umask; null: the runtime default (0022). */
  readonly umask: number | null;
  readonly additionalGids: readonly number[];
  /** Every set, normalized; `bounding` is also options.capAdd (on capDrop ALL). */
  readonly capabilities: Readonly<Record<CapabilityKind, readonly Capability[]>>;
  /** rlimits options.limits does not express (other types, soft != hard, unlimited). */
  readonly rlimits: readonly OciRlimit[];
  readonly consoleSize: { readonly height: number; readonly width: number } | null;
  readonly oomScoreAdj: number | null;
  readonly domainname: string | null;
  readonly maskedPaths: readonly string[];
  readonly readonlyPaths: readonly string[];
  readonly namespaceJoins: readonly NamespaceJoin[];
  /** Namespaces the config leaves out that the sandbox creates anyway (it never shares the host's, but the network). */
  readonly addedNamespaces: readonly NamespaceType[];
  /** The config's own id mappings (checked against the caller's subordinate ranges); null: the sandbox's. */
  readonly idMappings: { readonly uid: readonly OciIdMapping[]; readonly gid: readonly OciIdMapping[] } | null;
  /** Namespaced sysctls only, keys with dots. */
  readonly sysctl: Readonly<Record<string, string>>;
  /** The filter to compile (resolvePolicy + compileFilter); null: none, as runc without linux.seccomp. options.seccomp is "unconfined" then. */
  readonly seccomp: SeccompPolicy | null;
  readonly kernelMounts: readonly KernelMount[];
  readonly mountOptions: readonly PendingMountOptions[];
  readonly cpu: OciCpu | null;
  readonly cgroupsPath: string | null;
  readonly hooks: Readonly<Record<HookKind, readonly OciHook[]>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface OciRun {
  readonly options: ExecOptions;
  readonly extras: OciExtras;
}
