// The shipped seccomp policies (policies/strict.json, policies/default.json)
// with real workloads, through the real CLI, as root and as the unprivileged
// test user: compilers and language runtimes work under strict, and what
// strict refuses fails with the errno it names (or kills, for the i386 entry).
// The programs are in ./programs, bound read-only at /src; they build in the
// sandbox's /tmp.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IDENTITIES, ROOT, runCli, runProbe, type CliResult, type Identity } from './harness.js';
import { i386Syscalls, onHost } from './host-capabilities.js';

const SOURCES = join(import.meta.dirname, 'programs');

// A world-readable copy, so that the test user can bind it wherever the checkout is.
const programs = mkdtempSync(join(tmpdir(), 'sandbox-programs-'));
cpSync(SOURCES, programs, { recursive: true });
chmodSync(programs, 0o755);
for (const f of readdirSync(programs)) chmodSync(join(programs, f), 0o644);
afterAll(() => rmSync(programs, { recursive: true, force: true }));

const source = (name: string) => readFileSync(join(SOURCES, name), 'utf8');

/** A host tool the sandbox's host image can see (it binds /usr, /bin, /sbin, /lib*). */
function hostTool(name: string): string | null {
  const r = spawnSync('/bin/sh', ['-c', `command -v ${name}`], { encoding: 'utf8', env: { PATH: '/usr/local/bin:/usr/bin:/bin' } });
  const path = r.status === 0 ? r.stdout.trim() : '';
  return /^\/(usr|bin|sbin)\//.test(path) ? path : null;
}

const hasJava = hostTool('javac') !== null && hostTool('java') !== null;
if (!hasJava) console.warn('seccomp-programs: the Java case is skipped: javac/java are not installed under /usr (Debian: openjdk-17-jdk-headless)');
const go = hostTool('go');
if (!go) console.warn('seccomp-programs: the Go case is skipped: go is not installed under /usr (Debian: golang-go)');

const EPERM = 1;
const ENOSYS = 38;
const SIGSYS = 31;
const isX64 = process.arch === 'x64';
// some kernels fault an i386 `int 0x80` before any filter sees it (SIGSEGV outside any sandbox too)
const i386 = await i386Syscalls();

/** Runs CMD under the strict profile with the programs at /src and /tmp as working directory. */
function strict(as: Identity, cmd: readonly string[], opts: { env?: readonly string[]; timeoutMs?: number } = {}): Promise<CliResult> {
  const env = (opts.env ?? []).flatMap((e) => ['-e', e]);
  return runCli(['exec', '--profile', 'strict', '-v', `${programs}:/src`, '-w', '/tmp', ...env, 'host', ...cmd], {
    as, timeoutMs: opts.timeoutMs ?? 60_000,
  });
}

/** Exit 0 and the expected line; on failure the message shows what the workload printed. */
function expectOk(r: CliResult, line: string | RegExp): void {
  const shown = `exit ${r.code}, signal ${r.signal}\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}`;
  expect(r.code, shown).toBe(0);
  if (typeof line === 'string') expect(r.stdout.split('\n'), shown).toContain(line);
  else expect(r.stdout, shown).toMatch(line);
}

/** "NAME RET ERRNO" lines of programs/edge-calls.c. */
function edgeCalls(stdout: string): Record<string, { ret: number; errno: number }> {
  const out: Record<string, { ret: number; errno: number }> = {};
  for (const line of stdout.trim().split('\n')) {
    const [name, ret, errno] = line.split(' ');
    if (name) out[name] = { ret: Number(ret), errno: Number(errno) };
  }
  return out;
}

const EDGE_CALLS = ['clone3', 'tiocsti_high', 'socket_vsock', 'socket_vsock_high', 'socket_inet_high'];
const buildAndRunEdgeCalls = `gcc -O2 -o /tmp/edge-calls /src/edge-calls.c && /tmp/edge-calls ${EDGE_CALLS.join(' ')}`;

