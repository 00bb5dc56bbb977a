// runc's lifecycle of a detached container without a console:
//   create [--bundle B] [--pid-file F] ID   start ID   state ID
//   kill [--all] ID [SIGNAL]   delete [--force] ID   list [--format json]
//
// Design. `create` makes the state directory (container-state.ts) with the
// start FIFO (exec.fifo, 0622), then re-executes this bin in a hidden keeper
// mode (`__keeper`), detached (its own session) with the caller's stdio 0-2,
// which the container gets, as runc's detached create passes them on. The
// keeper runs the container through the library (spawnContainer, the path of
// `run`) with one more mechanism, the start gate: the stage opens the FIFO
// with the caller's rights before anything else (OPEN_GATE) and the workload,
// just before exec, reports its host pid (GATE event) and blocks reopening the
// FIFO for writing (WAIT_START). At GATE the keeper records the pid (with its
// start time) as `created` and tells `create` on a pipe (fd 3), which writes
// --pid-file and exits. `start` opens the FIFO for reading, reads the byte
// and removes the FIFO: the workload executes. When the container ends the
// keeper records `stopped` with the exit code and exits. `kill` signals the
// recorded pid after checking its start time (never a reused pid); `--all`
// every process of the sandbox (pid 1's descendants). `delete` removes the
// state directory of a stopped container (--force: kills it first).
// Must not: touch a container's processes without checking they are still its.
import { spawn } from 'node:child_process';
import { constants as fsConstants, chmodSync, closeSync, openSync, readdirSync, readFileSync, readSync, rmSync, unlinkSync, writeFileSync, writeSync, mkdirSync } from 'node:fs';
import { constants, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { isSandboxError, SandboxError } from '../errors.js';
import { processStartTime } from '../host/process-start.js';
import { OCI_VERSION } from '../oci/features.js';
import { readBundle } from '../oci/read-bundle.js';
import {
  alive, currentStatus, ensureRoot, fifoPath, listIds, loadRecord, notExist, nowRfc3339Nano, readRecord, stateDir, stateJson,
  writeRecord, type ContainerRecord, type ContainerStatus,
} from './container-state.js';
import type { GlobalFlags } from './program.js';
import type { OciLogger } from './oci-log.js';
import type { SandboxProcess } from '../run/spawn-sandbox.js';

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** The fd on which the keeper tells `create` how set-up went (one JSON line). */
const REPORT_FD = 3;
/** How long `create` and `delete` wait for the keeper. */
const KEEPER_WAIT_MS = 60_000;
const DELETE_WAIT_MS = 10_000;

interface KeeperReport { readonly pid?: number; readonly error?: string; readonly hint?: string }

/** The global flags again, for the keeper (its log goes where the caller's does). */
function globalArgs(root: string, g: GlobalFlags): string[] {
  return ['--root', root, '--log-format', g.logFormat, ...(g.log ? ['--log', resolve(g.log)] : []), ...(g.debug ? ['--debug'] : [])];
}

export async function createContainer(root: string, id: string, flags: { bundle?: string; pidFile?: string }, g: GlobalFlags, log: OciLogger): Promise<number> {
  // the bundle's errors come from create itself, before anything is kept
  const bundle = readBundle(flags.bundle ?? process.cwd());
  ensureRoot(root);
  const dir = stateDir(root, id);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new SandboxError('usage', `container with id exists: ${id}`, 'delete it first (`sandbox-oci delete ID`) or choose another id');
    }
    throw new SandboxError('usage', `cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? e}`, 'give a writable --root');
  }
  const fifo = fifoPath(root, id);
  try {
    // Node has no mkfifo(3); coreutils' does it. 0622: the workload, whatever its id, may open it for writing
    execFileSync('mkfifo', [fifo], { stdio: 'ignore' });
    chmodSync(fifo, 0o622);
    writeRecord(root, {
      id, bundle: bundle.dir, rootfs: bundle.rootPath, created: nowRfc3339Nano(), owner: userInfo().username,
      annotations: { ...(bundle.config.annotations ?? {}) }, status: 'creating', pid: 0,
    });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new SandboxError('usage', `cannot make the state of container ${id}: ${e instanceof Error ? e.message : e}`, 'check --root');
  }
  const child = spawn(process.execPath, [process.argv[1]!, ...globalArgs(root, g), '__keeper', id], {
    detached: true,
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
  });
  log.debug(`container ${id}: keeper pid ${child.pid}`);
  const report = await new Promise<KeeperReport>((done) => {
    let text = '';
    const pipe = child.stdio[REPORT_FD] as import('node:stream').Readable;
    pipe.setEncoding('utf8');
    const timer = setTimeout(() => done({ error: 'the container was not created within 60 s' }), KEEPER_WAIT_MS);
    pipe.on('data', (d: string) => {
      text += d;
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        try {
          done(JSON.parse(text.slice(0, nl)) as KeeperReport);
        } catch {
          done({ error: `the keeper said: ${text.slice(0, nl)}` });
        }
      }
    });
    pipe.on('close', () => { clearTimeout(timer); done({ error: 'the keeper ended before the container was created' }); });
    child.on('error', (e) => { clearTimeout(timer); done({ error: `cannot start the keeper: ${e.message}` }); });
  });
  (child.stdio[REPORT_FD] as unknown as { destroy(): void }).destroy();
  child.unref();
  if (report.error !== undefined || !report.pid) {
    // the keeper removes the directory itself after a failed set-up; one that hangs is ended here
    if (child.pid && child.exitCode === null) {
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    rmSync(dir, { recursive: true, force: true });
    throw new SandboxError('usage', report.error ?? 'the container was not created', report.hint ?? 'see the messages above');
  }
  if (flags.pidFile) {
    try {
      writeFileSync(flags.pidFile, `${report.pid}`, { mode: 0o644 });
    } catch (e) {
      // as runc: a create that fails leaves no container
      deleteContainer(root, id, true);
      throw new SandboxError('usage', `cannot write the pid file ${flags.pidFile}: ${(e as NodeJS.ErrnoException).code ?? e}`, 'give a writable path to --pid-file');
    }
  }
  return 0;
}

