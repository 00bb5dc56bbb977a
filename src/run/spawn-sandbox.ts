// run/: the run path shared by the CLI and the library: profile, host facts,
// RunSpec, plan, stage, result. Rejects/throws only before the stage starts.
import type { Readable, Writable } from 'node:stream';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { loadProfile } from '../config/load-profile.js';
import { SandboxError } from '../errors.js';
import { probeHost, type HostFacts } from '../host/probe-host.js';
import { launchStage } from '../launch/launch-stage.js';
import { planRun } from '../launch/plan-run.js';
import type { ExecOptions } from '../resolve/exec-options.js';
import { resolveRunSpec, type InspectPath } from '../resolve/resolve-run-spec.js';
import type { RunSpec } from '../resolve/run-spec.js';
import { probeHostImage } from '../rootfs/host-image.js';
import { filterContext, prepareSeccomp } from '../seccomp/prepare-seccomp.js';
import { toRunResult, type RunResult } from './run-result.js';

export type StdioChoice = 'inherit' | 'pipe' | 'ignore' | number;

export interface SpawnOptions extends ExecOptions {
  /** stdin, stdout, stderr of the workload. Default: stdin "ignore" ("inherit" with interactive), others "inherit". */
  readonly stdio?: readonly [StdioChoice?, StdioChoice?, StdioChoice?];
  /** Aborting kills the sandbox; the result then says signaled SIGKILL. */
  readonly signal?: AbortSignal;
}

export interface SandboxProcess {
  /** pid of the stage process (outside the sandbox). */
  readonly pid: number;
  readonly spec: RunSpec;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Resolves once the workload has been executed; never if set-up failed. */
  readonly started: Promise<void>;
  readonly result: Promise<RunResult>;
  /** Passes a signal on to the workload (SIGKILL ends the whole sandbox at once). */
  kill(signal?: NodeJS.Signals): void;
}

const inspectPath: InspectPath = (path) => {
  try {
    const real = realpathSync(path);
    const st = statSync(real);
    return { real, kind: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other' };
  } catch {
    return null;
  }
};

function readEnvFiles(files: readonly string[]): { file: string; text: string }[] {
  return files.map((file) => {
    try {
      return { file, text: readFileSync(file, 'utf8') };
    } catch (e) {
      throw new SandboxError('usage', `cannot read env file ${file} (--env-file): ${(e as NodeJS.ErrnoException).code ?? e}`, 'check the path');
    }
  });
}

/** Resolves everything a run needs without starting it. */
export function prepareRun(options: ExecOptions, host: HostFacts = probeHost()): RunSpec {
  const profile = loadProfile(options.profile ?? 'default');
  return resolveRunSpec({
    options,
    profile,
    host,
    layout: probeHostImage(),
    callerEnv: process.env,
    envFiles: readEnvFiles(options.envFiles ?? []),
    inspectPath,
  });
}

export function spawnSandbox(options: SpawnOptions): SandboxProcess {
  const host = probeHost();
  const spec = prepareRun(options, host);
  const seccomp = prepareSeccomp(spec.seccomp, filterContext(spec.network !== 'none'));
  const plan = planRun(spec, host, seccomp);
  const [stdin, stdout, stderr] = options.stdio ?? [];
  const handle = launchStage(plan, [stdin ?? (spec.interactive ? 'inherit' : 'ignore'), stdout ?? 'inherit', stderr ?? 'inherit']);
  let aborted = false;
  const onAbort = () => { aborted = true; handle.kill('SIGKILL'); };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  const result = handle.outcome.then((outcome) => {
    options.signal?.removeEventListener('abort', onAbort);
    if (aborted && outcome.kind === 'lost') {
      return { ...toRunResult(outcome, spec, plan, seccomp.policy), status: 'signaled', exitCode: 137, signal: 'SIGKILL', error: undefined } as RunResult;
    }
    return toRunResult(outcome, spec, plan, seccomp.policy);
  });
  return {
    pid: handle.pid,
    spec,
    stdin: handle.child.stdin,
    stdout: handle.child.stdout,
    stderr: handle.child.stderr,
    started: handle.started,
    result,
    kill: (signal = 'SIGTERM') => handle.kill(signal),
  };
}

/** Runs a command in a fresh sandbox and resolves to its result. */
export async function exec(options: SpawnOptions): Promise<RunResult> {
  return spawnSandbox(options).result;
}
