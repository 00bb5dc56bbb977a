// The whole build: schema validators, type declarations, the bundles
// (library dist/index.js, CLI dist/cli.cjs, OCI runtime dist/oci-cli.cjs, unpack worker dist/unpack-worker.cjs), the C stage,
// and the shipped seccomp policies compiled for this host (dist/seccomp/, see
// src/seccomp/precompile-filters.ts; `node dist/precompile-seccomp.cjs` redoes it
// after a kernel or libseccomp upgrade).
// One bundle per entry keeps start-up to a single module load.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

run(process.execPath, ['scripts/gen-validators.mjs']);
run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', '.']);
// koffi is a native module: loaded from node_modules at run time, never bundled
const common = { absWorkingDir: root, bundle: true, platform: 'node', target: 'node20', logLevel: 'warning', external: ['koffi'] };
// the library: ESM, for `import { exec } from 'rootless-sandbox'`
await build({
  ...common,
  entryPoints: { index: 'src/index.ts' },
  outdir: 'dist',
  format: 'esm',
  // commander is CommonJS: give its require() of node built-ins a real require
  banner: { js: "import { createRequire as __sandboxCreateRequire } from 'node:module'; const require = __sandboxCreateRequire(import.meta.url);" },
});
// CommonJS bundles, which Node 20 loads measurably faster than ES modules: the CLI, the OCI
// runtime (`sandbox-oci`, runc's command line) and the unpack worker (the stage executes it
// inside the user namespace: src/image/unpack/userns-worker.ts); each bundled whole
await build({
  ...common,
  entryPoints: { cli: 'src/cli/main.ts', 'oci-cli': 'src/oci-cli/main.ts', 'unpack-worker': 'src/image/unpack/unpack-worker.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  define: { 'import.meta.url': '__sandboxModuleUrl' },
  banner: { js: "const __sandboxModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
});
run(process.execPath, ['scripts/build-stage.mjs']);
await build({
  ...common,
  stdin: {
    contents: "import { precompileBuiltinFilters } from './src/seccomp/precompile-filters.ts';\n"
      + "console.log(`precompiled ${precompileBuiltinFilters().length} seccomp filter(s) into dist/seccomp`);\n",
    resolveDir: root,
    sourcefile: 'precompile-seccomp.ts',
    loader: 'ts',
  },
  outfile: 'dist/precompile-seccomp.cjs',
  format: 'cjs',
  define: { 'import.meta.url': '__sandboxModuleUrl' },
  banner: { js: "const __sandboxModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
});
try {
  run(process.execPath, ['dist/precompile-seccomp.cjs']);
} catch {
  // no libseccomp on the build host: every first run compiles instead
  console.warn('warning: seccomp filters not precompiled; first runs compile them');
}
