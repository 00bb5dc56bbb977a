// `sandbox serve`: the run service for graders (src/serve/), on a Unix
// socket or a loopback TCP port, until SIGTERM or SIGINT (graceful: the
// running requests finish and are answered, new ones are refused).
// Prints one JSON line on stdout once it listens: where, its pid, the box
// directory, concurrency and queue.
import type { Command } from 'commander';
import { chmodSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { listBuiltinProfiles, loadProfile } from '../config/load-profile.js';
import { SandboxError } from '../errors.js';
import { probeHost } from '../host/probe-host.js';
import { parseSize } from '../resolve/parse-options.js';
import { clearStaleBoxRoots, createBoxRoot, removeBoxRoot } from '../serve/box-dir.js';
import { createService } from '../serve/http-server.js';
import { defaultSocketPath, describeAddress, parseListen, prepareSocketPath, type ListenAddress } from '../serve/listen-address.js';
import { RunQueue } from '../serve/run-queue.js';
import { reportError } from './report-error.js';

interface ServeFlags {
  socket?: string;
  listen?: string;
  concurrency?: string;
  queue: string;
  profile: string;
  wallTime: string;
  maxRequestSize: string;
  maxReturnSize: string;
  boxes?: string;
}

const API_HELP = `
API (HTTP/JSON; every answer is a JSON object):
  POST /run     {"command": ["/bin/sh", "-c", "..."],           required; run in /box, the request's own fresh directory
                 "profile": "strict",                            a built-in profile (default: --profile)
                 "files": [{"path": "a.c", "content": "..."},    placed in /box before the run (or "base64"; "mode": 493)
                 "stdin": "text" | {"base64": "..."},
                 "limits": {"cpuTime": 1, "wallTime": 3, "memory": "256m", "pids": 64,
                            "fsize": "1m", "nofile": 64, "stack": "8m", "output": "1m"},
                 "env": {"KEY": "value"},
                 "returnFiles": ["out.txt"],                     regular files of /box, links never followed
                 "outputEncoding": "utf8" | "base64"}
      200: the RunResult (status OK RE SG TLE WLE MLE OLE XX, exitCode, times, memory, limits...)
           plus "stdout", "stderr" and "files": [{"path", "size", "content"|"base64"} | {"path", "error"}]
      400: {"error", "pointer"}: the JSON pointer of the first problem ("/limits/cpuTime")
      413: body over --max-request-size   429: the queue is full   503: shutting down
      500: {"error", "hint", "code"}: the sandbox could not start
  GET /health   {"ok": true, "running": N, "queued": N}
Paths are relative to /box (no "/" first, no "." or ".." components). A run
without a wall-time limit (request or profile) gets --wall-time.`;

const positive = (flag: string, value: string, min = 1): number => {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new SandboxError('usage', `invalid ${flag} ${value}`, `give a whole number of at least ${min}`);
  }
  return n;
};

