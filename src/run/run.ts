// run(): the judge-style library call. stdin from a string, Buffer or
// stream; stdout and stderr captured (relayed and capped by the stage);
// one RunResult with the verdict.
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { ExecOptions } from '../resolve/exec-options.js';
import type { RunResult } from './run-result.js';
import { spawnSandbox, type SpawnOptions } from './spawn-sandbox.js';

/** Captured output is capped at limits.output, or at this when none is given (the run then ends OLE). */
export const DEFAULT_CAPTURE_BYTES = 64 * 1024 * 1024;

export interface RunOptions extends ExecOptions, Pick<SpawnOptions, 'beforeStart'> {
  readonly stdin?: string | Uint8Array | Readable;
  readonly signal?: AbortSignal;
}

export interface CapturedRunResult extends RunResult {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}

export async function run(options: RunOptions): Promise<CapturedRunResult> {
  const { stdin, ...rest } = options;
  const sandbox = await spawnSandbox({
    ...rest,
    limits: { ...rest.limits, output: rest.limits?.output ?? DEFAULT_CAPTURE_BYTES },
    accountOutput: true,
    stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (stdin !== undefined && sandbox.stdin) {
    sandbox.stdin.on('error', () => {}); // a workload that does not read its input is not an error
    if (stdin instanceof Readable) stdin.pipe(sandbox.stdin);
    else sandbox.stdin.end(stdin);
  }
  const [stdout, stderr, result] = await Promise.all([
    sandbox.stdout ? buffer(sandbox.stdout) : Buffer.alloc(0),
    sandbox.stderr ? buffer(sandbox.stderr) : Buffer.alloc(0),
    sandbox.result,
  ]);
  return { ...result, stdout, stderr };
}
