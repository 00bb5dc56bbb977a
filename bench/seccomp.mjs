// Seccomp costs: getppid() per call under strict and default vs unconfined
// (target strict ≤ 1.10×); where a cold compile of each shipped policy goes
// (load + ajv, resolve, names, libseccomp rule adding, BPF export, the second
// stacked filter); and what one run pays for its filter: a compile
// (libseccomp loaded, nothing cached), a first run (empty user cache: the
// build's precompiled filter or a compile, target ≤ 5 ms) and a warm run
// (target ≤ 0.2 ms). BEFORE=/path/to/an/older/dist/index.js adds that build's
// figures from the same process. Prints Markdown.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { listBuiltinPolicies } from '../dist/index.js';

const here = import.meta.dirname;

const time = (fn, n) => {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e6 / n;
};

if (process.argv[2] === '--phases') {
  const { compilePhases } = await import(process.argv[3]);
  console.log(JSON.stringify(compilePhases(process.argv[4], 20)));
  process.exit(0);
}
if (process.argv[2] === '--paths') {
  const lib = await import(process.argv[3]);
  const name = process.argv[4];
  const ctx = lib.filterContext(false);
  const base = process.env.XDG_CACHE_HOME;
  let c = 0;
  const freshCache = () => { process.env.XDG_CACHE_HOME = join(base, `c${c++}`); };
  const compiled = lib.compilePolicy(name); // loads koffi and libseccomp once
  const cold = time(() => lib.compilePolicy(name), 20);
  let firstSource = '';
  const first = time(() => { freshCache(); firstSource = lib.prepareSeccomp(name, ctx).source; }, 20);
  freshCache();
  lib.prepareSeccomp(name, ctx); // fills the cache
  const warm = time(() => { if (lib.prepareSeccomp(name, ctx).source !== 'cache') throw new Error('not cached'); }, 500);
  console.log(JSON.stringify({ ruleCount: compiled.ruleCount, insns: compiled.programs.map((p) => p.length / 8).join(' + '), cold, first, firstSource, warm }));
  process.exit(0);
}
const cli = join(here, '..', 'bin', 'sandbox.cjs');
const work = mkdtempSync(join(tmpdir(), 'sandbox-bench-seccomp-'));
execFileSync('chmod', ['755', work]);
const bin = join(work, 'getppid');
execFileSync('cc', ['-O2', '-static', '-o', bin, join(here, 'getppid.c')]);

// control: a filter that allows everything, to tell the kernel's cost of
// having any filter from the cost of the policy's BPF
const allowAll = join(work, 'allow-all.json');
writeFileSync(allowAll, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW' }));
execFileSync('chmod', ['644', allowAll]);
const perCall = (args) => Number(execFileSync(process.execPath, [cli, 'exec', ...args, '-v', `${bin}:/getppid`, 'host', '/getppid'], { encoding: 'utf8' }));
// SECCOMP_BENCH=compile: only the compile and per-run figures (the strict
// profile's time limit can end the getppid loop on a loaded machine)
const perCallRounds = process.env.SECCOMP_BENCH === 'compile' ? 0 : 3;
const rows = [];
for (let round = 0; round < perCallRounds; round++) {
  rows.push({
    unconfined: perCall(['--security-opt', 'seccomp=unconfined']),
    'allow-all filter': perCall(['--security-opt', `seccomp=${allowAll}`]),
    default: perCall(['--security-opt', 'seccomp=default']),
    strict: perCall(['--profile', 'strict']),
  });
}
const best = (k) => Math.min(...rows.map((r) => r[k]));


// Each measurement runs in a child process: koffi's type names are global to
// the process, so two bundles (or the phases bundle) cannot bind libseccomp in one.
const child = (...args) => JSON.parse(execFileSync(process.execPath, [import.meta.filename, ...args], { encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: join(work, `cache-${args.join('-').replace(/\W/g, '_')}`) } }));

// where a cold compile goes: internals bundled from src/ (bench/seccomp-phases.ts)
// into bench/out/, inside the package so that it finds policies/
const phasesFile = join(here, 'out', 'seccomp-phases.mjs');
await build({
  entryPoints: [join(here, 'seccomp-phases.ts')], bundle: true, platform: 'node', format: 'esm', external: ['koffi'], outfile: phasesFile,
  logLevel: 'warning', banner: { js: `import { createRequire as __c } from 'node:module'; const require = __c(${JSON.stringify(join(here, '..', 'package.json'))});` },
});
const policies = listBuiltinPolicies();
const phases = Object.fromEntries(policies.map((name) => [name, child('--phases', phasesFile, name)]));

// one run's seccomp cost, this build and (BEFORE=path/to/old/dist/index.js) the one before
const builds = [['after', join(here, '..', 'dist', 'index.js')]];
if (process.env.BEFORE) builds.unshift(['before', process.env.BEFORE]);
const paths = [];
for (const name of policies) {
  for (const [label, lib] of builds) {
    const r = child('--paths', lib, name);
    paths.push(`| ${name} | ${label} | ${r.ruleCount} | ${r.insns} | ${r.cold.toFixed(2)} ms | ${r.first.toFixed(2)} ms (${r.firstSource}) | ${r.warm.toFixed(3)} ms |`);
  }
}
rmSync(work, { recursive: true, force: true });

console.log([
  `### ${new Date().toISOString().slice(0, 10)}, ${process.getuid() === 0 ? 'root' : 'unprivileged user'}: seccomp`,
  '',
  ...(rows.length === 0 ? [] : [
    '| getppid() per call (best of 3 sandboxes × 5 rounds × 2M calls) | ns | vs unconfined |',
    '|---|---|---|',
    ...['unconfined', 'allow-all filter', 'default', 'strict'].map((k) => `| ${k} | ${best(k).toFixed(1)} | ${(best(k) / best('unconfined')).toFixed(2)}× |`),
    '',
  ]),
  `| cold compile, phase (mean of 20, ms) | ${policies.join(' | ')} |`,
  `|---|${policies.map(() => '---').join('|')}|`,
  ...Object.keys(phases[policies[0]]).map((k) => `| ${k} | ${policies.map((p) => phases[p][k].toFixed(2)).join(' | ')} |`),
  '',
  '| policy | build | rules | BPF instructions | compile (libseccomp loaded, no cache) | first run (empty user cache) | warm run (cached) |',
  '|---|---|---|---|---|---|---|',
  ...paths,
  '',
].join('\n'));
