// rootRedirect: image links that would resolve a mount target to the root,
// walked through layers as the overlay shows them.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rootRedirect } from '../../../src/rootfs/mount-redirects.js';
import { topmostOccurrences } from '../../../src/run/prepare-image.js';

const base = mkdtempSync(join(tmpdir(), 'mount-redirects-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
function layer(build: (dir: string) => void): string {
  const dir = join(base, `l${++n}`);
  mkdirSync(dir);
  build(dir);
  return dir;
}

describe('rootRedirect', () => {
  it('names the link that leads to the root: relative, absolute, nested, through another link', () => {
    const l = layer((d) => {
      symlinkSync('..', join(d, 'proc'));
      symlinkSync('/', join(d, 'tmp'));
      mkdirSync(join(d, 'data'));
      symlinkSync('../../..', join(d, 'data', 'vol'));
      symlinkSync('data', join(d, 'd'));
      symlinkSync('/etc', join(d, 'e'));
      mkdirSync(join(d, 'etc'));
    });
    expect(rootRedirect([l], '/proc')).toEqual({ link: '/proc', to: '..' });
    expect(rootRedirect([l], '/tmp')).toEqual({ link: '/tmp', to: '/' });
    expect(rootRedirect([l], '/data/vol')).toEqual({ link: '/data/vol', to: '../../..' });
    expect(rootRedirect([l], '/d/vol')).toEqual({ link: '/data/vol', to: '../../..' });
    expect(rootRedirect([l], '/e')).toBeNull(); // a link inside the image
    expect(rootRedirect([l], '/etc/hosts')).toBeNull();
    expect(rootRedirect([l], '/missing/x')).toBeNull();
    expect(rootRedirect([l], '/')).toBeNull();
  });

  it('the topmost layer decides; a whiteout hides a lower link', () => {
    const low = layer((d) => symlinkSync('..', join(d, 'proc')));
    const dirAbove = layer((d) => mkdirSync(join(d, 'proc')));
    const whiteout = layer((d) => writeFileSync(join(d, '.wh.proc'), ''));
    const linkAbove = layer((d) => symlinkSync('/', join(d, 'proc')));
    expect(rootRedirect([low, dirAbove], '/proc')).toBeNull();
    expect(rootRedirect([low, whiteout], '/proc')).toBeNull();
    expect(rootRedirect([dirAbove, linkAbove], '/proc')).toEqual({ link: '/proc', to: '/' });
  });

  it('a link loop is left to the stage', () => {
    const l = layer((d) => { symlinkSync('b', join(d, 'a')); symlinkSync('a', join(d, 'b')); });
    expect(rootRedirect([l], '/a')).toBeNull();
  });
});

describe('topmostOccurrences', () => {
  it('keeps a repeated layer only at its topmost place, order otherwise kept', () => {
    expect(topmostOccurrences(['a', 'b', 'a'])).toEqual(['b', 'a']);
    expect(topmostOccurrences(['c', 'a', 'b', 'a', 'c'])).toEqual(['b', 'a', 'c']);
    expect(topmostOccurrences(['a', 'b'])).toEqual(['a', 'b']);
  });
});
