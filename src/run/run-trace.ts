// Where the time of one run goes, phase by phase, for `--trace` and
// SANDBOX_TRACE=1 (and a library caller's `trace` callback): each phase is
// the time since the previous one ended, so the phases add up to the run.
// Must not: change what runs; costs one clock read per phase when on.
import type { StageStartTimes } from '../launch/stage-client.js';

/** The phases of a run, in the order they end. */
export const RUN_PHASES = [
  'host facts', 'image', 'uid slot', 'resolve', 'seccomp', 'resources', 'cgroup', 'plan',
  // the stage's own clock splits the time from its spawn to the workload's exec
  'stage spawn', 'stage id maps', 'stage namespaces', 'stage pid 1', 'stage root+exec',
  'workload', 'teardown',
] as const;
export type RunPhase = (typeof RUN_PHASES)[number];
export type TraceSink = (phase: RunPhase, ms: number) => void;

export interface PhaseClock {
  /** Reports the time since the last lap (or since the clock was made) as `phase`. */
  (phase: RunPhase): void;
  /** Reports the time since the last lap split at the stage's own marks (ms since the stage started). */
  stage(times: StageStartTimes): void;
}

/** A lap clock over `sink`; does nothing without one. */
export function phaseClock(sink: TraceSink | undefined): PhaseClock {
  let last = performance.now();
  const lap = ((phase: RunPhase) => {
    if (!sink) return;
    const now = performance.now();
    sink(phase, now - last);
    last = now;
  }) as PhaseClock;
  lap.stage = (t) => {
    if (!sink) return;
    const now = performance.now();
    // the stage's clock starts after its spawn: what comes before is spawning it and sending the plan
    const spawn = Math.max(0, now - last - t.execMs);
    sink('stage spawn', spawn);
    let prev = 0;
    const marks: [RunPhase, number | null][] = [['stage id maps', t.mapsMs], ['stage namespaces', t.namespacesMs], ['stage pid 1', t.pid1Ms], ['stage root+exec', t.execMs]];
    for (const [phase, at] of marks) {
      const end = at ?? prev; // a phase the plan did not have took no time
      sink(phase, Math.max(0, end - prev));
      prev = end;
    }
    last = now;
  };
  return lap;
}

/** One trace line on stderr: "sandbox: trace: resolve 1.23 ms". */
export function formatTraceLine(phase: string, ms: number): string {
  return `sandbox: trace: ${phase.padEnd(16)} ${ms.toFixed(2).padStart(8)} ms`;
}
