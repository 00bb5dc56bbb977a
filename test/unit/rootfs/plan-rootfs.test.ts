// The root file system plan: what of the host becomes visible, in which
// order, read-only or not, and that the host root is detached at the end.
import { describe, expect, it } from 'vitest';
import { loadProfile } from '../../../src/config/load-profile.js';
import type { RunSpec } from '../../../src/resolve/run-spec.js';
import { planRootfs } from '../../../src/rootfs/plan-rootfs.js';
import { MNT_DETACH, MOUNT_ATTR, MS, type StageOp } from '../../../src/stage/plan.js';
import { Op } from '../../../src/stage/protocol.js';
import { aliceNoRange, aliceSubid, fakeLayout, HOST_PATHS, resolve, rootNoRange } from '../support/fixtures.js';

const RO_BIND = MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV;
const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

const find = (plan: StageOp[], code: number, ...strs: string[]) =>
  plan.findIndex((o) => o.code === code && strs.every((s, i) => o.strs[i] === s));
const all = (plan: StageOp[], code: number) => plan.filter((o) => o.code === code);

function fullSpec(): RunSpec {
  return resolve(
    { volumes: ['/src:/work:rw', '/cfg.txt:/etc/app.conf', '/ro-dir:/ro'], tmpfs: ['/scratch:size=1m'], workdir: '/work/sub' },
    { host: aliceSubid },
  );
}

describe('planRootfs order', () => {
  const spec = fullSpec();
  const plan = planRootfs(spec);

  it('makes / a slave first, then pivots into a scratch tmpfs keeping the host at /oldroot', () => {
    expect(plan.slice(0, 9)).toEqual([
      { code: Op.MOUNT, ints: [MS.REC | MS.SLAVE], strs: ['', '/', '', ''], what: 'mount (flags) on /' },
      expect.objectContaining({ code: Op.MOUNT, ints: [MS.NOSUID | MS.NODEV], strs: ['tmpfs', '/tmp', 'tmpfs', 'mode=0755,size=16k'] }),
      expect.objectContaining({ code: Op.MKDIR, strs: ['/tmp/newroot'] }),
      expect.objectContaining({ code: Op.MKDIR, strs: ['/tmp/oldroot'] }),
      expect.objectContaining({ code: Op.MKDIR, strs: ['/tmp/staging'] }),
      expect.objectContaining({ code: Op.PIVOT_ROOT, strs: ['/tmp', '/tmp/oldroot'] }),
      expect.objectContaining({ code: Op.CHDIR, strs: ['/'] }),
      expect.objectContaining({
        code: Op.MOUNT, ints: [MS.NOSUID | MS.NODEV], strs: ['tmpfs', '/newroot', 'tmpfs', `mode=0755,size=${64 * 1024 * 1024}`],
      }),
      // image content may hold symlinks: from here paths under /newroot resolve inside it
      expect.objectContaining({ code: Op.CONFINE, strs: ['/newroot', '/staging'] }),
    ]);
  });

  it('ends with pivot_root(".", "."), detaching the old root, without a read-only remount when not asked', () => {
    expect(spec.readOnly).toBe(false);
    expect(plan.slice(-4).map((o) => [o.code, o.strs, o.ints])).toEqual([
      [Op.CHDIR, ['/newroot'], []],
      [Op.PIVOT_ROOT, ['.', '.'], []],
      [Op.UMOUNT, ['.'], [MNT_DETACH]],
      [Op.CHDIR, ['/'], []],
    ]);
    expect(all(plan, Op.SETATTR).some((o) => o.strs[0] === '/')).toBe(false);
  });

  it('with a read-only root, ends by making / read-only (not recursively)', () => {
    const ro = planRootfs(resolve({ readOnly: true }));
    expect(ro.slice(-5).map((o) => [o.code, o.strs, o.ints])).toEqual([
      [Op.CHDIR, ['/newroot'], []],
      [Op.PIVOT_ROOT, ['.', '.'], []],
      [Op.UMOUNT, ['.'], [MNT_DETACH]],
      [Op.CHDIR, ['/'], []],
      [Op.SETATTR, ['/'], [MOUNT_ATTR.RDONLY, 0, 0]],
    ]);
  });

  it('builds everything between the two pivots under /newroot', () => {
    const first = find(plan, Op.PIVOT_ROOT, '/tmp');
    const last = find(plan, Op.PIVOT_ROOT, '.', '.');
    expect(first).toBe(5);
    expect(last).toBe(plan.length - 3);
    const middle = plan.slice(first + 2, last - 1);
    expect(middle[1]!.code).toBe(Op.CONFINE);
    for (const o of middle) {
      const where = o.code === Op.MOUNT || o.code === Op.BIND || o.code === Op.SYMLINK ? 1 : 0;
      const target = String(o.strs[where]);
      expect(target === '/newroot' || target.startsWith('/newroot/'), `${o.what} writes outside /newroot`).toBe(true);
    }
    expect(plan.filter((o) => o.code === Op.PIVOT_ROOT)).toHaveLength(2);
  });

  it('does not create a working directory inside a host volume (it would land on the host)', () => {
    expect(find(plan, Op.MKDIR, '/newroot/work/sub')).toBe(-1);
  });

  it('creates a working directory elsewhere in the new root, after the mounts', () => {
    const outside = planRootfs(resolve({ workdir: '/opt/job' }, { host: aliceSubid }));
    expect(find(outside, Op.MKDIR, '/newroot/opt/job')).toBe(outside.length - 5);
  });
});

