// The bounded queue of `sandbox serve`: concurrency, capacity (429), close (503 for the waiting, the running finish).
import { describe, expect, it } from 'vitest';
import { QueueClosed, QueueFull, RunQueue } from '../../../src/serve/run-queue.js';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

describe('RunQueue', () => {
  it('runs at most `concurrency` jobs and keeps at most `capacity` waiting', async () => {
    const q = new RunQueue(2, 1);
    const gates = [gate(), gate(), gate()];
    const started: number[] = [];
    const jobs = gates.map((g, i) => q.submit(async () => { started.push(i); await g.opened; return i; }));
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect([q.running, q.queued]).toEqual([2, 1]);
    await expect(q.submit(async () => 9)).rejects.toBeInstanceOf(QueueFull);
    gates[0]!.open();
    expect(await jobs[0]).toBe(0);
    await new Promise((r) => setTimeout(r, 0));
    expect(started).toEqual([0, 1, 2]);
    gates[1]!.open();
    gates[2]!.open();
    expect(await Promise.all(jobs)).toEqual([0, 1, 2]);
    expect([q.running, q.queued]).toEqual([0, 0]);
  });

  it('a failing job frees its worker', async () => {
    const q = new RunQueue(1, 0);
    await expect(q.submit(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    await expect(q.submit(() => { throw new Error('sync'); })).rejects.toThrow('sync');
    expect(await q.submit(async () => 1)).toBe(1);
  });

  it('close drops the waiting jobs, waits for the running ones and refuses new ones', async () => {
    const q = new RunQueue(1, 5);
    const g = gate();
    const running = q.submit(async () => { await g.opened; return 'done'; });
    const waiting = q.submit(async () => 'never');
    await Promise.resolve();
    let closed = false;
    const closing = q.close().then(() => (closed = true));
    await expect(waiting).rejects.toBeInstanceOf(QueueClosed);
    await expect(q.submit(async () => 1)).rejects.toBeInstanceOf(QueueClosed);
    await new Promise((r) => setTimeout(r, 10));
    expect(closed).toBe(false);
    g.open();
    expect(await running).toBe('done');
    await closing;
    expect(closed).toBe(true);
  });
});