async function runServe(flags: ServeFlags): Promise<number> {
  if (flags.socket !== undefined && flags.listen !== undefined) {
    throw new SandboxError('usage', '--socket and --listen exclude each other', 'give one of them');
  }
  const concurrency = flags.concurrency === undefined ? availableParallelism() : positive('--concurrency', flags.concurrency);
  const capacity = positive('--queue', flags.queue, 0);
  const defaultWallTime = Number(flags.wallTime);
  if (!(defaultWallTime > 0) || !Number.isFinite(defaultWallTime)) throw new SandboxError('usage', `invalid --wall-time ${flags.wallTime}`, 'give seconds, e.g. 60');
  const profiles = new Set(listBuiltinProfiles());
  if (!profiles.has(flags.profile)) {
    throw new SandboxError('usage', `unknown profile ${flags.profile} (--profile)`, `one of ${[...profiles].join(', ')}`);
  }
  // every built-in profile is loaded (and checked) once, here
  const profileWallTime = new Map([...profiles].map((name) => [name, loadProfile(name).profile.limits?.wallTime]));
  const address: ListenAddress = flags.listen !== undefined ? parseListen(flags.listen) : { kind: 'unix', path: flags.socket ?? defaultSocketPath() };
  if (address.kind === 'unix') await prepareSocketPath(address.path);

  const host = probeHost();
  const log = (line: string) => process.stderr.write(`sandbox serve: ${line}\n`);
  const boxesIn = flags.boxes === undefined ? undefined : resolvePath(flags.boxes);
  for (const dir of await clearStaleBoxRoots(host, log, boxesIn)) log(`removed the boxes a stopped server left in ${dir}`);
  const boxes = createBoxRoot(host, boxesIn);
  const queue = new RunQueue(concurrency, capacity);
  const service = createService({
    queue, profiles, log,
    maxBodyBytes: parseSize(flags.maxRequestSize, '--max-request-size'),
    settings: { boxes, defaultProfile: flags.profile, defaultWallTime, profileWallTime, maxReturnBytes: parseSize(flags.maxReturnSize, '--max-return-size'), log },
  });
  const { server } = service;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (address.kind === 'tcp') return server.listen(address.port, address.host, resolve);
      // the socket file is made 0600 (bound within listen()): only this user may connect
      const mask = process.umask(0o177);
      try {
        server.listen(address.path, resolve);
      } finally {
        process.umask(mask);
      }
    });
    if (address.kind === 'unix') chmodSync(address.path, 0o600);
  } catch (e) {
    await removeBoxRoot(boxes);
    throw new SandboxError('host', `cannot listen on ${describeAddress(address)}: ${(e as NodeJS.ErrnoException).code ?? e}`,
      address.kind === 'unix' ? 'check the socket\'s directory' : 'choose another port');
  }
  const bound = server.address();
  const listening = address.kind === 'tcp' && bound && typeof bound === 'object' ? { ...address, port: bound.port } : address;

  // the handlers are in place before anyone learns that the server listens
  const stopped = new Promise<void>((resolve) => {
    const stop = (sig: NodeJS.Signals) => {
      log(`${sig}: finishing ${queue.running} running request(s), refusing new ones`);
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      // a second signal is not needed to end it, and is not fatal either
      process.on('SIGTERM', () => {});
      process.on('SIGINT', () => {});
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  process.stdout.write(`${JSON.stringify({ listening: describeAddress(listening), pid: process.pid, boxes: boxes.dir, concurrency, queue: capacity })}\n`);
  await stopped;
  await service.shutdown();
  await removeBoxRoot(boxes);
  return 0;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve runs over HTTP/JSON for graders: a fresh box per request, a bounded queue')
    .option('--socket <path>', 'Unix socket to listen on, made 0600 (default: $XDG_RUNTIME_DIR/rootless-sandbox/serve.sock; root: /run/rootless-sandbox/serve.sock)')
    .option('--listen <ip:port>', 'listen on a loopback TCP address instead (127.0.0.1:PORT or [::1]:PORT; no authentication)')
    .option('--concurrency <n>', 'runs at once (default: the number of cores)')
    .option('--queue <n>', 'requests that may wait for a run; one more gets 429', '64')
    .option('--profile <name>', 'built-in profile of requests that name none', 'strict')
    .option('--wall-time <sec>', 'wall-time limit of a run whose request and profile set none', '60')
    .option('--max-request-size <size>', 'largest request body (413 above)', '64m')
    .option('--max-return-size <size>', 'largest file returned (larger ones are reported with their size)', '16m')
    .option('--boxes <dir>', 'directory the boxes are made in (default: $TMPDIR, else /tmp); for root, every directory above it must be searchable by others')
    .addHelpText('after', API_HELP)
    .action(async (flags: ServeFlags) => {
      try {
        process.exitCode = await runServe(flags);
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });
}
