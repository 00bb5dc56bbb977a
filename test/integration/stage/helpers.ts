// Helpers for test/integration/stage.test.ts: hand-made plans for the real C
// stage, a frame recorder for its control socket, a raw launcher that sends
// bytes of our choosing, and process look-ups for "nothing is left behind".
// Must not: build plans the way rootfs/ or resolve/ do; plans stay hand-made.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { CLONE, MS, ops, type StageOp } from '../../../src/stage/plan.js';
import { Event } from '../../../src/stage/protocol.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const STAGE = join(REPO, 'dist', 'sandbox-stage');
export const isRoot = process.getuid?.() === 0;

/** Every id inside maps to nobody outside: the workload is never host root. */
export const OUTSIDE_ID = 65534;
export const ENV = ['PATH=/usr/bin:/bin'];
export const NS_FLAGS = CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWCGROUP;

export function ensureStage(): void {
  if (!existsSync(STAGE)) execFileSync(process.execPath, ['scripts/build-stage.mjs'], { cwd: REPO, stdio: 'inherit' });
}

/** Stage part: user namespace (single-id map to nobody), identity, the other namespaces. */
export function stagePart(): StageOp[] {
  return [
    ops.userns(),
    ops.mapWrite('uid_map', `0 ${OUTSIDE_ID} 1\n`),
    ops.mapWrite('gid_map', `0 ${OUTSIDE_ID} 1\n`),
    ops.setupIds(0, 0),
    ops.unshare(NS_FLAGS, 'ns'),
  ];
}

/** pid 1 starts and makes its mounts slaves of the host's. */
export function initStart(): StageOp[] {
  return [ops.forkInit(0), ops.mount('', '/', '', MS.REC | MS.SLAVE)];
}

/** The workload's own ops (CHDIR, RLIMIT, SET_IDS) go between these two, as in launch/plan-run.ts. */
export function workloadStart(): StageOp[] {
  return [ops.forkWorkload(0)];
}

export function workloadEnd(): StageOp[] {
  return [ops.dropCaps(0n, 0n), ops.noNewPrivs()];
}

export function sh(script: string): StageOp {
  return ops.exec('/bin/sh', '', ['/bin/sh', '-c', script], ENV);
}

/** The whole minimal plan around an EXEC. */
export function plan(exec: StageOp, extra: { init?: StageOp[]; workload?: StageOp[] } = {}): StageOp[] {
  return [...stagePart(), ...initStart(), ...(extra.init ?? []), ...workloadStart(), ...(extra.workload ?? []), ...workloadEnd(), exec];
}

export interface Frame {
  readonly type: number;
  readonly body: Buffer;
}

/** Splits a byte stream into frames; `rest` is an incomplete tail. */
export function parseFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let off = 0;
  while (buf.length - off >= 8) {
    const type = buf.readUInt32LE(off);
    const len = buf.readUInt32LE(off + 4);
    if (buf.length - off < 8 + len) break;
    frames.push({ type, body: buf.subarray(off + 8, off + 8 + len) });
    off += 8 + len;
  }
  return { frames, rest: buf.subarray(off) };
}

/** The result frames and whether DONE ended them (the stage's last frame, on every path where it can still report). */
export function withoutDone(frames: Frame[]): { frames: Frame[]; done: boolean } {
  const done = frames.length > 0 && frames[frames.length - 1]!.type === Event.DONE;
  return { frames: done ? frames.slice(0, -1) : frames, done };
}

export interface Recorded {
  /** Every frame the stage sent, in order, once `closed` has resolved; without the final DONE (see `done`). */
  readonly frames: Frame[];
  /** The stage ended its frames with DONE. */
  readonly done: boolean;
  /** Bytes after the last complete frame. */
  rest(): Buffer;
  /** The stage has exited and its stdio is closed. */
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Records the control socket of a child (fd 3) alongside whoever else reads it. */
export function record(child: ChildProcess): Recorded {
  const ctl = child.stdio[3] as Socket;
  let bytes = Buffer.alloc(0);
  ctl.on('data', (chunk: Buffer) => { bytes = Buffer.concat([bytes, chunk]); });
  ctl.on('error', () => {});
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })));
  return {
    get frames() { return withoutDone(parseFrames(bytes).frames).frames; },
    get done() { return withoutDone(parseFrames(bytes).frames).done; },
    rest: () => parseFrames(bytes).rest,
    closed,
  };
}

/** Waits until at least `n` frames have arrived (or the stage has ended). */
export async function waitFrames(rec: Recorded, n: number): Promise<Frame[]> {
  let ended = false;
  void rec.closed.then(() => { ended = true; });
  while (rec.frames.length < n && !ended) await sleep(10);
  return rec.frames;
}

/** Starts the stage without launchStage: our own bytes on fd 3, our own stdio. */
export function spawnRaw(stdio: ('pipe' | 'ignore' | number)[] = ['ignore', 'ignore', 'ignore']): { child: ChildProcess; ctl: Socket; rec: Recorded } {
  const child = spawn(STAGE, [], { stdio: [stdio[0] ?? 'ignore', stdio[1] ?? 'ignore', stdio[2] ?? 'ignore', 'pipe', ...stdio.slice(3)], env: {} });
  const ctl = child.stdio[3] as Socket;
  return { child, ctl, rec: record(child) };
}

/** Sends bytes, optionally half-closes, and waits for the stage to end. */
export async function runRaw(bytes: Buffer, opts: { end?: boolean } = {}) {
  const { ctl, rec } = spawnRaw();
  ctl.write(bytes);
  if (opts.end) ctl.end();
  const { code, signal } = await rec.closed;
  return { code, signal, frames: rec.frames, done: rec.done, rest: rec.rest() };
}

export function header(magic: number, version: number, size: number, count: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(magic, 0);
  b.writeUInt32LE(version, 4);
  b.writeUInt32LE(size, 8);
  b.writeUInt32LE(count, 12);
  return b;
}

/** Pids of processes whose command line contains `pattern` (pgrep -f). */
export function pgrep(pattern: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch (e) {
    if ((e as { status?: number }).status === 1) return []; // nothing matched
    throw e;
  }
}

/** Waits until no process matches, up to `ms`; returns what is still there. */
export async function waitGone(pattern: string, ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = pgrep(pattern);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await sleep(50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves true if the promise settles within `ms`, else false. */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let done = false;
  void p.then(() => { done = true; }, () => { done = true; });
  await sleep(ms);
  return done;
}

export function readAll(stream: NodeJS.ReadableStream | null | undefined): Promise<string> {
  if (!stream) return Promise.resolve('');
  return new Promise((resolve, reject) => {
    let s = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => { s += d; });
    stream.on('end', () => resolve(s));
    stream.on('error', reject);
  });
}
