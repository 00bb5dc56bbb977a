// RunSpec: the contract between resolving and running. Fully resolved (no
// defaults left to apply), JSON-serializable, frozen.
import type { IdMapPlan } from '../idmap/plan-idmap.js';
import type { HostImageLayout, ProcLayout, SysLayout } from '../rootfs/host-image.js';
import type { OverlayDriver } from '../rootfs/choose-overlay.js';
import type { NetworkSpec } from '../network/resolve-network.js';
import type { Capability } from './capabilities.js';

export interface TmpfsSpec {
  readonly path: string;
  readonly sizeBytes: number;
  readonly mode: number;
  readonly owner: 'root' | 'user';
}

export interface VolumeSpec {
  /** Canonical host path (symlinks resolved). */
  readonly source: string;
  readonly target: string;
  readonly writable: boolean;
  /** Mounted noexec. */
  readonly noexec: boolean;
  readonly kind: 'dir' | 'file';
}

/** Resolved limits; null = none. */
export interface LimitsSpec {
  readonly cpuTimeUs: number | null;
  readonly wallTimeUs: number | null;
  readonly memoryBytes: number | null;
  readonly pids: number | null;
  readonly fsizeBytes: number | null;
  readonly nofile: number | null;
  /** 'infinity': RLIM_INFINITY is set; null: the caller's is kept. */
  readonly stackBytes: number | null | 'infinity';
  /** RLIMIT_AS of each process (isolate's -m); independent of the memory limit's backend. */
  readonly addressSpaceBytes: number | null;
  readonly outputBytes: number | null;
}

/** The `host` image: read-only binds of the host's toolchains. */
export interface HostImageSpec {
  readonly kind: 'host';
  readonly layout: HostImageLayout;
}

/** An OCI image (or a plain root directory): layers under a per-run overlay. */
export interface OciImageSpec {
  readonly kind: 'oci';
  /** What the caller named, and the manifest digest it resolved to ("" for a directory). */
  readonly ref: string;
  readonly digest: string;
  /** Unpacked layer directories on the host, bottom layer first. */
  readonly layers: readonly string[];
  /** The kernel's overlayfs, or fuse-overlayfs. */
  readonly overlay: OverlayDriver;
  readonly proc: ProcLayout;
  /** /sys is mounted read-only in image runs, these masked. */
  readonly sys: SysLayout;
}

/** A tree given to one owner when the run has ended (ExecOptions.chownAfterRun). */
export interface ChownAfterRun {
  /** Host directory (a writable volume's source). */
  readonly source: string;
  readonly uid: number;
  readonly gid: number;
  /** Before the run the tree goes to the workload's ids. */
  readonly workloadFirst: boolean;
}

export interface RunSpec {
  readonly image: HostImageSpec | OciImageSpec;
  readonly profile: { readonly name: string; readonly file: string };
  /** argv of the workload; argv[0] is searched in PATH unless it has a '/'. */
  readonly argv: readonly string[];
  /** KEY=VALUE strings, in order. */
  readonly env: readonly string[];
  /** PATH inside the sandbox, used to find argv[0]. */
  readonly searchPath: string;
  readonly cwd: string;
  readonly user: { readonly uid: number; readonly gid: number; readonly name: string; readonly home: string };
  readonly hostname: string;
  readonly network: NetworkSpec;
  readonly readOnly: boolean;
  readonly rootSizeBytes: number;
  readonly tmpfs: readonly TmpfsSpec[];
  readonly volumes: readonly VolumeSpec[];
  readonly chownAfterRun: ChownAfterRun | null;
  /** -t: the workload gets a pseudo-terminal; -i: stdin is kept. */
  readonly tty: boolean;
  readonly interactive: boolean;
  readonly idmap: IdMapPlan;
  /** Seccomp policy to compile and load: a name, a path, or "unconfined". */
  readonly seccomp: string;
  /** The workload's bounding set ("CAP_CHOWN", ...), in bit order; uid 0 holds it after exec. */
  readonly capabilities: readonly Capability[];
  /** no_new_privs before exec (setuid files and file capabilities raise nothing). */
  readonly noNewPrivileges: boolean;
  readonly limits: LimitsSpec;
  /** stdout and stderr pass through the stage (counted, capped); stderr joins stdout. */
  readonly output: { readonly relay: boolean; readonly mergeStderr: boolean };
}
