// errnoName: one name per errno number, the one glibc and strace print.
import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { errnoName } from '../../src/errno-name.js';

describe('errnoName', () => {
  it('names errnos as strerrorname_np does, preferring the conventional alias', () => {
    expect(errnoName(1)).toBe('EPERM');
    expect(errnoName(constants.errno.ENOENT)).toBe('ENOENT');
    expect(errnoName(11)).toBe('EAGAIN');
    expect(errnoName(constants.errno.EWOULDBLOCK)).toBe('EAGAIN');
    expect(errnoName(constants.errno.EDEADLK)).toBe('EDEADLK');
    expect(errnoName(95)).toBe('EOPNOTSUPP');
    expect(errnoName(constants.errno.ENOTSUP)).toBe('EOPNOTSUPP');
  });
  it('falls back to the number for errnos Node does not name', () => {
    expect(errnoName(99999)).toBe('errno 99999');
  });
});
