// Starts the C stage process with a plan and reads its frames into one
// outcome. Only the stage client (stage-client.ts) calls it.
// Must not: decide policy or build plans (resolve/ and rootfs/ do).
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { Op } from '../stage/protocol.js';
import { decodeEvent, encodeCommand, splitFrames, type EventValues } from '../stage/frames.js';
import { encodePlan, type StageOp } from '../stage/plan.js';
import { stagePath } from './stage-path.js';

/** What the stage reported about a run. */
export interface StageExit {
  kind: 'exited';
  waitStatus: number;
  wallNs: bigint;
  userUs: bigint;
  systemUs: bigint;
  maxRssKiB: bigint;
  /** Why the stage ended the run, if it did (KillReason). */
  killReason: number;
  /** bit 0: stdout was cut at the output limit, bit 1: stderr. */
  truncated: number;
  /** Bytes relayed per stream; -1 when the output was not relayed. */
  stdoutBytes: bigint;
  stderrBytes: bigint;
  /** The stage's last sample of the tree's CPU time (us), -1 if it did not sample (no CPU limit). */
  cpuSampleUs: bigint;
  /** Context switches of the whole tree (rusage nvcsw, nivcsw). */
  voluntarySwitches: bigint;
  involuntarySwitches: bigint;
}

export type StageOutcome =
  | StageExit
  | { kind: 'failed'; step: number; errno: number; detail: string; what: string }
  | { kind: 'lost'; reason: string }
  /** A plan without a workload (no FORK_INIT) ran every op. */
  | { kind: 'completed' };

/** When the stage's phases ended, in ms since it started (null: the plan had no such phase). */
export interface StageStartTimes {
  readonly mapsMs: number | null;
  readonly namespacesMs: number | null;
  readonly pid1Ms: number | null;
  readonly execMs: number;
}

export interface StageHandle {
  readonly pid: number;
  /** Resolves when the workload has been executed (or never, if set-up failed). */
  readonly started: Promise<StageStartTimes>;
  readonly outcome: Promise<StageOutcome>;
  /**
   * Sends a signal to the stage, which passes it on to the workload. SIGKILL
   * ends the whole sandbox: once the workload runs, by asking the stage (END),
   * which kills and reaps the tree and still reports its accounting; before,
   * or if the stage does not answer within a second, by killing the stage.
   */
  kill(signal: NodeJS.Signals): void;
  /** Lets a plan with a SYNC op go on. */
  go(): void;
  /** Resolves with the stage's pid once the namespaces exist (plans with SYNC). */
  readonly nsReady: Promise<number>;
}

/** The SYNC op of a plan with this id; an id no SYNC op of the plan has, or one already reached, is an error. */
export function syncRouter(plan: readonly StageOp[]): (id: number) => StageOp {
  const byId = new Map<number, StageOp>();
  for (const o of plan) {
    if (o.code !== Op.SYNC) continue;
    const id = Number(o.ints[0] ?? 0);
    if (byId.has(id)) throw new Error(`two SYNC ops of the plan have the id ${id}`);
    byId.set(id, o);
  }
  const reached = new Set<number>();
  return (id) => {
    const op = byId.get(id);
    if (!op) throw new Error(`the stage waits at a SYNC point with the unknown id ${id}`);
    if (reached.has(id)) throw new Error(`the stage reached the SYNC point ${id} ("${op.what}") twice`);
    reached.add(id);
    return op;
  };
}

/** The outcome an EXIT frame reports. */
export function exitOutcome(v: EventValues<'EXIT'>): StageExit {
  return {
    kind: 'exited', waitStatus: v.waitStatus, wallNs: v.wallNs, userUs: v.userUs, systemUs: v.systemUs, maxRssKiB: v.maxRssKib,
    killReason: v.killReason, truncated: v.truncated, stdoutBytes: v.stdoutBytes, stderrBytes: v.stderrBytes,
    cpuSampleUs: v.cpuSampleUs, voluntarySwitches: v.voluntarySwitches, involuntarySwitches: v.involuntarySwitches,
  };
}

/**
 * Starts the stage; stdio 0-2 are handed to the workload as they are (or
 * relayed by the stage). `onSync` runs at each SYNC op with the stage's pid,
 * the op's id and the op itself, then the stage goes on (GO); a failing hook,
 * or an id the plan has no SYNC op for, ends the stage. The run is over at
 * the stage's DONE frame; its result is the first ERROR or EXIT before it.
 */
