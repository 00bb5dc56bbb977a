// Uid slots for real: flock(2) locks in the caller's runtime directory, taken
// by many acquisitions at once in one process and across processes, given
// back when their holder is killed, as root and as the test user sbtest
// (subuid 200000:65536). The other processes run a small bundle of
// src/idmap/uid-slots.ts (built here with esbuild) as that user.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { jsonLines } from './json-lines.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxError } from '../../src/errors.js';
import { probeHost } from '../../src/host/probe-host.js';
import { parseSubIds } from '../../src/host/subid.js';
import { planIdMap } from '../../src/idmap/plan-idmap.js';
import { acquireUidSlot, acquireUidSlotSync, slotGeometry, type UidSlot } from '../../src/idmap/uid-slots.js';
import { IDENTITIES, isRoot, REPO, type Identity } from './harness.js';

/**
 * The child: `hold N TIMEOUT_MS` takes N slots at once, prints them, and holds them until stdin ends;
 * `wait N TIMEOUT_MS` first prints that it is about to ask (so a test knows how long it waits).
 */
const CHILD = `
import { acquireUidSlot, slotLockDir } from './src/idmap/uid-slots.ts';
import { probeHost } from './src/host/probe-host.ts';
const [cmd, n, timeoutMs] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const host = probeHost();
if (cmd === 'hold' || cmd === 'wait') {
  if (cmd === 'wait') out({ waiting: true });
  const started = Date.now();
  try {
    const slots = await Promise.all(Array.from({ length: Number(n) }, () => acquireUidSlot(host, { timeoutMs: Number(timeoutMs) })));
    out({ pid: process.pid, dir: slotLockDir(), waitedMs: Date.now() - started,
      slots: slots.map((s) => ({ index: s.index, uidStart: s.uidStart, gidStart: s.gidStart })) });
    process.stdin.resume();
    process.stdin.on('end', () => { for (const s of slots) s.release(); out({ released: true }); });
  } catch (e) {
    out({ error: { code: e.code, message: e.message, hint: e.hint } });
  }
}
`;

let work: string;
let childScript: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'uid-slots-test-'));
  chmodSync(work, 0o755);
  childScript = join(work, 'child.mjs');
  await build({
    stdin: { contents: CHILD, resolveDir: REPO, loader: 'js', sourcefile: 'child.mjs' },
    bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: childScript, external: ['koffi'], logLevel: 'warning',
  });
  // koffi (native, never bundled) where the bundle finds it, readable by the test users
  const koffi = join(REPO, 'node_modules', 'koffi');
  const native = join('build', 'koffi', `linux_${process.arch}`);
  mkdirSync(join(work, 'node_modules', 'koffi', native), { recursive: true });
  for (const part of ['package.json', 'index.js', native]) cpSync(join(koffi, part), join(work, 'node_modules', 'koffi', part), { recursive: true });
  for (const dir of [join(work, 'node_modules'), join(work, 'node_modules', 'koffi'), join(work, 'node_modules', 'koffi', 'build'),
    join(work, 'node_modules', 'koffi', 'build', 'koffi'), join(work, 'node_modules', 'koffi', native)]) chmodSync(dir, 0o755);
}, 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Child {
  readonly process: ChildProcess;
  /** The next JSON line the child prints. */
  next(): Promise<any>;
  /** Ends stdin: the child releases its slots and says so. */
  release(): Promise<any>;
}

function startChild(as: Identity, xdg: string, args: string[]): Child {
  const proc = spawn(process.execPath, [childScript, ...args], {
    cwd: work,
    env: { PATH: '/usr/bin:/bin', HOME: as.home, USER: as.name, XDG_RUNTIME_DIR: xdg },
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(as.uid !== process.getuid?.() ? { uid: as.uid, gid: as.gid } : {}),
  });
  const next = jsonLines(proc);
  return { process: proc, next, release: () => { proc.stdin!.end(); return next(); } };
}

function exited(c: Child): Promise<void> {
  return c.process.exitCode !== null || c.process.signalCode !== null ? Promise.resolve() : new Promise((r) => c.process.once('close', () => r()));
}

