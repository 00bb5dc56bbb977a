// ExecOptions: what a caller (the CLI or a library user) asks for. Every
// field is optional except the command; absent fields take the profile's
// value, then the built-in default (see resolve-run-spec.ts).
import type { ProfileTmpfs, ProfileVolume } from '../config/profile.js';

/** "unlimited" lifts a limit the profile sets (the strict profile's ceilings). */
export const UNLIMITED = 'unlimited';
type Limit<T> = T | typeof UNLIMITED;
/** A stack rlimit of RLIM_INFINITY (not the same as none: without one the workload keeps the caller's). */
export const INFINITY = 'infinity';

/** Limits as the caller gives them: seconds, and sizes as numbers (bytes) or strings ("64m"); each may be "unlimited". */
export interface LimitOptions {
  readonly cpuTime?: Limit<number>;
  readonly wallTime?: Limit<number>;
  readonly memory?: Limit<number | string>;
  readonly pids?: Limit<number>;
  readonly fsize?: Limit<number | string>;
  readonly nofile?: Limit<number>;
  /** "infinity": RLIM_INFINITY, set (isolate's default without -k); "unlimited" leaves the caller's own. */
  readonly stack?: Limit<number | string> | typeof INFINITY;
  /** Address space of each process (RLIMIT_AS), also with a cgroup (isolate's -m). */
  readonly addressSpace?: Limit<number | string>;
  readonly output?: Limit<number | string>;
}

export interface ExecOptions {
  /** Image reference: "host", a name in the image store, oci:DIR, a root directory... Default "host". */
  readonly image?: string;
  /** Program and arguments; with an image, empty means its Cmd. */
  readonly command: readonly string[];
  /** Replaces the image's Entrypoint (and then its Cmd is not used), as podman's --entrypoint. */
  readonly entrypoint?: readonly string[];
  /** Profile name (profiles/NAME.json) or path. Default "default". */
  readonly profile?: string;
  /** "UID[:GID]" or ids. */
  readonly user?: string | { readonly uid: number; readonly gid: number };
  readonly hostname?: string;
  readonly workdir?: string;
  readonly readOnly?: boolean;
  /** none, host, pasta or slirp4netns, with options as in --network (pasta:allow-host-loopback). */
  readonly network?: string;
  /** "[IP:]HOSTPORT:CTRPORT[/tcp|/udp]" strings (as -p); they replace the profile's. */
  readonly publish?: readonly string[];
  /** "KEY=VAL" / "KEY" strings (as -e), or a map. */
  readonly env?: readonly string[] | Readonly<Record<string, string>>;
  /** Files of KEY=VAL lines (as --env-file). */
  readonly envFiles?: readonly string[];
  /** "SRC:DST[:ro|rw]" strings (as -v) or objects. */
  readonly volumes?: readonly (string | ProfileVolume)[];
  /** "DST[:size=N,mode=M]" strings (as --tmpfs) or objects. */
  readonly tmpfs?: readonly (string | ProfileTmpfs)[];
  /** Seccomp policy name, path, or "unconfined" (--security-opt seccomp=). */
  readonly seccomp?: string;
  /** Capabilities added to / dropped from the profile's, as podman's --cap-add / --cap-drop ("NET_ADMIN", "ALL"). */
  readonly capAdd?: readonly string[];
  readonly capDrop?: readonly string[];
  /** false lets setuid files and file capabilities raise privileges (--security-opt no-new-privileges=false). Default true. */
  readonly noNewPrivileges?: boolean;
  /** Give the workload a pseudo-terminal (-t). */
  readonly tty?: boolean;
  /** Keep stdin open (-i). */
  readonly interactive?: boolean;
  readonly limits?: LimitOptions;
  /** The workload's stderr goes where its stdout goes (--stderr-to-stdout). */
  readonly stderrToStdout?: boolean;
  /**
   * After the run, every file of the writable volume mounted at `target` goes
   * to uid:gid (ids inside; 0 is the caller for a caller with a subordinate
   * range), never through a link: the isolate mode gives a box back this way.
   * workloadFirst: before the run the tree goes to the workload's ids (isolate
   * gives its box to the box uid for each run, so the program may rewrite what
   * an earlier run or the caller left there).
   */
  readonly chownAfterRun?: { readonly target: string; readonly uid: number; readonly gid: number; readonly workloadFirst?: boolean };
  /** false: argv[0] without a '/' is a file in the working directory, never searched in PATH (isolate's rule). Default true. */
  readonly pathSearch?: boolean;
  /** Start from an empty environment: no PATH, HOME or HOSTNAME of our own, only what env asks for (isolate's rule). */
  readonly cleanEnv?: boolean;
  /** Count the bytes written to stdout and stderr (the stage relays them) even without an output limit. */
  readonly accountOutput?: boolean;
}