export function launchStage(
  plan: readonly StageOp[],
  stdio: ('inherit' | 'pipe' | 'ignore' | number)[],
  onSync?: (stagePid: number, syncId: number, op: StageOp) => Promise<void>,
  onGate?: (workloadPid: number) => void,
): StageHandle & {
  child: ReturnType<typeof spawn>;
} {
  // encode first: a plan that cannot be encoded must not leave a stage waiting
  const bytes = encodePlan(plan);
  const routeSync = syncRouter(plan);
  const child = spawn(stagePath(), [], {
    stdio: [stdio[0] ?? 'ignore', stdio[1] ?? 'inherit', stdio[2] ?? 'inherit', 'pipe'],
    // its own session: terminal signals reach the sandbox through us, once
    detached: true,
    env: {},
  });
  const ctl = child.stdio[3] as Socket;
  const go = () => { ctl.write(encodeCommand('GO')); };
  let buffered: Buffer = Buffer.alloc(0);
  let settled = false;
  /** The first ERROR or EXIT: the outcome once DONE (or the stage's end) comes. */
  let result: StageOutcome | undefined;
  let resolveOutcome!: (o: StageOutcome) => void;
  let resolveStarted!: (t: StageStartTimes) => void;
  let resolveNs!: (pid: number) => void;
  const outcome = new Promise<StageOutcome>((r) => (resolveOutcome = r));
  const started = new Promise<StageStartTimes>((r) => (resolveStarted = r));
  const nsReady = new Promise<number>((r) => (resolveNs = r));
  const settle = (o: StageOutcome) => {
    if (!settled) { settled = true; resolveOutcome(o); }
  };
  const abandon = (e: unknown) => {
    settle({ kind: 'lost', reason: e instanceof Error ? e.message : String(e) });
    child.kill('SIGKILL');
  };

  let running = false;
  const killStage = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  /** How long an END may take before the stage itself is killed. */
  const END_GRACE_MS = 1000;

  ctl.on('data', (chunk: Buffer) => {
    const split = splitFrames(buffered.length ? Buffer.concat([buffered, chunk]) : chunk);
    buffered = split.rest;
    for (const f of split.frames) {
      let ev;
      try {
        ev = decodeEvent(f.type, f.body);
      } catch (e) {
        abandon(new Error(`the stage sent a bad frame (type ${f.type}): ${e instanceof Error ? e.message : e}`));
        return;
      }
      switch (ev.name) {
        case 'NS_READY': {
          const { pid, syncId } = ev.values;
          resolveNs(pid);
          if (onSync) {
            let op: StageOp;
            try {
              op = routeSync(syncId);
            } catch (e) {
              abandon(e);
              return;
            }
            onSync(pid, syncId, op).then(() => go(), abandon);
          }
          break;
        }
        case 'STARTED': {
          const { mapsNs, namespacesNs, pid1Ns, execNs } = ev.values;
          const ms = (ns: bigint) => (ns < 0n ? null : Number(ns) / 1e6);
          running = true;
          resolveStarted({ mapsMs: ms(mapsNs), namespacesMs: ms(namespacesNs), pid1Ms: ms(pid1Ns), execMs: ms(execNs) ?? 0 });
          break;
        }
        case 'ERROR': {
          const { step, errorNumber, detail } = ev.values;
          result ??= { kind: 'failed', step, errno: errorNumber, detail, what: plan[step]?.what ?? 'stage set-up' };
          break;
        }
        case 'EXIT': result ??= exitOutcome(ev.values); break;
        // a plan with a start gate (WAIT_START): the workload waits there
        case 'GATE': onGate?.(ev.values.pid); break;
        // DONE alone: a plan without a workload ran every op
        case 'DONE': settle(result ?? { kind: 'completed' }); break;
        case 'unknown': break;
      }
    }
  });
  ctl.on('error', () => {}); // EPIPE when the stage dies early; 'close' reports it
  child.on('error', (err) => settle({ kind: 'lost', reason: `cannot start the stage ${stagePath()}: ${err.message}` }));
  // no DONE: a result that came before still stands
  child.on('close', (code, signal) =>
    settle(result ?? { kind: 'lost', reason: `the stage ended without a result (${signal ?? `exit ${code}`})` }));
  ctl.write(bytes);

  return {
    child,
    pid: child.pid ?? -1,
    started,
    outcome,
    nsReady,
    kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (signal !== 'SIGKILL' || !running || settled) {
        child.kill(signal);
        return;
      }
      ctl.write(encodeCommand('END'));
      setTimeout(killStage, END_GRACE_MS).unref();
    },
    go,
  };
}
