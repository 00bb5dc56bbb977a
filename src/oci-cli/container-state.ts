// The state a kept container leaves in `--root DIR/ID/` (0700), runc's layout
// in spirit: state.json (written atomically: a temporary file renamed over
// it) and exec.fifo, the start gate (removed by `start`, as runc does).
// Status is derived, never trusted alone: a container whose recorded pid is
// gone (or is another process now: its start time differs) is stopped.
//   creating  state.json by `create`, the keeper still setting up
//   created   the keeper recorded the workload's pid; exec.fifo still there
//   running   pid alive and exec.fifo gone (`start` read its byte)
//   stopped   the keeper recorded the end, or the pid / keeper is gone
// Must not: signal or start anything (lifecycle.ts does).
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxError } from '../errors.js';
import { stillRunning } from '../host/process-start.js';

export type ContainerStatus = 'creating' | 'created' | 'running' | 'stopped';

export interface ContainerRecord {
  readonly id: string;
  readonly bundle: string;
  readonly rootfs: string;
  /** RFC 3339 with nanoseconds, as runc. */
  readonly created: string;
  readonly owner: string;
  readonly annotations: Readonly<Record<string, string>>;
  /** As recorded: creating (by create), created (by the keeper at the gate), stopped (by the keeper at the end). */
  readonly status: ContainerStatus;
  /** Host pid of the container's process (0 until created) and its start time (/proc/PID/stat field 22). */
  readonly pid: number;
  readonly pidStart?: number;
  /** The keeper process (src/oci-cli/lifecycle.ts) and its start time. */
  readonly keeperPid?: number;
  readonly keeperStart?: number;
  /** When stopped: the container's exit code (128+N for a signal). */
  readonly exitCode?: number;
}

export const STATE_FILE = 'state.json';
export const FIFO_NAME = 'exec.fifo';

export const stateDir = (root: string, id: string) => join(root, id);
export const fifoPath = (root: string, id: string) => join(root, id, FIFO_NAME);

export const notExist = (id: string) => new SandboxError('usage', `container ${id} does not exist`,
  'see `sandbox-oci list` (with the same --root) for the containers there are');

/** A process that is still the one recorded (same pid and start time). */
export function alive(pid: number | undefined, start: number | undefined): boolean {
  // a zombie has ended (create's own keeper stays one until create reaps it)
  return Boolean(pid && pid > 0 && start !== undefined && stillRunning(pid, start));
}

export function readRecord(root: string, id: string): ContainerRecord | null {
  try {
    return JSON.parse(readFileSync(join(stateDir(root, id), STATE_FILE), 'utf8')) as ContainerRecord;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new SandboxError('usage', `cannot read the state of container ${id}: ${code ?? e}`, `check ${stateDir(root, id)}`);
  }
}

export function loadRecord(root: string, id: string): ContainerRecord {
  const rec = readRecord(root, id);
  if (!rec) throw notExist(id);
  return rec;
}

/** Atomic: readers see the old record or the new one, never half of one. */
export function writeRecord(root: string, rec: ContainerRecord): void {
  const dir = stateDir(root, rec.id);
  const tmp = join(dir, `.${STATE_FILE}.${process.pid}`);
  writeFileSync(tmp, `${JSON.stringify(rec)}\n`, { mode: 0o600 });
  renameSync(tmp, join(dir, STATE_FILE));
}

/** The status now, from the record and what is alive. */
export function currentStatus(root: string, rec: ContainerRecord): ContainerStatus {
  switch (rec.status) {
    case 'stopped': return 'stopped';
    // create wrote it; before the keeper has recorded itself it counts as alive
    case 'creating': return rec.keeperPid === undefined || alive(rec.keeperPid, rec.keeperStart) ? 'creating' : 'stopped';
    default:
      if (!alive(rec.pid, rec.pidStart)) return 'stopped';
      return existsSync(fifoPath(root, rec.id)) ? 'created' : 'running';
  }
}

/** runc's state JSON (runtime-spec state, plus rootfs, created and owner): pid 0 once stopped. */
export function stateJson(root: string, rec: ContainerRecord, ociVersion: string) {
  const status = currentStatus(root, rec);
  return {
    ociVersion,
    id: rec.id,
    pid: status === 'stopped' || status === 'creating' ? 0 : rec.pid,
    status,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    owner: rec.owner,
    annotations: rec.annotations,
  };
}

/** The ids of every container under root (directories holding a state.json), sorted. */
export function listIds(root: string): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names.filter((n) => existsSync(join(root, n, STATE_FILE))).sort();
}

/** The root directory, made 0700 when missing (runc's). */
export function ensureRoot(root: string): void {
  try {
    mkdirSync(root, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new SandboxError('usage', `cannot create the state directory ${root}: ${(e as NodeJS.ErrnoException).code ?? e}`,
      'give a writable --root (the default needs $XDG_RUNTIME_DIR for a user other than root)');
  }
}

/** RFC 3339 with nanoseconds (Go's time.RFC3339Nano, runc's `created`). */
export function nowRfc3339Nano(): string {
  const ns = process.hrtime.bigint() % 1_000_000n;
  return new Date().toISOString().replace(/Z$/, `${String(ns).padStart(6, '0')}Z`);
}
