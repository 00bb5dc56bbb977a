// cgroup/cgroup-files: the formats of the cgroup v1 and v2 files this module
// reads and writes (flat keyed counters, single numbers, pid lists, controller
// lists, limit values), as pure functions over text.
// Must not: read or write files; callers do the I/O.

/** "key value" lines (memory.events, cpu.stat, memory.oom_control, cgroup.events) into numbers. */
export function parseKeyedCounters(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(-?\d+)\s*$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** A file holding one non-negative integer (memory.peak, cpuacct.usage, ...); null for "max", empty or junk. */
export function parseCounter(text: string): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}

/** cgroup.procs: one pid per line. */
export function parsePidList(text: string): number[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => /^\d+$/.test(l)).map(Number);
}

/** cgroup.controllers / cgroup.subtree_control: space-separated names. */
export function parseControllerList(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

/** Controllers of `wanted` missing from `have`, in wanted's order. */
export function missingControllers(have: readonly string[] | null, wanted: readonly string[]): string[] {
  return wanted.filter((c) => !(have ?? []).includes(c));
}

/** The cgroup.subtree_control line that enables `controllers` ("+memory +pids"). */
export function formatSubtreeControl(controllers: readonly string[]): string {
  return controllers.map((c) => `+${c}`).join(' ');
}

/** A limit value as the kernel wants it (decimal, no unit); refuses what is not a non-negative safe integer. */
export function formatLimit(value: number, what: string): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative integer, got ${value}`);
  return String(value);
}

/** cgroup.events (v2): whether any process is left in the cgroup or below it. */
export function isPopulated(eventsText: string): boolean {
  return (parseKeyedCounters(eventsText).get('populated') ?? 0) > 0;
}

/** v2 cpu.stat: usage_usec, or null without it. */
export function readCpuStatUsec(cpuStat: string): number | null {
  return parseKeyedCounters(cpuStat).get('usage_usec') ?? null;
}

/** v2 memory.events: the OOM killer killed something in the cgroup. */
export function readOomKilledV2(memoryEvents: string): boolean {
  return (parseKeyedCounters(memoryEvents).get('oom_kill') ?? 0) > 0;
}

/**
 * v1: the OOM killer killed something in the cgroup. memory.oom_control has an
 * "oom_kill N" line since linux 4.13. Older kernels only have memory.failcnt
 * (how often usage hit the limit), which also counts hits that reclaim
 * resolved, so it can report an OOM kill that did not happen; it is only the
 * fallback when the oom_kill line is absent.
 */
export function readOomKilledV1(oomControl: string | null, failcnt: string | null): boolean {
  const kills = oomControl === null ? undefined : parseKeyedCounters(oomControl).get('oom_kill');
  if (kills !== undefined) return kills > 0;
  return (parseCounter(failcnt ?? '') ?? 0) > 0;
}

/** v1 cpuacct.usage is in nanoseconds; results and limits are in microseconds. */
export function cpuacctToUsec(usage: string): number | null {
  const ns = parseCounter(usage);
  return ns === null ? null : Math.floor(ns / 1000);
}
