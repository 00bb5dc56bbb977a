// -t gives the workload its own pseudo-terminal; without -t the workload has
// no controlling terminal and cannot push input into the caller's (TIOCSTI).
// The caller's terminal is a real pty made by script(1).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IDENTITIES, cliEnv, packageForUsers, probe, type Identity } from './harness.js';

const hasScript = spawnSync('script', ['--version']).status === 0;
if (!hasScript) console.warn('tty tests skipped: script(1) from util-linux is missing');

/** Runs a shell command line inside a fresh pty (script -q -e -c). */
function inTerminal(who: Identity, commandLine: string, input = ''): { code: number | null; out: string } {
  const r = spawnSync('script', ['-q', '-e', '-c', commandLine, '/dev/null'], {
    cwd: '/tmp', env: cliEnv(who, { TERM: 'xterm' }), input, encoding: 'utf8', timeout: 20_000,
    ...(who.uid !== process.getuid?.() ? { uid: who.uid, gid: who.gid } : {}),
  });
  return { code: r.status, out: r.stdout.replace(/\r/g, '') };
}

function jsonIn(out: string): any {
  const start = out.indexOf('{');
  return JSON.parse(out.slice(start, out.lastIndexOf('}') + 1));
}

describe.skipIf(!hasScript).each(IDENTITIES)('terminals as $name', (who) => {
  const sandbox = () => `${process.execPath} ${join(packageForUsers(), 'bin', 'sandbox.cjs')}`;

  it('-t: the workload gets a pty of its own devpts, with the caller\'s window size', async () => {
    const p = await probe();
    const r = inTerminal(who, `stty rows 41 cols 127; ${sandbox()} exec -t -v ${p}:/probe host /probe tty`);
    expect(r.code).toBe(0);
    const tty = jsonIn(r.out).tty;
    expect(tty.isatty).toEqual([1, 1, 1]);
    expect(tty.ttyname[0]).toBe('/dev/pts/0'); // a new devpts instance: the first pty
    expect(tty.winsize).toEqual({ rows: 41, cols: 127 });
    expect(tty.ctty_pgrp).toBe(tty.pgid); // the workload leads the terminal's foreground group
  });

  it('-it: input reaches the workload through the pty', () => {
    const r = inTerminal(who, `${sandbox()} exec -it host /bin/sh -c 'read x; echo got:$x'`, 'hello\n');
    expect(r.code).toBe(0);
    expect(r.out).toContain('got:hello');
  });

  it('without -t: no controlling terminal, TIOCSTI refused on every fd', async () => {
    const p = await probe();
    // stdout to a file so that a successful injection could not hide in the output
    const r = inTerminal(who, `${sandbox()} exec -i -v ${p}:/probe host /probe tiocsti pid > /tmp/tiocsti-${who.name}.json; cat /tmp/tiocsti-${who.name}.json; rm -f /tmp/tiocsti-${who.name}.json`);
    expect(r.code).toBe(0);
    const report = jsonIn(r.out);
    expect(report.tiocsti.isatty[0]).toBe(1); // stdin is the caller's terminal
    for (const fd of ['fd0', 'fd2']) expect(report.tiocsti[fd], fd).toBe(1); // EPERM: not our controlling tty
    expect(report.tiocsti.devtty_open).toBe(6); // ENXIO: no controlling terminal
    expect(report.pid.sid).toBe(report.pid.pid);
    expect(r.out).not.toContain('##');
  });
});
