// cgroup/prepare-cgroup: the entry point of the run path: reads the host's
// cgroup facts, chooses a backend (the same choice `sandbox doctor` shows) and
// makes the run's cgroup with its limits, or says why there is none.
// Must not: start or signal the sandbox's processes (the stage joins through
// joinFiles, or is handed to attach()); leave anything behind when it throws.
import { SandboxError } from '../errors.js';
import type { CgroupChoice, CgroupLimits } from './cgroup-run.js';
import { probeCgroupFacts, type CgroupFacts } from './cgroup-facts.js';
import { createCgroup1Run } from './cgroup1-run.js';
import { createCgroup2Run } from './cgroup2-run.js';
import { createScopeRun } from './cgroup2-scope-run.js';
import { chooseCgroupBackend, type BackendChoice } from './choose-cgroup-backend.js';

/** Run ids become cgroup and unit names: letters, digits, "_", "-", "." (not leading), at most 64. */
export function isValidRunId(runId: string): boolean {
  return /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/.test(runId);
}

/** Name of a run's cgroup directory (v1 and delegated v2). */
export const runCgroupName = (runId: string) => `rootless-sandbox-${runId}`;

function checkLimit(value: number | null, what: string): void {
  if (value !== null && !(Number.isSafeInteger(value) && value >= 0)) {
    throw new SandboxError('internal', `${what} for the cgroup must be a non-negative integer, got ${value}`);
  }
}

/** Which backend runs of this process get, from the live facts (doctor shows this). */
export function detectCgroupBackend(facts: CgroupFacts = probeCgroupFacts()): BackendChoice {
  return chooseCgroupBackend(facts);
}

/**
 * Makes the cgroup of one run. Resolves to the backend in use, or to
 * `{ backend: 'none', reason }` when this host gives the caller no cgroups.
 * Fails closed: when a limit is asked for and the chosen backend cannot apply
 * it, rejects with a SandboxError (code "host") and leaves nothing behind. A
 * run that asks for no limit (accounting only) gets "none" with the error as
 * the reason instead.
 */
export async function prepareCgroup(limits: CgroupLimits, runId: string): Promise<CgroupChoice> {
  if (!isValidRunId(runId)) throw new SandboxError('internal', `run id ${JSON.stringify(runId)} cannot name a cgroup (letters, digits, _ - . only)`);
  checkLimit(limits.memoryBytes, 'the memory limit');
  checkLimit(limits.pids, 'the process limit');
  const facts = probeCgroupFacts();
  const choice = chooseCgroupBackend(facts);
  const name = runCgroupName(runId);
  try {
    switch (choice.kind) {
      case 'none':
        return { backend: 'none', reason: choice.reason };
      case 'cgroup1':
        return createCgroup1Run(choice.hierarchies, limits, name);
      case 'cgroup2-delegated':
        return createCgroup2Run(choice.parentDir, limits, name);
      case 'cgroup2-scope':
        return createScopeRun(choice, limits, runId, facts.uid);
    }
  } catch (e) {
    if (limits.memoryBytes === null && limits.pids === null && e instanceof SandboxError && e.code === 'host') {
      return { backend: 'none', reason: e.message };
    }
    throw e;
  }
}
