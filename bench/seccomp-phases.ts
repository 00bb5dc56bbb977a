// Where a cold compile of a policy goes, phase by phase (bundled from src/ by
// bench/seccomp.mjs: these are internals, not the library API).
import { actionValue, compileFilter, splitOverlay } from '../src/seccomp/compile-filter.js';
import { FilterContext, NR_SCMP_ERROR, resolveSyscall, SCMP_ACT, SCMP_CMP, SCMP_FLTATR } from '../src/seccomp/libseccomp.js';
import { loadPolicy } from '../src/seccomp/load-policy.js';
import { filterContext } from '../src/seccomp/prepare-seccomp.js';
import { resolvePolicy, type FilterRule } from '../src/seccomp/resolve-policy.js';

const now = () => Number(process.hrtime.bigint()) / 1e6;

/** Mean ms of each phase over n compiles of `name` (libseccomp already loaded). */
export function compilePhases(name: string, n: number): Record<string, number> {
  const ctx = filterContext(false);
  const sum: Record<string, number> = {};
  const add = (k: string, ms: number) => { sum[k] = (sum[k] ?? 0) + ms / n; };
  for (let i = -1; i < n; i++) {
    const t0 = now();
    const loaded = loadPolicy(name);
    const t1 = now();
    const plan = resolvePolicy(loaded.policy, ctx, loaded.file);
    const t2 = now();
    const nrs = new Map<FilterRule, number>();
    for (const r of plan.rules) { const nr = resolveSyscall(r.syscall); if (nr !== NR_SCMP_ERROR) nrs.set(r, nr); }
    const t3 = now();
    const { main, overlay } = splitOverlay([...nrs.keys()]);
    const build = (def: number, badArch: number, rules: FilterRule[]) => {
      const a = now();
      const c = new FilterContext(def);
      c.setAttr(SCMP_FLTATR.ACT_BADARCH, badArch);
      c.setAttr(SCMP_FLTATR.CTL_OPTIMIZE, 2);
      for (const arch of plan.arches.slice(1)) c.addArch(arch);
      for (const r of rules) {
        const act = actionValue(r.action);
        if (act === def) continue;
        c.addRule(act, nrs.get(r)!, r.args.map((x) => ({
          arg: x.index, op: SCMP_CMP[x.op.replace('SCMP_CMP_', '') as keyof typeof SCMP_CMP], datumA: BigInt(x.value), datumB: BigInt(x.valueTwo ?? 0),
        })));
      }
      const b = now();
      c.export('bpf');
      const e = now();
      c.release();
      return [b - a, e - b];
    };
    const [mainRules, mainExport] = build(actionValue(plan.defaultAction), SCMP_ACT.KILL_PROCESS, main);
    const [ovRules, ovExport] = overlay.length ? build(SCMP_ACT.ALLOW, SCMP_ACT.ALLOW, overlay) : [0, 0];
    const t4 = now();
    compileFilter(plan, loaded.file);
    const t5 = now();
    if (i < 0) continue; // warm-up
    add('load + ajv validation', t1 - t0);
    add('resolve', t2 - t1);
    add('syscall names → numbers', t3 - t2);
    add('main filter: seccomp_init + arches + rule adding', mainRules!);
    add('main filter: seccomp_export_bpf', mainExport!);
    add('second (stacked) filter: all', ovRules! + ovExport!);
    add('compileFilter after load + resolve (all of the above from names → numbers)', t5 - t4);
    void plan.arches;
  }
  return sum;
}
