// CLEAR_DIR empties a run's writable layer: files that belong to ids inside
// the user namespace, written by untrusted code. It must empty a tree of any
// depth (deeper than PATH_MAX and than the fd limit), remove symlinks
// without following them, and never touch what a link points at.
// Must not: change the host outside a temporary directory.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchStage } from '../../src/launch/launch-stage.js';
import { ops } from '../../src/stage/plan.js';
import { OUTSIDE_ID, ensureStage, isRoot } from '../integration/stage/helpers.js';

const T = 60_000;
let base: string;

beforeAll(() => {
  ensureStage();
  base = mkdtempSync('/tmp/clear-dir-test-');
  chmodSync(base, 0o755);
}, 60_000);

afterAll(() => {
  // GNU rm walks trees deeper than PATH_MAX (should a case fail and leave one)
  if (base) execFileSync('rm', ['-rf', base]);
});

/** The stage enters a user namespace whose root is `OUTSIDE_ID` (the tree's owner) and clears fd 64. */
async function clear(dir: string): Promise<{ kind: string; code: number | null }> {
  const h = launchStage([
    ops.openDir(dir, 64),
    ops.userns(),
    ops.mapWrite('uid_map', `0 ${OUTSIDE_ID} 1\n`),
    ops.mapWrite('gid_map', `0 ${OUTSIDE_ID} 1\n`),
    ops.setupIds(0, 0),
    ops.clearDir(64, false),
  ], ['ignore', 'ignore', 'inherit']);
  const [outcome, code] = await Promise.all([h.outcome, new Promise<number | null>((r) => h.child.once('close', r))]);
  return { kind: outcome.kind, code };
}

if (!isRoot) console.warn('clear-dir tests skipped: the plans map ids to nobody, which needs root (CI runs them as root)');

describe.skipIf(!isRoot)('CLEAR_DIR', () => {
  it('empties a tree deeper than PATH_MAX and the fd limit, with 000 directories, and keeps the directory itself', async () => {
    const dir = join(base, 'deep');
    // 3000 levels of "dd/": 9000 bytes of path, beyond PATH_MAX; made with relative steps (shells get slow at depth)
    mkdirSync(dir);
    execFileSync(process.execPath, ['-e',
      "const fs = require('fs'); for (let i = 0; i < 3000; i++) { fs.mkdirSync('dd'); process.chdir('dd'); } fs.writeFileSync('f', 'x'); fs.chmodSync('..', 0);"], { cwd: dir });
    execFileSync('chown', ['-R', `${OUTSIDE_ID}:${OUTSIDE_ID}`, dir]);
    const r = await clear(dir);
    expect(r).toEqual({ kind: 'completed', code: 0 }); // a plan without FORK_INIT: DONE alone, exit 0
    expect(readdirSync(dir)).toEqual([]);
  }, T);

  it('removes symlinks (to a host directory, to a host file, to /) without following them', async () => {
    const dir = join(base, 'links');
    const canary = join(base, 'canary');
    execFileSync('mkdir', ['-p', join(dir, 'sub'), canary]);
    writeFileSync(join(canary, 'keep'), 'keep\n');
    symlinkSync(canary, join(dir, 'to-dir'));
    symlinkSync(join(canary, 'keep'), join(dir, 'sub', 'to-file'));
    symlinkSync('/', join(dir, 'sub', 'to-root'));
    execFileSync('chown', ['-R', '-h', `${OUTSIDE_ID}:${OUTSIDE_ID}`, dir]);
    const r = await clear(dir);
    expect(r.code).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
    expect(readdirSync(canary)).toEqual(['keep']);
    expect(readFileSync(join(canary, 'keep'), 'utf8')).toBe('keep\n');
  }, T);

  it('fails with the step and errno when it cannot empty the tree (files of an id that does not exist inside)', async () => {
    const dir = join(base, 'foreign');
    execFileSync('mkdir', ['-p', join(dir, 'locked')]);
    writeFileSync(join(dir, 'locked', 'f'), 'x');
    chmodSync(join(dir, 'locked'), 0o700); // owned by host root: nothing inside may enter it
    execFileSync('chown', [`${OUTSIDE_ID}:${OUTSIDE_ID}`, dir]);
    const h = launchStage([
      ops.openDir(dir, 64), ops.userns(), ops.mapWrite('uid_map', `0 ${OUTSIDE_ID} 1\n`), ops.mapWrite('gid_map', `0 ${OUTSIDE_ID} 1\n`),
      ops.setupIds(0, 0), ops.clearDir(64, false),
    ], ['ignore', 'ignore', 'ignore']);
    const outcome = await h.outcome;
    expect(outcome).toMatchObject({ kind: 'failed', step: 5, what: 'clear the directory of fd 64' });
    expect(readdirSync(join(dir, 'locked'))).toEqual(['f']);
  }, T);
});
