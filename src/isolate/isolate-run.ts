// isolate --run: the box's program in a fresh sandbox of the strict profile
// (every capability dropped, the strict seccomp policy, no network, a uid that
// is not the caller's), with isolate's directory, environment and limit rules,
// its meta file and its status line.
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { join, normalize, relative } from 'node:path';
import { constants as os } from 'node:os';
import { hostIdOf } from '../idmap/image-idmap.js';
import { hostPathExists } from '../host/probe-host.js';
import { hardLimit } from '../host/process-limits.js';
import { O_PATH, openBelow } from '../host/open-below.js';
import type { ProfileTmpfs, ProfileVolume } from '../config/profile.js';
import type { LimitOptions } from '../resolve/exec-options.js';
import type { RunResult } from '../run/run-result.js';
import { spawnSandbox, type SpawnOptions } from '../run/spawn-sandbox.js';
import { formatMeta, isolateVerdict } from '../run/format-meta.js';
import type { HostFacts } from '../host/probe-host.js';
import { chownTree, giveBoxBack, giveBoxTo, type Box } from './isolate-box.js';
import type { DirRule, IsolateOptions } from './isolate-options.js';

/** A problem of the sandbox or of the command line: exit 2, status XX in the meta file. */
export class IsolateRunError extends Error {}

/** What isolate's default rules give; the host image already has all but the box. */
const HOST_IMAGE_DIRS = new Set(['/bin', '/dev', '/lib', '/lib64', '/proc', '/usr']);

interface Bind {
  readonly inside: string;
  readonly outside: string;
  readonly rw: boolean;
}

/** Volumes and tmpfs mounts from the box and the directory rules. */
export function mountsOf(o: IsolateOptions, box: Box): { volumes: ProfileVolume[]; tmpfs: ProfileTmpfs[]; binds: Bind[]; notes: string[] } {
  const rules = new Map<string, DirRule | { inside: string; outside: string; rw: true; box: true }>();
  rules.set('/box', { inside: '/box', outside: box.box, rw: true, box: true });
  for (const r of o.dirRules) rules.set(r.inside, r);
  const volumes: ProfileVolume[] = [];
  const tmpfs: ProfileTmpfs[] = [];
  const binds: Bind[] = [];
  const notes: string[] = [];
  for (const r of rules.values()) {
    if (r.outside === null) {
      if (HOST_IMAGE_DIRS.has(r.inside)) notes.push(`--dir=${r.inside}= : ${r.inside} is part of the host image and stays (read-only)`);
      continue;
    }
    if ('box' in r) {
      volumes.push({ source: r.outside, target: '/box', writable: true });
      binds.push({ inside: '/box', outside: r.outside, rw: true });
      continue;
    }
    if (r.tmp) {
      tmpfs.push({ path: r.inside, size: '64m', mode: '1777' });
      continue;
    }
    if (r.fs) {
      if (r.outside === 'proc' && r.inside === '/proc') continue; // the sandbox always has its own /proc
      throw new IsolateRunError(`--dir=${r.inside}=${r.outside}:fs: only proc on /proc is available (the sandbox mounts its own /proc, /dev and /tmp)`);
    }
    if (HOST_IMAGE_DIRS.has(r.inside) && r.outside === r.inside && !r.rw) continue; // already there, read-only
    if (r.inside === '/proc' || r.inside === '/dev') throw new IsolateRunError(`--dir=${r.inside}: the sandbox has its own ${r.inside}; it cannot be replaced`);
    const outside = r.outside.startsWith('./') ? join(box.dir, r.outside) : r.outside;
    if (r.maybe && !hostPathExists(outside)) continue;
    if (r.dev) notes.push(`--dir=${r.inside}:dev: device files stay unusable there (nodev); /dev has the usual devices`);
    volumes.push({ source: outside, target: r.inside, writable: r.rw, ...(r.noexec && { noexec: true }) });
    binds.push({ inside: r.inside, outside, rw: r.rw });
  }
  return { volumes, tmpfs, binds, notes };
}

/** isolate's environment: LIBC_FATAL_STDERR_=1, then the rules in order (with -e on top of the whole environment). */
export function environmentOf(o: IsolateOptions, callerEnv: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  if (o.fullEnv) for (const [k, v] of Object.entries(callerEnv)) if (v !== undefined) env[k] = v;
  for (const r of [{ name: 'LIBC_FATAL_STDERR_', value: '1' }, ...o.envRules]) {
    delete env[r.name];
    const value = r.value === undefined ? callerEnv[r.name] : r.value;
    if (value !== undefined && value !== '') env[r.name] = value;
  }
  return env;
}

