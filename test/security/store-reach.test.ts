// Issue 11, hole 1: another local user (sbtest-other) attacks the image
// store of root and of a rootless user (sbtest) directly on the host: it
// executes a setuid file of a layer (to become the owner's subordinate id,
// or the rootless user itself), writes a world-writable file of a layer
// shared by other images, and, while a run is alive, executes a setuid file
// the workload made in its writable layer, whose host path it would read
// from fuse-overlayfs' command line. Every attempt must fail (EACCES: the
// directories cannot be walked), no file of a layer may keep setuid, setgid
// or o+w on the host, a store made with the old modes must be closed on the
// next open, and nothing a workload can read in /proc may name the store.
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, runCli, SBTEST, SBTEST_OTHER, startCli, type Identity } from '../integration/harness.js';
import { attemptAs, worldWritableFiles, haveBusybox, loadImage, storeOf, writeHostileImage } from './store-fixture.js';

const T = 60_000;
const ready = isRoot && SBTEST && SBTEST_OTHER && haveBusybox;
if (!ready) console.warn('store-reach tests skipped: they need root, the users sbtest and sbtest-other (sudo bash scripts/setup-host.sh --test-users) and busybox-static');

const OWNERS: Identity[] = ready ? [{ name: 'root', uid: 0, gid: 0, home: '/root' }, SBTEST!] : [];
let base: string;
let layout: string;
let layerHex: string;

beforeAll(async () => {
  if (!ready) return;
  base = mkdtempSync('/tmp/store-reach-');
  chmodSync(base, 0o755); // as /var/lib or /home: every user may walk to the stores
  layout = join(base, 'oci');
  layerHex = await writeHostileImage(layout);
}, T);

afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

describe.skipIf(!ready).each(OWNERS)('the image store of $name, attacked by another local user', (owner) => {
  let store: string;
  let layer: string;
  const other = () => SBTEST_OTHER!;

  beforeAll(async () => {
    store = storeOf(base, owner);
    layer = await loadImage(layout, store, owner, 'hostile:1', layerHex);
  }, T);

  it('cannot walk into the store: no setuid file executed, no shared layer file written, nothing listed', () => {
    const r = attemptAs(other(), {
      exec: [join(layer, 'bin', 'suid'), join(layer, 'bin', 'sgid')],
      write: [join(layer, 'open')],
      list: [store, join(store, 'layers', 'sha256'), layer],
    });
    for (const [what, result] of Object.entries(r)) expect([what, result]).toEqual([what, 'EACCES']);
  });

  // setuid files stay (sudo in an image run without no_new_privs needs them): the walk test above shows nobody else runs them
  it('no file of the layer keeps o+w on the host; setuid files and directories keep their modes (1777 /tmp)', () => {
    expect(worldWritableFiles(layer)).toEqual([]);
    expect(statSync(join(layer, 'bin', 'suid')).mode & 0o7777).toBe(0o4755);
    expect(statSync(join(layer, 'open')).mode & 0o7777).toBe(0o775);
    expect(statSync(join(layer, 'tmp')).mode & 0o7777).toBe(0o1777);
  });

  it('the store\'s directories: 0700, or 0710 with the group of root inside where it must walk', () => {
    const walk = owner.uid === 0 ? { mode: 0o710, gid: 1_000_000 } : { mode: 0o700, gid: owner.gid };
    for (const d of ['', 'layers', 'layers/sha256']) {
      const st = statSync(join(store, d));
      expect([d, st.uid, st.gid, st.mode & 0o7777]).toEqual([d, owner.uid, walk.gid, walk.mode]);
    }
    for (const d of ['blobs', 'blobs/sha256', 'images', 'names']) expect([d, statSync(join(store, d)).mode & 0o7777]).toEqual([d, 0o700]);
  });

  it('a store left with the old modes (0711, 0755) is closed by the next command', async () => {
    for (const d of ['', 'layers', 'layers/sha256', 'blobs', 'images', 'names']) chmodSync(join(store, d), owner.uid === 0 ? 0o711 : 0o755);
    if (owner.uid === 0) chownSync(store, 0, 0);
    const busybox = join(layer, 'bin', 'busybox');
    expect(attemptAs(other(), { exec: [busybox] })[`exec ${busybox}`]).toBe(String(other().uid)); // the old store: walked into
    const ls = await runCli(['image', 'ls', '--store', store], { as: owner });
    expect(ls.code, ls.stderr).toBe(0);
    expect(statSync(store).mode & 0o7777).toBe(owner.uid === 0 ? 0o710 : 0o700);
    const r = attemptAs(other(), { exec: [busybox, join(layer, 'bin', 'suid')], list: [join(store, 'names')] });
    expect(Object.values(r)).toEqual(['EACCES', 'EACCES', 'EACCES']);
  }, T);

  for (const overlay of ['native', 'fuse'] as const) {
    it(`while a run is alive (${overlay}): the workload's setuid and 0777 files in its writable layer are out of reach, and nothing in /proc names the store`, async () => {
      const script = [
        'cp /bin/busybox /planted && chmod 4755 /planted && chmod 0777 /open && echo changed >> /open',
        // everything a workload can read of the other processes: command lines and mount tables
        'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline; echo; cat $p/mountinfo; done',
        'echo END', 'read x',
      ].join('; ');
      const child = startCli(['exec', '-i', '--store', store, '--overlay', overlay, '-u', '0', 'hostile:1', '/bin/sh', '-c', script], { as: owner });
      let out = '';
      let err = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
      child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
      const closed = new Promise<number | null>((r) => child.once('close', r));
      const deadline = Date.now() + 30_000;
      while (!out.includes('END\n') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 25));
      expect(out, err).toContain('END\n');
      try {
        // the host paths, found as root: the attacker would read them from /proc, or guess them
        const runs = join(store, 'runs');
        const [run] = readdirSync(runs);
        const upper = join(runs, run!, 'upper');
        expect(statSync(join(upper, 'planted')).mode & 0o7777).toBe(0o4755);
        const r = attemptAs(other(), { exec: [join(upper, 'planted')], write: [join(upper, 'open')], list: [runs, join(runs, run!)] });
        for (const [what, result] of Object.entries(r)) expect([what, result]).toEqual([what, 'EACCES']);
        expect(out).not.toContain(base);
        expect(out).not.toContain('/oldroot');
        if (overlay === 'fuse') expect(out).toMatch(/fuse-overlayfs -o lowerdir=layers\/0,upperdir=writable\/upper,workdir=writable\/work/);
      } finally {
        child.stdin!.end('\n');
      }
      expect(await closed).toBe(0);
      expect(readdirSync(join(store, 'runs'))).toEqual([]);
    }, T);
  }
});

