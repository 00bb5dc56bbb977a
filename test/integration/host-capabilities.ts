// What this host can do, probed outside any sandbox, so tests assert relative
// to the host and skip (with the reason printed) only what the host lacks.
// The system-call probes run the same static probe the tests run inside a
// sandbox; the rest ask the kernel the way the product does.
// Must not: change the host.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parseCgroupMounts } from '../../src/cgroup/parse-mountinfo.js';
import { probe, type Identity } from './harness.js';

/** A host capability: whether it is there, and if not, why (printed once, used as the skip reason). */
export interface HostCapability {
  readonly ok: boolean;
  readonly why: string;
}

const known = new Map<string, HostCapability>();
function capability(name: string, ok: boolean, why: string): HostCapability {
  if (!ok && !known.has(name)) console.warn(`host: ${name}: ${why}; the cases that need it are skipped`);
  known.set(name, { ok, why });
  return { ok, why };
}
/** Probes once per name and process. */
function cached(name: string, probeIt: () => HostCapability): HostCapability {
  return known.get(name) ?? probeIt();
}

/** One system call of the probe, run on the host itself: {ret, errno, signal}. */
export async function onHost(call: string): Promise<{ ret: number | null; errno: number | null; signal?: number }> {
  const r = spawnSync(await probe(), [`syscall:${call}`], { encoding: 'utf8' });
  return JSON.parse(r.stdout)[`syscall:${call}`];
}

const x64 = process.arch === 'x64';

/** i386 system calls through `int 0x80` (IA32 emulation): some kernels fault them with SIGSEGV. */
export async function i386Syscalls(): Promise<HostCapability> {
  if (!x64) return capability('i386 system calls', false, `not an x86_64 host (${process.arch})`);
  const r = await onHost('int80_getpid');
  return capability('i386 system calls', r.errno === 0 && !r.signal,
    r.signal ? `int 0x80 gets signal ${r.signal} outside any sandbox (the kernel runs no i386 system calls)` : `int 0x80 getpid fails outside any sandbox (errno ${r.errno})`);
}

/** x32 system calls (the x86_64 entry with bit 30 set): most kernels answer ENOSYS. */
export async function x32Syscalls(): Promise<HostCapability> {
  if (!x64) return capability('x32 system calls', false, `not an x86_64 host (${process.arch})`);
  const r = await onHost('x32_getpid');
  return capability('x32 system calls', r.errno === 0 && !r.signal, `an x32 getpid outside any sandbox gets ${r.signal ? `signal ${r.signal}` : `errno ${r.errno}`}`);
}

/** TIOCSTI on a terminal one owns: dev.tty.legacy_tiocsti=0 (Linux 6.2+) refuses it with EIO; older kernels have no switch. */
export function legacyTiocsti(): boolean {
  const file = '/proc/sys/dev/tty/legacy_tiocsti';
  return !existsSync(file) || readFileSync(file, 'utf8').trim() !== '0';
}

/** cgroup v1 with a memory hierarchy (hybrid or legacy), as the v1 backend needs. */
export function cgroupV1(): HostCapability {
  const mounts = parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
  const ok = mounts.top !== 'cgroup2' && mounts.mounts.some((m) => m.fstype === 'cgroup' && m.controllers.includes('memory'));
  return capability('cgroup v1', ok, `/sys/fs/cgroup is ${mounts.top ?? 'not mounted'}, not cgroup v1 with a memory controller`);
}

const asUser = (who: Identity) => (who.uid !== process.getuid?.() ? { uid: who.uid, gid: who.gid } : {});

/** A character device `who` can open read-write (/dev/net/tun for pasta and slirp4netns, /dev/fuse for fuse-overlayfs). */
export function deviceUsable(path: string, who: Identity): HostCapability {
  const name = `${path} for ${who.name}`;
  return cached(name, () => {
    const r = spawnSync('/bin/sh', ['-c', 'exec 3<>"$1"', 'sh', path], asUser(who));
    return capability(name, r.status === 0,
      existsSync(path) ? `${who.name} cannot open ${path} read-write (scripts/setup-host.sh makes it 0666)` : `${path} is missing`);
  });
}

/**
 * The kernel's overlayfs mounted by `who` inside a user namespace of its own
 * (Linux 5.11+, with userxattr), probed with util-linux's unshare.
 */
export function overlayInUserns(who: Identity): HostCapability {
  const name = `overlayfs in a user namespace for ${who.name}`;
  return cached(name, () => {
    const script = 'd=$(mktemp -d) && cd "$d" && mkdir l u w m && mount -t overlay overlay -o lowerdir=l,upperdir=u,workdir=w,userxattr m; s=$?; umount m 2>/dev/null; cd / && rm -rf "$d"; exit $s';
    const r = spawnSync('unshare', ['-Urm', '/bin/sh', '-c', script], { encoding: 'utf8', ...asUser(who), env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', TMPDIR: '/tmp' } });
    return capability(name, r.status === 0,
      `mounting overlayfs with userxattr in a new user namespace failed (${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}); the kernel needs 5.11+`);
  });
}