describe('planRootfs exposes no other host path', () => {
  const spec = fullSpec();
  const plan = planRootfs(spec);
  const { layout } = spec.image;

  it('binds only /usr, layout entries, a few devices, volumes, and /proc paths onto themselves', () => {
    const allowed = new Set([
      '/oldroot/usr',
      ...layout.rootEntries.filter((e) => e.kind !== 'symlink').map((e) => '/oldroot' + e.path),
      ...layout.etcEntries.filter((e) => e.kind !== 'symlink').map((e) => '/oldroot' + e.path),
      ...DEVICES.map((d) => `/oldroot/dev/${d}`),
      ...spec.volumes.map((v) => '/oldroot' + v.source),
    ]);
    const binds = all(plan, Op.BIND);
    expect(binds.length).toBeGreaterThan(0);
    for (const b of binds) {
      const [source, target] = b.strs as string[];
      if (source!.startsWith('/newroot/')) {
        expect(source!.startsWith('/newroot/proc/'), b.what).toBe(true);
        expect(target, b.what).toBe(source);
      } else {
        expect(source!.startsWith('/oldroot/'), b.what).toBe(true);
        expect(allowed.has(source!), `${b.what} exposes an unexpected host path`).toBe(true);
      }
    }
  });

  it('binds the canonical volume sources, not the names given', () => {
    expect(find(plan, Op.BIND, '/oldroot/srv/real-src', '/newroot/work')).toBeGreaterThan(0);
    expect(find(plan, Op.BIND, '/oldroot/etc-real/cfg.txt', '/newroot/etc/app.conf')).toBeGreaterThan(0);
    expect(find(plan, Op.BIND, '/oldroot/src')).toBe(-1);
    expect(HOST_PATHS['/src']!.real).toBe('/srv/real-src');
  });

  it('mounts only pseudo file systems, never a host device', () => {
    for (const m of all(plan, Op.MOUNT)) expect(['', 'tmpfs', 'proc', 'devpts']).toContain(m.strs[0]);
  });

  it('binds /usr and every layout entry read-only (a SETATTR with RDONLY follows each BIND)', () => {
    const entries = [{ path: '/usr', kind: 'dir' as const }, ...layout.rootEntries, ...layout.etcEntries].filter((e) => e.kind !== 'symlink');
    expect(entries.map((e) => e.path)).toEqual(['/usr', '/lib64', '/etc/ld.so.cache', '/etc/ld.so.conf.d', '/etc/ssl', '/etc/nsswitch.conf']);
    for (const e of entries) {
      const i = find(plan, Op.BIND, '/oldroot' + e.path, '/newroot' + e.path);
      expect(i, e.path).toBeGreaterThan(0);
      const recursive = e.kind === 'dir' ? 1 : 0;
      expect(plan[i]!.ints).toEqual([recursive]);
      expect(plan[i + 1]).toMatchObject({ code: Op.SETATTR, strs: ['/newroot' + e.path], ints: [RO_BIND, 0, recursive] });
      // the mount point is made first, as a directory or an empty file
      expect(plan[i - 1]!.code).toBe(e.kind === 'dir' ? Op.MKDIR : Op.WRITE_FILE);
      expect(plan[i - 1]!.strs[0]).toBe('/newroot' + e.path);
    }
  });

  it('recreates symlink entries as symlinks with the same target', () => {
    const links = [...layout.rootEntries, ...layout.etcEntries].filter((e) => e.kind === 'symlink');
    expect(links).toHaveLength(4);
    for (const e of links) {
      expect(find(plan, Op.SYMLINK, e.kind === 'symlink' ? e.target : '', '/newroot' + e.path), e.path).toBeGreaterThan(0);
      expect(find(plan, Op.BIND, '/oldroot' + e.path)).toBe(-1);
    }
  });

  it('masks /proc files with /dev/null and /proc directories with an empty read-only tmpfs', () => {
    expect(plan[find(plan, Op.BIND, '/oldroot/dev/null', '/newroot/proc/kcore')]!.ints).toEqual([0]);
    expect(plan[find(plan, Op.BIND, '/oldroot/dev/null', '/newroot/proc/keys')]!.ints).toEqual([0]);
    const acpi = find(plan, Op.MOUNT, 'tmpfs', '/newroot/proc/acpi');
    expect(plan[acpi]!.ints).toEqual([MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC]);
    expect(plan[acpi]!.strs[3]).toBe('mode=0555,size=4k');
    for (const p of ['/proc/sys', '/proc/sysrq-trigger']) {
      const i = find(plan, Op.BIND, '/newroot' + p, '/newroot' + p);
      expect(plan[i + 1]).toMatchObject({ code: Op.SETATTR, strs: ['/newroot' + p], ints: [RO_BIND | MOUNT_ATTR.NOEXEC, 0, 1] });
    }
    // masks go on top of the freshly mounted proc
    expect(acpi).toBeGreaterThan(find(plan, Op.MOUNT, 'proc', '/newroot/proc'));
  });

  it('binds the six device nodes onto empty files in a private /dev tmpfs', () => {
    const dev = find(plan, Op.MOUNT, 'tmpfs', '/newroot/dev');
    expect(plan[dev]!.ints).toEqual([MS.NOSUID | MS.NOEXEC]);
    for (const d of DEVICES) {
      const i = find(plan, Op.BIND, `/oldroot/dev/${d}`, `/newroot/dev/${d}`);
      expect(i).toBeGreaterThan(dev);
      expect(plan[i]!.ints).toEqual([0]);
      expect(plan[i - 1]).toMatchObject({ code: Op.WRITE_FILE, strs: [`/newroot/dev/${d}`, ''], ints: [0o666, -1, -1] });
    }
    expect(find(plan, Op.SYMLINK, 'pts/ptmx', '/newroot/dev/ptmx')).toBeGreaterThan(dev);
  });
});

