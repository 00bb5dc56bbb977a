// Hard limits read from /proc/self/limits.
import { describe, expect, it } from 'vitest';
import { hardLimit } from '../../../src/host/process-limits.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max stack size            8388608              16777216             bytes
Max open files            1024                 524288               files
`;

describe('hardLimit', () => {
  it('reads the hard column by the resource\'s name', () => {
    expect(hardLimit('Max stack size', LIMITS)).toBe(16777216);
    expect(hardLimit('Max cpu time', LIMITS)).toBe('unlimited');
    expect(hardLimit('Max open files', LIMITS)).toBe(524288);
    expect(hardLimit('Max nothing', LIMITS)).toBeNull();
  });

  it('reads this process\'s own', () => {
    const hard = hardLimit('Max stack size');
    expect(hard === 'unlimited' || (typeof hard === 'number' && hard > 0)).toBe(true);
  });
});
