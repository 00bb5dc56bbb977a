// Seccomp through the real CLI: the filter is loaded (Seccomp: 2), policies
// from podman load unchanged, the strict profile cannot be unconfined, the
// stacked filter keeps a conditional denial next to an unconditional allow,
// and broken policies are refused with the file and the JSON pointer.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IDENTITIES, REPO, ROOT, hasScript, inTerminal, jsonIn, probe, runCli, runProbe, sandboxCommand } from './harness.js';
import { legacyTiocsti } from './host-capabilities.js';

const PODMAN = '/usr/share/containers/seccomp.json';
const hasPodmanPolicy = existsSync(PODMAN);
if (!hasPodmanPolicy) console.warn(`podman policy test skipped: ${PODMAN} is missing (Debian: golang-github-containers-common; setup-host.sh --test-users installs it)`);

const dir = mkdtempSync(join(tmpdir(), 'sandbox-seccomp-test-'));
chmodSync(dir, 0o755); // the unprivileged test user reads the policies too
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function policyFile(name: string, policy: unknown): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, typeof policy === 'string' ? policy : JSON.stringify(policy));
  return file;
}

const MINIMAL_OK = {
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['mount', 'umount2'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
};

describe.each(IDENTITIES)('seccomp as $name', (who) => {
  const as = who;

  it('every profile loads a filter; its policy decides the errno', async () => {
    const { report } = await runProbe([], ['caps', 'syscall:mount_tmpfs'], { as });
    expect(report.caps.Seccomp).toBe(2);
    expect(report.caps.Seccomp_filters).toBeGreaterThanOrEqual(1);
    const custom = await runProbe(['--security-opt', `seccomp=${policyFile('minimal', MINIMAL_OK)}`], ['caps', 'syscall:mount_tmpfs'], { as });
    expect(custom.report.caps.Seccomp).toBe(2);
    expect(custom.report['syscall:mount_tmpfs'].errno).toBe(13); // EACCES, as the policy says
  });

  it.skipIf(!hasPodmanPolicy)('podman\'s seccomp.json loads unchanged and runs a workload', async () => {
    const { report, code } = await runProbe(['--security-opt', `seccomp=${PODMAN}`], ['caps', 'syscall:fork', 'syscall:mount_tmpfs'], { as });
    expect(code).toBe(0);
    expect(report.caps.Seccomp).toBe(2);
    expect(report['syscall:fork'].ret).toBe(0);
    expect(report['syscall:mount_tmpfs'].errno).toBe(1);
  });

  it('unconfined only by explicit opt-in, and never under strict', async () => {
    const { report } = await runProbe(['--security-opt', 'seccomp=unconfined'], ['caps'], { as });
    expect(report.caps.Seccomp).toBe(0);
    const refused = await runCli(['exec', '--profile', 'strict', '--security-opt', 'seccomp=unconfined', 'host', '/bin/true'], { as });
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/profile strict refuses --security-opt seccomp=unconfined/);
  });

  it.skipIf(!hasScript)('strict: TIOCSTI is refused even on the workload\'s own terminal (stacked filter)', async () => {
    const p = await probe();
    // default policy: the workload may inject into its own pty (unless the kernel forbids TIOCSTI: EIO)
    const legacy = legacyTiocsti();
    const open = jsonIn(inTerminal(who, `${sandboxCommand()} exec -t -v ${p}:/probe host /probe tiocsti`).out);
    expect(open.tiocsti.fd0).toBe(legacy ? 0 : 5);
    const strict = jsonIn(inTerminal(who, `${sandboxCommand()} exec -t --profile strict -v ${p}:/probe host /probe tiocsti`).out);
    expect(strict.tiocsti.fd0).toBe(1); // EPERM from the filter
  });
});

describe('broken policies give exit 125 with the file and the JSON pointer', () => {
  const as = ROOT;
  const cases: [string, unknown, RegExp][] = [
    ['unknown-syscall', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'getppidd'], action: 'SCMP_ACT_ALLOW' }] },
      /unknown system call "getppidd" in seccomp policy .*unknown-syscall\.json at .*#\/syscalls\/0\/names\/1/],
    ['bad-op', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_ABOUT' }] }] },
      /\/syscalls\/0\/args\/0\/op: must be one of/],
    ['bad-action', { defaultAction: 'SCMP_ACT_MAYBE' }, /\/defaultAction: must be one of/],
    ['wrong-types', { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 'EPERM', syscalls: [{ names: 'read', action: 'SCMP_ACT_ALLOW' }] },
      /\/defaultErrnoRet: must be integer.*\/syscalls\/0\/names: must be array/],
    ['not-json', '{"defaultAction": ', /is not valid JSON/],
    ['notify', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_NOTIFY' }] }, /SCMP_ACT_NOTIFY at .*#\/syscalls\/0 needs a seccomp listener/],
  ];
  it.each(cases)('%s', async (name, policy, message) => {
    const file = policyFile(name, policy);
    const r = await runCli(['exec', '--security-opt', `seccomp=${file}`, 'host', '/bin/true'], { as });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/hint:/);
    const check = await runCli(['policy', 'check', file], { as });
    expect(check.code).toBe(125);
  });

  it('unknown policy names and security options', async () => {
    const r = await runCli(['exec', '--security-opt', 'seccomp=nope', 'host', '/bin/true'], { as });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/unknown seccomp policy "nope"/);
    const o = await runCli(['exec', '--security-opt', 'apparmor=x', 'host', '/bin/true'], { as });
    expect(o.code).toBe(125);
    expect(o.stderr).toMatch(/unknown security option "apparmor=x" \(--security-opt\)/);
  });
});

describe('sandbox policy', () => {
  const as = ROOT;
  it('ls, show, check, export', async () => {
    const ls = await runCli(['policy', 'ls'], { as });
    expect(ls.stdout.split('\n')).toEqual(expect.arrayContaining(['default', 'strict', 'unconfined']));
    const show = await runCli(['policy', 'show', 'strict'], { as });
    expect(JSON.parse(show.stdout).defaultAction).toBeDefined();
    const check = await runCli(['policy', 'check', 'strict'], { as });
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/architectures: x86_64\n/);
    expect(check.stdout).toMatch(/^rules: \d+/m);
    expect(check.stdout).toMatch(/^bpf: \d+ instructions/m);
    const pfc = await runCli(['policy', 'export', 'strict', '--format', 'pfc'], { as });
    expect(pfc.stdout).toContain('pseudo filter code start');
    const bpf = execFileSync(process.execPath, [join(REPO, 'bin', 'sandbox.cjs'), 'policy', 'export', 'default', '--format', 'bpf']);
    expect(bpf.length).toBeGreaterThan(0);
    expect(bpf.length % 8).toBe(0); // struct sock_filter[]
    expect(bpf.readUInt16LE(0)).toBe(0x20); // BPF_LD|BPF_W|BPF_ABS: load seccomp_data.arch first
    expect(bpf.readUInt32LE(4)).toBe(4);
  });
});
