// The string forms users type: sizes, -u, -v, --tmpfs, -e and --env-file.
import { describe, expect, it } from 'vitest';
import { SandboxError } from '../../../src/errors.js';
import {
  parseEnvArg, parseEnvFile, parseOctal, parseSize, parseTmpfs, parseUser, parseVolume,
} from '../../../src/resolve/parse-options.js';
import { refused } from '../support/fixtures.js';

const usage = (fn: () => unknown) => refused(fn, 'usage');

describe('parseSize', () => {
  it('reads byte counts and k/m/g suffixes (powers of 1024, any case)', () => {
    expect(parseSize('64m', '--tmpfs')).toBe(67108864);
    expect(parseSize('1k', '--tmpfs')).toBe(1024);
    expect(parseSize('10', '--tmpfs')).toBe(10);
    expect(parseSize('2G', '--tmpfs')).toBe(2147483648);
    expect(parseSize('3K', 'x')).toBe(3072);
    // the same grammar as the profile schema: no 'b' suffix
    expect(() => parseSize('1mb', 'x')).toThrow(/invalid size "1mb"/);
  });

  it.each(['', '-1', '1x', '0', '0m', 'm', '1.5m', '1 m', '1t'])('rejects %j naming the flag and the value', (bad) => {
    const e = usage(() => parseSize(bad, '--tmpfs'));
    expect(e.message).toBe(`invalid size "${bad}" (--tmpfs)`);
    expect(e.hint).toContain('64m');
  });

  it('names whatever place it is given', () => {
    expect(usage(() => parseSize('nope', '/p/x.json#/rootSize')).message).toContain('(/p/x.json#/rootSize)');
  });
});

describe('parseUser', () => {
  it('defaults the gid to the uid', () => {
    expect(parseUser('1000')).toEqual({ uid: 1000, gid: 1000 });
    expect(parseUser('0')).toEqual({ uid: 0, gid: 0 });
  });

  it('reads UID:GID', () => {
    expect(parseUser('1000:50')).toEqual({ uid: 1000, gid: 50 });
    expect(parseUser('4294967294:0')).toEqual({ uid: 4294967294, gid: 0 });
  });

  it.each([
    ['', 'invalid user "" (-u)'],
    ['a', 'invalid uid "a" (-u)'],
    ['1:2:3', 'invalid user "1:2:3" (-u)'],
    ['4294967295', 'invalid uid "4294967295" (-u)'],
    ['1000:', 'invalid gid "" (-u)'],
    [':5', 'invalid user ":5" (-u)'],
    ['1000:x', 'invalid gid "x" (-u)'],
    ['-1', 'invalid uid "-1" (-u)'],
    ['12345678901', 'invalid uid "12345678901" (-u)'],
  ])('rejects %j', (bad, message) => {
    expect(usage(() => parseUser(bad)).message).toBe(message);
  });

  it('uses the place it is given in messages', () => {
    expect(usage(() => parseUser('x', '--user')).message).toBe('invalid uid "x" (--user)');
  });
});

describe('parseVolume', () => {
  it('is read-only by default', () => {
    expect(parseVolume('/a:/b')).toEqual({ source: '/a', target: '/b', writable: false });
  });

  it('reads :rw and :ro', () => {
    expect(parseVolume('/a:/b:rw')).toEqual({ source: '/a', target: '/b', writable: true });
    expect(parseVolume('/a:/b:ro')).toEqual({ source: '/a', target: '/b', writable: false });
  });

  it('rejects a relative source or target, naming which', () => {
    expect(usage(() => parseVolume('a:/b')).message).toBe('source "a" in "a:/b" (-v) is not an absolute path');
    expect(usage(() => parseVolume('/a:b')).message).toBe('target "b" in "/a:b" (-v) is not an absolute path');
  });

  it('rejects a mode other than ro/rw', () => {
    expect(usage(() => parseVolume('/a:/b:rx')).message).toBe('invalid volume mode "rx" in "/a:/b:rx" (-v)');
    expect(usage(() => parseVolume('/a:/b:')).message).toBe('invalid volume mode "" in "/a:/b:" (-v)');
  });

  it.each(['/a:/b:ro:x', '/a', '/a:', ':/b', ''])('rejects the malformed %j', (bad) => {
    expect(usage(() => parseVolume(bad)).message).toBe(`invalid volume "${bad}" (-v)`);
  });
});

