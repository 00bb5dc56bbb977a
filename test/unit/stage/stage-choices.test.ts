// The choices the stage carries out come from TypeScript, through the plan:
// the exit codes of a failed exec and the forwarded signals (FORK_INIT).
import { constants } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ops } from '../../../src/stage/plan.js';
import { Op } from '../../../src/stage/protocol.js';
import { EXEC_FAILURE_EXIT, FORWARDED_SIGNALS, RUN_CHOICES, signalNumbers } from '../../../src/stage/stage-choices.js';

describe('run choices in FORK_INIT', () => {
  it('carries flags, the exec failure exit codes, then the signal numbers', () => {
    const o = ops.forkInit(1);
    expect(o.code).toBe(Op.FORK_INIT);
    expect(o.ints).toEqual([1, 127, 126, ...FORWARDED_SIGNALS.map((s) => constants.signals[s])]);
    expect(ops.forkInit(0, { signals: ['SIGTERM'], execFailureExit: { notFound: 3, other: 4 } }).ints).toEqual([0, 3, 4, 15]);
  });

  it("uses docker's convention and the CLI's signal list", () => {
    expect(EXEC_FAILURE_EXIT).toEqual({ notFound: 127, other: 126 });
    expect(RUN_CHOICES.signals).toBe(FORWARDED_SIGNALS);
    expect(FORWARDED_SIGNALS).toEqual(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGCONT']);
    const cli = readFileSync(fileURLToPath(new URL('../../../src/cli/exec-command.ts', import.meta.url)), 'utf8');
    expect(cli).toMatch(/import \{ FORWARDED_SIGNALS as FORWARDED \} from '\.\.\/stage\/stage-choices\.js'/);
  });

  it('refuses a signal name the platform does not have', () => {
    expect(() => signalNumbers(['SIGNOPE' as NodeJS.Signals])).toThrow(/unknown signal SIGNOPE/);
  });
});

describe('no choices left in the C stage', () => {
  const dir = fileURLToPath(new URL('../../../src/stage/', import.meta.url));
  const src = readdirSync(dir).filter((f) => f.endsWith('.c')).map((f) => readFileSync(dir + f, 'utf8')).join('\n');
  it('has no PATH of its own, no exec failure mapping, no signal list', () => {
    expect(src).not.toMatch(/PATH=/);
    expect(src).not.toMatch(/ENOENT\s*\?\s*12[67]/);
    expect(src).not.toMatch(/SIGINT|SIGTERM|SIGHUP|SIGQUIT|SIGUSR1|SIGALRM/);
  });
});