describe.each(IDENTITIES)('programs under the strict policy as $name', (who) => {
  const as = who;

  it('gcc compiles and runs a C program (fork, exec, pipe)', async () => {
    const r = await strict(as, ['/bin/sh', '-c', 'gcc -O2 -Wall -o /tmp/hello /src/hello.c && /tmp/hello']);
    expectOk(r, 'c: ok (from child)');
  });

  it('g++ compiles and runs a C++ program with std::thread and iostream', async () => {
    const r = await strict(as, ['/bin/sh', '-c', 'g++ -O2 -pthread -o /tmp/threads /src/threads.cpp && /tmp/threads']);
    expectOk(r, 'c++: ok (4 threads, sum 10)');
  });

  it('python3 -c with threads, subprocess and an AF_UNIX socket pair', async () => {
    const r = await strict(as, ['python3', '-c', source('check.py')]);
    expectOk(r, 'python: ok (4 threads, from child, ping)');
  });

  it('node -e with fs, a worker thread, child_process and crypto', async () => {
    const r = await strict(as, ['node', '-e', source('check.js')]);
    expectOk(r, 'node: ok (worker 42, sha256 ba7816bf, 16 random bytes)');
  });

  it.skipIf(!hasJava)('javac compiles and java runs a program with a thread', async () => {
    const r = await strict(as, ['/bin/sh', '-c', 'javac -d /tmp/classes /src/Check.java && java -cp /tmp/classes Check'], { timeoutMs: 120_000 });
    expectOk(r, /^java: ok \(thread 42, \d+ cpus\)$/m);
  }, 150_000);

  it.skipIf(!go)('go runs a program with goroutines and a child process', async () => {
    const r = await strict(as, [go!, 'run', '/src/hello.go'], {
      env: ['GOCACHE=/tmp/go-cache', 'GOPATH=/tmp/go', 'GOTOOLCHAIN=local', 'CGO_ENABLED=0'], timeoutMs: 180_000,
    });
    expectOk(r, 'go: ok (sum 10, from child)');
  }, 200_000);
});

describe.each(IDENTITIES)('system calls under the strict policy as $name', (who) => {
  const as = who;

  it('refuses namespaces, mounts, tracing, keyrings, bpf, perf, userfaultfd, io_uring, other personalities and sockets with EPERM', async () => {
    const refused = [
      'unshare_user', 'unshare_ns', 'clone_newuser', 'mount_tmpfs', 'ptrace_traceme', 'keyctl', 'bpf', 'perf_event_open',
      'userfaultfd', 'io_uring_setup', 'personality_linux32', 'socket_inet', 'socket_netlink', 'chroot', 'sethostname',
    ];
    const { report, code } = await runProbe(['--profile', 'strict'], ['caps', ...refused.map((n) => `syscall:${n}`)], { as });
    expect(code).toBe(0);
    expect(report.caps.Seccomp).toBe(2);
    expect(report.caps.Seccomp_filters).toBeGreaterThanOrEqual(1);
    for (const name of refused) expect({ name, ...report[`syscall:${name}`] }).toMatchObject({ name, ret: -1, errno: EPERM });
  });

  it('the filter, not the kernel, refuses them: without it the same calls succeed', async () => {
    const allowedByKernel = ['unshare_user', 'clone_newuser', 'personality_linux32', 'socket_inet', 'socket_netlink'];
    const { report } = await runProbe(['--security-opt', 'seccomp=unconfined'], allowedByKernel.map((n) => `syscall:${n}`), { as });
    for (const name of allowedByKernel) expect({ name, ...report[`syscall:${name}`] }).toMatchObject({ name, errno: 0 });
  });

  it('allows AF_UNIX sockets, fork and threads', async () => {
    const { report } = await runProbe(['--profile', 'strict'], ['syscall:socket_unix', 'syscall:fork', 'syscall:thread'], { as });
    expect(report['syscall:socket_unix'].ret).toBeGreaterThanOrEqual(0);
    expect(report['syscall:fork']).toMatchObject({ ret: 0, errno: 0 });
    expect(report['syscall:thread']).toMatchObject({ ret: 0, errno: 0 });
  });

  it.skipIf(!i386.ok)('kills an i386 system call (int 0x80) with SIGSYS: only x86_64 is allowed', async () => {
    const { report } = await runProbe(['--profile', 'strict'], ['syscall:int80_getpid'], { as });
    expect(report['syscall:int80_getpid']).toEqual({ ret: null, errno: null, signal: SIGSYS });
  });

  // the filter sees an x32 call (bit 30 of the number) before the kernel decides whether it runs x32 at all,
  // so this shows the architecture check on every x86_64 host
  it.skipIf(!isX64)('kills an x32 system call with SIGSYS, whatever the host does with it', async () => {
    const host = await onHost('x32_getpid');
    expect(host.signal ?? null, 'the host itself kills x32 calls: nothing to compare').toBeNull();
    const { report } = await runProbe(['--profile', 'strict'], ['syscall:x32_getpid'], { as });
    expect(report['syscall:x32_getpid']).toEqual({ ret: null, errno: null, signal: SIGSYS });
  });

  it('clone3 gets ENOSYS; garbage in the upper 32 bits neither bypasses a denial nor passes an allow rule', async () => {
    const r = await strict(as, ['/bin/sh', '-c', buildAndRunEdgeCalls]);
    expectOk(r, /^clone3 /m);
    expect(edgeCalls(r.stdout)).toEqual({
      clone3: { ret: -1, errno: ENOSYS },
      tiocsti_high: { ret: -1, errno: EPERM }, // TIOCSTI | 1 << 32
      socket_vsock: { ret: -1, errno: EPERM },
      socket_vsock_high: { ret: -1, errno: EPERM },
      socket_inet_high: { ret: -1, errno: EPERM }, // AF_INET | 1 << 32 is not "AF_UNIX"
    });
  });
});

