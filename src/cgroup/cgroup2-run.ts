// cgroup/cgroup2-run: a run's cgroup on the unified (v2) hierarchy: limits
// (memory.max, memory.swap.max = 0, pids.max), what the kernel accounted
// (memory.peak, memory.events oom_kill, cpu.stat usage_usec), and the
// delegated backend, whose run cgroup is a sibling of the caller's leaf.
// Must not: enable controllers or move processes (the scope backend does,
// inside a scope it asked systemd for).
import { existsSync } from 'node:fs';
import type { CgroupLimits, CgroupRun, CgroupUsage } from './cgroup-run.js';
import { formatLimit, parseCounter, readCpuStatUsec, readOomKilledV2 } from './cgroup-files.js';
import { DOCTOR_HINT, emptyCgroups, makeCgroupDir, readControl, removeCgroupDirs, writeControl } from './cgroup-fs.js';
import { SandboxError } from '../errors.js';

export const REMOVE_TIMEOUT_MS = 5000;

function writeLimit(dir: string, file: string, value: string, controller: string): void {
  const path = `${dir}/${file}`;
  if (!existsSync(path)) {
    throw new SandboxError('host', `cannot set a limit: ${path} does not exist (the ${controller} controller is not enabled for ${dir})`, DOCTOR_HINT);
  }
  writeControl(path, value);
}

/** Writes the limits into a v2 cgroup whose parent hands it memory and pids. */
export function applyCgroup2Limits(dir: string, limits: CgroupLimits): void {
  if (limits.memoryBytes !== null) {
    writeLimit(dir, 'memory.max', formatLimit(limits.memoryBytes, 'the memory limit'), 'memory');
    // without swap accounting (no memory.swap.max) the kernel has no per-cgroup swap to limit
    if (existsSync(`${dir}/memory.swap.max`)) writeControl(`${dir}/memory.swap.max`, '0');
  }
  if (limits.pids !== null) writeLimit(dir, 'pids.max', formatLimit(limits.pids, 'the process limit'), 'pids');
}

/** What the kernel accounted in a v2 cgroup; memory.peak needs linux 5.19 (null before). */
export function collectCgroup2(dir: string): CgroupUsage {
  const peak = readControl(`${dir}/memory.peak`);
  const events = readControl(`${dir}/memory.events`);
  const cpu = readControl(`${dir}/cpu.stat`);
  return {
    peakMemoryBytes: peak === null ? null : parseCounter(peak),
    oomKilled: events === null ? false : readOomKilledV2(events),
    cpuUs: cpu === null ? null : readCpuStatUsec(cpu),
  };
}

/** Kills what is left in `killDir` (and below), then removes `dirs`; never throws. */
export function removeCgroup2(killDir: string, dirs: readonly string[]): void {
  try {
    emptyCgroups([killDir], { timeoutMs: REMOVE_TIMEOUT_MS });
    removeCgroupDirs(dirs, { timeoutMs: REMOVE_TIMEOUT_MS });
  } catch {
    /* never throws */
  }
}

/** The delegated backend: the run's cgroup made in a parent that already hands out memory and pids. */
export function createCgroup2Run(parentDir: string, limits: CgroupLimits, name: string): CgroupRun {
  const dir = `${parentDir}/${name}`;
  makeCgroupDir(dir);
  const remove = () => removeCgroup2(dir, [dir]);
  try {
    applyCgroup2Limits(dir, limits);
  } catch (e) {
    remove();
    throw e;
  }
  return {
    backend: 'cgroup2',
    path: dir,
    joinFiles: [`${dir}/cgroup.procs`],
    cpuUsage: { file: `${dir}/cpu.stat`, format: 'cgroup2' },
    collect: () => collectCgroup2(dir),
    remove,
  };
}