const rangeOf = (as: Identity) => parseSubIds(readFileSync('/etc/subuid', 'utf8'), { name: as.name, id: as.uid })[0] ?? null;
const withRange = IDENTITIES.filter((as) => rangeOf(as) !== null);
if (withRange.length < IDENTITIES.length) console.warn('uid-slots: identities without an /etc/subuid range are skipped (they have no slots)');

describe.each(withRange.map((as) => [as.name, as] as const))('uid slots as %s', (_name, as) => {
  const range = rangeOf(as)!;
  const slots = Math.floor(range.count / 1024);
  let xdg: string;
  let dir: string;

  beforeAll(() => {
    // a runtime directory of this user's own: the default location, kept apart from real runs
    xdg = mkdtempSync(join(tmpdir(), `uid-slots-xdg-${as.name}-`));
    chownSync(xdg, as.uid, as.gid);
    dir = join(xdg, 'rootless-sandbox', 'slots');
  });
  afterAll(() => rmSync(xdg, { recursive: true, force: true }));

  it('20 acquisitions at once in one process get 20 distinct slots, and another process 20 others', async () => {
    const a = startChild(as, xdg, ['hold', '20', '0']);
    const first = await a.next();
    const b = startChild(as, xdg, ['hold', '20', '0']);
    const second = await b.next();
    expect(first.error).toBeUndefined();
    expect(second.error).toBeUndefined();
    expect(first.dir).toBe(dir);
    const ia = first.slots.map((s: any) => s.index);
    const ib = second.slots.map((s: any) => s.index);
    expect(new Set(ia).size).toBe(20);
    expect(new Set(ib).size).toBe(20);
    expect(new Set([...ia, ...ib]).size).toBe(40);
    for (const s of [...first.slots, ...second.slots]) {
      expect(s.uidStart).toBe(range.start + s.index * 1024);
      expect(s.index).toBeGreaterThanOrEqual(0);
      expect(s.index).toBeLessThan(slots);
    }
    // the directories are the user's own and private
    for (const d of [join(xdg, 'rootless-sandbox'), dir]) {
      const st = statSync(d);
      expect([st.uid, st.mode & 0o777]).toEqual([as.uid, 0o700]);
    }
    expect(await a.release()).toEqual({ released: true });
    expect(await b.release()).toEqual({ released: true });
  });

  it('when every slot is held, a run waits for one, and fails after its timeout naming the holder', async () => {
    const all = startChild(as, xdg, ['hold', String(slots), '0']);
    const held = await all.next();
    expect(held.slots).toHaveLength(slots);

    const refused = await startChild(as, xdg, ['hold', '1', '200']).next();
    expect(refused.error.code).toBe('host');
    expect(refused.error.message).toMatch(new RegExp(`^all ${slots} uid slots of ${as.name} are in use \\(waited 0\\.[0-9] s; locks in ${dir}; holders include pid ${held.pid}`));
    expect(refused.error.hint).toMatch(/run fewer sandboxes at once, or give the user a larger range/);

    const waiter = startChild(as, xdg, ['wait', '1', '10000']);
    expect((await waiter.next()).waiting).toBe(true);
    await new Promise((r) => setTimeout(r, 400));
    await all.release();
    const got = await waiter.next();
    expect(got.error).toBeUndefined();
    expect(got.waitedMs).toBeGreaterThanOrEqual(300);
    await waiter.release();
  });

  it('a holder killed with SIGKILL leaves no slot taken', async () => {
    const victim = startChild(as, xdg, ['hold', String(slots), '0']);
    expect((await victim.next()).slots).toHaveLength(slots);
    victim.process.kill('SIGKILL');
    await exited(victim);
    const again = startChild(as, xdg, ['hold', String(slots), '0']);
    const got = await again.next();
    expect(got.error).toBeUndefined();
    expect(new Set(got.slots.map((s: any) => s.index)).size).toBe(slots);
    await again.release();
  });

  it('once all are released, the directory holds only lock files that anyone may take again', async () => {
    const names = readdirSync(dir);
    expect(names.every((n) => /^\d+\.lock$/.test(n))).toBe(true);
    expect(names.length).toBeLessThanOrEqual(slots);
    const all = startChild(as, xdg, ['hold', String(slots), '0']);
    expect((await all.next()).slots).toHaveLength(slots);
    await all.release();
  });
});

