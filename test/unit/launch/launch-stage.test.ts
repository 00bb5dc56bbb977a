// launchStage against fake stages that send frames of our choosing: SYNC
// points are routed by id (an unknown or repeated id ends the run), the
// result is the first ERROR or EXIT, and the run is over at DONE.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { encodeEvent } from '../../../src/stage/frames.js';
import { ops } from '../../../src/stage/plan.js';

const fake = vi.hoisted(() => ({ path: '' }));
vi.mock('../../../src/launch/stage-path.js', () => ({ stagePath: () => fake.path }));
const { launchStage, syncRouter } = await import('../../../src/launch/launch-stage.js');

const dir = mkdtempSync(join(tmpdir(), 'launch-stage-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** A fake stage: writes `frames` on fd 3 (after reading `waitGo` GO commands), then lives `lingerMs`. */
function fakeStage(frames: Buffer[], opts: { lingerMs?: number; afterGo?: Buffer[] } = {}): string {
  const path = join(dir, `stage-${++n}`);
  writeFileSync(path, `#!${process.execPath}
const fs = require('fs');
fs.writeSync(3, Buffer.from('${Buffer.concat(frames).toString('hex')}', 'hex'));
const after = Buffer.from('${Buffer.concat(opts.afterGo ?? []).toString('hex')}', 'hex');
if (after.length) {
  let got = Buffer.alloc(0);
  const s = new (require('net').Socket)({ fd: 3 });
  s.on('data', (d) => {
    got = Buffer.concat([got, d]);
    // the plan, then an 8-byte GO at the end
    if (got.length >= 8 && got.readUInt32LE(got.length - 8) === 1) { s.write(after); s.end(); setTimeout(() => process.exit(0), ${opts.lingerMs ?? 0}); }
  });
} else setTimeout(() => process.exit(0), ${opts.lingerMs ?? 0});
`);
  chmodSync(path, 0o755);
  return path;
}

const EXIT = encodeEvent('EXIT', {
  waitStatus: 0, wallNs: 5n, userUs: 1n, systemUs: 2n, maxRssKib: 3n, killReason: 0, truncated: 0,
  stdoutBytes: -1n, stderrBytes: -1n, cpuSampleUs: -1n, voluntarySwitches: 4n, involuntarySwitches: 6n,
});
const DONE = encodeEvent('DONE', {});
const PLAN = [ops.sync(7, 'wait at seven'), ops.forkInit(0), ops.exec('/bin/true', '', ['/bin/true'], [])];

describe('syncRouter', () => {
  it('finds a SYNC op by its id, once', () => {
    const route = syncRouter([ops.sync(1, 'one'), ops.userns(), ops.sync(2, 'two')]);
    expect(route(2).what).toBe('two');
    expect(route(1).what).toBe('one');
    expect(() => route(1)).toThrow(/SYNC point 1 \("one"\) twice/);
  });

  it('rejects an id the plan has no SYNC op for (no reuse of another point)', () => {
    const route = syncRouter([ops.sync(1, 'one')]);
    expect(() => route(3)).toThrow(/unknown id 3/);
    expect(() => syncRouter([])(0)).toThrow(/unknown id 0/);
  });

  it('rejects a plan with two SYNC ops of one id', () => {
    expect(() => syncRouter([ops.sync(1), ops.sync(1)])).toThrow(/two SYNC ops of the plan have the id 1/);
  });
});

describe('launchStage frames', () => {
  it('settles at DONE with the EXIT before it, while the stage still runs', async () => {
    fake.path = fakeStage([encodeEvent('STARTED', { reaperPid: 9, reserved: 0, mapsNs: 1n, namespacesNs: 2n, pid1Ns: 3n, execNs: 4n }), EXIT, DONE], { lingerMs: 5000 });
    const h = launchStage(PLAN, ['ignore', 'ignore', 'ignore']);
    const t0 = Date.now();
    const o = await h.outcome;
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(o).toMatchObject({ kind: 'exited', waitStatus: 0, wallNs: 5n, maxRssKiB: 3n, involuntarySwitches: 6n, cpuSampleUs: -1n });
    h.kill('SIGKILL');
  });

  it('keeps the first ERROR as the result, with the step described', async () => {
    fake.path = fakeStage([
      encodeEvent('ERROR', { step: 1, errorNumber: 13, detail: 'first' }),
      encodeEvent('ERROR', { step: 2, errorNumber: 2, detail: 'second' }),
      DONE,
    ]);
    const o = await launchStage(PLAN, ['ignore', 'ignore', 'ignore']).outcome;
    expect(o).toEqual({ kind: 'failed', step: 1, errno: 13, detail: 'first', what: 'start pid 1 of the sandbox' });
  });

  it('DONE without a result: a plan without a workload ran every op', async () => {
    fake.path = fakeStage([DONE], { lingerMs: 5000 });
    const h = launchStage(PLAN, ['ignore', 'ignore', 'ignore']);
    expect(await h.outcome).toEqual({ kind: 'completed' });
    h.kill('SIGKILL');
  });

  it('a stage that ends without DONE: the result it sent stands, else lost', async () => {
    fake.path = fakeStage([EXIT]);
    expect(await launchStage(PLAN, ['ignore', 'ignore', 'ignore']).outcome).toMatchObject({ kind: 'exited' });
    fake.path = fakeStage([]);
    expect(await launchStage(PLAN, ['ignore', 'ignore', 'ignore']).outcome).toMatchObject({ kind: 'lost', reason: /without a result \(exit 0\)/ });
  });

  it('routes NS_READY to onSync by the echoed id, then sends GO', async () => {
    fake.path = fakeStage([encodeEvent('NS_READY', { pid: 1234, syncId: 7 })], { afterGo: [EXIT, DONE], lingerMs: 100 });
    const seen: [number, number, string][] = [];
    const h = launchStage(PLAN, ['ignore', 'ignore', 'ignore'], async (pid, id, op) => { seen.push([pid, id, op.what]); });
    expect(await h.nsReady).toBe(1234);
    expect(await h.outcome).toMatchObject({ kind: 'exited' });
    expect(seen).toEqual([[1234, 7, 'wait at seven']]);
  });

  it('an NS_READY with an id the plan does not have ends the run', async () => {
    fake.path = fakeStage([encodeEvent('NS_READY', { pid: 1234, syncId: 8 })], { lingerMs: 5000 });
    const onSync = vi.fn(async () => {});
    const o = await launchStage(PLAN, ['ignore', 'ignore', 'ignore'], onSync).outcome;
    expect(o).toEqual({ kind: 'lost', reason: 'the stage waits at a SYNC point with the unknown id 8' });
    expect(onSync).not.toHaveBeenCalled();
  });

  it('a second NS_READY for the same point ends the run (no reuse)', async () => {
    const ready = encodeEvent('NS_READY', { pid: 1, syncId: 7 });
    fake.path = fakeStage([ready, ready], { lingerMs: 5000 });
    const o = await launchStage(PLAN, ['ignore', 'ignore', 'ignore'], async () => {}).outcome;
    expect(o).toMatchObject({ kind: 'lost', reason: /SYNC point 7 \("wait at seven"\) twice/ });
  });
});
