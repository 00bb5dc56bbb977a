// The isolate mode's --cg on cgroup v2 (run in the ../shared/vm guest by
// scripts/test-vm.sh, as the rootless user "tester" and as root): the box's
// run gets a cgroup of its own, --cg-mem is its memory.max, the meta carries
// cg-mem and cg-oom-killed as isolate's does, and nothing is left behind.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain ESM helper without types
import { buildProbe } from '../probe/build-probe.mjs';

const onV2 = spawnSync('stat', ['-fc', '%T', '/sys/fs/cgroup'], { encoding: 'utf8' }).stdout.trim() === 'cgroup2fs';
if (!onV2) console.warn('vm isolate tests skipped: /sys/fs/cgroup is not cgroup v2 (scripts/test-vm.sh runs them in the guest)');

const cli = join(import.meta.dirname, '..', '..', 'bin', 'sandbox.cjs');
const dir = mkdtempSync(join(tmpdir(), 'sandbox-vm-isolate-'));
// root's boxes are bound by a subordinate id, which must search every directory above them
chmodSync(dir, 0o711);
const config = join(dir, 'isolate.cf');
writeFileSync(config, `box_root = ${join(dir, 'boxes')}\n`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function isolate(args: string[]) {
  return spawnSync(process.execPath, [cli, 'isolate', ...args], {
    encoding: 'utf8', timeout: 110_000, env: { ...process.env, ISOLATE_CONFIG_FILE: config },
  });
}

/** isolate's meta as its clients parse it: split at the first colon, a blank line is an error. */
function parseMeta(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.replace(/\n$/, '').split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) throw new Error(`bad meta line ${JSON.stringify(line)}`);
    out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

describe.skipIf(!onV2)('isolate --cg on cgroup v2', () => {
  it('--cg-mem kills a memory hog by the cgroup: SG 9 with cg-oom-killed, cg-mem near the limit', async () => {
    const probe = await buildProbe();
    const cleanup = isolate(['--cg', '-b', '7', '--cleanup']);
    expect(cleanup.status, cleanup.stderr).toBe(0);
    const init = isolate(['--cg', '-b', '7', '--init']);
    expect(init.status, init.stderr).toBe(0);
    const box = init.stdout.trim();
    const meta = join(dir, 'meta-oom');
    const r = isolate(['--cg', '-b', '7', '--cg-mem=65536', '-t', '10', '-d', `/probe=${probe}`, `-M`, meta, '--run', '--', '/probe', 'alloc:256']);
    expect(r.status, r.stderr).toBe(1);
    const m = parseMeta(readFileSync(meta, 'utf8'));
    expect(m).toMatchObject({ status: 'SG', exitsig: '9', 'cg-oom-killed': '1' });
    expect(Number(m['cg-mem'])).toBeGreaterThan(32 * 1024);
    expect(Number(m['cg-mem'])).toBeLessThanOrEqual(64 * 1024 + 1024);
    expect(r.stderr).toContain('Caught fatal signal 9');
    expect(isolate(['--cg', '-b', '7', '--cleanup']).status).toBe(0);
    expect(spawnSync('test', ['-e', box]).status).not.toBe(0);
  });

  it('a run under the limit is OK and reports its peak as cg-mem', async () => {
    const probe = await buildProbe();
    isolate(['-b', '8', '--cleanup']);
    expect(isolate(['--cg', '-b', '8', '--init']).status).toBe(0);
    const r = isolate(['--cg', '-b', '8', '--cg-mem=262144', '-d', `/probe=${probe}`, '-M', '-', '--run', '--', '/probe', 'alloc:64']);
    expect(r.status, r.stderr).toBe(0);
    const m = parseMeta(r.stdout);
    expect(m.status).toBeUndefined();
    expect(m.exitcode).toBe('0');
    expect(Number(m['cg-mem'])).toBeGreaterThanOrEqual(64 * 1024);
    expect(m['cg-oom-killed']).toBeUndefined();
    expect(r.stderr).toMatch(/^OK \(\d+\.\d{3} sec real, \d+\.\d{3} sec wall\)\n$/);
    isolate(['-b', '8', '--cleanup']);
  });

  it('--print-cg-root and --check-config name the backend', () => {
    const root = isolate(['--print-cg-root']);
    expect(root.status, root.stderr).toBe(0);
    expect(root.stdout.trim()).toMatch(/^\/sys\/fs\/cgroup\//);
    const check = isolate(['--check-config']);
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/Control groups: cgroup2/);
  });
});
