// config/: profile files (how to run) as TypeScript types. The JSON Schema in
// profile-schema.ts is the authority on shape; this file mirrors it.
// Must not: apply defaults (resolve/ does that).

export interface ProfileTmpfs {
  /** Absolute path inside the sandbox. */
  readonly path: string;
  /** Size limit, as a byte count or with a k/m/g suffix ("64m"). */
  readonly size?: string;
  /** Octal mode of the mount's root directory ("1777"). */
  readonly mode?: string;
  /** "user": owned by the workload's uid/gid; "root" (default): owned by uid 0. */
  readonly owner?: 'root' | 'user';
}

export interface ProfileVolume {
  /** Absolute host path. */
  readonly source: string;
  /** Absolute path inside the sandbox. */
  readonly target: string;
  /** Writable when true; read-only otherwise. */
  readonly writable?: boolean;
  /** Nothing on it may be executed (MS_NOEXEC). */
  readonly noexec?: boolean;
}

/** Limits of a run; absent fields mean no limit. Sizes as in --memory ("256m"). */
export interface ProfileLimits {
  /** CPU time of the whole process tree, seconds (fractions allowed). */
  readonly cpuTime?: number;
  /** Wall-clock time from exec, seconds. */
  readonly wallTime?: number;
  /** Memory of the whole tree (cgroups) or per process (rlimit fallback); swap disabled. */
  readonly memory?: string;
  /** Processes and threads. */
  readonly pids?: number;
  /** Largest file the workload may write. */
  readonly fsize?: string;
  /** Open files per process. */
  readonly nofile?: number;
  /** Stack size per process. */
  readonly stack?: string;
  /** Address space per process (RLIMIT_AS), with or without a cgroup. */
  readonly addressSpace?: string;
  /** Bytes the workload may write to stdout and stderr together. */
  readonly output?: string;
}

export interface Profile {
  readonly description?: string;
  /** Workload identity inside the sandbox. */
  readonly user?: { readonly uid: number; readonly gid: number };
  readonly hostname?: string;
  /** none, host, pasta or slirp4netns, with options as in --network ("pasta:allow-host-loopback"). */
  readonly network?: string;
  /** Published ports, as -p takes them ("8080:80", "127.0.0.1:5353:53/udp"). */
  readonly publish?: readonly string[];
  /** Refuse `--network host` (the strict profile does). */
  readonly refuseHostNetwork?: boolean;
  /** Root file system read-only (tmpfs mounts and writable volumes stay writable). */
  readonly readOnly?: boolean;
  /** Size limit of the root tmpfs of the `host` image. */
  readonly rootSize?: string;
  readonly workdir?: string;
  readonly tmpfs?: readonly ProfileTmpfs[];
  readonly volumes?: readonly ProfileVolume[];
  readonly env?: Readonly<Record<string, string>>;
  /** Seccomp policy: a name from policies/, a path, or "unconfined". */
  readonly seccomp?: string;
  /** Added to and dropped from podman's default set, as podman's --cap-add and --cap-drop. */
  readonly capabilities?: { readonly add?: readonly string[]; readonly drop?: readonly string[] };
  /** Refuse `--cap-add` (the strict profile does). */
  readonly refuseCapAdd?: boolean;
  /** Refuse `--security-opt no-new-privileges=false` (the strict profile does). */
  readonly refuseNewPrivileges?: boolean;
  /** Refuse `--security-opt seccomp=unconfined` (the strict profile does). */
  readonly refuseUnconfined?: boolean;
  readonly limits?: ProfileLimits;
}

/** A profile together with where it came from (for error messages). */
export interface LoadedProfile {
  readonly name: string;
  readonly file: string;
  readonly profile: Profile;
}
