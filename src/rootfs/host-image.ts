// The `host` image: what of the host's file system a toolchain needs, read
// once per run into plain data (HostImageLayout) for the pure planners.
// Must not: expose anything beyond /usr, the /bin-/lib* entries and the
// /etc entries listed here (never the caller's home, /var, /run, ...).
import { lstatSync, readdirSync, readlinkSync, type Dirent } from 'node:fs';

export type HostEntry =
  | { readonly path: string; readonly kind: 'dir' | 'file' }
  | { readonly path: string; readonly kind: 'symlink'; readonly target: string };

export interface HostImageLayout {
  /** /bin, /sbin, /lib* as the host has them: symlinks into /usr (merged /usr) or directories. */
  readonly rootEntries: readonly HostEntry[];
  /** The /etc entries toolchains need that exist on this host. */
  readonly etcEntries: readonly HostEntry[];
  readonly proc: ProcLayout;
  readonly sys: SysLayout;
}

/** Paths under /proc that exist on this kernel: masked files and directories, and read-only ones. */
export interface ProcLayout {
  readonly maskFiles: readonly string[];
  readonly maskDirs: readonly string[];
  readonly readOnly: readonly string[];
}

/** Directories under /sys that exist on this kernel and are masked in image runs (as podman does). */
export interface SysLayout {
  readonly maskDirs: readonly string[];
}

const ROOT_ENTRIES = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/** /etc files and directories that compilers, interpreters and TLS clients read. */
export const HOST_ETC_ENTRIES = [
  '/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/alternatives',
  '/etc/ssl', '/etc/ca-certificates', '/etc/ca-certificates.conf', '/etc/pki', '/etc/crypto-policies',
  '/etc/localtime', '/etc/timezone', '/etc/nsswitch.conf', '/etc/protocols', '/etc/services',
  '/etc/mime.types', '/etc/gai.conf', '/etc/host.conf', '/etc/os-release', '/etc/debian_version',
  '/etc/java-17-openjdk', '/etc/java-21-openjdk', '/etc/java-11-openjdk', '/etc/python3', '/etc/python3.11',
  '/etc/python3.12', '/etc/perl', '/etc/gcc', '/etc/fonts', '/etc/magic', '/etc/inputrc', '/etc/bash.bashrc',
  '/etc/environment', '/etc/login.defs',
];

/** Masked like runc/podman do: read-only kernel interfaces and information leaks. */
const PROC_MASKED_FILES = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/proc/latency_stats'];
const PROC_MASKED_DIRS = ['/proc/acpi', '/proc/asound', '/proc/scsi'];
/** podman's masked /sys directories: firmware tables, power capping, SELinux, block devices by number. */
const SYS_MASKED_DIRS = ['/sys/firmware', '/sys/devices/virtual/powercap', '/sys/fs/selinux', '/sys/dev/block'];
/** Kernel tunables and triggers the workload may read but never write. */
const PROC_READ_ONLY = ['/proc/sys', '/proc/sysrq-trigger', '/proc/irq', '/proc/bus', '/proc/fs'];

function entry(path: string): HostEntry | null {
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return { path, kind: 'symlink', target: readlinkSync(path) };
    if (st.isDirectory()) return { path, kind: 'dir' };
    if (st.isFile()) return { path, kind: 'file' };
  } catch {
    /* absent */
  }
  return null;
}

function existing(paths: readonly string[]): HostEntry[] {
  return paths.map(entry).filter((e): e is HostEntry => e !== null);
}

/** The wanted entries of one directory, from a single listing (cheaper than a stat each). */
function listed(dir: string, wanted: readonly string[]): HostEntry[] {
  let dirents: Dirent[];
  try {
    dirents = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const byName = new Map(dirents.map((d) => [d.name, d]));
  const prefix = dir === '/' ? '/' : `${dir}/`;
  const out: HostEntry[] = [];
  for (const path of wanted) {
    const d = byName.get(path.slice(prefix.length));
    if (!d) continue;
    if (d.isSymbolicLink()) out.push({ path, kind: 'symlink', target: readlinkSync(path) });
    else if (d.isDirectory()) out.push({ path, kind: 'dir' });
    else if (d.isFile()) out.push({ path, kind: 'file' });
    else { const e = entry(path); if (e) out.push(e); } // DT_UNKNOWN on some file systems
  }
  return out;
}

export function probeHostImage(): HostImageLayout {
  return {
    rootEntries: listed('/', ROOT_ENTRIES),
    etcEntries: listed('/etc', HOST_ETC_ENTRIES),
    proc: {
      maskFiles: existing(PROC_MASKED_FILES).map((e) => e.path),
      maskDirs: existing(PROC_MASKED_DIRS).map((e) => e.path),
      readOnly: existing(PROC_READ_ONLY).map((e) => e.path),
    },
    sys: { maskDirs: existing(SYS_MASKED_DIRS).map((e) => e.path) },
  };
}
