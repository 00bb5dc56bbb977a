// Uid slots: a distinct part of the caller's subordinate range for each run
// that is alive at the same time, so that two sandboxes of one user never
// share a host id (files they write, per-uid kernel limits such as
// RLIMIT_NPROC, signals and ptrace should a pid namespace ever leak).
//
// Layout. The ranges of /etc/subuid and /etc/subgid are cut into slots of
// SLOT_SIZE ids (a range smaller than that is one slot); a 65536-id range has
// 64. A run holds one slot, or several adjacent ones when its user needs a
// larger inside id (-u 4242 takes 5), and inside id i is host id
// `range start + first slot × SLOT_SIZE + i`, for uids and gids alike. The one
// exception: inside 0 of a non-root caller is the caller (so what root writes
// in a volume is the caller's), so those runs share it, as podman's do.
//
// Locking. Slot n is held by an exclusive flock(2) on
// <dir>/n.lock (dir: $XDG_RUNTIME_DIR/rootless-sandbox/slots, else
// /run/user/UID/rootless-sandbox/slots, else /tmp/rootless-sandbox-UID/slots,
// each 0700 and the caller's own). The kernel drops the lock when its holder
// exits, however it exits (even SIGKILL), so there are no stale locks to
// detect or take over; release is close(). The files stay (at most one per
// slot) and are reused; the pid and start time written in one only name its
// last holder in messages. A taker checks after locking that the path still
// names the file it locked (a /tmp cleaner may remove one), else retries.
// Must not: decide the maps (plan-idmap.ts does) or write them.
import {
  closeSync, constants, lstatSync, mkdirSync, openSync, readFileSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { SandboxError } from '../errors.js';
import type { HostFacts } from '../host/probe-host.js';
import { FlockError, FlockUnavailable, sameFile, tryLockExclusive, tryLockPath } from './flock.js';
import { procStartTime, processStartTime } from '../host/process-start.js';

export { sameFile, procStartTime };
import { usesSubIds, type UidSlotRange } from './plan-idmap.js';

/**
 * Ids per slot. Both profiles' users (0 and 1000) and the usual first login
 * uids fit in one slot, a 65536-id range (what useradd gives) has 64 slots,
 * and podman's `--userns=auto` hands out the same 1024 by default. Larger ids
 * cost adjacent slots, not a refusal. Every process of a user must use the
 * same size (slot n names host ids), so it is a constant.
 */
export const SLOT_SIZE = 1024;
/** How long an acquisition waits for a slot when all are held. */
export const DEFAULT_SLOT_TIMEOUT_MS = 30_000;

export interface SlotGeometry {
  /** Ids per slot: SLOT_SIZE, or the whole range when it is smaller. */
  readonly size: number;
  /** Number of slots. */
  readonly slots: number;
  readonly uidStart: number;
  readonly gidStart: number;
}

/** How the caller's ranges divide into slots; null when runs map no range (single-id mapping). */
export function slotGeometry(host: HostFacts): SlotGeometry | null {
  if (!usesSubIds(host) || !host.subuid || !host.subgid) return null;
  const count = Math.min(host.subuid.count, host.subgid.count);
  const size = Math.min(SLOT_SIZE, count);
  if (size < 2) return null;
  return { size, slots: Math.floor(count / size), uidStart: host.subuid.start, gidStart: host.subgid.start };
}

/** Adjacent slots a workload needs so that its uid and gid exist inside. */
export function slotsNeeded(workload: { uid: number; gid: number }, size: number): number {
  return Math.floor(Math.max(workload.uid, workload.gid, 0) / size) + 1;
}

/** The ids of slots index..index+count-1. */
export function slotRange(g: SlotGeometry, index: number, count = 1): UidSlotRange {
  if (!Number.isInteger(index) || !Number.isInteger(count) || index < 0 || count < 1 || index + count > g.slots) {
    throw new RangeError(`slots ${index}+${count} are outside 0-${g.slots - 1}`);
  }
  return { index, count, ids: count * g.size, uidStart: g.uidStart + index * g.size, gidStart: g.gidStart + index * g.size };
}

/** First slots to try, in order: every possible start once, from `first` on (wrapping). */
export function candidateStarts(slots: number, need: number, first: number): number[] {
  const n = slots - need + 1;
  if (n <= 0) return [];
  const from = ((Math.floor(first) % n) + n) % n;
  return Array.from({ length: n }, (_, i) => (from + i) % n);
}

/** Pause before the next round when every slot was held: 10 ms, growing to 250 ms, ±25 %. */
export function retryDelayMs(round: number, random: () => number = Math.random): number {
  const base = Math.min(10 * 1.5 ** Math.max(0, round), 250);
  return Math.round(base * (0.75 + random() * 0.5));
}

// ---- the lock directory --------------------------------------------------

export interface DirFacts {
  readonly isDirectory: boolean;
  readonly isSymbolicLink: boolean;
  readonly uid: number;
  readonly mode: number;
}

/** Why `path` may not hold the caller's locks, or null when it is a private directory of `uid`. */
export function privateDirProblem(path: string, st: DirFacts | null, uid: number): string | null {
  if (!st) return `${path} does not exist`;
  if (st.isSymbolicLink) return `${path} is a symbolic link`;
  if (!st.isDirectory) return `${path} is not a directory`;
  if (st.uid !== uid) return `${path} belongs to uid ${st.uid}, not ${uid}`;
  if (st.mode & 0o022) return `${path} is writable by others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
  return null;
}

function dirFacts(path: string): DirFacts | null {
  try {
    const st = lstatSync(path);
    return { isDirectory: st.isDirectory(), isSymbolicLink: st.isSymbolicLink(), uid: st.uid, mode: st.mode };
  } catch {
    return null;
  }
}

export interface SlotDirChoice {
  /** The lock directory. */
  readonly dir: string;
  /** Directories to create (0700) and check, outermost first; the last is `dir`. */
  readonly create: readonly string[];
  readonly source: 'XDG_RUNTIME_DIR' | '/run/user' | '/tmp';
}

/**
 * Where a user's slot locks live. Every process of the user must find the
 * same directory, so besides $XDG_RUNTIME_DIR this also looks at
 * /run/user/UID (what logind sets it to) when it is unset, as it is under
 * cron, `su` and some sudo set-ups. A runtime directory that is not the
 * caller's own and private is passed over.
 */
export function chooseSlotDir(env: NodeJS.ProcessEnv, uid: number, statOf: (path: string) => DirFacts | null = dirFacts): SlotDirChoice {
  const runtime = (base: string, source: SlotDirChoice['source']): SlotDirChoice => ({
    dir: join(base, 'rootless-sandbox', 'slots'),
    create: [join(base, 'rootless-sandbox'), join(base, 'rootless-sandbox', 'slots')],
    source,
  });
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && xdg.startsWith('/') && privateDirProblem(xdg, statOf(xdg), uid) === null) return runtime(xdg, 'XDG_RUNTIME_DIR');
  const run = `/run/user/${uid}`;
  if (privateDirProblem(run, statOf(run), uid) === null) return runtime(run, '/run/user');
  const tmp = `/tmp/rootless-sandbox-${uid}`;
  return { dir: join(tmp, 'slots'), create: [tmp, join(tmp, 'slots')], source: '/tmp' };
}

function euid(): number {
  return process.geteuid?.() ?? -1;
}

/** Creates (0700) and checks the directories; throws a host error naming the first that is not private. */
function ensurePrivateDirs(paths: readonly string[]): void {
  const uid = euid();
  for (const path of paths) {
    let facts = dirFacts(path);
    if (!facts) {
      try {
        mkdirSync(path, { mode: 0o700 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new SandboxError('host', `cannot create the uid slot directory ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`,
            'set XDG_RUNTIME_DIR to a directory only you can write (e.g. /run/user/$(id -u))');
        }
      }
      facts = dirFacts(path);
    }
    const problem = privateDirProblem(path, facts, uid);
    if (problem) {
      throw new SandboxError('host', `refusing the uid slot directory: ${problem}`,
        `it must be a directory of uid ${uid} that only it can write: remove it (rm -r ${path}), or set XDG_RUNTIME_DIR to a directory only you can write`);
    }
  }
}

/** The lock directory this process would use (not created). */
export function slotLockDir(env: NodeJS.ProcessEnv = process.env): string {
  return chooseSlotDir(env, euid()).dir;
}

// ---- the lock files ------------------------------------------------------

export interface OwnerRecord {
  readonly pid: number;
  /** Start time of the process, in clock ticks after boot (field 22 of /proc/PID/stat): tells pid reuse apart. */
  readonly startTime: number;
}

/** Fixed width, so that the next holder overwrites it whole without truncating. */
export function formatOwnerRecord(r: OwnerRecord): string {
  return `${String(r.pid).padStart(10)} ${String(r.startTime).padStart(20)}\n`;
}

export function parseOwnerRecord(text: string): OwnerRecord | null {
  const m = /^ *(\d+) +(\d+)\n?$/.exec(text);
  if (!m) return null;
  const pid = Number(m[1]), startTime = Number(m[2]);
  return pid > 0 && Number.isSafeInteger(pid) && Number.isSafeInteger(startTime) ? { pid, startTime } : null;
}

/**
 * Whether the process a lock file names still runs: `stat` is its
 * /proc/PID/stat now (null: no such process). A flock cannot go stale, so this
 * only explains a held lock: "gone" means the holder started a process that
 * kept the lock's descriptor.
 */
export function ownerState(record: OwnerRecord, stat: string | null): 'running' | 'gone' {
  return stat !== null && procStartTime(stat) === record.startTime ? 'running' : 'gone';
}

let self: OwnerRecord | undefined;
function selfRecord(): OwnerRecord {
  if (self?.pid === process.pid) return self;
  // no /proc: the pid alone
  return (self = { pid: process.pid, startTime: processStartTime('self') ?? 0 });
}

/** Whether the path (stat, null: gone) still names the file that was locked (its fstat). */

interface HeldLock {
  readonly path: string;
  readonly fd: number;
}


function lockFileError(path: string, e: unknown): SandboxError {
  if (e instanceof SandboxError) return e;
  if (e instanceof FlockUnavailable) return new SandboxError('host', e.message, 'reinstall the package (npm ci): koffi, a dependency, binds flock(2)');
  const why = e instanceof FlockError ? e.message : (e as NodeJS.ErrnoException).code ?? String(e);
  return new SandboxError('host', `cannot lock the uid slot file ${path}: ${why}`,
    'the directory must be on a local file system that supports flock(2), such as $XDG_RUNTIME_DIR or /tmp');
}

/** Locks the file at path without waiting; null when another open file holds it. */
function tryLockFile(path: string): HeldLock | null {
  let fd: number | 'busy' | 'unstable';
  try {
    fd = tryLockPath(path);
    if (typeof fd === 'number') writeSync(fd, formatOwnerRecord(selfRecord()), 0);
  } catch (e) {
    throw lockFileError(path, e);
  }
  return typeof fd === 'number' ? { path, fd } : null;
}

// ---- slots ---------------------------------------------------------------

/** Held slot(s); release() gives them back (idempotent). Release only after the run's stage has exited. */
export interface UidSlot extends UidSlotRange {
  /** The lock directory. */
  readonly dir: string;
  readonly released: boolean;
  release(): void;
}

/** Slots this process holds, by directory: skipped without a system call. */
const heldHere = new Map<string, Set<number>>();

function heldIn(dir: string): Set<number> {
  let set = heldHere.get(dir);
  if (!set) heldHere.set(dir, (set = new Set()));
  return set;
}

function tryAcquire(dir: string, g: SlotGeometry, need: number, first: number): UidSlot | null {
  const held = heldIn(dir);
  for (const start of candidateStarts(g.slots, need, first)) {
    const locks: HeldLock[] = [];
    try {
      for (let i = start; i < start + need; i++) {
        const lock = held.has(i) ? null : tryLockFile(join(dir, `${i}.lock`));
        if (!lock) break;
        locks.push(lock);
      }
    } catch (e) {
      for (const lock of locks) closeSync(lock.fd);
      throw e;
    }
    if (locks.length === need) {
      for (let i = start; i < start + need; i++) held.add(i);
      let released = false;
      return {
        ...slotRange(g, start, need),
        dir,
        get released() { return released; },
        release() {
          if (released) return;
          released = true;
          for (let i = start; i < start + need; i++) held.delete(i);
          for (const lock of locks) closeSync(lock.fd);
        },
      };
    }
    for (const lock of locks) closeSync(lock.fd);
  }
  return null;
}

export interface AcquireSlotOptions {
  /** The run's inside uid and gid: how many adjacent slots it needs (default 0:0, one slot). */
  readonly workload?: { readonly uid: number; readonly gid: number };
  /** How long to wait when every slot is held (default 30 s; 0: try once). */
  readonly timeoutMs?: number;
  /** Stops waiting (rejects with its reason). */
  readonly signal?: AbortSignal;
  /** Lock directory; default chooseSlotDir(). Every process of the user must use the same one. */
  readonly dir?: string;
  /** Where to start looking (default: random), for tests. */
  readonly first?: number;
}

interface Attempt {
  readonly g: SlotGeometry;
  readonly dir: string;
  readonly need: number;
  readonly deadline: number;
  readonly started: number;
  first: number;
}

function who(host: HostFacts): string {
  return host.userName ?? `uid ${host.uid}`;
}

function begin(host: HostFacts, options: AcquireSlotOptions): Attempt | null {
  const g = slotGeometry(host);
  if (!g) return null;
  const workload = options.workload ?? { uid: 0, gid: 0 };
  const need = slotsNeeded(workload, g.size);
  if (need > g.slots) {
    const [bad, id] = workload.uid >= g.slots * g.size ? ['uid', workload.uid] : ['gid', workload.gid];
    throw new SandboxError('usage', `${bad} ${id} does not exist inside the sandbox (-u): ids 0-${g.slots * g.size - 1} can be mapped`,
      `choose an id in that range, or give ${who(host)} a larger range in /etc/subuid and /etc/subgid`);
  }
  let dir: string;
  if (options.dir) {
    dir = options.dir;
    ensurePrivateDirs([dir]);
  } else {
    const choice = chooseSlotDir(process.env, euid());
    ensurePrivateDirs(choice.create);
    dir = choice.dir;
  }
  const started = Date.now();
  const first = options.first ?? Math.floor(Math.random() * g.slots);
  return { g, dir, need, started, deadline: started + Math.max(0, options.timeoutMs ?? DEFAULT_SLOT_TIMEOUT_MS), first };
}

/** Who holds the slots, for the message when none is free: the records of the files that are locked now. */
function holders(a: Attempt): string {
  const pids: string[] = [];
  const here = heldIn(a.dir);
  if (here.size) pids.push(`${process.pid} (this process, ${here.size} slot${here.size === 1 ? '' : 's'})`);
  for (let i = 0; i < a.g.slots && pids.length < 8; i++) {
    if (here.has(i)) continue;
    let fd: number | undefined;
    try {
      fd = openSync(join(a.dir, `${i}.lock`), constants.O_RDONLY | constants.O_NOFOLLOW);
      if (tryLockExclusive(fd)) continue; // free now (a record left by its last holder); closing gives it back
      const r = parseOwnerRecord(readFileSync(fd, 'utf8'));
      if (!r) continue;
      let stat: string | null = null;
      try { stat = readFileSync(`/proc/${r.pid}/stat`, 'utf8'); } catch { /* gone */ }
      const pid = ownerState(r, stat) === 'running' ? String(r.pid) : `${r.pid} (exited; a process it started keeps the lock)`;
      if (!pids.includes(pid)) pids.push(pid);
    } catch {
      /* missing or unreadable: nothing to say */
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  return pids.length ? `; holders include pid ${pids.join(', ')}` : '';
}

function allInUse(host: HostFacts, a: Attempt): SandboxError {
  const waited = ((Date.now() - a.started) / 1000).toFixed(1);
  const what = a.need === 1
    ? `all ${a.g.slots} uid slots of ${who(host)} are in use`
    : `no ${a.need} adjacent uid slots of ${who(host)} are free (ids up to ${a.need * a.g.size - 1} need ${a.need} of the ${a.g.slots} slots)`;
  return new SandboxError('host', `${what} (waited ${waited} s; locks in ${a.dir}${holders(a)})`,
    `each running sandbox holds ${a.g.size} ids of ${who(host)}'s range in /etc/subuid and /etc/subgid: `
    + 'run fewer sandboxes at once, or give the user a larger range (e.g. usermod --add-subuids and --add-subgids)');
}