/** The keeper (hidden `__keeper ID`): runs the container created by `create`, records its pid and its end. */
export async function keepContainer(root: string, id: string, log: OciLogger): Promise<number> {
  const rec = loadRecord(root, id);
  let reported = false;
  const report = (r: KeeperReport) => {
    if (reported) return;
    reported = true;
    try {
      writeSync(REPORT_FD, `${JSON.stringify(r)}\n`);
      closeSync(REPORT_FD);
    } catch { /* create is gone: the record still says what happened */ }
  };
  const self = { keeperPid: process.pid, keeperStart: processStartTime('self') ?? undefined };
  writeRecord(root, { ...rec, ...self });
  // create reports a failed set-up (on the caller's stderr and --log): said once
  const failed = (message: string, hint?: string) => {
    log.debug(`container ${id}: not created: ${message}`);
    rmSync(stateDir(root, id), { recursive: true, force: true });
    report({ error: message, ...(hint && { hint }) });
    return 1;
  };
  const { spawnContainer } = await import('./run-command.js');
  let gated = false;
  let sandbox: SandboxProcess | undefined;
  try {
    ({ sandbox } = await spawnContainer(id, rec.bundle, log, {
      fifo: fifoPath(root, id),
      onGate: (pid) => {
        const pidStart = processStartTime(pid);
        try {
          if (pidStart === null) throw new Error(`process ${pid} is gone`);
          writeRecord(root, { ...rec, ...self, status: 'created', pid, pidStart });
          gated = true;
          report({ pid });
        } catch (e) {
          log.error(`container ${id}: cannot record pid ${pid}: ${e instanceof Error ? e.message : e}`);
          sandbox?.kill('SIGKILL');
        }
      },
    }));
  } catch (e) {
    if (isSandboxError(e)) return failed(e.message, e.hint);
    return failed(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`, 'this is a bug in rootless-sandbox; please report it');
  }
  // the keeper has no terminal; no signal of the caller's reaches it (its own session)
  const result = await sandbox!.result;
  if (!gated) {
    return failed(result.error?.message ?? `the container ended before it was created (${result.status}, exit code ${result.exitCode})`,
      result.error?.hint);
  }
  if (result.error) log.error(result.error.message, result.error.hint);
  const last = readRecord(root, id);
  // delete --force may have removed the directory already
  if (last) {
    try {
      writeRecord(root, { ...last, status: 'stopped', exitCode: result.exitCode });
    } catch { /* removed meanwhile */ }
  }
  log.debug(`container ${id}: ${result.status}, exit code ${result.exitCode}`);
  return 0;
}

function statusOf(root: string, id: string): { rec: ContainerRecord; status: ContainerStatus } {
  const rec = loadRecord(root, id);
  return { rec, status: currentStatus(root, rec) };
}

export function startContainer(root: string, id: string): number {
  const { rec, status } = statusOf(root, id);
  if (status === 'stopped') throw new SandboxError('usage', 'cannot start a container that has stopped', 'create a new one (delete this one first)');
  if (status === 'running') throw new SandboxError('usage', 'cannot start an already running container', 'see `sandbox-oci state ID`');
  if (status !== 'created') throw new SandboxError('usage', `cannot start a container in the ${status} state`, 'wait until create has returned');
  const fifo = fifoPath(root, id);
  // non-blocking: a workload that died at the gate must not leave start waiting for a writer forever
  let fd: number;
  try {
    fd = openSync(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    throw new SandboxError('usage', `cannot open ${fifo}: ${(e as NodeJS.ErrnoException).code ?? e}`, 'was the container started by someone else?');
  }
  try {
    const byte = Buffer.alloc(1);
    for (;;) {
      let n = 0;
      try {
        n = readSync(fd, byte, 0, 1, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
      if (n === 1) break;
      // no writer yet (EOF) or no byte yet (EAGAIN): the workload is on its way to the gate
      if (!alive(rec.pid, rec.pidStart)) throw new SandboxError('usage', 'cannot start a container that has stopped', 'its process ended at the start gate');
      sleep(5);
    }
  } finally {
    closeSync(fd);
  }
  // runc's mark of a started container: no exec.fifo
  unlinkSync(fifo);
  return 0;
}

export function printState(root: string, id: string, out: (s: string) => void): number {
  const rec = loadRecord(root, id);
  out(`${JSON.stringify(stateJson(root, rec, OCI_VERSION), null, '  ')}\n`);
  return 0;
}

/** A signal by name (TERM, SIGTERM, sigterm) or number, as runc's kill takes it; default SIGTERM. */
export function parseSignal(text: string | undefined): number {
  if (text === undefined) return constants.signals.SIGTERM;
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text);
    if (n >= 0 && n <= 64) return n;
  } else {
    const name = text.toUpperCase();
    const full = (name.startsWith('SIG') ? name : `SIG${name}`) as keyof typeof constants.signals;
    const n = constants.signals[full];
    if (n !== undefined) return n;
  }
  throw new SandboxError('usage', `unknown signal "${text}"`, 'give a name (TERM, SIGKILL, ...) or a number');
}

/** Every process below `top` (not top itself), from the ppid field of /proc/PID/stat. */
export function descendants(top: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const stack = [...(children.get(top) ?? [])];
  while (stack.length) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** pid 1 of the container's pid namespace: the parent of its first process (only while that is alive). */
function reaperOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

const signalQuietly = (pid: number, sig: number) => {
  try { process.kill(pid, sig); } catch { /* gone meanwhile */ }
};

/**
 * Signals the container's process (checked by its start time). A created
 * container's process waits at the gate with signals blocked (they would
 * arrive after exec): it is ended with SIGKILL, as runc's init dies of one.
 * --all: every process of the sandbox, below its pid 1.
 */
function signalContainer(rec: ContainerRecord, status: ContainerStatus, sig: number, all: boolean): void {
  const reaper = reaperOf(rec.pid);
  // checked again right before: the pid must still be the container's
  if (!alive(rec.pid, rec.pidStart) || reaper === null) return;
  const effective = status === 'created' && sig !== 0 ? constants.signals.SIGKILL : sig;
  if (!all) {
    process.kill(rec.pid, effective);
    return;
  }
  if (effective === constants.signals.SIGKILL) {
    // pid 1 ending kills everything in its namespace
    signalQuietly(reaper, effective);
    return;
  }
  for (const pid of descendants(reaper)) signalQuietly(pid, effective);
}

export function killContainer(root: string, id: string, signal: string | undefined, all: boolean): number {
  const sig = parseSignal(signal);
  const { rec, status } = statusOf(root, id);
  if (status !== 'created' && status !== 'running') throw new SandboxError('usage', 'container not running', `container ${id} is ${status}`);
  signalContainer(rec, status, sig, all);
  return 0;
}

export function deleteContainer(root: string, id: string, force: boolean): number {
  const rec = readRecord(root, id);
  if (!rec) {
    if (force) return 0;
    throw notExist(id);
  }
  const status = currentStatus(root, rec);
  if (status !== 'stopped') {
    if (!force) throw new SandboxError('usage', `cannot delete container ${id} that is not stopped: ${status}`, 'stop it first (`sandbox-oci kill`), or use --force');
    if (status === 'creating') {
      // the keeper's stage ends the sandbox when the keeper goes (its control socket closes)
      if (alive(rec.keeperPid, rec.keeperStart)) signalQuietly(rec.keeperPid!, constants.signals.SIGKILL);
    } else {
      signalContainer(rec, status, constants.signals.SIGKILL, true);
    }
  }
  // the keeper records the end and exits; it is waited for, so nothing of the container outlives delete
  const until = Date.now() + DELETE_WAIT_MS;
  while (alive(rec.keeperPid, rec.keeperStart) && Date.now() < until) sleep(10);
  if (alive(rec.keeperPid, rec.keeperStart)) signalQuietly(rec.keeperPid!, constants.signals.SIGKILL);
  rmSync(stateDir(root, id), { recursive: true, force: true });
  return 0;
}

/** runc's tabwriter: columns of at least 12, 3 spaces of padding. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_c, i) => Math.max(12, ...rows.map((r) => r[i]!.length + 3)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('').trimEnd()).map((l) => `${l}\n`).join('');
}

export function listContainers(root: string, format: string, quiet: boolean, out: (s: string) => void): number {
  const states = listIds(root).flatMap((id) => {
    const rec = readRecord(root, id);
    return rec ? [stateJson(root, rec, OCI_VERSION)] : [];
  });
  if (quiet) {
    out(states.map((s) => `${s.id}\n`).join(''));
    return 0;
  }
  if (format === 'json') {
    out(`${JSON.stringify(states)}\n`);
    return 0;
  }
  out(table([['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
    ...states.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, s.owner])]));
  return 0;
}
