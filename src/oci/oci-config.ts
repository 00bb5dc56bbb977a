// config.json of an OCI runtime-spec bundle, as TypeScript types. The JSON
// Schema in config-schema.ts is the authority on shape; this mirrors it.
import type { SeccompPolicy } from '../seccomp/policy.js';
import type { NAMESPACE_TYPES, RLIMIT_TYPES } from './config-schema.js';

export type RlimitType = (typeof RLIMIT_TYPES)[number];
export type NamespaceType = (typeof NAMESPACE_TYPES)[number];

export interface OciRlimit { readonly type: RlimitType; readonly soft: number; readonly hard: number }
export interface OciIdMapping { readonly containerID: number; readonly hostID: number; readonly size: number }
export interface OciHook { readonly path: string; readonly args?: readonly string[]; readonly env?: readonly string[]; readonly timeout?: number }
export type HookKind = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';
export type CapabilityKind = 'bounding' | 'effective' | 'inheritable' | 'permitted' | 'ambient';

export interface OciProcess {
  readonly terminal?: boolean;
  readonly consoleSize?: { readonly height: number; readonly width: number };
  readonly cwd: string;
  readonly env?: readonly string[];
  readonly args?: readonly string[];
  readonly rlimits?: readonly OciRlimit[];
  readonly apparmorProfile?: string;
  readonly capabilities?: { readonly [K in CapabilityKind]?: readonly string[] };
  readonly noNewPrivileges?: boolean;
  readonly oomScoreAdj?: number;
  readonly selinuxLabel?: string;
  readonly user?: { readonly uid: number; readonly gid: number; readonly umask?: number; readonly additionalGids?: readonly number[] };
  readonly scheduler?: unknown;
  readonly ioPriority?: unknown;
  readonly execCPUAffinity?: unknown;
}

export interface OciMount {
  readonly destination: string;
  readonly type?: string;
  readonly source?: string;
  readonly options?: readonly string[];
  readonly uidMappings?: unknown;
  readonly gidMappings?: unknown;
}

export interface OciDeviceRule {
  readonly allow: boolean;
  readonly type?: 'a' | 'c' | 'b';
  readonly major?: number | null;
  readonly minor?: number | null;
  readonly access?: string;
}

export interface OciDevice {
  readonly type: 'c' | 'b' | 'u' | 'p';
  readonly path: string;
  readonly major?: number;
  readonly minor?: number;
  readonly fileMode?: number;
  readonly uid?: number;
  readonly gid?: number;
}

export interface OciResources {
  readonly devices?: readonly OciDeviceRule[];
  readonly memory?: {
    readonly limit?: number; readonly reservation?: number; readonly swap?: number; readonly kernel?: number; readonly kernelTCP?: number;
    readonly swappiness?: number; readonly disableOOMKiller?: boolean; readonly useHierarchy?: boolean; readonly checkBeforeUpdate?: boolean;
  };
  readonly cpu?: {
    readonly shares?: number; readonly quota?: number; readonly burst?: number; readonly period?: number;
    readonly realtimeRuntime?: number; readonly realtimePeriod?: number; readonly cpus?: string; readonly mems?: string; readonly idle?: number;
  };
  readonly pids?: { readonly limit: number };
  readonly blockIO?: unknown;
  readonly hugepageLimits?: unknown;
  readonly network?: unknown;
  readonly rdma?: unknown;
  readonly unified?: unknown;
}

export interface OciLinux {
  readonly namespaces?: readonly { readonly type: NamespaceType; readonly path?: string }[];
  readonly uidMappings?: readonly OciIdMapping[];
  readonly gidMappings?: readonly OciIdMapping[];
  readonly timeOffsets?: unknown;
  readonly devices?: readonly OciDevice[];
  readonly netDevices?: unknown;
  readonly cgroupsPath?: string;
  readonly resources?: OciResources;
  readonly intelRdt?: unknown;
  readonly memoryPolicy?: unknown;
  readonly sysctl?: Readonly<Record<string, string>>;
  readonly seccomp?: SeccompPolicy;
  readonly rootfsPropagation?: string;
  readonly maskedPaths?: readonly string[];
  readonly readonlyPaths?: readonly string[];
  readonly mountLabel?: string;
  readonly personality?: { readonly domain: 'LINUX' | 'LINUX32'; readonly flags?: readonly string[] };
}

export interface OciConfig {
  readonly ociVersion: string;
  readonly process?: OciProcess;
  readonly root?: { readonly path: string; readonly readonly?: boolean };
  readonly hostname?: string;
  readonly domainname?: string;
  readonly mounts?: readonly OciMount[];
  readonly hooks?: { readonly [K in HookKind]?: readonly OciHook[] };
  readonly annotations?: Readonly<Record<string, string>>;
  readonly linux?: OciLinux;
  readonly solaris?: unknown;
  readonly windows?: unknown;
  readonly vm?: unknown;
  readonly zos?: unknown;
}