describe('planRootfs ids', () => {
  const devpts = (spec: RunSpec) => planRootfs(spec).find((o) => o.code === Op.MOUNT && o.strs[0] === 'devpts')!.strs[3];

  it('passes gid=5 to devpts only when gid 5 is mapped', () => {
    expect(devpts(resolve({}, { host: aliceSubid }))).toBe('newinstance,ptmxmode=0666,mode=0620,gid=5');
    expect(devpts(resolve({ user: '1000' }, { host: aliceNoRange }))).toBe('newinstance,ptmxmode=0666,mode=0620');
    expect(devpts(resolve({}, { host: rootNoRange }))).toBe('newinstance,ptmxmode=0666,mode=0620');
    expect(devpts(resolve({ user: '5:5' }, { host: aliceNoRange }))).toBe('newinstance,ptmxmode=0666,mode=0620,gid=5');
  });

  const tmpfsData = (plan: StageOp[], path: string) => plan.find((o) => o.code === Op.MOUNT && o.strs[1] === '/newroot' + path)!.strs[3];

  it('gives tmpfs mounts uid=/gid= only for ids that are mapped', () => {
    const mapped = planRootfs(resolve({}, { profile: loadProfile('default'), host: aliceSubid }));
    expect(tmpfsData(mapped, '/tmp')).toBe(`size=${256 * 1024 * 1024},mode=1777,uid=0,gid=0`);
    const single = planRootfs(resolve({}, { profile: loadProfile('strict'), host: aliceNoRange }));
    expect(tmpfsData(single, '/tmp')).toBe(`size=${64 * 1024 * 1024},mode=1777`);
    expect(tmpfsData(single, '/home/sandbox')).toBe(`size=${16 * 1024 * 1024},mode=0700,uid=1000,gid=1000`);
  });

  it('creates the home directory owned by the user when mapped, and not when a tmpfs covers it', () => {
    const root = planRootfs(resolve({}, { host: aliceSubid }));
    expect(root[find(root, Op.MKDIR, '/newroot/root')]!.ints).toEqual([0o700, 0, 0]);
    const rootUnmapped = planRootfs(resolve({}, { host: rootNoRange, layout: fakeLayout() }));
    expect(rootUnmapped[find(rootUnmapped, Op.MKDIR, '/newroot/root')]!.ints).toEqual([0o700, 0, 0]);
    const user = planRootfs(resolve({ user: '1000:1000' }, { host: aliceSubid }));
    expect(user[find(user, Op.MKDIR, '/newroot/home/sandbox')]!.ints).toEqual([0o755, 1000, 1000]);
    const strict = planRootfs(resolve({}, { profile: loadProfile('strict'), host: aliceSubid }));
    const homeMkdirs = strict.filter((o) => o.code === Op.MKDIR && o.strs[0] === '/newroot/home/sandbox');
    // the tmpfs mount point and the working directory; no owned home directory under the tmpfs
    expect(homeMkdirs.map((o) => o.ints)).toEqual([[0o755, -1, -1], [0o755, -1, -1]]);
    expect(strict.indexOf(homeMkdirs[1]!)).toBe(strict.length - 6);
  });
});

