// The image store across processes: two processes ensuring the same layer
// at once unpack it once; a process killed while unpacking leaves no layer
// (only a temporary directory that prune removes once its lock is free);
// prune never removes a layer whose lock another process holds. The other
// processes run a small bundle of src/image/store (built here with esbuild).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { build } from 'esbuild';
import { jsonLines } from './json-lines.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/image/store/image-store.js';
import { unpackLayer } from '../../src/image/unpack/unpack-layer.js';
import { gzip, tarOf } from '../unit/image/unpack/layer-archive.js';
import { REPO } from './harness.js';

/**
 * The child: `ensure ROOT BLOB DIFFID DELAY_MS` ensures the layer, its unpack
 * callback says so, waits, then unpacks the blob; `hold ROOT DIFFID` holds
 * the layer's lock until stdin ends. One JSON line per event.
 */
const CHILD = `
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { openStore } from './src/image/store/image-store.ts';
import { tryLock } from './src/image/store/store-lock.ts';
import { unpackLayer } from './src/image/unpack/unpack-layer.ts';
const [cmd, root, a, b, c] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify({ pid: process.pid, ...o }) + '\\n');
const store = await openStore(root);
try {
  if (cmd === 'ensure') {
    let unpacked = false;
    const dir = await store.ensureLayer(a, b, async (tmp, ctx) => {
      unpacked = true;
      out({ unpacking: tmp });
      await new Promise((r) => setTimeout(r, Number(c)));
      await unpackLayer(Readable.from([readFileSync(ctx.blobPath)]), tmp);
    });
    out({ dir, unpacked });
  } else if (cmd === 'hold') {
    const lock = tryLock(store.paths.layerLock(a));
    out({ held: lock !== null });
    process.stdin.resume();
    process.stdin.on('end', () => { lock?.release(); out({ released: true }); });
  }
} catch (e) {
  out({ error: { code: e.code, message: e.message } });
}
`;

let work: string;
let childScript: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'image-store-test-'));
  childScript = join(work, 'child.mjs');
  await build({
    stdin: { contents: CHILD, resolveDir: REPO, loader: 'js', sourcefile: 'child.mjs' },
    bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: childScript, packages: 'external', logLevel: 'warning',
  });
  // the packages (koffi is native, tar-stream is CommonJS: neither is bundled) where the bundle finds them
  symlinkSync(join(REPO, 'node_modules'), join(work, 'node_modules'));
}, 60_000);

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Child {
  readonly process: ChildProcess;
  next(): Promise<any>;
}

function startChild(args: string[]): Child {
  const proc = spawn(process.execPath, [childScript, ...args], { cwd: work, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(proc);
  const next = jsonLines(proc);
  return { process: proc, next };
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function storeWithBlob() {
  const root = join(mkdtempSync(join(work, 'root-')), 'store');
  const store = await openStore(root);
  const tar = await tarOf([{ name: 'etc/hello', body: 'hello\n', mode: 0o644 }]);
  const blob = gzip(tar);
  await store.putBlob(Readable.from([blob]), sha(blob));
  return { root, store, blob, digest: sha(blob), diffId: sha(tar) };
}

const tmpDirs = (layersDir: string) => readdirSync(layersDir).filter((f) => f.startsWith('tmp-'));

describe('image store across processes', () => {
  it('two processes ensuring the same layer at once unpack it once', async () => {
    const { root, store, digest, diffId } = await storeWithBlob();
    const a = startChild(['ensure', root, digest, diffId, '300']);
    const b = startChild(['ensure', root, digest, diffId, '300']);
    const events = [await a.next(), await b.next()];
    // the first line of each: one says it unpacks, the other is already done waiting
    const results = await Promise.all(events.map(async (e, i) => (e.unpacking ? [a, b][i]!.next() : e)));
    for (const r of results) {
      expect(r.error).toBeUndefined();
      expect(r.dir).toBe(store.layerPath(diffId));
    }
    expect(results.filter((r) => r.unpacked).length).toBe(1);
    expect(events.filter((e) => e.unpacking).length).toBe(1);
    expect(readFileSync(join(store.layerPath(diffId), 'etc/hello'), 'utf8')).toBe('hello\n');
    expect(tmpDirs(store.paths.layersDir)).toEqual([]);
  });

  it('a process killed while unpacking leaves no layer; the next one unpacks it and prune removes the leftovers', async () => {
    const { root, store, blob, digest, diffId } = await storeWithBlob();
    const a = startChild(['ensure', root, digest, diffId, '60000']);
    const first = await a.next();
    expect(first.unpacking).toMatch(/layers\/tmp-/);
    // while it holds the lock, this process waits (and gives up after its timeout)
    const impatient = await openStore(root, { layerLockTimeoutMs: 200 });
    const err = await impatient.ensureLayer(digest, diffId, async () => {}).catch((e) => e);
    expect(err.code).toBe('host');
    expect(err.message).toContain(`layer ${diffId}`);
    // prune leaves the unpack in progress alone
    await store.prune({ graceMs: 0 });
    expect(existsSync(first.unpacking)).toBe(true);

    a.process.kill('SIGKILL');
    await a.next(); // exited
    expect(await store.hasLayer(diffId)).toBe(false);
    expect(tmpDirs(store.paths.layersDir).length).toBe(1);

    let calls = 0;
    const dir = await store.ensureLayer(digest, diffId, async (d) => {
      calls++;
      await unpackLayer(Readable.from([blob]), d);
    });
    expect(calls).toBe(1);
    expect(readFileSync(join(dir, 'etc/hello'), 'utf8')).toBe('hello\n');
    await store.prune({ graceMs: 0 }); // no image references it: everything goes, the dead unpack too
    expect(tmpDirs(store.paths.layersDir)).toEqual([]);
    expect(await store.hasLayer(diffId)).toBe(false);
  });

  it("prune never removes a layer whose lock another process holds", async () => {
    const { root, store, blob, digest, diffId } = await storeWithBlob();
    await store.ensureLayer(digest, diffId, async (d) => { await unpackLayer(Readable.from([blob]), d); });
    const h = startChild(['hold', root, diffId]);
    expect((await h.next()).held).toBe(true);
    const r = await store.prune({ graceMs: 0 });
    expect(r.busyLayers).toEqual([diffId]);
    expect(await store.hasLayer(diffId)).toBe(true);
    h.process.stdin!.end();
    expect((await h.next()).released).toBe(true);
    const r2 = await store.prune({ graceMs: 0 });
    expect(r2.removedLayers).toEqual([diffId]);
    expect(await store.hasLayer(diffId)).toBe(false);
  });
});
