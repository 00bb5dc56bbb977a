// The plan of an image run's root: native overlay (layers bound at short
// names, the writable layer's directories cleared by the stage), or
// fuse-overlayfs (started on the scratch root in a mount namespace that
// becomes its own, with no host path in its arguments or its mount table),
// and the choice between them.
import { describe, expect, it } from 'vitest';
import { planRun } from '../../../src/launch/plan-run.js';
import { chooseOverlay, kernelHasUserOverlay, parseOverlayChoice } from '../../../src/rootfs/choose-overlay.js';
import { planRootfs } from '../../../src/rootfs/plan-rootfs.js';
import type { ResolvedImage } from '../../../src/resolve/image-defaults.js';
import { Op } from '../../../src/stage/protocol.js';
import { aliceSubid, refused, resolve } from '../support/fixtures.js';

const writable = { dir: '/store/runs/1-2-ab', upper: '/store/runs/1-2-ab/upper', work: '/store/runs/1-2-ab/work', scratch: '/store/runs/1-2-ab/scratch' };

function spec(overlay: ResolvedImage['overlay'], layers = ['/store/layers/sha256/aa', '/store/layers/sha256/bb']) {
  const image: ResolvedImage = { ref: 'img', digest: '', layers, overlay, config: { Cmd: ['/bin/sh'] }, passwd: null, group: null };
  return resolve({ image: 'img', command: [] }, { image });
}

const codes = (plan: { code: number }[]) => plan.map((o) => o.code);

describe('native overlay', () => {
  const plan = planRootfs(spec({ kind: 'native' }), writable);

  it('binds each layer and the writable layer at short names, then mounts overlay with userxattr, top layer first', () => {
    const binds = plan.filter((o) => o.code === Op.BIND).slice(0, 3).map((o) => o.strs);
    expect(binds).toEqual([
      ['/oldroot/store/layers/sha256/aa', '/layers/0'],
      ['/oldroot/store/layers/sha256/bb', '/layers/1'],
      ['/oldroot/store/runs/1-2-ab', '/writable'],
    ]);
    const mount = plan.find((o) => o.code === Op.MOUNT && o.strs[2] === 'overlay')!;
    expect(mount.strs).toEqual(['overlay', '/newroot', 'overlay', 'lowerdir=/layers/1:/layers/0,upperdir=/writable/upper,workdir=/writable/work,userxattr']);
  });

  it('uses the run directory as scratch root, unshares a mount namespace before the pivot, and confines after the mount', () => {
    expect(plan[1]!.strs.slice(0, 3)).toEqual(['tmpfs', '/store/runs/1-2-ab/scratch', 'tmpfs']);
    const unshare = plan.findIndex((o) => o.code === Op.UNSHARE);
    const pivot = plan.findIndex((o) => o.code === Op.PIVOT_ROOT);
    expect(unshare).toBe(pivot - 1);
    const mount = plan.findIndex((o) => o.code === Op.MOUNT && o.strs[2] === 'overlay');
    expect(plan.findIndex((o) => o.code === Op.CONFINE)).toBeGreaterThan(mount);
  });

  it('binds /etc/hosts and /etc/hostname from the scratch root over the image\'s (made only where missing); passwd and group stay the image\'s', () => {
    const written = plan.filter((o) => o.code === Op.WRITE_FILE && !String(o.strs[0]).startsWith('/newroot/dev/')).map((o) => [o.strs[0], o.ints[3] ?? 0]);
    expect(written).toEqual([['/generated/hostname', 0], ['/newroot/etc/hostname', 1], ['/generated/hosts', 0], ['/newroot/etc/hosts', 1]]);
    const binds = plan.filter((o) => o.code === Op.BIND && String(o.strs[0]).startsWith('/generated/')).map((o) => o.strs);
    expect(binds).toEqual([['/generated/hostname', '/newroot/etc/hostname'], ['/generated/hosts', '/newroot/etc/hosts']]);
  });

  it('the stage opens the writable layer before USERNS and clears it after the run', () => {
    const run = planRun(spec({ kind: 'native' }), aliceSubid, undefined, undefined, writable);
    const userns = run.findIndex((o) => o.code === Op.USERNS);
    expect(run.slice(0, userns).map((o) => [o.code, o.strs, o.ints])).toEqual([
      [Op.OPEN_DIR, ['/store/runs/1-2-ab/work'], [64]],
      [Op.OPEN_DIR, ['/store/runs/1-2-ab/upper'], [65]],
      [Op.CLEAR_DIR, [], [64, 1]],
      [Op.CLEAR_DIR, [], [65, 1]],
    ]);
  });

  it('refuses more layers than it can stack', () => {
    const many = Array.from({ length: 129 }, (_, i) => `/store/layers/sha256/${i}`);
    expect(refused(() => planRun(spec({ kind: 'native' }, many), aliceSubid, undefined, undefined, writable), 'usage').message).toBe('image img has 129 layers');
  });
});

