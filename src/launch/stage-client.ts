// launch/: the stage client, the one way TypeScript runs a plan in the C
// stage. `startStage` for runs the caller follows (the run path: stdio,
// signals, SYNC hooks), `runStage` for plans run to their end with their
// output collected (doctor, the unpack worker, clearing directories). Both
// give a typed StageOutcome; stage-outcome.ts words it. Nothing else imports
// launch-stage.ts or spawns the stage binary (a unit test checks).
// Must not: decide policy or build plans (resolve/, rootfs/, plan-run.ts do).
import type { Readable, Writable } from 'node:stream';
import type { StageOp } from '../stage/plan.js';
import { launchStage, type StageOutcome, type StageStartTimes } from './launch-stage.js';

export type { StageExit, StageOutcome, StageStartTimes } from './launch-stage.js';
export type StageStdio = 'inherit' | 'pipe' | 'ignore' | number;

export interface StageOptions {
  /** stdin, stdout, stderr of the stage (and so of the workload). Default: ignore, inherit, inherit. */
  readonly stdio?: readonly StageStdio[];
  /** Runs at each SYNC op with the stage's pid and the op's id; the stage goes on when it resolves, and is killed when it rejects. */
  readonly onSync?: (stagePid: number, syncId: number, op: StageOp) => Promise<void>;
  /** Aborting kills the stage and everything in it (SIGKILL). */
  readonly signal?: AbortSignal;
  /** A plan with a start gate (WAIT_START): called with the workload's host pid when it waits there. */
  readonly onGate?: (workloadPid: number) => void;
}

export interface StageRun {
  /** pid of the stage process (outside the sandbox). */
  readonly pid: number;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Resolves once the workload has been executed (with when the stage's phases ended); never if set-up failed. */
  readonly started: Promise<StageStartTimes>;
  /** The stage's report; plans without a workload that ran every op give `completed`. */
  readonly outcome: Promise<StageOutcome>;
  /** Resolves when the stage process has ended (after its last clean-up). */
  readonly ended: Promise<void>;
  /** The stage was killed through `signal`. */
  readonly aborted: () => boolean;
  /** Sends a signal to the stage, which passes it on to the workload (SIGKILL ends the whole sandbox). */
  kill(signal: NodeJS.Signals): void;
}

/** Starts a plan in the stage. */
export function startStage(plan: readonly StageOp[], options: StageOptions = {}): StageRun {
  const { stdio = ['ignore', 'inherit', 'inherit'], onSync, signal, onGate } = options;
  const handle = launchStage(plan, [...stdio], onSync, onGate);
  const { child } = handle;
  const ended = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  let aborted = false;
  const onAbort = () => { aborted = true; handle.kill('SIGKILL'); };
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  const outcome = handle.outcome.then((o) => {
    signal?.removeEventListener('abort', onAbort);
    return o;
  });
  return {
    pid: handle.pid,
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    started: handle.started,
    outcome,
    ended: ended.then(() => {}),
    aborted: () => aborted,
    kill: (s) => handle.kill(s),
  };
}

export interface RunStageOptions extends Omit<StageOptions, 'stdio' | 'onSync' | 'onGate'> {
  /** The stage's stdin (an fd), else nothing. */
  readonly stdin?: number;
  /** Collect the workload's stdout (all of it) and stderr (up to `stderrMax` bytes, the last ones kept). */
  readonly collect?: boolean;
  readonly stderrMax?: number;
  /** Kills the stage after this long and reports it lost. */
  readonly timeoutMs?: number;
}

export interface StageReport {
  readonly outcome: StageOutcome;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a plan to its end (every byte of its output read) and reports what happened. */
export async function runStage(plan: readonly StageOp[], options: RunStageOptions = {}): Promise<StageReport> {
  const { collect = false, stderrMax = 64 * 1024, timeoutMs } = options;
  const run = startStage(plan, {
    stdio: [options.stdin ?? 'ignore', collect ? 'pipe' : 'ignore', collect ? 'pipe' : 'ignore'],
    ...(options.signal && { signal: options.signal }),
  });
  let stdout = '';
  let stderr = '';
  run.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  run.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-stderrMax); });
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  if (timeoutMs !== undefined) timer = setTimeout(() => { timedOut = true; run.kill('SIGKILL'); }, timeoutMs);
  try {
    const outcome = await run.outcome;
    await run.ended; // every byte of the output is in
    if (timedOut) return { outcome: { kind: 'lost', reason: `the stage did not finish within ${timeoutMs! / 1000}s` }, stdout, stderr };
    return { outcome, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}