describe('planRootfs mounts', () => {
  it('binds writable volumes without RDONLY and read-only ones with it', () => {
    const plan = planRootfs(fullSpec());
    const rw = find(plan, Op.BIND, '/oldroot/srv/real-src', '/newroot/work');
    expect(plan[rw]!.ints).toEqual([1]);
    expect(plan[rw + 1]).toMatchObject({ code: Op.SETATTR, strs: ['/newroot/work'], ints: [MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV, 0, 1] });
    const ro = find(plan, Op.BIND, '/oldroot/ro-dir', '/newroot/ro');
    expect(plan[ro + 1]).toMatchObject({ code: Op.SETATTR, strs: ['/newroot/ro'], ints: [RO_BIND, 0, 1] });
    const file = find(plan, Op.BIND, '/oldroot/etc-real/cfg.txt', '/newroot/etc/app.conf');
    expect(plan[file]!.ints).toEqual([0]);
    expect(plan[file + 1]!.ints[0]).toBe(RO_BIND);
    expect(plan.slice(file - 2, file).map((o) => [o.code, o.strs])).toEqual([
      [Op.MKDIR, ['/newroot/etc']],
      [Op.WRITE_FILE, ['/newroot/etc/app.conf', '']],
    ]);
  });

  it('mounts parents before children (a --tmpfs /data/tmp after -v x:/data)', () => {
    const plan = planRootfs(resolve({ tmpfs: ['/data/tmp'], volumes: ['/data-host:/data:rw'] }));
    const parent = find(plan, Op.BIND, '/oldroot/data-host', '/newroot/data');
    const child = find(plan, Op.MOUNT, 'tmpfs', '/newroot/data/tmp');
    expect(parent).toBeGreaterThan(0);
    expect(child).toBeGreaterThan(parent);
    expect(find(plan, Op.MKDIR, '/newroot/data/tmp')).toBeGreaterThan(parent);
  });

  it('mounts tmpfs with the resolved size and mode', () => {
    const plan = planRootfs(fullSpec());
    expect(plan.find((o) => o.code === Op.MOUNT && o.strs[1] === '/newroot/scratch')).toMatchObject({
      ints: [MS.NOSUID | MS.NODEV], strs: ['tmpfs', '/newroot/scratch', 'tmpfs', 'size=1048576,mode=1777,uid=0,gid=0'],
    });
  });
});

describe('planRootfs generated /etc', () => {
  const files = (plan: StageOp[]) =>
    Object.fromEntries(all(plan, Op.WRITE_FILE).filter((o) => /^\/newroot\/etc\/(passwd|group|hostname|hosts)$/.test(o.strs[0] as string))
      .map((o) => [o.strs[0], o.strs[1]]));

  it('lists uid 1000 as "sandbox" with home /home/sandbox for the strict profile', () => {
    const f = files(planRootfs(resolve({}, { profile: loadProfile('strict'), host: aliceSubid })));
    expect(f['/newroot/etc/passwd']).toBe([
      'root:x:0:0:root:/root:/bin/sh',
      'sandbox:x:1000:1000:sandbox:/home/sandbox:/bin/sh',
      'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
      '',
    ].join('\n'));
    expect(f['/newroot/etc/group']).toBe('root:x:0:\ntty:x:5:\nsandbox:x:1000:\nnogroup:x:65534:\n');
    expect(f['/newroot/etc/hostname']).toBe('sandbox\n');
    expect(f['/newroot/etc/hosts']).toBe('127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tsandbox\n');
  });

  it('lists only root and nobody for a root workload', () => {
    const f = files(planRootfs(resolve({ hostname: 'box' })));
    expect(f['/newroot/etc/passwd']).toBe('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
    expect(f['/newroot/etc/group']).toBe('root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');
    expect(f['/newroot/etc/hostname']).toBe('box\n');
  });

  it('writes the generated files after the host /etc binds, never binding the host ones', () => {
    const plan = planRootfs(fullSpec());
    for (const name of ['passwd', 'group', 'hostname', 'hosts', 'shadow']) {
      expect(find(plan, Op.BIND, `/oldroot/etc/${name}`)).toBe(-1);
    }
    expect(find(plan, Op.WRITE_FILE, '/newroot/etc/passwd')).toBeGreaterThan(find(plan, Op.BIND, '/oldroot/etc/nsswitch.conf'));
  });
});
