// The whole build: schema validators, type declarations, the two bundles
// (library dist/index.js, CLI dist/cli.js) and the C stage.
// One bundle per entry keeps start-up to a single module load.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

run(process.execPath, ['scripts/gen-validators.mjs']);
run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', '.']);
await build({
  entryPoints: { index: 'src/index.ts', cli: 'src/cli/main.ts' },
  absWorkingDir: root,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  splitting: false,
  sourcemap: false,
  logLevel: 'warning',
  // commander is CommonJS: give its require() of node built-ins a real require
  banner: { js: "import { createRequire as __sandboxCreateRequire } from 'node:module'; const require = __sandboxCreateRequire(import.meta.url);" },
});
run(process.execPath, ['scripts/build-stage.mjs']);