describe('fuse-overlayfs', () => {
  const plan = planRootfs(spec({ kind: 'fuse', program: '/usr/bin/fuse-overlayfs' }), writable);
  const at = (code: number, from = 0) => plan.findIndex((o, i) => i >= from && o.code === code);

  it('starts the daemon on the scratch root in a mount namespace of its own, with short relative names and no host path in its arguments', () => {
    const run = at(Op.RUN);
    expect(plan[run]!.strs).toEqual(['/usr/bin/fuse-overlayfs', '', 'fuse-overlayfs', '-o',
      'lowerdir=layers/1:layers/0,upperdir=writable/upper,workdir=writable/work,allow_other,nosuid,nodev', 'newroot']);
    expect(plan.slice(0, run).filter((o) => o.code === Op.BIND).map((o) => o.strs)).toEqual([
      ['/store/layers/sha256/aa', '/store/runs/1-2-ab/scratch/layers/0'],
      ['/store/layers/sha256/bb', '/store/runs/1-2-ab/scratch/layers/1'],
      ['/store/runs/1-2-ab', '/store/runs/1-2-ab/scratch/writable'],
    ]);
    expect(plan[run - 1]).toMatchObject({ code: Op.CHDIR, strs: ['/store/runs/1-2-ab/scratch'] });
    expect(at(Op.UNSHARE)).toBeLessThan(run);
    expect(at(Op.PIVOT_ROOT)).toBeGreaterThan(run);
    expect(plan.some((o) => o.code === Op.MOUNT && o.strs[2] === 'overlay')).toBe(false);
  });

  it('after the pivot, pid 1 takes another mount namespace and detaches the host and the binds from the daemon\'s', () => {
    const pivot = at(Op.PIVOT_ROOT);
    const seal = plan.slice(pivot + 2, at(Op.CONFINE)).map((o) => [o.code, o.strs[0] ?? o.ints[0]]);
    expect(seal).toEqual([
      [Op.KEEP_MOUNT_NS, 66], [Op.UNSHARE, 0x20000], [Op.KEEP_MOUNT_NS, 67], [Op.ENTER_MOUNT_NS, 66],
      [Op.UMOUNT, '/oldroot'], [Op.UMOUNT, '/layers/0'], [Op.UMOUNT, '/layers/1'], [Op.UMOUNT, '/writable'],
      [Op.ENTER_MOUNT_NS, 67], [Op.CLOSE_FD, 66], [Op.CLOSE_FD, 67],
    ]);
  });
});

describe('chooseOverlay', () => {
  const facts = { kernel: '6.1.0-18-amd64', fuseOverlayfs: '/usr/bin/fuse-overlayfs', devFuse: true };

  it('auto is native from 5.11 on, fuse-overlayfs before', () => {
    expect(kernelHasUserOverlay('5.10.0-28-amd64')).toBe(false);
    expect(kernelHasUserOverlay('5.11.0')).toBe(true);
    expect(chooseOverlay('auto', facts)).toEqual({ kind: 'native' });
    expect(chooseOverlay('auto', { ...facts, kernel: '5.4.0' })).toEqual({ kind: 'fuse', program: '/usr/bin/fuse-overlayfs' });
    expect(chooseOverlay('fuse', facts)).toEqual({ kind: 'fuse', program: '/usr/bin/fuse-overlayfs' });
  });

  it('fails closed with the install hint, never runs without an overlay', () => {
    expect(refused(() => chooseOverlay('fuse', { ...facts, fuseOverlayfs: null }), 'host').hint).toContain('apt-get install fuse-overlayfs');
    expect(refused(() => chooseOverlay('auto', { ...facts, kernel: '5.4.0', fuseOverlayfs: null }), 'host').message).toContain('fuse-overlayfs is not installed');
    expect(refused(() => chooseOverlay('fuse', { ...facts, devFuse: false }), 'host').hint).toContain('chmod 0666 /dev/fuse');
    expect(refused(() => chooseOverlay('native', { ...facts, kernel: '5.4.0' }), 'host').hint).toContain('--overlay fuse');
    expect(refused(() => parseOverlayChoice('zfs', '--overlay'), 'usage').message).toBe('unknown overlay "zfs" (--overlay)');
  });
});