describe.skipIf(!isRoot || !slotGeometry(probeHost()))('uid slots in this process (root)', () => {
  const host = probeHost();
  const g = slotGeometry(host)!;
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'uid-slots-here-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('20 concurrent acquisitions get 20 distinct slots; release is idempotent and frees them', async () => {
    const got = (await Promise.all(Array.from({ length: 20 }, () => acquireUidSlot(host, { dir, timeoutMs: 0 })))) as UidSlot[];
    expect(new Set(got.map((s) => s.index)).size).toBe(20);
    const sync = acquireUidSlotSync(host, { dir, timeoutMs: 0 })!;
    expect(got.map((s) => s.index)).not.toContain(sync.index);
    for (const s of [...got, sync]) s.release();
    got[0]!.release();
    expect(got.every((s) => s.released)).toBe(true);
    const everything = (await Promise.all(Array.from({ length: g.slots }, () => acquireUidSlot(host, { dir, timeoutMs: 0 })))) as UidSlot[];
    expect(new Set(everything.map((s) => s.index)).size).toBe(g.slots);
    everything.forEach((s) => s.release());
  });

  it('a larger id takes adjacent slots, and the plan maps them', async () => {
    const workload = { uid: 4242, gid: 4343 };
    const slot = (await acquireUidSlot(host, { workload, dir, timeoutMs: 0 }))!;
    const plan = planIdMap(host, workload, slot);
    expect(slot).toMatchObject({ count: 5, ids: 5120 });
    expect(plan.slot).toEqual({ index: slot.index, count: 5 });
    expect(plan.uidMap).toEqual([{ inside: 0, outside: host.subuid!.start + slot.index * 1024, count: 5120 }]);
    // the five are held: a run that needs all of them cannot start
    const e = await acquireUidSlot(host, { workload: { uid: 65535, gid: 0 }, dir, timeoutMs: 0 }).catch((x: unknown) => x);
    expect((e as SandboxError).message).toMatch(/^no 64 adjacent uid slots of root are free/);
    slot.release();
    slot.release();
    const whole = (await acquireUidSlot(host, { workload: { uid: 65535, gid: 0 }, dir, timeoutMs: 0 }))!;
    expect(whole).toMatchObject({ index: 0, count: 64 });
    whole.release();
  });

  it('a run that cannot get all the adjacent slots it needs holds none of them', async () => {
    const host1 = { ...host, subuid: { start: host.subuid!.start, count: 2048 }, subgid: { start: host.subgid!.start, count: 2048 } };
    const held = acquireUidSlotSync(host1, { dir, timeoutMs: 0, first: 1 })!;
    expect(held.index).toBe(1);
    // gid 1024 needs both slots: it takes slot 0, finds 1 held, gives 0 back, waits, times out
    await expect(acquireUidSlot(host1, { workload: { uid: 0, gid: 1024 }, dir, timeoutMs: 50 })).rejects.toThrow(/no 2 adjacent uid slots/);
    const zero = acquireUidSlotSync(host1, { dir, timeoutMs: 0, first: 0 })!;
    expect(zero.index).toBe(0);
    zero.release();
    held.release();
    const both = acquireUidSlotSync(host1, { dir, timeoutMs: 0, workload: { uid: 2047, gid: 0 } })!;
    expect(both).toMatchObject({ index: 0, count: 2 });
    both.release();
  });

  it('refuses a lock directory that another user owns or others may write', async () => {
    const shared = mkdtempSync(join(tmpdir(), 'uid-slots-shared-'));
    try {
      chmodSync(shared, 0o777);
      const e = await acquireUidSlot(host, { dir: shared }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(SandboxError);
      expect((e as SandboxError).message).toBe(`refusing the uid slot directory: ${shared} is writable by others (mode 0777)`);
      chmodSync(shared, 0o700);
      chownSync(shared, 1, 1);
      expect(() => acquireUidSlotSync(host, { dir: shared })).toThrow(`${shared} belongs to uid 1, not 0`);
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
  });
});
