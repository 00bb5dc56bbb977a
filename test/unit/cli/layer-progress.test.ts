// The progress display draws only on a terminal and not with --quiet; on a
// terminal it shows each layer's bytes and a total.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatAge, formatBytes } from '../../../src/cli/format-size.js';
import { layerProgress } from '../../../src/cli/layer-progress.js';

function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: () => string } {
  let out = '';
  const s = new Writable({ write(c, _e, cb) { out += String(c); cb(); } }) as unknown as NodeJS.WriteStream & { text: () => string };
  Object.assign(s, { isTTY, columns: 100, rows: 30, cursorTo: () => true, moveCursor: () => true, clearLine: () => true, clearScreenDown: () => true, text: () => out });
  return s;
}

describe('layerProgress', () => {
  it('shows nothing on a pipe or with --quiet', () => {
    expect(layerProgress({ stream: fakeStream(false) }).onProgress).toBeUndefined();
    expect(layerProgress({ stream: fakeStream(true), quiet: true }).onProgress).toBeUndefined();
  });

  it('draws a bar per layer and a total on a terminal', () => {
    const stream = fakeStream(true);
    const p = layerProgress({ stream });
    const d1 = `sha256:${'a'.repeat(64)}`;
    const d2 = `sha256:${'b'.repeat(64)}`;
    p.onProgress!({ type: 'blob-start', digest: d1, size: 2_000_000, bytes: 0 });
    p.onProgress!({ type: 'blob-data', digest: d1, size: 2_000_000, bytes: 1_000_000 });
    p.onProgress!({ type: 'blob-cached', digest: d2, size: 5000, bytes: 5000 });
    p.onProgress!({ type: 'blob-done', digest: d1, size: 2_000_000, bytes: 2_000_000 });
    p.stop();
    const text = stream.text();
    expect(text).toContain('aaaaaaaaaaaa');
    expect(text).toContain('2.00 MB / 2.00 MB');
    expect(text).toContain('cached');
    expect(text).toMatch(/total\s+\|#+\| 2.00 MB \/ 2.00 MB/);
  });
});

describe('formatBytes and formatAge', () => {
  it('prints sizes and ages like podman images', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(5_612_345)).toBe('5.61 MB');
    expect(formatBytes(123_456_789)).toBe('123 MB');
    const now = Date.parse('2026-01-10T00:00:00Z');
    expect(formatAge('2026-01-09T23:59:30Z', now)).toBe('30 seconds ago');
    expect(formatAge('2026-01-07T00:00:00Z', now)).toBe('3 days ago');
    expect(formatAge('2024-01-10T00:00:00Z', now)).toBe('2 years ago');
    expect(formatAge(undefined, now)).toBe('unknown');
  });
});
