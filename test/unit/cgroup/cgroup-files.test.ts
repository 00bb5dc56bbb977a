// Unit tests of the cgroup v1/v2 file formats: made-up file contents.
import { describe, expect, it } from 'vitest';
import {
  cpuacctToUsec, formatLimit, formatSubtreeControl, isPopulated, missingControllers, parseControllerList, parseCounter,
  parseKeyedCounters, parsePidList, readCpuStatUsec, readOomKilledV1, readOomKilledV2,
} from '../../../src/cgroup/cgroup-files.js';

describe('v2 files', () => {
  it('memory.events: oom_kill, not oom (which also counts reclaim that worked)', () => {
    expect(readOomKilledV2('low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n')).toBe(true);
    expect(readOomKilledV2('low 0\nhigh 0\nmax 12\noom 3\noom_kill 0\n')).toBe(false);
    expect(readOomKilledV2('')).toBe(false);
  });
  it('cpu.stat usage_usec', () => {
    expect(readCpuStatUsec('usage_usec 793977\nuser_usec 700000\nsystem_usec 93977\nnr_periods 0\n')).toBe(793977);
    expect(readCpuStatUsec('user_usec 1\n')).toBeNull();
  });
  it('cgroup.events populated', () => {
    expect(isPopulated('populated 1\nfrozen 0\n')).toBe(true);
    expect(isPopulated('populated 0\nfrozen 0\n')).toBe(false);
  });
  it('controller lists and subtree_control lines', () => {
    expect(parseControllerList('cpuset cpu io memory pids\n')).toEqual(['cpuset', 'cpu', 'io', 'memory', 'pids']);
    expect(parseControllerList('\n')).toEqual([]);
    expect(missingControllers(['cpu', 'pids'], ['memory', 'pids'])).toEqual(['memory']);
    expect(missingControllers(null, ['memory'])).toEqual(['memory']);
    expect(formatSubtreeControl(['memory', 'pids', 'cpu'])).toBe('+memory +pids +cpu');
  });
});

describe('v1 files', () => {
  it('memory.oom_control oom_kill (4.13+), memory.failcnt only without it', () => {
    expect(readOomKilledV1('oom_kill_disable 0\nunder_oom 0\noom_kill 2\n', '5')).toBe(true);
    expect(readOomKilledV1('oom_kill_disable 0\nunder_oom 0\noom_kill 0\n', '5')).toBe(false);
    expect(readOomKilledV1('oom_kill_disable 0\nunder_oom 0\n', '5\n')).toBe(true);
    expect(readOomKilledV1('oom_kill_disable 0\nunder_oom 0\n', '0\n')).toBe(false);
    expect(readOomKilledV1(null, null)).toBe(false);
  });
  it('cpuacct.usage nanoseconds to microseconds', () => {
    expect(cpuacctToUsec('1234567890\n')).toBe(1234567);
    expect(cpuacctToUsec('')).toBeNull();
  });
});

describe('shared formats', () => {
  it('counters', () => {
    expect(parseCounter('33554432\n')).toBe(33554432);
    expect(parseCounter('max\n')).toBeNull();
    expect(parseCounter('-1')).toBeNull();
    expect(parseCounter('99999999999999999999')).toBeNull();
    expect(parseKeyedCounters('a 1\nb -2\nbad\nc x\n')).toEqual(new Map([['a', 1], ['b', -2]]));
  });
  it('pid lists', () => {
    expect(parsePidList('12\n345\n\n')).toEqual([12, 345]);
    expect(parsePidList('')).toEqual([]);
  });
  it('limits are non-negative integers', () => {
    expect(formatLimit(67108864, 'memory')).toBe('67108864');
    expect(formatLimit(0, 'pids')).toBe('0');
    expect(() => formatLimit(1.5, 'the memory limit')).toThrow('the memory limit must be a non-negative integer, got 1.5');
    expect(() => formatLimit(-1, 'pids')).toThrow(RangeError);
  });
});
