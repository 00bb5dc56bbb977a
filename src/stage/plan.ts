// Stage plans: typed constructors for every op, and the binary encoding the
// stage reads. Each op carries a description so that a failing step can be
// reported as "bind /usr on /usr: EACCES" instead of "step 12".
// Must not: decide anything. Callers (rootfs/, resolve/) choose the ops.
import { Op, PLAN_MAGIC, PROTOCOL_VERSION, type OpCode } from './protocol.js';
import { RUN_CHOICES, signalNumbers, type RunChoices } from './stage-choices.js';

export interface StageOp {
  readonly code: OpCode;
  readonly ints: readonly (number | bigint)[];
  readonly strs: readonly (string | Uint8Array)[];
  /** What this step does, for error messages ("mount proc on /proc"). */
  readonly what: string;
}

function op(code: OpCode, what: string, ints: (number | bigint)[] = [], strs: (string | Uint8Array)[] = []): StageOp {
  return { code, ints, strs, what };
}

// mount(2) flags and mount_setattr(2) attributes, from <sys/mount.h> and <linux/mount.h>.
export const MS = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, REMOUNT: 0x20, BIND: 0x1000, REC: 0x4000,
  PRIVATE: 0x40000, SLAVE: 0x80000,
} as const;
export const MOUNT_ATTR = { RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8 } as const;
export const MNT_DETACH = 2;
export const CLONE = {
  NEWNS: 0x20000, NEWCGROUP: 0x2000000, NEWUTS: 0x4000000, NEWIPC: 0x8000000,
  NEWUSER: 0x10000000, NEWPID: 0x20000000, NEWNET: 0x40000000,
} as const;

