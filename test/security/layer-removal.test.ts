// Issue 11, hole 2: a process holding a subordinate id of the store's owner
// (one that got into the store through hole 1, or a run's leftover) sits in
// a directory of a layer and, while the owner removes the image and prunes,
// keeps swapping a big directory of that layer for a symlink to a victim
// directory with the same file names (root's own files, or the rootless
// user's). A remover that walks paths deletes the victim's files as the
// owner (as host root, for root's store); the store must remove the layer
// through descriptors only, inside the user namespace, and the victim must
// be untouched, with no tmp-*-del tree left behind. The same for the
// writable layer a killed run (native or fuse-overlayfs) left, which the
// next run clears.
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostIdOf, planImageIdMap } from '../../src/idmap/image-idmap.js';
import { probeHost } from '../../src/host/probe-host.js';
import { readSubIds } from '../../src/host/subid.js';
import { isRoot, runCli, SBTEST, startCli, waitFor, type Identity } from '../integration/harness.js';
import { haveBusybox, loadImage, storeOf, writeHostileImage } from './store-fixture.js';

const T = 120_000;
const ready = isRoot && SBTEST && haveBusybox;
if (!ready) console.warn('layer-removal tests skipped: they need root, the user sbtest (sudo bash scripts/setup-host.sh --test-users) and busybox-static');

const OWNERS: Identity[] = ready ? [{ name: 'root', uid: 0, gid: 0, home: '/root' }, SBTEST!] : [];
/** Files in the swapped directory and in the victim: each unlink by path is a chance to follow the link. */
const FILES = 4000;
let base: string;
let layout: string;
let layerHex: string;

beforeAll(async () => {
  if (!ready) return;
  base = mkdtempSync('/tmp/layer-removal-');
  chmodSync(base, 0o755);
  layout = join(base, 'oci');
  layerHex = await writeHostileImage(layout);
}, T);

afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

/** The host id that inside uid 1000 is for `owner`'s images: what the attacker holds. */
function subordinateOf(owner: Identity): number {
  const me = probeHost();
  const user = { name: owner.name, id: owner.uid };
  const facts = { ...me, uid: owner.uid, gid: owner.gid, userName: owner.name,
    subuid: readSubIds('/etc/subuid', user)[0] ?? null, subgid: readSubIds('/etc/subgid', user)[0] ?? null };
  return hostIdOf(planImageIdMap(facts).uidMap, 1000)!;
}

/**
 * The attacker, as `id`, in `cwd` (a directory of the layer it owns): swaps
 * d for a link to `victim` and back until d is gone (taken by the remover),
 * or 30 s. Prints "swapping" once it runs, "swapped" after its first swap.
 */
const ATTACKER = `
const fs = require('fs');
const victim = process.argv[1];
const end = Date.now() + 30000;
let swaps = 0;
process.stdout.write('swapping\\n');
const spin = (ms) => { const t = Date.now() + ms; while (Date.now() < t) {} };
while (Date.now() < end) {
  try { fs.renameSync('d', 'x'); } catch { break; }
  try { fs.symlinkSync(victim, 'd'); spin(2); fs.unlinkSync('d'); } catch {}
  try { fs.renameSync('x', 'd'); } catch { break; }
  if (++swaps === 1) process.stdout.write('swapped\\n');
  spin(1);
}
`;

/** A victim directory of `owner`'s and a directory `d` in `trap` of the attacker's, with the same FILES names. */
function plant(owner: Identity, attacker: number, trap: string, victim: string): void {
  mkdirSync(victim, { mode: 0o755 });
  mkdirSync(join(trap, 'd'), { recursive: true });
  for (let i = 0; i < FILES; i++) {
    writeFileSync(join(victim, `f${i}`), 'victim\n', { mode: 0o644 });
    writeFileSync(join(trap, 'd', `f${i}`), 'layer\n');
  }
  chownSync(victim, owner.uid, owner.gid);
  for (const f of readdirSync(victim)) chownSync(join(victim, f), owner.uid, owner.gid);
  for (const p of [trap, join(trap, 'd'), ...readdirSync(join(trap, 'd')).map((f) => join(trap, 'd', f))]) chownSync(p, attacker, attacker);
}

