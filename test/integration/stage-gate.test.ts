// The stage's start gate (OPEN_GATE, WAIT_START, the GATE event), by
// hand-made plans as in stage.test.ts: the workload reports its host pid and
// waits, not yet executed, until the FIFO is opened for reading and its byte
// read (sandbox-oci start); errors of a gate without OPEN_GATE or on a file
// that is no FIFO; SIGKILL at the gate ends the run with nothing left.
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, constants as fsConstants, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchStage, type StageOutcome } from '../../src/launch/launch-stage.js';
import { Event, Op } from '../../src/stage/protocol.js';
import { ops, type StageOp } from '../../src/stage/plan.js';
import { ensureStage, initStart, isRoot, readAll, record, sh, sleep, stagePart, workloadEnd, workloadStart } from './stage/helpers.js';

const T = 20_000;
const FD = 202;
let dir: string;

beforeAll(() => {
  ensureStage();
  dir = mkdtempSync('/tmp/stage-gate-');
});
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

function fifo(name: string): string {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  chmodSync(path, 0o622); // the workload is nobody outside
  return path;
}

/** A gated plan: the FIFO opened first, the gate right before EXEC. */
function gated(path: string, exec: StageOp): StageOp[] {
  return [ops.openGate(path, FD), ...stagePart(), ...initStart(), ...workloadStart(), ...workloadEnd(), ops.waitStart(FD), exec];
}

function launch(p: readonly StageOp[]) {
  let gatePid = 0;
  let started = false;
  const h = launchStage(p, ['ignore', 'pipe', 'ignore'], undefined, (pid) => { gatePid = pid; });
  const rec = record(h.child);
  void h.started.then(() => { started = true; });
  const out = readAll(h.child.stdout);
  return { h, rec, out, gatePid: () => gatePid, started: () => started };
}

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(10);
  }
}

/** What `sandbox-oci start` does: open for reading without blocking, read the one byte. */
function openGate(path: string): string {
  const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const b = Buffer.alloc(1);
    for (let i = 0; i < 2000; i++) {
      try {
        if (readSync(fd, b, 0, 1, null) === 1) return b.toString();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
    throw new Error('no byte at the gate');
  } finally {
    closeSync(fd);
  }
}

const exited = (o: StageOutcome) => {
  expect(o.kind, JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).toBe('exited');
  return o as Extract<StageOutcome, { kind: 'exited' }>;
};

if (!isRoot) console.warn('stage gate tests skipped: they need root to map ids to nobody');
describe.skipIf(!isRoot)('sandbox-stage start gate', () => {
  it('GATE gives the workload\'s host pid; it waits there unexecuted until the FIFO is read, then runs', async () => {
    const path = fifo('run');
    const r = launch(gated(path, sh('echo ran')));
    await until(() => r.gatePid() > 0);
    const pid = r.gatePid();
    // the host pid of pid 2 of the sandbox's pid namespace, still the stage's program (not executed)
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    expect(status).toMatch(/^Name:\tsandbox-stage$/m);
    expect(status).toMatch(/^NSpid:\t\d+\t2$/m);
    expect(Number(/^NSpid:\t(\d+)/m.exec(status)![1])).toBe(pid);
    // it stays there: no STARTED while nobody reads the FIFO
    await sleep(300);
    expect(r.started()).toBe(false);
    expect(readFileSync(`/proc/${pid}/wchan`, 'utf8')).toBe('wait_for_partner');
    expect(openGate(path)).toBe('0');
    const o = exited(await r.h.outcome);
    expect(o.waitStatus).toBe(0);
    expect(await r.out).toBe('ran\n');
    await r.rec.closed;
    expect(r.rec.frames.map((f) => f.type)).toEqual([Event.GATE, Event.STARTED, Event.EXIT]);
  }, T);

  it('SIGKILL at the gate ends the run: killed by signal 9, nothing left', async () => {
    const path = fifo('kill');
    const r = launch(gated(path, sh('echo never')));
    await until(() => r.gatePid() > 0);
    process.kill(r.gatePid(), 'SIGKILL');
    const o = exited(await r.h.outcome);
    expect(o.waitStatus & 0x7f).toBe(constants.signals.SIGKILL);
    expect(await r.out).toBe('');
    const { code } = await r.rec.closed;
    expect(code).toBe(0);
  }, T);

  it('WAIT_START without OPEN_GATE fails at its step (EBADF)', async () => {
    const p = [...stagePart(), ...initStart(), ...workloadStart(), ...workloadEnd(), ops.waitStart(FD), sh('echo never')];
    const r = launch(p);
    const o = await r.h.outcome;
    expect(o).toMatchObject({ kind: 'failed', step: p.findIndex((x) => x.code === Op.WAIT_START), errno: constants.errno.EBADF, what: 'wait for start (the start FIFO)' });
  }, T);

  it('OPEN_GATE on a file that is not a FIFO fails at step 0 (EINVAL)', async () => {
    const file = join(dir, 'plain');
    writeFileSync(file, '');
    const r = launch(gated(file, sh('echo never')));
    const o = await r.h.outcome;
    expect(o).toMatchObject({ kind: 'failed', step: 0, errno: constants.errno.EINVAL });
    expect((o as { detail: string }).detail).toContain('is not a FIFO');
  }, T);

  it('OPEN_GATE of a missing FIFO fails at step 0 (ENOENT)', async () => {
    const r = launch(gated(join(dir, 'missing'), sh('echo never')));
    expect(await r.h.outcome).toMatchObject({ kind: 'failed', step: 0, errno: constants.errno.ENOENT });
  }, T);
});
