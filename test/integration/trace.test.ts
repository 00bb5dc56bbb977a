// --trace and SANDBOX_TRACE=1: one line per phase of the run on stderr, in
// the order the phases end, as root and as the unprivileged user; the run's
// own output and exit code are untouched.
import { describe, expect, it } from 'vitest';
import { RUN_PHASES } from '../../src/run/run-trace.js';
import { IDENTITIES, runCli } from './harness.js';

const LINE = /^sandbox: trace: (.+?)\s+(\d+\.\d\d) ms$/;
function phases(stderr: string): { phase: string; ms: number }[] {
  return stderr.split('\n').flatMap((l) => {
    const m = LINE.exec(l);
    return m ? [{ phase: m[1]!, ms: Number(m[2]) }] : [];
  });
}

describe.each(IDENTITIES)('run trace as $name', (as) => {
  it('--trace names every phase once, in order, with a duration', async () => {
    const r = await runCli(['exec', '--trace', '--profile', 'strict', 'host', '--', '/bin/echo', 'traced'], { as });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('traced\n');
    const got = phases(r.stderr);
    expect(got.map((p) => p.phase)).toEqual(['start-up', ...RUN_PHASES]);
    for (const p of got) expect(p.ms).toBeGreaterThanOrEqual(0);
    // the stage's part is real work: maps, namespaces, mounts and exec take time (how it splits
    // between the phases depends on when the stage is scheduled after each step)
    const stage = got.filter((p) => p.phase.startsWith('stage ') && p.phase !== 'stage spawn').reduce((a, p) => a + p.ms, 0);
    expect(stage).toBeGreaterThan(1);
  });

  it('SANDBOX_TRACE=1 does the same; without either, no trace line', async () => {
    const on = await runCli(['exec', '--profile', 'strict', 'host', '--', '/bin/true'], { as, env: { SANDBOX_TRACE: '1' } });
    expect(phases(on.stderr).map((p) => p.phase)).toEqual(['start-up', ...RUN_PHASES]);
    const off = await runCli(['exec', '--profile', 'strict', 'host', '--', '/bin/true'], { as });
    expect(off.stderr).not.toMatch(/trace:/);
  });

  it('a run that fails to start traces up to where it stopped', async () => {
    const r = await runCli(['exec', '--trace', 'host', '--', 'no-such-program-x'], { as });
    expect(r.code).toBe(127);
    const names = phases(r.stderr).map((p) => p.phase);
    expect(names.slice(0, 9)).toEqual(['start-up', ...RUN_PHASES.slice(0, 8)]);
    expect(names).not.toContain('stage root+exec');
    expect(names).toContain('teardown');
  });
});
