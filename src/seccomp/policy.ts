// seccomp/: policies (what a workload may call) in the OCI runtime-spec
// LinuxSeccomp format, with Docker's and podman's extensions, compiled to BPF
// with libseccomp. Must not: load filters (the stage does, last before exec).

export type SeccompAction =
  | 'SCMP_ACT_KILL' | 'SCMP_ACT_KILL_THREAD' | 'SCMP_ACT_KILL_PROCESS' | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO' | 'SCMP_ACT_TRACE' | 'SCMP_ACT_ALLOW' | 'SCMP_ACT_LOG' | 'SCMP_ACT_NOTIFY';

export type SeccompOp =
  | 'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ' | 'SCMP_CMP_GE' | 'SCMP_CMP_GT' | 'SCMP_CMP_MASKED_EQ';

export interface SeccompArg {
  readonly index: number;
  readonly value: number;
  readonly valueTwo?: number;
  readonly op: SeccompOp;
}

/** Docker's rule conditions; `network` is this project's extension. */
export interface SeccompCondition {
  readonly caps?: readonly string[];
  readonly arches?: readonly string[];
  readonly minKernel?: string;
  readonly network?: boolean;
}

export interface SeccompRule {
  readonly names?: readonly string[];
  /** Old single-name form (Docker < 1.13 profiles). */
  readonly name?: string;
  readonly action: SeccompAction;
  readonly errnoRet?: number;
  /** podman: the errno by name ("EPERM"), when errnoRet is absent. */
  readonly errno?: string;
  readonly args?: readonly SeccompArg[] | null;
  readonly comment?: string;
  readonly includes?: SeccompCondition;
  readonly excludes?: SeccompCondition;
}

export interface SeccompPolicy {
  readonly defaultAction: SeccompAction;
  readonly defaultErrnoRet?: number;
  /** podman: the default errno by name. */
  readonly defaultErrno?: string;
  readonly architectures?: readonly string[] | null;
  readonly archMap?: readonly { readonly architecture: string; readonly subArchitectures?: readonly string[] | null }[] | null;
  readonly flags?: readonly string[] | null;
  readonly listenerPath?: string;
  readonly listenerMetadata?: string;
  readonly syscalls?: readonly SeccompRule[] | null;
}

/** A policy with where it came from; `text` is what the cache key hashes. */
export interface LoadedPolicy {
  readonly name: string;
  readonly file: string;
  readonly text: string;
  readonly policy: SeccompPolicy;
}
