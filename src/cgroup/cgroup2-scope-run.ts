// cgroup/cgroup2-scope-run: the v2 backend for callers whose own cgroup
// cannot hold the runs: attach(stagePid) asks the systemd manager for a
// transient scope (Delegate=yes) around the stage and a keeper process, moves
// them into two leaves of their own (run/ and keep/), switches memory, pids
// (and cpu) on for the leaves and writes the limits into run/.
//
// The keeper is a `cat` reading a pipe from this process. systemd stops a
// scope, and removes its cgroups with everything we made inside, as soon as no
// process is left in it: without the keeper that happens when the stage exits,
// before collect() could read what the kernel accounted. It exits by itself
// when this process dies (end of file on its stdin), so a killed sandbox
// leaves no scope behind.
// Must not: touch anything outside the scope it asked for.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SandboxError } from '../errors.js';
import { findTool } from '../host/probe-host.js';
import type { CgroupLimits, CgroupRun, CgroupUsage } from './cgroup-run.js';
import { formatSubtreeControl, missingControllers, parseControllerList } from './cgroup-files.js';
import { DOCTOR_HINT, makeCgroupDir, readControl, writeControl } from './cgroup-fs.js';
import { applyCgroup2Limits, collectCgroup2, removeCgroup2 } from './cgroup2-run.js';
import { V2_REQUIRED } from './choose-cgroup-backend.js';
import { startScope } from './systemd-scope.js';

export interface ScopeBackendPlan {
  readonly manager: 'user' | 'system';
  readonly socket: string;
  readonly slice: string;
  readonly slicePath: string;
  readonly mountPoint: string;
}

/** How long the manager may take to start a scope (emulated test machines are slow). */
export const SCOPE_TIMEOUT_MS = 15_000;

const NO_USAGE: CgroupUsage = { peakMemoryBytes: null, oomKilled: false, cpuUs: null };

function startKeeper(): ChildProcess {
  const cat = findTool('cat');
  if (cat === null) throw new SandboxError('host', 'cat not found in /usr/bin or /bin (the cgroup scope needs it as a keeper process)', 'install coreutils');
  // its own session: a Ctrl-C meant for the sandbox must not end it before collect()
  const keeper = spawn(cat, [], { stdio: ['pipe', 'ignore', 'ignore'], detached: true, env: {} });
  keeper.on('error', () => { /* reported through the missing pid below */ });
  keeper.unref();
  (keeper.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return keeper;
}

export function createScopeRun(plan: ScopeBackendPlan, limits: CgroupLimits, runId: string, uid: number): CgroupRun {
  const unit = `rootless-sandbox-${runId}.scope`;
  const scopePath = `${plan.slicePath}/${unit}`;
  const scopeDir = `${plan.mountPoint}${scopePath}`;
  const runDir = `${scopeDir}/run`;
  const keepDir = `${scopeDir}/keep`;
  let keeper: ChildProcess | null = null;
  let state: 'new' | 'attaching' | 'attached' | 'removed' = 'new';
  const who = plan.manager === 'user' ? `the systemd user manager of uid ${uid}` : 'the systemd system manager';

  const remove = () => {
    if (state === 'new' || state === 'removed') {
      state = 'removed';
      return;
    }
    state = 'removed';
    // cgroup.kill of the scope reaches the stage wherever it is, and the keeper
    removeCgroup2(scopeDir, [runDir, keepDir]);
    try {
      keeper?.stdin?.destroy();
      if (keeper && keeper.exitCode === null) keeper.kill('SIGKILL');
    } catch {
      /* gone */
    }
    // systemd stops the now empty scope and removes its cgroup by itself
  };

  /**
   * Hands the controllers to the scope's children. EBUSY means a process is
   * still in the scope itself (no internal processes): systemd may move a pid
   * it was given after we moved it on, when the host is busy. It is the
   * keeper or one of the run's: it goes back to its leaf, and the write is
   * tried again.
   */
  const enableControllers = async (scope: string, leaf: string, value: string): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        writeControl(`${scope}/cgroup.subtree_control`, value);
        return;
      } catch (e) {
        const stray = (readControl(`${scope}/cgroup.procs`) ?? '').split('\n').filter(Boolean);
        if (attempt === 5 || stray.length === 0) throw e;
        for (const pid of stray) writeControl(`${pid === String(keeper?.pid) ? keepDir : leaf}/cgroup.procs`, pid);
        await new Promise((r) => setTimeout(r, 10 * attempt));
      }
    }
  };

  const attach = async (stagePid: number): Promise<void> => {
    if (state !== 'new') throw new SandboxError('internal', `cgroup scope ${unit}: attach called twice or after remove`);
    state = 'attaching';
    try {
      keeper = startKeeper();
      if (keeper.pid === undefined) throw new SandboxError('host', `cannot start the keeper process of ${unit}`, DOCTOR_HINT);
      try {
        await startScope({
          socket: plan.socket, uid, unit, slice: plan.slice, pid: stagePid, extraPids: [keeper.pid],
          description: `rootless-sandbox run ${runId}`, cgroupPath: scopePath, timeoutMs: SCOPE_TIMEOUT_MS,
        });
      } catch (e) {
        throw new SandboxError('host', `${who} could not make the scope ${unit} for the stage (pid ${stagePid}): ${(e as Error).message}`,
          `check \`systemctl ${plan.manager === 'user' ? '--user ' : ''}status\`; ${DOCTOR_HINT}`);
      }
      if (state !== 'attaching') throw new SandboxError('internal', `cgroup scope ${unit} was removed while it was being made`);
      // no-internal-processes: both processes move to leaves before the scope hands out controllers
      makeCgroupDir(keepDir);
      writeControl(`${keepDir}/cgroup.procs`, String(keeper.pid));
      makeCgroupDir(runDir);
      writeControl(`${runDir}/cgroup.procs`, String(stagePid));
      const available = parseControllerList(readControl(`${scopeDir}/cgroup.controllers`) ?? '');
      const missing = missingControllers(available, V2_REQUIRED);
      if (missing.length > 0) {
        throw new SandboxError('host', `the scope ${scopeDir} has no ${missing.join(' and ')} controller (cgroup.controllers: ${available.join(' ') || 'empty'})`,
          plan.manager === 'user' ? 'delegate them to user sessions: see `sandbox doctor`' : DOCTOR_HINT);
      }
      const wanted = [...V2_REQUIRED, ...(available.includes('cpu') ? ['cpu'] : [])];
      await enableControllers(scopeDir, runDir, formatSubtreeControl(wanted));
      applyCgroup2Limits(runDir, limits);
      state = 'attached';
    } catch (e) {
      state = 'attached'; // so remove() cleans what exists
      remove();
      throw e;
    }
  };

  return {
    backend: 'cgroup2',
    path: runDir,
    joinFiles: [],
    cpuUsage: { file: `${runDir}/cpu.stat`, format: 'cgroup2' },
    attach,
    collect: () => (state === 'new' || !existsSync(runDir) ? NO_USAGE : collectCgroup2(runDir)),
    remove,
  };
}
