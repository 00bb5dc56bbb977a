// -t gives the workload its own pseudo-terminal; without -t the workload has
// no controlling terminal and cannot push input into the caller's (TIOCSTI).
// The caller's terminal is a real pty made by script(1).
import { describe, expect, it } from 'vitest';
import { IDENTITIES, hasScript, inTerminal, jsonIn, probe, sandboxCommand as sandbox } from './harness.js';
import { legacyTiocsti } from './host-capabilities.js';

// with dev.tty.legacy_tiocsti=0 the kernel refuses TIOCSTI to everyone without CAP_SYS_ADMIN (EIO) before
// it looks at whose terminal it is; otherwise a process may inject only into its controlling terminal (EPERM)
const TIOCSTI_REFUSED = legacyTiocsti() ? 1 : 5;

describe.skipIf(!hasScript).each(IDENTITIES)('terminals as $name', (who) => {
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
    for (const fd of ['fd0', 'fd2']) expect(report.tiocsti[fd], fd).toBe(TIOCSTI_REFUSED); // not our controlling tty
    expect(report.tiocsti.devtty_open).toBe(6); // ENXIO: no controlling terminal
    expect(report.pid.sid).toBe(report.pid.pid);
    expect(r.out).not.toContain('##');
  });
});
