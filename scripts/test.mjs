// `npm test`: the suite runs as root, which alone can start the cases that run
// as the test users (sbtest, sbtest-norange); a caller who is not root gets
// there through sudo. The build (pretest) has already run as the caller, so
// nothing in the checkout becomes root's.
//
//   npm test [-- vitest arguments]      e.g. npm test -- test/unit
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const vitest = [join(root, 'node_modules/vitest/vitest.mjs'), 'run', ...process.argv.slice(2)];

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.error) throw r.error;
  process.exit(r.status ?? 1);
}

if (process.getuid?.() === 0) run(process.execPath, vitest);
if (spawnSync('sudo', ['--version'], { stdio: 'ignore' }).status === 0) {
  console.error('npm test: running the suite as root through sudo (it starts sandboxes as the test users too)');
  // root's results cache would be left in the caller's node_modules
  run('sudo', ['env', `PATH=${process.env.PATH}`, process.execPath, ...vitest, '--no-cache']);
}
console.error('npm test: not root and no sudo: running as yourself; the cases as the test users are skipped');
run(process.execPath, vitest);
