// isolate's meta file (key:value lines), so judge code written for isolate
// reads our results unchanged. isolate's statuses: RE, SG, TO (time), XX;
// memory and output verdicts show as their signal or exit code, with
// cg-oom-killed and the message telling them apart.
import type { RunResult } from './run-result.js';

const MESSAGES: Record<RunResult['status'], string> = {
  OK: '', RE: 'Exited with error status', SG: 'Caught fatal signal', TLE: 'Time limit exceeded',
  WLE: 'Time limit exceeded (wall clock)', MLE: 'Memory limit exceeded', OLE: 'Output limit exceeded', XX: 'Internal error of the sandbox',
};

export function formatMeta(r: RunResult): string {
  const lines: [string, string | number][] = [
    ['time', (r.cpuTimeMs.total / 1000).toFixed(3)],
    ['time-wall', (r.wallTimeMs / 1000).toFixed(3)],
    ['max-rss', r.peakMemoryKiB],
    ['csw-voluntary', r.contextSwitches.voluntary],
    ['csw-forced', r.contextSwitches.involuntary],
  ];
  if (r.limits.backend !== 'none') lines.push(['cg-mem', r.peakMemoryKiB]);
  if (r.oomKilled) lines.push(['cg-oom-killed', 1]);
  const signaled = r.signal !== null;
  if (!signaled && r.status !== 'XX') lines.push(['exitcode', r.exitCode]);
  if (signaled) lines.push(['exitsig', r.exitCode - 128]);
  if (r.limits.killedBy) lines.push(['killed', 1]);
  const status = r.status === 'TLE' || r.status === 'WLE' ? 'TO'
    : r.status === 'XX' ? 'XX'
    : r.status === 'OK' ? null
    : signaled ? 'SG' : 'RE';
  if (status) lines.push(['status', status]);
  const message = r.status === 'XX' ? r.error?.message ?? MESSAGES.XX : MESSAGES[r.status];
  if (message) lines.push(['message', message.replace(/\n/g, ' ')]);
  return lines.map(([k, v]) => `${k}:${v}\n`).join('');
}
