// cgroup/cgroup1-run: a run's cgroups on a cgroup v1 host (root only): one
// child of the caller's own cgroup in each of the memory, pids and cpuacct
// hierarchies, with the limits written before the stage joins.
// Must not: create anything outside the caller's own cgroups (nesting keeps
// whatever limits the caller itself runs under), or leave a directory behind
// when it fails.
import { existsSync } from 'node:fs';
import { SandboxError } from '../errors.js';
import type { CgroupLimits, CgroupRun, CgroupUsage } from './cgroup-run.js';
import { cpuacctToUsec, formatLimit, parseCounter, readOomKilledV1 } from './cgroup-files.js';
import type { V1Controller } from './cgroup-facts.js';
import { emptyCgroups, makeCgroupDir, readControl, removeCgroupDirs, writeControl } from './cgroup-fs.js';

export interface V1Hierarchy {
  readonly controllers: readonly V1Controller[];
  /** The caller's cgroup in this hierarchy. */
  readonly dir: string;
}

const REMOVE_TIMEOUT_MS = 5000;

export function createCgroup1Run(hierarchies: readonly V1Hierarchy[], limits: CgroupLimits, name: string): CgroupRun {
  const dirOf = (c: V1Controller) => {
    const h = hierarchies.find((x) => x.controllers.includes(c));
    return h ? `${h.dir}/${name}` : null;
  };
  const memory = dirOf('memory');
  const pids = dirOf('pids');
  const cpuacct = dirOf('cpuacct');
  const dirs = hierarchies.map((h) => `${h.dir}/${name}`);
  const made: string[] = [];
  let removed = false;

  const remove = () => {
    if (removed) return;
    try {
      emptyCgroups(made, { timeoutMs: REMOVE_TIMEOUT_MS });
      removeCgroupDirs(made, { timeoutMs: REMOVE_TIMEOUT_MS });
      removed = true;
    } catch {
      /* never throws; a later call tries again */
    }
  };

  try {
    for (const d of dirs) {
      makeCgroupDir(d);
      made.push(d);
    }
    if (limits.memoryBytes !== null) {
      if (!memory) throw new SandboxError('internal', 'cgroup v1: no memory hierarchy for the memory limit');
      const bytes = formatLimit(limits.memoryBytes, 'the memory limit');
      writeControl(`${memory}/memory.limit_in_bytes`, bytes);
      // memory+swap = memory: no swap. The file exists only with swap accounting.
      if (existsSync(`${memory}/memory.memsw.limit_in_bytes`)) writeControl(`${memory}/memory.memsw.limit_in_bytes`, bytes);
      try {
        writeControl(`${memory}/memory.swappiness`, '0');
      } catch {
        /* not writable under some parents (use_hierarchy); memsw above is what keeps swap out */
      }
    }
    if (limits.pids !== null) {
      if (!pids) throw new SandboxError('internal', 'cgroup v1: no pids hierarchy for the process limit');
      writeControl(`${pids}/pids.max`, formatLimit(limits.pids, 'the process limit'));
    }
  } catch (e) {
    remove();
    throw e;
  }

  return {
    backend: 'cgroup1',
    path: memory ?? dirs[0]!,
    joinFiles: dirs.map((d) => `${d}/cgroup.procs`),
    cpuUsage: cpuacct ? { file: `${cpuacct}/cpuacct.usage`, format: 'cgroup1' } : null,
    collect(): CgroupUsage {
      const peak = memory ? readControl(`${memory}/memory.max_usage_in_bytes`) : null;
      const usage = cpuacct ? readControl(`${cpuacct}/cpuacct.usage`) : null;
      return {
        peakMemoryBytes: peak === null ? null : parseCounter(peak),
        oomKilled: memory ? readOomKilledV1(readControl(`${memory}/memory.oom_control`), readControl(`${memory}/memory.failcnt`)) : false,
        cpuUs: usage === null ? null : cpuacctToUsec(usage),
      };
    },
    remove,
  };
}