describe.each(IDENTITIES)('system calls under the default policy as $name', (who) => {
  const as = who;

  it('allows what Docker allows: inet and netlink sockets, PER_LINUX32, tracing itself', async () => {
    const { report, code } = await runProbe([], [
      'caps', 'syscall:socket_inet', 'syscall:socket_netlink', 'syscall:socket_unix', 'syscall:personality_linux32',
      'syscall:ptrace_traceme', 'syscall:fork', 'syscall:thread',
    ], { as });
    expect(code).toBe(0);
    expect(report.caps.Seccomp).toBe(2);
    for (const name of ['socket_inet', 'socket_netlink', 'socket_unix']) expect(report[`syscall:${name}`].ret, name).toBeGreaterThanOrEqual(0);
    for (const name of ['personality_linux32', 'ptrace_traceme', 'fork', 'thread']) expect({ name, ...report[`syscall:${name}`] }).toMatchObject({ name, errno: 0 });
  });

  it.skipIf(!i386.ok)('allows i386 system calls (int 0x80), as Docker does', async () => {
    const { report } = await runProbe([], ['syscall:int80_getpid'], { as });
    expect(report['syscall:int80_getpid']).toMatchObject({ errno: 0, ret: expect.any(Number) });
    expect(report['syscall:int80_getpid'].ret).toBeGreaterThan(1); // a pid inside the sandbox
  });

  it.skipIf(!isX64)('passes x32 system calls to the kernel, which answers as it does outside', async () => {
    const host = await onHost('x32_getpid');
    const { report } = await runProbe([], ['syscall:x32_getpid'], { as });
    if (host.errno === 0) expect(report['syscall:x32_getpid'].ret).toBeGreaterThan(1);
    else expect(report['syscall:x32_getpid']).toMatchObject({ ret: -1, errno: host.errno });
  });

  it('refuses what needs a capability the workload does not hold with EPERM, not the default ENOSYS', async () => {
    const refused = ['unshare_user', 'unshare_ns', 'clone_newuser', 'mount_tmpfs', 'keyctl', 'bpf', 'perf_event_open', 'userfaultfd', 'io_uring_setup', 'sethostname'];
    const { report } = await runProbe([], refused.map((n) => `syscall:${n}`), { as });
    for (const name of refused) expect({ name, ...report[`syscall:${name}`] }).toMatchObject({ name, ret: -1, errno: EPERM });
  });

  // includes.caps / excludes.caps are read against the run's own set: the policy allows what a capability is for only while it is held
  it('chroot passes with CAP_SYS_CHROOT (podman\'s set) and is refused without it; sethostname only with --cap-add SYS_ADMIN', async () => {
    const calls = ['caps', 'syscall:chroot', 'syscall:sethostname'];
    const held = (await runProbe([], calls, { as })).report;
    expect(BigInt(`0x${held.caps.CapEff}`) & (1n << 18n)).toBe(1n << 18n);
    expect(held['syscall:chroot']).toMatchObject({ ret: 0, errno: 0 });
    const dropped = (await runProbe(['--cap-drop', 'SYS_CHROOT'], calls, { as })).report;
    expect(dropped['syscall:chroot']).toMatchObject({ ret: -1, errno: EPERM });
    const admin = (await runProbe(['--cap-add', 'SYS_ADMIN'], calls, { as })).report;
    expect(admin['syscall:sethostname']).toMatchObject({ ret: 0, errno: 0 }); // its own uts namespace
  });

  it('clone3 gets ENOSYS, AF_VSOCK is refused even with garbage in the upper 32 bits, TIOCSTI is not filtered', async () => {
    const r = await runCli(['exec', '-v', `${programs}:/src`, '-w', '/tmp', 'host', '/bin/sh', '-c', buildAndRunEdgeCalls], { as, timeoutMs: 60_000 });
    expectOk(r, /^clone3 /m);
    expect(edgeCalls(r.stdout)).toEqual({
      clone3: { ret: -1, errno: ENOSYS },
      tiocsti_high: { ret: -1, errno: 25 }, // ENOTTY: stdin is not a terminal; the kernel answers, not the filter
      socket_vsock: { ret: -1, errno: EPERM },
      socket_vsock_high: { ret: -1, errno: EPERM },
      socket_inet_high: { ret: expect.any(Number), errno: 0 }, // the kernel reads AF_INET
    });
  });
});