describe('parseTmpfs', () => {
  it('reads a bare path', () => {
    expect(parseTmpfs('/scratch')).toEqual({ path: '/scratch' });
  });

  it('reads size and mode options', () => {
    expect(parseTmpfs('/scratch:size=16m,mode=1777')).toEqual({ path: '/scratch', size: '16m', mode: '1777' });
    expect(parseTmpfs('/s:mode=700')).toEqual({ path: '/s', mode: '700' });
    expect(parseTmpfs('/s:size=1024')).toEqual({ path: '/s', size: '1024' });
  });

  it.each(['uid=5', 'mode=999', 'mode=17777', 'size', 'mode=', ''])('rejects the option %j', (opt) => {
    const value = `/x:${opt}`;
    expect(usage(() => parseTmpfs(value)).message).toBe(`invalid tmpfs option "${opt}" in "${value}" (--tmpfs)`);
  });

  it('checks the size', () => {
    expect(usage(() => parseTmpfs('/x:size=0')).message).toBe('invalid size "0" (--tmpfs)');
    expect(usage(() => parseTmpfs('/x:size=1q')).message).toBe('invalid size "1q" (--tmpfs)');
  });

  it('rejects a relative path', () => {
    expect(usage(() => parseTmpfs('x:size=1m')).message).toBe('path "x" in "x:size=1m" (--tmpfs) is not an absolute path');
  });
});

describe('parseEnvArg', () => {
  it('reads KEY=VAL, splitting at the first =', () => {
    expect(parseEnvArg('KEY=VAL', {})).toEqual(['KEY', 'VAL']);
    expect(parseEnvArg('K=a=b', {})).toEqual(['K', 'a=b']);
    expect(parseEnvArg('EMPTY=', {})).toEqual(['EMPTY', '']);
  });

  it('copies the caller value for a bare KEY', () => {
    expect(parseEnvArg('HOME', { HOME: '/home/alice' })).toEqual(['HOME', '/home/alice']);
    expect(parseEnvArg('E', { E: '' })).toEqual(['E', '']);
  });

  it('leaves out a bare KEY the caller does not have', () => {
    expect(parseEnvArg('MISSING', { OTHER: 'x' })).toBeNull();
  });

  it.each(['=x', '', 'K=a\0b', 'K\0=x'])('rejects %j', (bad) => {
    expect(usage(() => parseEnvArg(bad, {})).message).toBe(`invalid environment variable "${bad}" (-e)`);
  });
});

describe('parseEnvFile', () => {
  it('reads KEY=VAL and KEY lines, skipping comments and blank lines, accepting CRLF', () => {
    const text = [
      '# a comment', '', 'A=1\r', '  B=2', 'C', 'D', '   # indented comment', '   ', 'E=x y ', 'F=#not a comment', '',
    ].join('\n');
    expect(parseEnvFile(text, 'app.env', { C: 'from caller' })).toEqual([
      ['A', '1'], ['B', '2'], ['C', 'from caller'], ['E', 'x y '], ['F', '#not a comment'],
    ]);
  });

  it('reads a CRLF file', () => {
    expect(parseEnvFile('A=1\r\nB=2\r\n', 'w.env', {})).toEqual([['A', '1'], ['B', '2']]);
  });

  it('names the file and the line of a bad entry', () => {
    const e = usage(() => parseEnvFile('A=1\n# ok\n=bad\n', 'app.env', {}));
    expect(e.message).toBe('invalid environment variable "=bad" (--env-file app.env:3)');
  });
});

describe('parseOctal', () => {
  it('reads octal modes', () => {
    expect(parseOctal('1777')).toBe(0o1777);
    expect(parseOctal('0700')).toBe(0o700);
  });
});
