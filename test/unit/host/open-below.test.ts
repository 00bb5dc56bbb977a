// Opening below a directory without ever following a link (serve's returned
// files, isolate's redirections).
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { O_PATH, openBelow } from '../../../src/host/open-below.js';

const dir = mkdtempSync(join(tmpdir(), 'open-below-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'a'));
writeFileSync(join(dir, 'a', 'f'), 'inside\n');
writeFileSync(join(dir, 'outside'), 'secret\n');
symlinkSync(join(dir, 'outside'), join(dir, 'a', 'link'));
symlinkSync(join(dir, 'a'), join(dir, 'dirlink'));
const code = (fn: () => unknown) => { try { fn(); return 'none'; } catch (e) { return (e as NodeJS.ErrnoException).code; } };

describe('openBelow', () => {
  const top = openSync(dir, O_PATH | constants.O_DIRECTORY);
  afterAll(() => closeSync(top));

  it('opens a file below, component by component', () => {
    const fd = openBelow(top, 'a/f', constants.O_RDONLY);
    expect(readFileSync(fd, 'utf8')).toBe('inside\n');
    closeSync(fd);
  });

  it('never follows a link: ELOOP as the last name, ENOTDIR as a directory on the way', () => {
    expect(code(() => openBelow(top, 'a/link', constants.O_RDONLY))).toBe('ELOOP');
    expect(code(() => openBelow(top, 'dirlink/f', constants.O_RDONLY))).toBe('ENOTDIR');
    expect(code(() => openBelow(top, 'a/link', constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o666))).toBe('ELOOP');
    expect(readFileSync(join(dir, 'outside'), 'utf8')).toBe('secret\n');
  });

  it('creates the last name when asked, with the mode given', () => {
    const fd = openBelow(top, 'a/new', constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o640);
    writeSync(fd, 'x');
    closeSync(fd);
    expect(readFileSync(join(dir, 'a', 'new'), 'utf8')).toBe('x');
    expect(code(() => openBelow(top, 'missing/new', constants.O_WRONLY | constants.O_CREAT, 0o640))).toBe('ENOENT');
  });
});