describe('the architectures the shipped policies admit, on the compiled filter', () => {
  /** libseccomp's PFC export of a policy: the first program's arch blocks and its action for any other arch. */
  async function arches(policy: string): Promise<{ arches: string[]; otherArch: string }> {
    const r = await runCli(['policy', 'export', '--format', 'pfc', policy], { as: ROOT });
    expect(r.code, r.stderr).toBe(0);
    const first = r.stdout.split('# pseudo filter code end')[0]!;
    return {
      arches: [...first.matchAll(/^# filter for arch (\S+) /gm)].map((m) => m[1]!),
      otherArch: /# invalid architecture action\naction (\S+);/.exec(first)?.[1] ?? 'none',
    };
  }

  // shown on the BPF itself, so it holds on hosts that cannot run the i386 case
  it.skipIf(!isX64)('strict admits only x86_64 and kills a process of any other architecture (i386 included)', async () => {
    expect(await arches('strict')).toEqual({ arches: ['x86_64'], otherArch: 'KILL_PROCESS' });
  });

  it.skipIf(!isX64)('default admits x86_64, x86 and x32, as Docker\'s profile does', async () => {
    expect((await arches('default')).arches).toEqual(['x86_64', 'x86', 'x32']);
  });
});

describe('the strict policy compiled for a sandbox with a network', () => {
  /** The PFC block of libseccomp's export for socket(2). */
  async function socketRules(network: boolean): Promise<string> {
    const r = await runCli(['policy', 'export', '--format', 'pfc', ...(network ? ['--network'] : []), 'strict'], { as: ROOT });
    expect(r.code, r.stderr).toBe(0);
    const block = /# filter for syscall "socket" \(\d+\)[^\n]*\n((?:[^#\n]*\n)+)/.exec(r.stdout);
    expect(block, 'no socket rule in the export').not.toBeNull();
    return block![1]!;
  }

  it('adds AF_INET and AF_INET6 only with a network; AF_UNIX always', async () => {
    const none = await socketRules(false);
    const net = await socketRules(true);
    expect(none).toMatch(/\$a0\.lo32 == 1\b/);
    expect(none).not.toMatch(/\$a0\.lo32 == (2|10)\b/);
    expect(net).toMatch(/\$a0\.lo32 == 1\b/);
    expect(net).toMatch(/\$a0\.lo32 == 2\b/);
    expect(net).toMatch(/\$a0\.lo32 == 10\b/);
  });
});
