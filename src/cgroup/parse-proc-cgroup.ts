// cgroup/parse-proc-cgroup: the text of /proc/PID/cgroup ("4:memory:/a/b",
// "0::/user.slice/...") as data: which cgroup a process is in, per hierarchy.
// Must not: read files (the caller passes the text).

export interface ProcCgroupLine {
  /** Hierarchy id; 0 is the unified (v2) hierarchy. */
  readonly id: number;
  /** v1 controllers of the hierarchy ("cpu,cpuacct"), "name=systemd" kept as is; empty for v2. */
  readonly controllers: readonly string[];
  /** Path of the cgroup, relative to the cgroup namespace's root. */
  readonly path: string;
}

export function parseProcCgroup(text: string): ProcCgroupLine[] {
  const lines: ProcCgroupLine[] = [];
  for (const raw of text.split('\n')) {
    // the path may itself contain ':', so split only at the first two
    const a = raw.indexOf(':');
    const b = a < 0 ? -1 : raw.indexOf(':', a + 1);
    if (b < 0) continue;
    const id = Number(raw.slice(0, a));
    const path = raw.slice(b + 1);
    if (!Number.isInteger(id) || !path.startsWith('/')) continue;
    lines.push({ id, controllers: raw.slice(a + 1, b).split(',').filter(Boolean), path });
  }
  return lines;
}

/** The unified-hierarchy path ("0::/..."), or null without one. */
export function findUnifiedPath(lines: readonly ProcCgroupLine[]): string | null {
  return lines.find((l) => l.id === 0 && l.controllers.length === 0)?.path ?? null;
}

/** The path in the v1 hierarchy that has `controller`, or null. */
export function findV1Path(lines: readonly ProcCgroupLine[], controller: string): string | null {
  return lines.find((l) => l.id !== 0 && l.controllers.includes(controller))?.path ?? null;
}

/** Parent of a cgroup path ("/a/b" -> "/a", "/a" -> "/"); null for the root. */
export function parentCgroupPath(path: string): string | null {
  if (path === '/' || path === '') return null;
  const cut = path.replace(/\/+$/, '').lastIndexOf('/');
  return cut <= 0 ? '/' : path.slice(0, cut);
}

/** Last component of a cgroup path ("" for the root). */
export function cgroupBaseName(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}