export const ops = {
  joinUserns: (path: string) => op(Op.JOIN_USERNS, `join the user namespace ${path}`, [], [path]),
  userns: () => op(Op.USERNS, 'create the user namespace'),
  mapWrite: (file: string, content: string) => op(Op.MAP_WRITE, `write /proc/PID/${file}`, [], [file, content]),
  mapExec: (program: string, args: string[]) =>
    op(Op.MAP_EXEC, `${program} PID ${args.join(' ')}`, [], [program, ...args]),
  setupIds: (uid: number, gid: number) => op(Op.SETUP_IDS, `become ${uid}:${gid} for set-up`, [uid, gid]),
  unshare: (flags: number, names: string) => op(Op.UNSHARE, `unshare ${names}`, [flags]),
  sync: (id = 0, what = 'wait for the sandbox (GO)') => op(Op.SYNC, what, [id]),
  joinCgroup: (procsFile: string) => op(Op.JOIN_CGROUP, `join the cgroup ${procsFile.replace(/\/cgroup\.procs$/, '')}`, [], [procsFile]),
  limits: (cpuUs: number, wallUs: number, outputBytes: number, flags: number, usageFile: string, usageFormat: number) =>
    op(Op.LIMITS, 'set the limits the stage enforces', [cpuUs, wallUs, outputBytes, flags], [usageFile, String(usageFormat)]),
  /** The run's choices (stage-choices.ts) travel here: exec failure exit codes, then the signals to forward. */
  forkInit: (flags: number, run: RunChoices = RUN_CHOICES) => op(Op.FORK_INIT, 'start pid 1 of the sandbox',
    [flags, run.execFailureExit.notFound, run.execFailureExit.other, ...signalNumbers(run.signals)]),
  mount: (source: string, target: string, fstype: string, flags: number, data = '') =>
    op(Op.MOUNT, `mount ${fstype || source || '(flags)'} on ${target}`, [flags], [source, target, fstype, data]),
  bind: (source: string, target: string, recursive = true) =>
    op(Op.BIND, `bind ${source} on ${target}`, [recursive ? 1 : 0], [source, target]),
  setattr: (path: string, set: number, clear = 0, recursive = true) =>
    op(Op.SETATTR, `set mount attributes of ${path}`, [set, clear, recursive ? 1 : 0], [path]),
  umount: (path: string, flags: number) => op(Op.UMOUNT, `unmount ${path}`, [flags], [path]),
  mkdir: (path: string, mode = 0o755, uid = -1, gid = -1) => op(Op.MKDIR, `create directory ${path}`, [mode, uid, gid], [path]),
  writeFile: (path: string, content: string | Uint8Array, mode = 0o644, uid = -1, gid = -1) =>
    op(Op.WRITE_FILE, `write ${path}`, [mode, uid, gid], [path, content]),
  /** An empty file to mount on, unless something is already there. */
  mountPointFile: (path: string) => op(Op.WRITE_FILE, `create ${path} unless it exists`, [0o644, -1, -1, 1], [path, '']),
  symlink: (target: string, path: string) => op(Op.SYMLINK, `symlink ${path} -> ${target}`, [], [target, path]),
  openDir: (path: string, fd: number) => op(Op.OPEN_DIR, `open ${path} as fd ${fd}`, [fd], [path]),
  openGate: (fifo: string, fd: number) => op(Op.OPEN_GATE, `open the start FIFO ${fifo} as fd ${fd}`, [fd], [fifo]),
  waitStart: (fd: number) => op(Op.WAIT_START, 'wait for start (the start FIFO)', [fd]),
  closeFd: (fd: number) => op(Op.CLOSE_FD, `close fd ${fd}`, [fd]),
  keepMountNs: (fd: number, name: string) => op(Op.KEEP_MOUNT_NS, `keep the mount namespace ${name} as fd ${fd}`, [fd]),
  enterMountNs: (fd: number, name: string) => op(Op.ENTER_MOUNT_NS, `enter the mount namespace ${name}`, [fd]),
  chownTree: (fd: number, uid: number, gid: number, when: 'now' | 'after-run' | 'now-best-effort') =>
    op(Op.CHOWN_TREE, `give the tree of fd ${fd} to ${uid}:${gid}${when === 'after-run' ? ' after the run' : when === 'now-best-effort' ? ' (best effort)' : ''}`,
      [fd, uid, gid, when === 'now' ? 0 : when === 'after-run' ? 1 : 2]),
  clearDir: (fd: number, afterRun: boolean) => op(Op.CLEAR_DIR, `clear the directory of fd ${fd}${afterRun ? ' after the run' : ''}`, [fd, afterRun ? 1 : 0]),
  confine: (root: string, staging: string) => op(Op.CONFINE, `resolve paths under ${root} inside it`, [], [root, staging]),
  pivotRoot: (newRoot: string, putOld: string) => op(Op.PIVOT_ROOT, `pivot_root to ${newRoot}`, [], [newRoot, putOld]),
  sethostname: (name: string) => op(Op.SETHOSTNAME, `set hostname ${name}`, [], [name]),
  loopbackUp: () => op(Op.LOOPBACK_UP, 'bring up lo'),
  pty: (ptmx: string) => op(Op.PTY, `open a pseudo-terminal at ${ptmx}`, [], [ptmx]),
  forkWorkload: (flags: number) => op(Op.FORK_WORKLOAD, 'start the workload', [flags]),
  chdir: (path: string) => op(Op.CHDIR, `change directory to ${path}`, [], [path]),
  oomScoreAdj: (score: number) => op(Op.OOM_SCORE_ADJ, `set oom_score_adj ${score}`, [score]),
  rlimit: (resource: number, soft: number | bigint, hard: number | bigint, name: string) =>
    op(Op.RLIMIT, `set ${name}`, [resource, soft, hard]),
  setIds: (uid: number, gid: number, clearGroups: boolean) =>
    op(Op.SET_IDS, `switch to uid ${uid} gid ${gid}`, [uid, gid, clearGroups ? 1 : 0]),
  dropCaps: (bounding: bigint, held: bigint) =>
    op(Op.DROP_CAPS, bounding ? `keep only capabilities 0x${bounding.toString(16)} (held: 0x${held.toString(16)})` : 'drop all capabilities', [bounding, held]),
  noNewPrivs: () => op(Op.NO_NEW_PRIVS, 'set no_new_privs'),
  seccomp: (bpf: Uint8Array, flags = 0) => op(Op.SECCOMP, 'load the seccomp filter', [flags], [bpf]),
  run: (file: string, argv: string[], envp: string[] = []) =>
    op(Op.RUN, `run ${file}`, [argv.length], [file, '', ...argv, ...envp]),
  exec: (file: string, searchPath: string, argv: string[], envp: string[]) =>
    op(Op.EXEC, `execute ${file}`, [argv.length], [file, searchPath, ...argv, ...envp]),
};

/** Encodes a plan: header (magic, version, byte size, op count), then each op. */
export function encodePlan(plan: readonly StageOp[]): Buffer {
  // strings to bytes once, then one buffer: this runs on every sandbox start
  const strs = plan.map((o) => o.strs.map((x) => {
    if (typeof x !== 'string') return x;
    // internal invariant: resolve-run-spec.ts refuses NUL bytes by name before a plan is made
    if (x.includes('\0')) throw new Error(`NUL byte in stage argument of "${o.what}"`);
    return Buffer.from(x, 'utf8');
  }));
  let size = 0;
  plan.forEach((o, i) => {
    size += 12 + 8 * o.ints.length;
    for (const b of strs[i]!) size += 4 + b.length + 1; // every string ends in NUL for use in place
  });
  const out = Buffer.alloc(16 + size);
  out.writeUInt32LE(PLAN_MAGIC, 0);
  out.writeUInt32LE(PROTOCOL_VERSION, 4);
  out.writeUInt32LE(size, 8);
  out.writeUInt32LE(plan.length, 12);
  let off = 16;
  plan.forEach((o, i) => {
    off = out.writeUInt32LE(o.code, off);
    off = out.writeUInt32LE(o.ints.length, off);
    off = out.writeUInt32LE(o.strs.length, off);
    for (const v of o.ints) off = out.writeBigInt64LE(BigInt(v), off);
    for (const b of strs[i]!) {
      off = out.writeUInt32LE(b.length, off);
      out.set(b, off);
      off += b.length + 1;
    }
  });
  return out;
}
