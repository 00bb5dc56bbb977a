// Runs the real doctor on this machine (expected: root, cgroup v1/hybrid,
// kernel with overlayfs in user namespaces). Builds the stage if it is missing.
// Must not: change the host beyond building dist/sandbox-stage.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { CRASHED, formatDoctor, runDoctor, type DoctorReport } from '../../src/doctor/run-doctor.js';
import { stagePath } from '../../src/launch/stage-path.js';
import { ME } from './harness.js';
import { cgroupV1, overlayInUserns } from './host-capabilities.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const isRoot = process.getuid?.() === 0;

describe('sandbox doctor on this host', () => {
  let report: DoctorReport;

  beforeAll(async () => {
    if (!existsSync(stagePath())) execFileSync('node', [join(repo, 'scripts/build-stage.mjs')], { stdio: 'inherit' });
    report = await runDoctor();
  }, 120_000);

  const find = (id: string) => {
    const c = report.checks.find((x) => x.id === id);
    if (!c) throw new Error(`no check ${id} in ${report.checks.map((x) => x.id).join(', ')}`);
    return c;
  };

  it('no check throws', () => {
    expect(report.checks.length).toBeGreaterThanOrEqual(11);
    for (const c of report.checks) expect(c.detail, c.id).not.toContain(CRASHED);
    expect(formatDoctor(report)).toMatch(/rootless sandboxes/);
  });

  it('the stage is built', () => {
    expect(find('stage-binary').status).toBe('ok');
  });

  it('the stage creates a user namespace and runs /bin/true', () => {
    expect(find('stage-userns')).toMatchObject({ status: 'ok' });
  });

  it('native overlayfs inside the user namespace: ok exactly when the host can mount it there', () => {
    expect(find('stage-overlay').status === 'ok').toBe(overlayInUserns(ME).ok);
  });

  it.runIf(isRoot && cgroupV1().ok)('reports cgroup v1 as ok for root', () => {
    const c = find('cgroups');
    expect(c.status).toBe('ok');
    expect(c.detail).toContain('cgroup v1');
  });

  it('the report is consistent', () => {
    expect(report.ok).toBe(report.checks.every((c) => c.status !== 'fail'));
    expect(['subid', 'single']).toContain(report.idmap);
    expect(report.user.length).toBeGreaterThan(0);
  });
});