/** isolate's default stack (unlimited), or as near as the caller's hard limit lets a run go. */
function unlimitedStack(): 'infinity' | number {
  const hard = hardLimit('Max stack size');
  return typeof hard === 'number' ? hard : 'infinity';
}

/** isolate's limits in ours: nothing limited unless asked (isolate's defaults: one process, 64 open files). */
export function limitsOf(o: IsolateOptions): LimitOptions {
  const kib = (n: number | undefined) => (n === undefined ? 'unlimited' as const : n * 1024);
  return {
    // the kill comes after the extra time; a run over --time alone is still TO (judged after)
    cpuTime: o.time === undefined ? 'unlimited' : o.time + (o.extraTime ?? 0),
    wallTime: o.wallTime ?? 'unlimited',
    memory: o.cg && o.cgMemKiB !== undefined ? o.cgMemKiB * 1024 : 'unlimited',
    addressSpace: kib(o.memKiB),
    pids: o.processes ?? 'unlimited',
    fsize: kib(o.fsizeKiB),
    nofile: o.openFiles,
    // isolate sets RLIM_INFINITY without -k (not the caller's own limit)
    stack: o.stackKiB === undefined ? unlimitedStack() : o.stackKiB * 1024,
    output: 'unlimited',
  };
}

/**
 * Opens a redirection file the way the program would see it: an inside path
 * (relative ones from the working directory) through the box's binds, never
 * through a symbolic link the program may have left.
 */
export function openInside(path: string, cwd: string, binds: readonly Bind[], write: boolean): number {
  const inside = normalize(path.startsWith('/') ? path : join(cwd, path));
  if (inside === '/dev/null') return openSync('/dev/null', write ? constants.O_WRONLY : constants.O_RDONLY);
  const bind = binds.filter((b) => inside === b.inside || inside.startsWith(`${b.inside}/`)).sort((a, b) => b.inside.length - a.inside.length)[0];
  if (!bind) throw new IsolateRunError(`cannot open ${path}: only files in /box and in --dir directories can be redirected`);
  if (write && !bind.rw) throw new IsolateRunError(`cannot open ${path} for writing: ${bind.inside} is read-only`);
  const rest = relative(bind.inside, inside);
  const flags = write ? constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC : constants.O_RDONLY;
  let top: number | undefined;
  try {
    if (rest === '') return openSync(bind.outside, flags | constants.O_NOFOLLOW, 0o666);
    top = openSync(bind.outside, O_PATH | constants.O_DIRECTORY);
    return openBelow(top, rest, flags, 0o666);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new IsolateRunError(`cannot open ${path}: ${inside} is a symbolic link (redirections never follow links)`);
    if (code === 'ENOTDIR') throw new IsolateRunError(`cannot open ${path}: a directory on the way to ${inside} is not one, or is a symbolic link (redirections never follow links)`);
    if (code === 'ENOENT') throw new IsolateRunError(`cannot open ${path}: ${inside} does not exist`);
    throw new IsolateRunError(`cannot open ${path}: ${code ?? e}`);
  } finally {
    if (top !== undefined) closeSync(top);
  }
}

export interface IsolateRunOutcome {
  readonly result: RunResult;
  /** The meta file's text. */
  readonly meta: string;
  /** The status line (stderr), '' for none. */
  readonly statusLine: string;
  readonly exitCode: 0 | 1 | 2;
}

