// Starts the C stage process with a plan and reads its frames into one
// outcome. Only the stage client (stage-client.ts) calls it.
// Must not: decide policy or build plans (resolve/ and rootfs/ do).
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { Command, Event, Op } from '../stage/protocol.js';
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

export interface StageHandle {
  readonly pid: number;
  /** Resolves when the workload has been executed (or never, if set-up failed). */
  readonly started: Promise<void>;
  readonly outcome: Promise<StageOutcome>;
  /** Sends a signal to the stage, which passes it on to the workload. */
  kill(signal: NodeJS.Signals): void;
  /** Lets a plan with a SYNC op go on. */
  go(): void;
  /** Resolves with the stage's pid once the namespaces exist (plans with SYNC). */
  readonly nsReady: Promise<number>;
}

/**
 * Starts the stage; stdio 0-2 are handed to the workload as they are (or
 * relayed by the stage). `onSync` runs at each SYNC op with the stage's pid
 * and that op, then the stage goes on (GO); a failing hook ends the stage.
 */
export function launchStage(
  plan: readonly StageOp[],
  stdio: ('inherit' | 'pipe' | 'ignore' | number)[],
  onSync?: (stagePid: number, op: StageOp) => Promise<void>,
): StageHandle & {
  child: ReturnType<typeof spawn>;
} {
  // encode first: a plan that cannot be encoded must not leave a stage waiting
  const bytes = encodePlan(plan);
  const child = spawn(stagePath(), [], {
    stdio: [stdio[0] ?? 'ignore', stdio[1] ?? 'inherit', stdio[2] ?? 'inherit', 'pipe'],
    // its own session: terminal signals reach the sandbox through us, once
    detached: true,
    env: {},
  });
  const ctl = child.stdio[3] as Socket;
  const go = () => {
    const cmd = Buffer.alloc(8);
    cmd.writeUInt32LE(Command.GO, 0);
    ctl.write(cmd);
  };
  const syncOps = plan.filter((o) => o.code === Op.SYNC);
  let syncs = 0;
  let buffered: Buffer = Buffer.alloc(0);
  let settled = false;
  let resolveOutcome!: (o: StageOutcome) => void;
  let resolveStarted!: () => void;
  let resolveNs!: (pid: number) => void;
  const outcome = new Promise<StageOutcome>((r) => (resolveOutcome = r));
  const started = new Promise<void>((r) => (resolveStarted = r));
  const nsReady = new Promise<number>((r) => (resolveNs = r));
  const settle = (o: StageOutcome) => {
    if (!settled) { settled = true; resolveOutcome(o); }
  };

  ctl.on('data', (chunk: Buffer) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    while (buffered.length >= 8) {
      const type = buffered.readUInt32LE(0);
      const len = buffered.readUInt32LE(4);
      if (buffered.length < 8 + len) break;
      const body = buffered.subarray(8, 8 + len);
      buffered = buffered.subarray(8 + len);
      if (type === Event.NS_READY) {
        const pid = body.readUInt32LE(0);
        resolveNs(pid);
        if (onSync) {
          const op = syncOps[syncs++] ?? syncOps[syncOps.length - 1]!;
          onSync(pid, op).then(() => go(), (e: unknown) => {
            settle({ kind: 'lost', reason: e instanceof Error ? e.message : String(e) });
            child.kill('SIGKILL');
          });
        }
      }
      else if (type === Event.STARTED) resolveStarted();
      else if (type === Event.ERROR) {
        const step = body.readUInt32LE(0);
        settle({
          kind: 'failed', step, errno: body.readInt32LE(4), detail: body.subarray(8).toString('utf8'),
          what: plan[step]?.what ?? 'stage set-up',
        });
      } else if (type === Event.EXIT) {
        settle({
          kind: 'exited', waitStatus: body.readInt32LE(0), wallNs: body.readBigInt64LE(4),
          userUs: body.readBigInt64LE(12), systemUs: body.readBigInt64LE(20), maxRssKiB: body.readBigInt64LE(28),
          killReason: body.readUInt32LE(36), truncated: body.readUInt32LE(40),
          stdoutBytes: body.readBigInt64LE(44), stderrBytes: body.readBigInt64LE(52), cpuSampleUs: body.readBigInt64LE(60),
          voluntarySwitches: body.readBigInt64LE(68), involuntarySwitches: body.readBigInt64LE(76),
        });
      }
    }
  });
  ctl.on('error', () => {}); // EPIPE when the stage dies early; 'close' reports it
  child.on('error', (err) => settle({ kind: 'lost', reason: `cannot start the stage ${stagePath()}: ${err.message}` }));
  child.on('close', (code, signal) =>
    settle({ kind: 'lost', reason: `the stage ended without a result (${signal ?? `exit ${code}`})` }));
  ctl.write(bytes);

  return {
    child,
    pid: child.pid ?? -1,
    started,
    outcome,
    nsReady,
    kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    go,
  };
}
