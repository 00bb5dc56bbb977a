// Removes a directory tree by path, never following a symlink, for trees
// nobody else can reach: an entry of a layer replaced by a later entry, inside
// the directory being unpacked, and doctor's private overlayfs test directory
// (whose mode-000 work directory it opens up). Trees in the
// store, which processes holding subordinate ids may reach and change while
// they go, are removed by the stage through descriptors
// (remove-tree-in-userns.ts), never by this walk.
// Must not: descend through a symlink or chmod anything it has not just
// lstat'ed as a directory (test/security/hostile-layers.test.ts checks it).
import { chmodSync, lstatSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Removes `dir` and everything below it; a missing `dir` is fine. If `dir`
 * itself is a symlink only the link is removed. A layer may make its
 * directories 0555, so directories are made owner-writable before their
 * entries are removed (as the owner: unpacking inside the user namespace
 * makes the caller's namespace root the owner; outside it, run this there too).
 */
export function removeTree(dir: string): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isDirectory()) {
    unlinkSync(dir);
    return;
  }
  if ((st.mode & 0o700) !== 0o700) chmodSync(dir, (st.mode & 0o7777) | 0o700);
  for (const name of readdirSync(dir)) removeTree(join(dir, name));
  rmdirSync(dir);
}
