// One checked request, run: a fresh box with its files, the library's
// captured run() with the box as working directory, the files asked back,
// the box removed. Resolves to the response body (the RunResult, stdout,
// stderr and the files); rejects only when the sandbox could not be started
// (a SandboxError) or the box could not be made. A box that cannot be
// removed is logged, not an error of the run.
import { run } from '../run/run.js';
import type { RunResult } from '../run/run-result.js';
import type { LimitOptions } from '../resolve/exec-options.js';
import { BOX_TARGET, createBox, giveBox, placeFiles, readReturnFiles, removeBox, type BoxRoot } from './box-dir.js';
import type { ServeRequest } from './request-schema.js';

export interface RunSettings {
  readonly boxes: BoxRoot;
  /** Profile of requests that name none. */
  readonly defaultProfile: string;
  /** Wall-time limit (seconds) of a run whose request and profile give none: no run holds a worker for ever. */
  readonly defaultWallTime: number;
  /** The wall-time limit each built-in profile sets, if any. */
  readonly profileWallTime: ReadonlyMap<string, number | undefined>;
  /** Largest file returned (larger ones are reported with their size). */
  readonly maxReturnBytes: number;
  /** Where a box that could not be removed is reported (the run's answer still goes out). */
  readonly log: (line: string) => void;
}

export interface ResponseFile {
  readonly path: string;
  readonly size?: number;
  readonly content?: string;
  readonly base64?: string;
  readonly error?: string;
}

export type RunResponse = RunResult & {
  readonly stdout: string;
  readonly stderr: string;
  readonly outputEncoding: 'utf8' | 'base64';
  readonly files: readonly ResponseFile[];
};

function limitsOf(request: ServeRequest, profile: string, settings: RunSettings): LimitOptions {
  const limits = { ...request.limits };
  if (limits.wallTime === undefined && settings.profileWallTime.get(profile) === undefined) limits.wallTime = settings.defaultWallTime;
  return limits;
}

export async function runRequest(request: ServeRequest, settings: RunSettings, signal?: AbortSignal): Promise<RunResponse> {
  const profile = request.profile ?? settings.defaultProfile;
  const encoding = request.outputEncoding ?? 'utf8';
  const encode = (b: Buffer) => b.toString(encoding === 'base64' ? 'base64' : 'utf8');
  const box = createBox(settings.boxes);
  try {
    placeFiles(box, request.files ?? []);
    const { stdout, stderr, ...result } = await run({
      image: 'host',
      command: request.command,
      profile,
      workdir: BOX_TARGET,
      volumes: [{ source: box.dir, target: BOX_TARGET, writable: true }],
      env: request.env ?? {},
      limits: limitsOf(request, profile, settings),
      accountOutput: true,
      beforeStart: (spec) => giveBox(box, spec),
      // what the workload wrote is the server's user's again after the run (inside 0 is that user):
      // every returned file is readable, and the box goes with a plain rm, no extra stage
      ...(process.getuid?.() !== 0 && { chownAfterRun: { target: BOX_TARGET, uid: 0, gid: 0 } }),
      ...(request.stdin !== undefined && {
        stdin: typeof request.stdin === 'string' ? request.stdin : Buffer.from(request.stdin.base64, 'base64'),
      }),
      ...(signal && { signal }),
    });
    const files = readReturnFiles(box, request.returnFiles ?? [], settings.maxReturnBytes).map((f): ResponseFile => {
      if (!f.data) return { path: f.path, ...(f.size !== undefined && { size: f.size }), error: f.error ?? 'not returned' };
      return { path: f.path, size: f.data.length, [encoding === 'base64' ? 'base64' : 'content']: encode(f.data) };
    });
    return { ...result, stdout: encode(stdout), stderr: encode(stderr), outputEncoding: encoding, files };
  } finally {
    await removeBox(settings.boxes, box).catch((e: unknown) => settings.log(`cannot remove the box ${box.dir}: ${e instanceof Error ? e.message : String(e)}`));
  }
}
