// Compiles the C stage with the system C compiler (run by `npm install` through
// `prepare`, and by `npm run build`). No prebuilt binary is ever shipped.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'sandbox-stage');
const cc = process.env.CC || 'cc';
mkdirSync(dirname(out), { recursive: true });
// static: no dynamic loader work on every sandbox start (falls back to dynamic
// where the static C library is not installed)
const flags = ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-Werror', '-Wno-unused-parameter',
  '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', '-fPIE', '-pie', '-Wl,-z,relro,-z,now'];
// the stage's parts (src/stage/*.c, see stage.h), compiled and linked together
const stageDir = join(root, 'src/stage');
const sources = readdirSync(stageDir).filter((f) => f.endsWith('.c')).sort().map((f) => join(stageDir, f));
const compile = (extra) => execFileSync(cc, [...flags, ...extra, '-o', out, ...sources], { stdio: 'inherit' });
try {
  try {
    compile(['-static-pie']);
  } catch {
    console.warn('note: static linking failed; building the stage dynamically');
    compile([]);
  }
} catch {
  console.error(`error: cannot compile the sandbox stage with ${cc}\nhint: install a C compiler and the C library headers (Debian: apt-get install gcc libc6-dev)`);
  process.exit(1);
}
console.log(`built ${out}`);
