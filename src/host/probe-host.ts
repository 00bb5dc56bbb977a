// host/: reads facts about this machine and the caller into plain data
// (HostFacts), so that resolve/ can stay pure and unit-testable.
// Must not: decide anything or change the host.
import { accessSync, constants, statSync } from 'node:fs';
import { release, userInfo } from 'node:os';
import { readSubIds, type SubIdRange } from './subid.js';

export interface HostFacts {
  readonly uid: number;
  readonly gid: number;
  /** The caller's login name, if the passwd database has one. */
  readonly userName: string | null;
  /** The caller's first /etc/subuid and /etc/subgid ranges, if any. */
  readonly subuid: SubIdRange | null;
  readonly subgid: SubIdRange | null;
  /** Absolute paths of newuidmap/newgidmap if installed. */
  readonly newuidmap: string | null;
  readonly newgidmap: string | null;
  /** Node's name for the CPU architecture (x64, arm64, ...). */
  readonly arch: string;
  /** The kernel release (os.release(): "6.1.0-18-amd64"). */
  readonly kernel: string;
  /** Absolute paths of the network helpers found in the caller's PATH, if installed. */
  readonly pasta: string | null;
  readonly slirp4netns: string | null;
}

const TOOL_DIRS = ['/usr/bin', '/usr/sbin', '/bin', '/sbin'];

export function findTool(name: string): string | null {
  for (const dir of TOOL_DIRS) {
    const p = `${dir}/${name}`;
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/**
 * A program in the caller's PATH (the standard directories without one): the
 * network helpers run as the caller, so the caller chooses which, as with podman.
 */
export function findInPath(name: string, path = process.env.PATH): string | null {
  const dirs = path === undefined ? TOOL_DIRS : path.split(':').filter((d) => d.startsWith('/'));
  for (const dir of dirs) {
    const p = `${dir}/${name}`;
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/** The subid files; tests of the pure code pass their own facts instead. */
export const SUBUID_FILE = '/etc/subuid';
export const SUBGID_FILE = '/etc/subgid';

/** The machine a filter is compiled for: CPU architecture and kernel release. */
export function machineFacts(): { readonly arch: string; readonly kernel: string } {
  return { arch: process.arch, kernel: release() };
}

/** What the facts depend on, read cheaply: a change of any of them probes again. */
function factsKey(): string {
  const sig = (file: string) => {
    try {
      const st = statSync(file, { bigint: true });
      return `${st.ino}:${st.size}:${st.mtimeNs}`;
    } catch {
      return '-';
    }
  };
  return [process.getuid?.(), process.getgid?.(), process.env.PATH, sig(SUBUID_FILE), sig(SUBGID_FILE), sig('/etc/passwd'), sig('/usr/bin/newuidmap'), sig('/usr/bin/pasta')].join('|');
}

let cached: { key: string; facts: HostFacts } | undefined;

/**
 * The caller's facts. A long-lived process (the library, `sandbox serve`)
 * probes once and again only when what they come from changes (its ids, PATH,
 * /etc/subuid, /etc/subgid, /etc/passwd): a few stats instead of reading and
 * searching on every run.
 */
export function probeHost(): HostFacts {
  const key = factsKey();
  if (cached?.key === key) return cached.facts;
  const facts = Object.freeze(probeHostNow());
  cached = { key, facts };
  return facts;
}

function probeHostNow(): HostFacts {
  const uid = process.getuid?.() ?? -1;
  const gid = process.getgid?.() ?? -1;
  let userName: string | null = null;
  try {
    userName = userInfo().username;
  } catch {
    /* no passwd entry: ranges can only match by numeric id */
  }
  const who = { name: userName, id: uid };
  return {
    uid,
    gid,
    userName,
    subuid: readSubIds(SUBUID_FILE, who)[0] ?? null,
    subgid: readSubIds(SUBGID_FILE, who)[0] ?? null,
    newuidmap: findTool('newuidmap'),
    newgidmap: findTool('newgidmap'),
    ...machineFacts(),
    pasta: findInPath('pasta'),
    slirp4netns: findInPath('slirp4netns'),
  };
}

/** Whether the caller may access a host path with `mode` (constants.R_OK, ...). */
export function canAccess(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

/** Whether a host path exists (following symlinks). */
export function hostPathExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
