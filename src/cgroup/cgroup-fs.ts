// cgroup/cgroup-fs: the file operations the backends share: make a run's
// cgroup directory, write a control file (a failure becomes a SandboxError that
// names the file), read one, and empty and remove cgroups at the end.
// Must not: choose a backend or know which limits exist; and never signal a
// process that is not listed in the run's own cgroup.procs.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { SandboxError } from '../errors.js';
import { isPopulated, parsePidList } from './cgroup-files.js';

const errnoOf = (e: unknown) => (e as NodeJS.ErrnoException).code ?? String(e);

export const DOCTOR_HINT = 'run `sandbox doctor` to see which cgroups this host offers';

/** Makes the run's cgroup; an existing one is an error (run ids are unique, so it belongs to someone else). */
export function makeCgroupDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o755 });
  } catch (e) {
    const code = errnoOf(e);
    throw new SandboxError('host', `cannot create cgroup ${dir}: ${code}`,
      code === 'EEXIST' ? 'another run uses this id; run ids must be unique' : DOCTOR_HINT);
  }
}

/** Writes a control file; throws a SandboxError naming the file and the value. */
export function writeControl(file: string, value: string, hint = DOCTOR_HINT): void {
  try {
    writeFileSync(file, value);
  } catch (e) {
    throw new SandboxError('host', `cannot write "${value}" to ${file}: ${errnoOf(e)}`, hint);
  }
}

/** Reads a control file; null when it is missing or unreadable (old kernels lack some). */
export function readControl(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread; only for the short, bounded waits of remove(), which must be synchronous. */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

export interface EmptyOptions {
  /** Give up after this long (processes in uninterruptible sleep can take a while to die). */
  readonly timeoutMs: number;
}

/**
 * Kills every process in the cgroups (v2: cgroup.kill when the kernel has it,
 * 5.14+, which also covers child cgroups and forks that race with it;
 * otherwise SIGKILL to each pid in cgroup.procs, repeated until nothing is
 * left). Returns whether they are empty.
 */
export function emptyCgroups(dirs: readonly string[], opts: EmptyOptions): boolean {
  const deadline = Date.now() + opts.timeoutMs;
  const live = dirs.filter((d) => existsSync(d));
  for (const d of live) {
    if (existsSync(`${d}/cgroup.kill`)) {
      try {
        writeFileSync(`${d}/cgroup.kill`, '1');
      } catch {
        /* fall back to signalling each pid below */
      }
    }
  }
  for (let round = 0; ; round++) {
    let left = 0;
    for (const d of live) {
      const events = readControl(`${d}/cgroup.events`);
      if (events !== null && !isPopulated(events)) continue;
      const pids = parsePidList(readControl(`${d}/cgroup.procs`) ?? '');
      left += pids.length;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone already */
        }
      }
      // v2 without processes of its own but with populated children: they are
      // below d and listed in their own cgroup.procs, which cgroup.kill covered
      if (pids.length === 0 && events !== null) left += 1;
    }
    if (left === 0) return true;
    if (Date.now() > deadline) return false;
    sleepSync(round < 10 ? 1 : 5);
  }
}

/** Removes cgroup directories (deepest first, as given); missing ones are fine. Retries while the kernel says busy. */
export function removeCgroupDirs(dirs: readonly string[], opts: EmptyOptions): string[] {
  const deadline = Date.now() + opts.timeoutMs;
  const failed: string[] = [];
  for (const d of dirs) {
    for (;;) {
      try {
        rmdirSync(d);
        break;
      } catch (e) {
        const code = errnoOf(e);
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || Date.now() > deadline) {
          failed.push(`${d} (${code})`);
          break;
        }
        sleepSync(2);
      }
    }
  }
  return failed;
}
