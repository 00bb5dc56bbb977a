// The wire protocol between the sandbox (TypeScript) and the stage (C).
// Defined once here; src/stage/protocol.h is generated from this file
// (`npm run gen:protocol`) and a unit test fails when the two disagree.
// Must not: hold policy. It only names operations and frames.

/** First word of a plan: "SBX1" little-endian. */
export const PLAN_MAGIC = 0x31584253;
export const PROTOCOL_VERSION = 1;

/**
 * Operations, executed by the stage top to bottom. An op runs in one of three
 * processes: the stage itself (until FORK_INIT), pid 1 of the new pid
 * namespace (until FORK_WORKLOAD), or the workload (until EXEC).
 * Comments list the arguments: i = 64-bit integers, s = byte strings.
 */
export const Op = {
  // -- stage process (outside the new pid namespace) --
  /**
   * s: [path of a user namespace file]. Joins that user namespace (setns), so the next USERNS makes a
   * child of it: the caller keeps one that maps its whole range (holder-userns.ts), and runs' maps are then
   * written directly, without the setuid helpers.
   */
  JOIN_USERNS: 39,
  /** i: none. Forks the id-map helper, unshares CLONE_NEWUSER; the MAP_* ops that follow run in the helper. */
  USERNS: 1,
  /** s: [file under /proc/PID, content]. Helper writes e.g. uid_map directly. */
  MAP_WRITE: 2,
  /** s: [program (absolute path), args...]. Helper runs `program PID args...` (newuidmap/newgidmap) with an empty environment, stderr captured. */
  MAP_EXEC: 3,
  /** i: [uid, gid]. Stage takes this identity for set-up, keeping its capabilities. */
  SETUP_IDS: 4,
  /** i: [clone flags]. unshare(2) of the remaining namespaces. */
  UNSHARE: 5,
  /**
   * i: [sync id]. Tells the sandbox NS_READY with this id and waits for GO (helpers that join the
   * namespaces start here); the sandbox knows each sync point by its id.
   */
  SYNC: 6,
  /** s: [cgroup.procs file]. The stage moves itself into that cgroup (before the namespaces exist). */
  JOIN_CGROUP: 8,
  /**
   * i: [cpu limit us, wall limit us, output limit bytes (-1 = none for each), flags (LimitFlag)],
   * s: [file with the tree's CPU usage ("" = read /proc), its format (CpuUsageFormat)].
   * The stage enforces these while it monitors: it kills the sandbox at the limit and says why in EXIT.
   */
  LIMITS: 9,
  /**
   * i: [flags, exit code when EXEC finds no file (ENOENT), exit code when EXEC fails otherwise, signals...].
   * Forks pid 1 of the new pid namespace; later ops run there. The stage and pid 1 pass the listed signals
   * on to the workload; any other signal has its default action on the stage.
   */
  FORK_INIT: 7,
  // -- pid 1 (the reaper), setting up the root filesystem --
  /**
   * s: [path], i: [fd]. Opens a directory (O_PATH, O_NOFOLLOW, close-on-exec) as fd number i. Made before
   * USERNS, with the caller's own rights: the stage clears a run's writable layer, or a tree of the store,
   * through it (CLEAR_DIR), and only ever relative to it.
   */
  OPEN_DIR: 22,
  /**
   * s: [FIFO path], i: [fd]. The start gate of a created container (sandbox-oci create/start), with
   * WAIT_START. Made by the stage before USERNS, with the caller's own rights: opens the FIFO O_PATH
   * (close-on-exec) as fd number i, keeps the host's /proc and a pipe on which the workload reports its
   * host pid at the gate (the stage sends it as GATE).
   */
  OPEN_GATE: 40,
  /** i: [fd]. Closes an fd of OPEN_DIR once it is no longer needed. */
  CLOSE_FD: 23,
  /**
   * s: [root, staging dir]. Until PIVOT_ROOT, every path of MKDIR, WRITE_FILE, SYMLINK, MOUNT, BIND and
   * SETATTR under root is resolved inside root (openat2 RESOLVE_IN_ROOT), so symlinks in image content
   * cannot lead outside; WRITE_FILE there replaces what is at the path; MOUNT there is made on the
   * staging dir (outside root, trusted) and moved into place.
   */
  CONFINE: 24,
  /**
   * i: [fd, after the run (0|1)]. Empties the directory of an OPEN_DIR fd (removing files that belong to
   * ids inside, which only the stage may); with 1, when the sandbox has ended, before EXIT is sent.
   */
  CLEAR_DIR: 25,
  /**
   * i: [fd, uid, gid, when (0|1|2)]. Gives the directory of an OPEN_DIR fd and everything below it
   * to uid:gid (ids inside), never following a link; 0: now, failing on an error; 1: when the sandbox has
   * ended, before EXIT is sent (best effort then: the run's result stands); 2: now, best effort (what
   * cannot be given, e.g. a file of an id not mapped here, stays as it is).
   */
  CHOWN_TREE: 38,
  /** s: [file (absolute), "", argv..., "", envp...] as EXEC. Runs a helper to its end (a daemon: until it is ready); non-zero fails. */
  RUN: 26,
  /** i: [fd]. Keeps the current mount namespace as fd number i (close-on-exec), to come back to it (ENTER_MOUNT_NS). */
  KEEP_MOUNT_NS: 27,
  /** i: [fd]. Enters the mount namespace of a KEEP_MOUNT_NS fd (root and working directory become its root). */
  ENTER_MOUNT_NS: 28,
  /** s: [source, target, fstype, data], i: [mount flags]. mount(2); "" means NULL. */
  MOUNT: 10,
  /** s: [source, target], i: [recursive(0|1)]. Bind mount. */
  BIND: 11,
  /** s: [path], i: [attr_set, attr_clr, recursive(0|1)]. mount_setattr(2). */
  SETATTR: 12,
  /** s: [path], i: [umount2 flags]. */
  UMOUNT: 13,
  /** s: [path], i: [mode, uid, gid]. mkdir -p; uid/gid -1 = leave. Existing directories are kept. */
  MKDIR: 14,
  /** s: [path, content], i: [mode, uid, gid, keep existing(0|1)]. Creates (or replaces) a file; with keep, an existing one is left alone (a mount point). */
  WRITE_FILE: 15,
  /** s: [target, path]. symlink(target, path). */
  SYMLINK: 16,
  /** s: [new root, put old]. pivot_root(2); with ".", "." the old root is stacked on top (detach it with UMOUNT). */
  PIVOT_ROOT: 17,
  /** s: [hostname]. */
  SETHOSTNAME: 18,
  /** Brings the loopback interface up. */
  LOOPBACK_UP: 19,
  /** s: [ptmx path]. Opens a pseudo-terminal; the master goes to the stage, the workload gets the slave. */
  PTY: 20,
  /** i: [flags]. Forks the workload; later ops run there. pid 1 stays behind as the reaper. */
  FORK_WORKLOAD: 21,
  // -- the workload --
  /** s: [path]. */
  CHDIR: 30,
  /** i: [score]. The OOM killer's preference for the workload (1000: first), so it never picks the stage or pid 1. */
  OOM_SCORE_ADJ: 37,
  /** i: [resource, soft, hard]; -1 = RLIM_INFINITY. */
  RLIMIT: 31,
  /** i: [uid, gid, clear supplementary groups(0|1)]. Must come before DROP_CAPS (it needs CAP_SETUID). */
  SET_IDS: 32,
  /**
   * i: [bounding set to keep, permitted and effective set (bit masks)]. Ambient and inheritable are emptied; exec
   * then gives a uid 0 workload what it holds and any other uid none (no_new_privs grants nothing more). Locks
   * ambient raises off, and with nothing kept locks root out of capabilities (SECBIT_NOROOT).
   */
  DROP_CAPS: 33,
  /** prctl(PR_SET_NO_NEW_PRIVS). */
  NO_NEW_PRIVS: 34,
  /** s: [BPF program (struct sock_filter[])], i: [flags]. Loads a seccomp filter. */
  SECCOMP: 35,
  /**
   * i: [fd of OPEN_GATE]. The workload reports its host pid (GATE), then reopens the FIFO O_WRONLY through
   * the host's /proc/self/fd/i, which blocks until `start` opens it for reading, writes one byte, closes
   * it, and goes on (runc's exec.fifo). Placed just before EXEC (before a filter loaded last).
   */
  WAIT_START: 41,
  /** s: [file, search path, argv..., "", envp...]. Searches file in the search path unless it has a '/'. */
  EXEC: 36,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

/** FORK_INIT / FORK_WORKLOAD flags. */
export const ForkFlag = {
  /** The workload gets the pty (from PTY) as its controlling terminal. */
  TTY: 1,
  /** The stage copies its stdin to the pty master. */
  TTY_STDIN: 2,
} as const;

/** LIMITS flags. */
export const LimitFlag = {
  /** Relay stdout and stderr through the stage (counting bytes, applying the output limit). */
  RELAY_OUTPUT: 1,
  /** The workload's stderr goes to the same pipe as its stdout. */
  MERGE_STDERR: 2,
} as const;

/** How the CPU usage file of LIMITS is read. */
export const CpuUsageFormat = {
  /** No file: sum utime+stime+cutime+cstime over the sandbox's processes in /proc. */
  PROC: 0,
  /** cgroup v2 cpu.stat: the "usage_usec N" line. */
  CGROUP2_CPU_STAT: 1,
  /** cgroup v1 cpuacct.usage: nanoseconds. */
  CGROUP1_CPUACCT: 2,
} as const;

/** Why the stage ended a run (EXIT). */
export const KillReason = { NONE: 0, CPU: 1, WALL: 2, OUTPUT: 3, REQUESTED: 4 } as const;

/** Frames the stage sends on the control socket: u32 type, u32 length, payload (fields: EventFields). */
export const Event = {
  /** Namespaces exist; the stage waits for GO. */
  NS_READY: 1,
  /** Sent once the workload has executed. */
  STARTED: 2,
  /** A step failed (step UINT32_MAX: not a step of the plan). */
  ERROR: 3,
  /** The workload has ended: its status, times and what the stage measured. */
  EXIT: 4,
  /** The stage's last frame on every path where the control socket still works: the run is over. */
  DONE: 5,
  /** The workload has reached WAIT_START: its host pid (sent before it blocks on the FIFO). */
  GATE: 6,
} as const;

/** Frames the sandbox sends after the plan: u32 type, u32 length, payload (fields: CommandFields). */
export const Command = {
  GO: 1,
  /**
   * After STARTED: end the run now, as a limit does (pid 1 kills and reaps the tree), and report it with
   * its accounting (EXIT, kill reason REQUESTED): what `kill('SIGKILL')` and an abort send.
   */
  END: 2,
} as const;

/**
 * Types of frame fields, all little-endian: u32, i32, i64, and text (the rest of the frame, UTF-8;
 * only as the last field).
 */
export type FieldType = 'u32' | 'i32' | 'i64' | 'text';
export interface Field {
  readonly name: string;
  readonly type: FieldType;
}

/** The payload of each event, in order. C structs and pack functions are generated from these (protocol.h). */
export const EventFields = {
  NS_READY: [
    { name: 'pid', type: 'u32' }, // the stage's pid
    { name: 'syncId', type: 'u32' }, // the id of the SYNC op
  ],
  STARTED: [
    { name: 'reaperPid', type: 'u32' }, // host pid of pid 1 (the reaper)
    { name: 'reserved', type: 'u32' }, // 0
    // when the stage's phases ended, in ns since it started (-1: the plan had no such phase); for --trace
    { name: 'mapsNs', type: 'i64' }, // USERNS: the user namespace and its id maps
    { name: 'namespacesNs', type: 'i64' }, // UNSHARE: the other namespaces
    { name: 'pid1Ns', type: 'i64' }, // FORK_INIT: pid 1 forked
    { name: 'execNs', type: 'i64' }, // the workload executed
  ],
  ERROR: [
    { name: 'step', type: 'u32' }, // op index
    { name: 'errorNumber', type: 'i32' }, // errno
    { name: 'detail', type: 'text' },
  ],
  EXIT: [
    { name: 'waitStatus', type: 'i32' }, // of the workload
    { name: 'wallNs', type: 'i64' },
    { name: 'userUs', type: 'i64' }, // the whole tree's
    { name: 'systemUs', type: 'i64' },
    { name: 'maxRssKib', type: 'i64' }, // of the whole tree
    { name: 'killReason', type: 'u32' }, // KillReason
    { name: 'truncated', type: 'u32' }, // bit 0 stdout, bit 1 stderr
    { name: 'stdoutBytes', type: 'i64' }, // -1 unless the output is relayed
    { name: 'stderrBytes', type: 'i64' },
    { name: 'cpuSampleUs', type: 'i64' }, // last CPU sample of the tree, -1 if not sampled
    { name: 'voluntarySwitches', type: 'i64' }, // of the whole tree
    { name: 'involuntarySwitches', type: 'i64' },
  ],
  DONE: [],
  GATE: [
    { name: 'pid', type: 'u32' }, // host pid of the workload (in the stage's pid namespace)
    { name: 'reserved', type: 'u32' }, // 0
  ],
} as const satisfies { readonly [K in keyof typeof Event]: readonly Field[] };

/** The payload of each command. */
export const CommandFields = {
  GO: [],
  END: [],
} as const satisfies { readonly [K in keyof typeof Command]: readonly Field[] };

/** Exit codes of the stage when it cannot report through the control socket. */
export const StageExit = {
  BAD_PLAN: 120,
  LOST_CONTROL: 121,
} as const;
