// Unit tests of the mountinfo parser: made-up mount tables (v1, hybrid, v2,
// containers with a subtree, escapes, read-only, hidden mounts).
import { describe, expect, it } from 'vitest';
import { locateCgroupDir, parseCgroupMounts, unescapeMountPath } from '../../../src/cgroup/parse-mountinfo.js';
import { mountLine, V1_MOUNTINFO, V2_MOUNTINFO } from './fixtures.js';

describe('parseCgroupMounts', () => {
  it('reads v1 hierarchies with their controllers and the hybrid cgroup2 mount', () => {
    const t = parseCgroupMounts(V1_MOUNTINFO);
    expect(t.top).toBe('tmpfs');
    expect(t.mounts.map((m) => [m.mountPoint, m.fstype, m.controllers])).toEqual([
      ['/sys/fs/cgroup/cpu,cpuacct', 'cgroup', ['cpu', 'cpuacct']],
      ['/sys/fs/cgroup/memory', 'cgroup', ['memory']],
      ['/sys/fs/cgroup/pids', 'cgroup', ['pids']],
      ['/sys/fs/cgroup/systemd', 'cgroup', []],
      ['/sys/fs/cgroup/unified', 'cgroup2', []],
    ]);
  });

  it('reads a unified host', () => {
    const t = parseCgroupMounts(V2_MOUNTINFO);
    expect(t.top).toBe('cgroup2');
    expect(t.mounts).toEqual([{ mountPoint: '/sys/fs/cgroup', root: '/', fstype: 'cgroup2', controllers: [], readOnly: false }]);
  });

  it('keeps the mount root, read-only flags and optional fields', () => {
    const text = [
      '50 40 0:40 /docker/abc /sys/fs/cgroup/memory ro,nosuid master:7 shared:9 - cgroup cgroup rw,memory',
      '51 40 0:41 / /sys/fs/cgroup ro,relatime - cgroup2 cgroup2 rw',
    ].join('\n');
    const t = parseCgroupMounts(text);
    expect(t.mounts[0]).toMatchObject({ root: '/docker/abc', readOnly: true, controllers: ['memory'] });
    expect(t.top).toBe('cgroup2');
  });

  it('a later mount on the same point hides the earlier one', () => {
    const text = [mountLine(31, '/sys/fs/cgroup', 'tmpfs', 'rw'), mountLine(35, '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory'),
      mountLine(36, '/sys/fs/cgroup/memory', 'tmpfs', 'rw'), mountLine(37, '/sys/fs/cgroup', 'cgroup2', 'rw')].join('\n');
    const t = parseCgroupMounts(text);
    expect(t.top).toBe('cgroup2');
    expect(t.mounts.map((m) => m.mountPoint)).toEqual(['/sys/fs/cgroup']);
  });

  it('undoes octal escapes and ignores junk', () => {
    expect(unescapeMountPath('/mnt/a\\040b\\011c')).toBe('/mnt/a b\tc');
    const t = parseCgroupMounts(`garbage\n\n${mountLine(9, '/cg\\040v1/memory', 'cgroup', 'rw,memory')}`);
    expect(t.mounts[0]!.mountPoint).toBe('/cg v1/memory');
    expect(t.top).toBeNull();
    expect(parseCgroupMounts('').mounts).toEqual([]);
  });
});

describe('locateCgroupDir', () => {
  const host = { mountPoint: '/sys/fs/cgroup/memory', root: '/' };
  it('joins the cgroup path to a mount of the whole hierarchy', () => {
    expect(locateCgroupDir(host, '/')).toBe('/sys/fs/cgroup/memory');
    expect(locateCgroupDir(host, '/a/b')).toBe('/sys/fs/cgroup/memory/a/b');
  });
  it('strips the root of a mount that shows a subtree, and refuses paths outside it', () => {
    const sub = { mountPoint: '/sys/fs/cgroup/memory', root: '/docker/abc' };
    expect(locateCgroupDir(sub, '/docker/abc')).toBe('/sys/fs/cgroup/memory');
    expect(locateCgroupDir(sub, '/docker/abc/x')).toBe('/sys/fs/cgroup/memory/x');
    expect(locateCgroupDir(sub, '/docker/abcd')).toBeNull();
    expect(locateCgroupDir(sub, '/')).toBeNull();
  });
});
