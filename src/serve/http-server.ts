// The HTTP/JSON service of `sandbox serve` (node:http): POST /run runs one
// request (run-request.ts) through the bounded queue, GET /health reports
// the load. Answers: 200 with the response body; 400 with the JSON pointer
// of the problem; 404/405; 413 for a body over the size cap; 429 when the
// queue is full; 500 with the sandbox's message when it could not run; 503
// while shutting down. shutdown() stops accepting, answers 503 to what
// waits, lets the running requests finish and answer, then closes every
// connection.
// Must not: start a run after shutdown began, or read a body past the cap.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isSandboxError } from '../errors.js';
import { QueueClosed, QueueFull, type RunQueue } from './run-queue.js';
import { runRequest, type RunSettings } from './run-request.js';
import { checkRequest } from './validate-request.js';

/** How long shutdown waits for answers to be written once no run is left. */
const DRAIN_MS = 10_000;

export interface ServiceOptions {
  readonly settings: RunSettings;
  readonly queue: RunQueue;
  /** Largest request body, bytes. */
  readonly maxBodyBytes: number;
  /** Built-in profiles a request may name. */
  readonly profiles: ReadonlySet<string>;
  /** Where problems of the service itself are reported (a box that could not be removed, a bug). */
  readonly log: (line: string) => void;
}

export interface Service {
  readonly server: Server;
  /** Graceful: resolves once every request that was running has been answered and every connection is closed. */
  shutdown(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown, closing = false): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...(closing && { connection: 'close' }),
  });
  res.end(text);
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) return reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.pause();
        reject(new BodyTooLarge());
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('close', () => reject(new Error('the client closed the connection')));
  });
}

export function createService(options: ServiceOptions): Service {
  const { queue, settings } = options;
  let closing = false;
  let inFlight = 0;
  const drained: (() => void)[] = [];
  const health = () => ({ ok: !closing, running: queue.running, queued: queue.queued });

  async function handleRun(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: Buffer;
    try {
      body = await readBody(req, options.maxBodyBytes);
    } catch (e) {
      if (e instanceof BodyTooLarge) return send(res, 413, { error: `the request is larger than ${options.maxBodyBytes} bytes` }, true);
      return; // the client went away while sending: nobody to answer
    }
    if (closing) return send(res, 503, { error: 'the server is shutting down' }, true);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (e) {
      return send(res, 400, { error: `the body is not JSON: ${(e as Error).message}`, pointer: '' });
    }
    const checked = checkRequest(parsed, options.profiles);
    if (!checked.ok) return send(res, 400, checked.problem);
    // a client that goes away stops its run (or keeps it from starting)
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    try {
      const response = await queue.submit(() => {
        abort.signal.throwIfAborted();
        return runRequest(checked.request, settings, abort.signal);
      });
      send(res, 200, response, closing);
    } catch (e) {
      if (e instanceof QueueFull) return send(res, 429, { error: e.message }, closing);
      if (e instanceof QueueClosed) return send(res, 503, { error: e.message }, true);
      if (abort.signal.aborted) return; // nobody to answer
      if (isSandboxError(e)) return send(res, 500, { error: e.message, ...(e.hint && { hint: e.hint }), code: e.code }, closing);
      throw e;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        return send(res, 405, { error: `${req.method} is not allowed on /health` });
      }
      return send(res, closing ? 503 : 200, health(), closing);
    }
    if (path === '/run') {
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        return send(res, 405, { error: `${req.method} is not allowed on /run` });
      }
      return handleRun(req, res);
    }
    return send(res, 404, { error: `no such endpoint ${path}: POST /run, GET /health` });
  }

  const server = createServer((req, res) => {
    inFlight++;
    let counted = true;
    const done = () => {
      if (!counted) return;
      counted = false;
      if (--inFlight === 0 && closing) drained.splice(0).forEach((f) => f());
    };
    res.on('close', done);
    handle(req, res).catch((e: unknown) => {
      options.log(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      send(res, 500, { error: `internal error: ${e instanceof Error ? e.message : String(e)}` }, closing);
    }).finally(() => {
      // a body not read to its end (413) cannot be followed by another request
      if (!req.complete) res.on('finish', () => req.destroy());
    });
  });

  async function shutdown(): Promise<void> {
    if (closing) return;
    closing = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await queue.close();
    // every run has ended: its answer is being written; a client still sending a body gets no longer than this
    if (inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, DRAIN_MS);
        drained.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    server.closeAllConnections();
    await closed;
  }

  return { server, shutdown };
}