/** Runs the box's program; `interrupted` resolves with the signal name when the isolate process is told to stop. */
export async function runInBox(
  o: IsolateOptions, box: Box,
  options: { verbose: (line: string) => void; interrupted: Promise<NodeJS.Signals>; host: HostFacts },
): Promise<IsolateRunOutcome> {
  const { volumes, tmpfs, binds, notes } = mountsOf(o, box);
  notes.forEach(options.verbose);
  const cwd = o.chdir === undefined ? '/box' : normalize(o.chdir.startsWith('/') ? o.chdir : `/${o.chdir}`);
  const fds: number[] = [];
  const open = (p: string, write: boolean) => {
    const fd = openInside(p, '/box', binds, write);
    fds.push(fd);
    return fd;
  };
  const root = process.getuid?.() === 0;
  try {
    const stdin = o.stdin === undefined ? 'inherit' : open(o.stdin, false);
    const stdout = o.stdout === undefined ? 'inherit' : open(o.stdout, true);
    const stderr = o.stderr === undefined ? 'inherit' : open(o.stderr, true);
    const spawnOptions: SpawnOptions = {
      image: 'host',
      profile: 'strict',
      command: o.program,
      workdir: cwd,
      pathSearch: false,
      cleanEnv: true,
      env: environmentOf(o, process.env),
      volumes,
      tmpfs,
      limits: limitsOf(o),
      stderrToStdout: o.stderrToStdout,
      stdio: [stdin, stdout, stderr],
      // afterwards the box is the caller's again (inside 0 is the caller of a user with a range)
      // before it, the whole box is the workload's (isolate's chowntree to the box uid): it may rewrite what is there
      ...(!root && binds.some((b) => b.inside === '/box') && { chownAfterRun: { target: '/box', uid: 0, gid: 0, workloadFirst: true } }),
      // a root caller's box (all of it, never through a link) goes to the workload's host ids for the run
      ...(root && {
        beforeStart: (spec) => {
          const uid = hostIdOf(spec.idmap.uidMap, spec.user.uid);
          const gid = hostIdOf(spec.idmap.gidMap, spec.user.gid);
          if (uid === null || gid === null) throw new IsolateRunError(`the workload's ids ${spec.user.uid}:${spec.user.gid} are not mapped`);
          chownTree(box.box, uid, gid);
          giveBoxTo(box, uid, gid);
        },
      }),
    };
    const sandbox = await spawnSandbox(spawnOptions);
    let interruptedBy: NodeJS.Signals | undefined;
    void options.interrupted.then((sig) => {
      interruptedBy = sig;
      sandbox.kill('SIGKILL');
    });
    let result = await sandbox.result;
    if (root) chownTree(box.box, o.asUid ?? 0, o.asGid ?? 0);
    // an interrupt ends the run through the stage, which gives the box back; if the stage itself had
    // to be killed (no report: XX), do it now, so what the program wrote is the caller's
    else if (interruptedBy && result.status === 'XX') await giveBoxBack(box, options.host);
    if (result.limits.backend === 'none' && result.limits.note && o.cg) options.verbose(`control groups: ${result.limits.note}`);
    // isolate's extra time: the kill came later, but over --time is TO
    if (o.time !== undefined && result.status !== 'TLE' && result.status !== 'XX' && result.cpuTimeMs.total > o.time * 1000) {
      result = { ...result, status: 'TLE' };
    }
    return outcomeOf(result, o, interruptedBy);
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

function secs(ms: number): string {
  return (Math.floor(ms) / 1000).toFixed(3);
}

function outcomeOf(result: RunResult, o: IsolateOptions, interruptedBy: NodeJS.Signals | undefined): IsolateRunOutcome {
  const metaOptions = { cgroupKeys: o.cg, execFailureAsExit127: true };
  if (interruptedBy === 'SIGABRT') {
    const message = 'Sandbox keeper received fatal signal 6';
    return { result, meta: `status:XX\nmessage:${message}\n`, statusLine: message, exitCode: 2 };
  }
  if (interruptedBy) {
    return { result, meta: formatMeta(result, { ...metaOptions, interruptedBy: os.signals[interruptedBy] }), statusLine: 'Interrupted', exitCode: 1 };
  }
  const v = isolateVerdict(result, metaOptions);
  const meta = formatMeta(result, metaOptions);
  if (v.status === null) {
    return { result, meta, statusLine: `OK (${secs(result.cpuTimeMs.total)} sec real, ${secs(result.wallTimeMs)} sec wall)`, exitCode: 0 };
  }
  return { result, meta, statusLine: v.message, exitCode: v.status === 'XX' ? 2 : 1 };
}

/** Writes the meta file in place (O_TRUNC, never a new file renamed over it: clients read it through a descriptor opened before). */
export function openMeta(path: string): number {
  if (path === '-') return 1;
  try {
    return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o666);
  } catch (e) {
    throw new IsolateRunError(`Failed to open meta file ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

export function writeMeta(fd: number, text: string): void {
  writeSync(fd, text);
}
