// Unit tests of the /proc/PID/cgroup parser and cgroup path helpers.
import { describe, expect, it } from 'vitest';
import { cgroupBaseName, findUnifiedPath, findV1Path, parentCgroupPath, parseProcCgroup } from '../../../src/cgroup/parse-proc-cgroup.js';

const HYBRID = `12:pids:/user.slice/user-1000.slice/session-2.scope
4:cpu,cpuacct:/user.slice
3:memory:/process_api/56c3
1:name=systemd:/user.slice/user-1000.slice/session-2.scope
0::/user.slice/user-1000.slice/session-2.scope
`;

describe('parseProcCgroup', () => {
  it('reads every hierarchy', () => {
    const lines = parseProcCgroup(HYBRID);
    expect(lines).toHaveLength(5);
    expect(lines[1]).toEqual({ id: 4, controllers: ['cpu', 'cpuacct'], path: '/user.slice' });
    expect(findV1Path(lines, 'cpuacct')).toBe('/user.slice');
    expect(findV1Path(lines, 'memory')).toBe('/process_api/56c3');
    expect(findV1Path(lines, 'blkio')).toBeNull();
    expect(findUnifiedPath(lines)).toBe('/user.slice/user-1000.slice/session-2.scope');
  });

  it('v2 only, paths with colons, junk', () => {
    const lines = parseProcCgroup('0::/a:b/c\nnonsense\n3:x\n');
    expect(lines).toEqual([{ id: 0, controllers: [], path: '/a:b/c' }]);
    expect(findUnifiedPath(parseProcCgroup('0::/\n'))).toBe('/');
    expect(findUnifiedPath(parseProcCgroup('4:memory:/x\n'))).toBeNull();
  });
});

describe('cgroup paths', () => {
  it('parent and base name', () => {
    expect(parentCgroupPath('/a/b/c.scope')).toBe('/a/b');
    expect(parentCgroupPath('/a')).toBe('/');
    expect(parentCgroupPath('/')).toBeNull();
    expect(cgroupBaseName('/a/b/c.scope')).toBe('c.scope');
    expect(cgroupBaseName('/')).toBe('');
  });
});
