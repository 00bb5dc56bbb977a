// Seccomp costs: getppid() per call under strict and default vs unconfined
// (target strict ≤ 1.10×), and compile time of each shipped policy: cold
// (libseccomp loaded, nothing cached, target ≤ 5 ms) and from the cache
// (hash + read, target ≤ 0.2 ms). Prints Markdown.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicy, filterContext, listBuiltinPolicies, prepareSeccomp } from '../dist/index.js';

const here = import.meta.dirname;
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
const rows = [];
for (let round = 0; round < 3; round++) {
  rows.push({
    unconfined: perCall(['--security-opt', 'seccomp=unconfined']),
    'allow-all filter': perCall(['--security-opt', `seccomp=${allowAll}`]),
    default: perCall(['--security-opt', 'seccomp=default']),
    strict: perCall(['--profile', 'strict']),
  });
}
const best = (k) => Math.min(...rows.map((r) => r[k]));

const time = (fn, n) => {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e6 / n;
};
compilePolicy('default'); // loads koffi and libseccomp once
const ctx = filterContext(false);
const compileRows = listBuiltinPolicies().map((name) => {
  const c = compilePolicy(name);
  const cold = time(() => compilePolicy(name), 20);
  process.env.XDG_CACHE_HOME = join(work, 'cache');
  mkdirSync(process.env.XDG_CACHE_HOME, { recursive: true });
  prepareSeccomp(name, ctx); // fills the cache
  const cached = time(() => { if (prepareSeccomp(name, ctx).source !== 'cache') throw new Error('not cached'); }, 200);
  return `| ${name} | ${c.ruleCount} | ${c.programs.map((p) => p.length / 8).join(' + ')} | ${cold.toFixed(2)} ms | ${cached.toFixed(3)} ms |`;
});
rmSync(work, { recursive: true, force: true });

console.log([
  `### ${new Date().toISOString().slice(0, 10)}, ${process.getuid() === 0 ? 'root' : 'unprivileged user'}: seccomp`,
  '',
  '| getppid() per call (best of 3 sandboxes × 5 rounds × 2M calls) | ns | vs unconfined |',
  '|---|---|---|',
  ...['unconfined', 'allow-all filter', 'default', 'strict'].map((k) => `| ${k} | ${best(k).toFixed(1)} | ${(best(k) / best('unconfined')).toFixed(2)}× |`),
  '',
  '| policy | rules | BPF instructions | compile (libseccomp loaded, no cache) | from the cache |',
  '|---|---|---|---|---|',
  ...compileRows,
  '',
].join('\n'));
