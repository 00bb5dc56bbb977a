// Where the time of one run goes, phase by phase, for `--trace` and
// SANDBOX_TRACE=1 (and a library caller's `trace` callback): each phase is
// the time since the previous one ended, so the phases add up to the run.
// Must not: change what runs; costs one clock read per phase when on.

/** The phases of a run, in the order they end. */
export const RUN_PHASES = [
  'host facts', 'image', 'uid slot', 'resolve', 'seccomp', 'resources', 'cgroup', 'plan',
  'stage to exec', 'workload', 'teardown',
] as const;
export type RunPhase = (typeof RUN_PHASES)[number];
export type TraceSink = (phase: RunPhase, ms: number) => void;

/** A lap clock: `lap(phase)` reports the time since the last lap (or since it was made) to `sink`. */
export function phaseClock(sink: TraceSink | undefined): (phase: RunPhase) => void {
  if (!sink) return () => {};
  let last = performance.now();
  return (phase) => {
    const now = performance.now();
    sink(phase, now - last);
    last = now;
  };
}

/** One trace line on stderr: "sandbox: trace: resolve 1.23 ms". */
export function formatTraceLine(phase: string, ms: number): string {
  return `sandbox: trace: ${phase.padEnd(14)} ${ms.toFixed(2).padStart(8)} ms`;
}