function round(a: Attempt): UidSlot | null {
  const slot = tryAcquire(a.dir, a.g, a.need, a.first);
  a.first += 1; // the next round starts elsewhere
  return slot;
}

/**
 * Takes a free slot (or `need` adjacent ones) of the caller's range: null
 * when runs map no range (single-id mapping, where every run shares the
 * caller's id). Waits up to `timeoutMs` when all are held, then throws a
 * SandboxError("host").
 */
export async function acquireUidSlot(host: HostFacts, options: AcquireSlotOptions = {}): Promise<UidSlot | null> {
  options.signal?.throwIfAborted();
  const a = begin(host, options);
  if (!a) return null;
  for (let n = 0; ; n++) {
    options.signal?.throwIfAborted();
    const slot = round(a);
    if (slot) return slot;
    const left = a.deadline - Date.now();
    if (left <= 0) throw allInUse(host, a);
    await sleep(Math.min(retryDelayMs(n), left), options.signal);
  }
}

/** acquireUidSlot for synchronous callers; blocks the thread while it waits (only when every slot is held). */
export function acquireUidSlotSync(host: HostFacts, options: Omit<AcquireSlotOptions, 'signal'> = {}): UidSlot | null {
  const a = begin(host, options);
  if (!a) return null;
  for (let n = 0; ; n++) {
    const slot = round(a);
    if (slot) return slot;
    const left = a.deadline - Date.now();
    if (left <= 0) throw allInUse(host, a);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.min(retryDelayMs(n), left));
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => { signal?.removeEventListener('abort', onAbort); resolve(); };
    const timer = setTimeout(done, ms);
    const onAbort = () => { clearTimeout(timer); reject(signal!.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
