// isolate's meta file (key:value lines), so judge code written for isolate
// reads our results unchanged: the keys, their order and the messages are
// isolate 2.x's, and nothing of our own (some clients fail on an unknown
// key). isolate knows four statuses: RE, SG, TO (CPU or wall time), XX; a
// memory kill is SG 9 with cg-oom-killed, a file-size kill SG 25.
import { constants } from 'node:os';
import type { RunResult } from './run-result.js';

export interface MetaOptions {
  /** Write cg-mem (and cg-oom-killed): isolate does with --cg. Default: when a cgroup held the run. */
  readonly cgroupKeys?: boolean;
  /** The program could not be executed: isolate 2.x reports RE with exit code 127. Default: as the result says (XX). */
  readonly execFailureAsExit127?: boolean;
  /** The run was ended because the isolate process got this signal (number): isolate's SG "Interrupted". */
  readonly interruptedBy?: number;
}

export type IsolateStatus = 'RE' | 'SG' | 'TO' | 'XX' | null;

/** isolate's verdict of a result and its message (the status line it prints on stderr); null status: OK. */
export function isolateVerdict(r: RunResult, options: MetaOptions = {}): { status: IsolateStatus; message: string; exitcode?: number; exitsig?: number } {
  if (options.interruptedBy !== undefined) return { status: 'SG', message: 'Interrupted', exitsig: options.interruptedBy };
  if (r.status === 'TLE') return { status: 'TO', message: 'Time limit exceeded', ...ending(r) };
  if (r.status === 'WLE') return { status: 'TO', message: 'Time limit exceeded (wall clock)', ...ending(r) };
  if (r.status === 'XX') {
    if (options.execFailureAsExit127 && (r.exitCode === 126 || r.exitCode === 127)) {
      return { status: 'RE', message: 'Exited with error status 127', exitcode: 127 };
    }
    return { status: 'XX', message: (r.error?.message ?? 'Internal error of the sandbox').replace(/\s*\n\s*/g, ' ').trim() };
  }
  const end = ending(r);
  if (end.exitsig !== undefined) return { status: 'SG', message: `Caught fatal signal ${end.exitsig}`, ...end };
  if (end.exitcode !== 0) return { status: 'RE', message: `Exited with error status ${end.exitcode}`, ...end };
  return { status: null, message: '', ...end };
}

function ending(r: RunResult): { exitcode?: number; exitsig?: number } {
  if (r.signal !== null) return { exitsig: constants.signals[r.signal as NodeJS.Signals] ?? r.exitCode - 128 };
  return { exitcode: r.exitCode };
}

export function formatMeta(r: RunResult, options: MetaOptions = {}): string {
  const lines: [string, string | number][] = [
    ['time', (r.cpuTimeMs.total / 1000).toFixed(3)],
    ['time-wall', (r.wallTimeMs / 1000).toFixed(3)],
    ['max-rss', r.peakMemoryKiB],
    ['csw-voluntary', r.contextSwitches.voluntary],
    ['csw-forced', r.contextSwitches.involuntary],
  ];
  if (options.cgroupKeys ?? r.limits.backend !== 'none') {
    lines.push(['cg-mem', r.peakMemoryKiB]);
    if (r.oomKilled) lines.push(['cg-oom-killed', 1]);
  }
  const v = isolateVerdict(r, options);
  if (v.exitcode !== undefined) lines.push(['exitcode', v.exitcode]);
  if (v.exitsig !== undefined) lines.push(['exitsig', v.exitsig]);
  if (r.limits.killedBy || options.interruptedBy !== undefined) lines.push(['killed', 1]);
  if (v.status) lines.push(['status', v.status]);
  if (v.message) lines.push(['message', v.message]);
  return lines.map(([k, v]) => `${k}:${v}\n`).join('');
}
