// The choices the stage carries out but does not make: which signals it passes
// on to the workload, and the exit code of a workload that could not be
// executed. Made once here (TypeScript); the plan carries them to the stage
// (FORK_INIT), and the CLI forwards the same signals to the stage.
// Must not: hold anything else; the protocol itself is protocol.ts.
import { constants } from 'node:os';

/** Signals the sandbox passes on to the workload (the CLI to the stage, the stage and pid 1 to the workload). */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGCONT'];

/** Docker's convention for a workload that cannot be executed: 127 not found, 126 otherwise. */
export const EXEC_FAILURE_EXIT = { notFound: 127, other: 126 } as const;

/** What FORK_INIT tells the stage about the run it starts. */
export interface RunChoices {
  readonly signals: readonly NodeJS.Signals[];
  readonly execFailureExit: { readonly notFound: number; readonly other: number };
}

export const RUN_CHOICES: RunChoices = { signals: FORWARDED_SIGNALS, execFailureExit: EXEC_FAILURE_EXIT };

/** Signal numbers of this platform. */
export function signalNumbers(names: readonly NodeJS.Signals[]): number[] {
  return names.map((n) => {
    const v = constants.signals[n];
    if (v === undefined) throw new Error(`unknown signal ${n}`);
    return v;
  });
}