/** Starts the attacker in `trap`; resolves once it swaps, with a stop function that says whether it ever swapped. */
async function startSwapper(attacker: number, trap: string, victim: string): Promise<() => Promise<string>> {
  const swapper = spawn(process.execPath, ['-e', ATTACKER, victim], { cwd: trap, uid: attacker, gid: attacker, stdio: ['ignore', 'pipe', 'inherit'] });
  let said = '';
  swapper.stdout!.setEncoding('utf8').on('data', (d: string) => { said += d; });
  const closed = new Promise((r) => swapper.once('close', r));
  while (!said.includes('swapping')) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100));
  return async () => {
    swapper.kill('SIGKILL');
    await closed;
    return said;
  };
}

describe.skipIf(!ready).each(OWNERS)('image rm + prune of $name\'s store while a subordinate id swaps a layer directory for a symlink', (owner) => {
  it('removes the layer and nothing of the victim', async () => {
    const store = storeOf(base, owner);
    const layer = await loadImage(layout, store, owner, 'doomed:1', layerHex);
    const attacker = subordinateOf(owner);
    // the victim: files of the owner the attacker cannot touch itself, with the names of the swapped directory's
    const victim = join(base, `victim-${owner.name}`);
    const trap = join(layer, 'trap');
    plant(owner, attacker, trap, victim);

    expect((await runCli(['image', 'rm', '--store', store, 'doomed:1'], { as: owner })).code).toBe(0);
    // the attacker holds a working directory in the layer (it walked there before the store was closed)
    const stop = await startSwapper(attacker, trap, victim);
    const prune = await runCli(['image', 'prune', '--store', store, '--grace', '0'], { as: owner, timeoutMs: 60_000 });
    const said = await stop();

    expect(readdirSync(victim)).toHaveLength(FILES);
    expect(said).toContain('swapped'); // the attack ran
    expect(prune.stderr).toBe('');
    expect(prune.code).toBe(0);
    expect(existsSync(layer)).toBe(false);
    expect(readdirSync(join(store, 'layers')).filter((f) => f.startsWith('tmp-'))).toEqual([]);
  }, T);
});

describe.skipIf(!ready).each(OWNERS.flatMap((owner) => (['native', 'fuse'] as const).map((overlay) => ({ owner, overlay, name: owner.name }))))(
  'the writable layer of a killed $overlay run of $name, cleared by the next run while a subordinate id swaps a directory of it',
  ({ owner, overlay }) => {
    it('is cleared, and nothing of the victim goes', async () => {
      const store = storeOf(base, { ...owner, name: `${owner.name}-${overlay}` });
      await loadImage(layout, store, owner, 'run:1', layerHex);
      const killed = startCli(['exec', '--store', store, '--overlay', overlay, 'run:1', '/bin/sh', '-c', 'echo up; sleep 60'], { as: owner });
      let out = '';
      killed.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
      expect(await waitFor(() => out.includes('up'), 20_000)).toBe(true);
      killed.kill('SIGKILL');
      await new Promise((r) => killed.once('close', r));
      const runs = join(store, 'runs');
      const [left] = readdirSync(runs);
      const attacker = subordinateOf(owner);
      const victim = join(base, `victim-${owner.name}-${overlay}`);
      const trap = join(runs, left!, 'upper', 'trap');
      plant(owner, attacker, trap, victim);
      const stop = await startSwapper(attacker, trap, victim);
      const next = await runCli(['exec', '--store', store, '--overlay', overlay, 'run:1', '/bin/sh', '-c', ':'], { as: owner, timeoutMs: 60_000 });
      const said = await stop();

      expect(readdirSync(victim)).toHaveLength(FILES);
      expect(said).toContain('swapped');
      expect(next.stderr).toBe('');
      expect(next.code).toBe(0);
      expect(readdirSync(runs)).toEqual([]);
    }, T);
  },
);
