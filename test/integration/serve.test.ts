// `sandbox serve` through the real CLI (bin/sandbox.cjs serve), started as
// root and as the unprivileged test user: 200 requests from 8 concurrent
// clients on the Unix socket with every verdict checked, 400 with the JSON
// pointer of the problem, 413, 429, SIGTERM mid-load (running requests
// answered, waiting ones 503, new connections refused), and nothing left
// behind: no workload processes, no boxes, no growth in the server's fds.
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITIES, SBTEST_OTHER, packageForUsers, processesWith, startCli, waitFor, type Identity } from './harness.js';

const MARKER = `serve-test-${process.pid}`;

interface Server {
  readonly child: ChildProcess;
  readonly socket: string;
  readonly pid: number;
  readonly boxes: string;
  readonly exited: Promise<number | null>;
  stderr(): string;
}

const madeDirs: string[] = [];
afterAll(() => {
  for (const dir of madeDirs) rmSync(dir, { recursive: true, force: true });
});

/** A directory for the socket that `who` owns (0700). */
function socketDir(who: Identity): string {
  const dir = mkdtempSync(join(tmpdir(), 'serve-test-'));
  chownSync(dir, who.uid, who.gid);
  madeDirs.push(dir);
  return dir;
}

async function startServer(who: Identity, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Server & { ready: Record<string, unknown> }> {
  const dir = socketDir(who);
  const socket = join(dir, 's.sock');
  const child = startCli(['serve', ...(args.includes('--no-socket-flag') ? [] : ['--socket', socket]), ...args.filter((a) => a !== '--no-socket-flag')],
    { as: who, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 15_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)));
      }
    });
    void exited.then((code) => reject(new Error(`serve exited (${code}) before listening: ${err}`)));
  });
  return {
    child, ready, socket: String(ready.listening), pid: Number(ready.pid), boxes: String(ready.boxes), exited, stderr: () => err,
  };
}

interface Answer {
  readonly status: number;
  readonly body: any;
}

function call(socket: string, method: string, path: string, body?: unknown, agent?: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = request({
      socketPath: socket, method, path, ...(agent ? { agent } : { agent: false }),
      headers: { 'content-type': 'application/json', ...(data !== undefined && { 'content-length': Buffer.byteLength(data) }) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch {
          reject(new Error(`not JSON (${res.statusCode}): ${text}`));
        }
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

const run = (socket: string, body: unknown, agent?: Agent) => call(socket, 'POST', '/run', body, agent);
const health = (socket: string) => call(socket, 'GET', '/health');

/** The i-th request of the load and what its answer must be. */
function loadCase(i: number): { body: Record<string, unknown>; check: (a: Answer) => void } {
  const sh = (script: string) => ['/bin/sh', '-c', script, MARKER];
  switch (i % 10) {
    case 0:
      return {
        body: { command: sh('tr a-z A-Z'), stdin: `request ${i}` },
        check: (a) => expect(a.body).toMatchObject({ status: 'OK', exitCode: 0, stdout: `REQUEST ${i}`, stderr: '' }),
      };
    case 1:
      return {
        body: { command: sh(`echo oops >&2; exit ${(i % 7) + 1}`) },
        check: (a) => expect(a.body).toMatchObject({ status: 'RE', exitCode: (i % 7) + 1, stderr: 'oops\n' }),
      };
    case 2:
      return {
        body: {
          command: ['./prog.sh', MARKER],
          files: [{ path: 'in/n.txt', content: String(i) }, { path: 'prog.sh', content: '#!/bin/sh\nexpr "$(cat in/n.txt)" \\* 2 > out.txt\n', mode: 0o755 }],
          returnFiles: ['out.txt', 'in/n.txt'],
        },
        check: (a) => {
          expect(a.body).toMatchObject({ status: 'OK', exitCode: 0 });
          expect(a.body.files).toEqual([{ path: 'out.txt', size: String(2 * i).length + 1, content: `${2 * i}\n` }, { path: 'in/n.txt', size: String(i).length, content: String(i) }]);
        },
      };
    case 3:
      return {
        body: { command: sh('while :; do :; done'), limits: { cpuTime: 0.2, wallTime: 10 } },
        check: (a) => expect(a.body).toMatchObject({ status: 'TLE', limits: { applied: { cpuTimeMs: 200 } } }),
      };
    case 4:
      return {
        body: { command: sh('sleep 5; :'), limits: { wallTime: 0.2 } },
        check: (a) => expect(a.body).toMatchObject({ status: 'WLE', limits: { killedBy: 'wall' } }),
      };
    case 5:
      return {
        body: { command: sh('kill -SEGV $$') },
        check: (a) => expect(a.body).toMatchObject({ status: 'SG', signal: 'SIGSEGV', exitCode: 139 }),
      };
    case 6:
      return {
        body: { command: sh('yes | head -c 100000'), limits: { output: 1000 } },
        check: (a) => {
          expect(a.body).toMatchObject({ status: 'OLE', limits: { killedBy: 'output' } });
          expect(a.body.stdout.length).toBeLessThanOrEqual(1000);
        },
      };
    case 7: {
      const bytes = Buffer.from([0, 1, 2, 255, i & 255]);
      return {
        body: { command: ['/bin/cat'], stdin: { base64: bytes.toString('base64') }, outputEncoding: 'base64' },
        check: (a) => expect(a.body).toMatchObject({ status: 'OK', stdout: bytes.toString('base64'), outputEncoding: 'base64' }),
      };
    }
    case 8:
      return {
        body: { command: sh('printf %s "$GREETING"'), env: { GREETING: `hello ${i}` }, profile: 'default' },
        check: (a) => expect(a.body).toMatchObject({ status: 'OK', stdout: `hello ${i}`, profile: 'default' }),
      };
    default:
      return {
        body: { command: ['/no/such/program'] },
        check: (a) => expect(a.body).toMatchObject({ status: 'XX', exitCode: 127, error: { errno: 'ENOENT' } }),
      };
  }
}

const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

async function stopServer(s: Server): Promise<number | null> {
  s.child.kill('SIGTERM');
  return s.exited;
}

function expectNothingLeft(s: Server): void {
  expect(existsSync(s.boxes)).toBe(false);
  expect(existsSync(s.socket)).toBe(false);
  expect(processesWith(MARKER)).toEqual([]);
}

describe.each(IDENTITIES)('sandbox serve as $name', (who) => {
  let server: Awaited<ReturnType<typeof startServer>>;

  beforeAll(async () => {
    server = await startServer(who, ['--concurrency', '2']);
  });

  afterAll(async () => {
    if (!server) return;
    expect(await stopServer(server)).toBe(0);
    expectNothingLeft(server);
  });

  it('listens on a 0600 socket; boxes are private; /health answers', async () => {
    expect(statSync(server.socket).mode & 0o777).toBe(0o600);
    expect(statSync(server.socket).uid).toBe(who.uid);
    const boxes = statSync(server.boxes);
    expect(boxes.uid).toBe(who.uid);
    expect(boxes.mode & 0o777).toBe(who.uid === 0 ? 0o711 : 0o700);
    expect(await health(server.socket)).toEqual({ status: 200, body: { ok: true, running: 0, queued: 0 } });
  });

  it('200 requests from 8 concurrent clients: every verdict correct, no leftover boxes, processes or fds', async () => {
    // warm-up: both workers, lazily opened files
    const warm = await Promise.all(Array.from({ length: 8 }, (_, i) => run(server.socket, loadCase(i).body)));
    expect(warm.map((a) => a.status)).toEqual(Array(8).fill(200));
    const fdsBefore = fdCount(server.pid);
    const rssBefore = rssKiB(server.pid);
    let next = 0;
    const failures: string[] = [];
    const client = async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let i = next++; i < 200; i = next++) {
          const c = loadCase(i);
          const a = await run(server.socket, c.body, agent);
          try {
            expect(a.status).toBe(200);
            c.check(a);
          } catch (e) {
            failures.push(`request ${i}: ${(e as Error).message}\n${JSON.stringify(a.body).slice(0, 2000)}`);
          }
        }
      } finally {
        agent.destroy();
      }
    };
    await Promise.all(Array.from({ length: 8 }, client));
    expect(failures).toEqual([]);
    expect(await health(server.socket)).toEqual({ status: 200, body: { ok: true, running: 0, queued: 0 } });
    expect(readdirSync(server.boxes)).toEqual([]);
    expect(processesWith(MARKER)).toEqual([]);
    // the clients' connections are closed: the server holds what it held after the warm-up
    expect(await waitFor(() => fdCount(server.pid) <= fdsBefore, 3000)).toBe(true);
    expect(rssKiB(server.pid) - rssBefore).toBeLessThan(64 * 1024);
  }, 240_000);

  it('a bad request gets 400 with the JSON pointer of the problem', async () => {
    const cases: [unknown, string][] = [
      ['{not json', ''],
      [{}, '/command'],
      [{ command: [] }, '/command'],
      [{ command: ['x'], extra: 1 }, '/extra'],
      [{ command: ['x'], limits: { cpuTime: -1 } }, '/limits/cpuTime'],
      [{ command: ['x'], limits: { memory: '1x' } }, '/limits/memory'],
      [{ command: ['x'], limits: { wallTime: 'unlimited' } }, '/limits/wallTime'],
      [{ command: ['x'], files: [{ path: '../escape', content: '' }] }, '/files/0/path'],
      [{ command: ['x'], files: [{ path: 'ok', content: '' }, { path: '/etc/passwd', content: '' }] }, '/files/1/path'],
      [{ command: ['x'], files: [{ path: 'a', content: '', base64: '' }] }, '/files/0'],
      [{ command: ['x'], files: [{ path: 'a', content: '' }, { path: 'a/b', content: '' }] }, '/files/1/path'],
      [{ command: ['x'], returnFiles: ['out', 'a/../../b'] }, '/returnFiles/1'],
      [{ command: ['x'], profile: '../../etc/x' }, '/profile'],
      [{ command: ['x'], profile: 'nosuch' }, '/profile'],
      [{ command: ['x'], image: 'alpine' }, '/image'],
      [{ command: ['x'], env: { 'A=B': 'c' } }, '/env/A=B'],
      [{ command: ['x'], stdin: { base64: '!!' } }, '/stdin'],
    ];
    for (const [body, pointer] of cases) {
      const a = await run(server.socket, body);
      expect({ body, status: a.status, pointer: a.body.pointer }).toEqual({ body, status: 400, pointer });
      expect(a.body.error).toEqual(expect.any(String));
    }
    // what only the sandbox refuses is a 500 with its message
    const huge = await run(server.socket, { command: ['/bin/true'], limits: { memory: '999999999999999g' } });
    expect(huge).toMatchObject({ status: 500, body: { code: 'usage', error: expect.stringMatching(/invalid size/) } });
    expect((await call(server.socket, 'GET', '/nope')).status).toBe(404);
    expect((await call(server.socket, 'GET', '/run')).status).toBe(405);
    expect(readdirSync(server.boxes)).toEqual([]);
  });

  it('returned files: links the workload made are not followed; sizes are capped', async () => {
    const a = await run(server.socket, {
      // and files the server could not remove as itself: a tree under a directory nobody may enter
      command: ['/bin/sh', '-c', 'ln -s /etc/passwd link; mkdir dir; ln -s /etc sub; head -c 2048 /dev/zero > big; echo x > dir/f; mkdir -p deep/a/b; touch deep/a/b/f; chmod 0 deep/a deep', MARKER],
      returnFiles: ['link', 'sub/passwd', 'dir', 'dir/f', 'missing'],
    });
    expect(a.status).toBe(200);
    expect(a.body.files).toEqual([
      { path: 'link', error: expect.stringMatching(/symbolic link/) },
      { path: 'sub/passwd', error: expect.stringMatching(/not one|symbolic link/) },
      { path: 'dir', error: 'is a directory' },
      { path: 'dir/f', size: 2, content: 'x\n' },
      { path: 'missing', error: 'does not exist' },
    ]);
    expect(readdirSync(server.boxes)).toEqual([]);
  });

  it('files the workload made private are returned all the same (the box is the server user\'s again after the run)', async () => {
    const a = await run(server.socket, {
      command: ['/bin/sh', '-c', 'mkdir -m 0700 priv; echo secret > priv/f; chmod 0600 priv/f; echo mine > g; chmod 0400 g', MARKER],
      returnFiles: ['priv/f', 'g'],
    });
    expect(a.status).toBe(200);
    expect(a.body.files).toEqual([{ path: 'priv/f', size: 7, content: 'secret\n' }, { path: 'g', size: 5, content: 'mine\n' }]);
    expect(readdirSync(server.boxes)).toEqual([]);
  });

  it('a client that goes away ends its run', async () => {
    const req = request({ socketPath: server.socket, method: 'POST', path: '/run', agent: false });
    req.on('error', () => {});
    req.end(JSON.stringify({ command: ['/bin/sh', '-c', 'sleep 30; :', MARKER], limits: { wallTime: 60 } }));
    await waitForHealth(server.socket, (h) => h.running === 1);
    req.destroy();
    await waitForHealth(server.socket, (h) => h.running === 0);
    expect(await waitFor(() => processesWith(MARKER).length === 0, 5000)).toBe(true);
    expect(readdirSync(server.boxes)).toEqual([]);
  });
});

describe.each(IDENTITIES)('sandbox serve under load as $name', (who) => {
  it('413 over the size cap, 429 when the queue is full', async () => {
    const s = await startServer(who, ['--concurrency', '1', '--queue', '1', '--max-request-size', '4k']);
    try {
      expect((await run(s.socket, { command: ['/bin/true'], stdin: 'x'.repeat(8192) })).status).toBe(413);
      const slow = { command: ['/bin/sh', '-c', 'sleep 1; echo done', MARKER] };
      const first = run(s.socket, slow);
      await waitForHealth(s.socket, (h) => h.running === 1);
      const second = run(s.socket, slow);
      await waitForHealth(s.socket, (h) => h.queued === 1);
      const third = await run(s.socket, slow);
      expect(third.status).toBe(429);
      expect(third.body.error).toMatch(/full/);
      for (const a of await Promise.all([first, second])) expect(a).toMatchObject({ status: 200, body: { status: 'OK', stdout: 'done\n' } });
    } finally {
      expect(await stopServer(s)).toBe(0);
    }
    expectNothingLeft(s);
  }, 60_000);

  it('SIGTERM mid-load: running requests are answered, waiting ones get 503, new ones are refused', async () => {
    const s = await startServer(who, ['--concurrency', '2', '--queue', '8']);
    const slow = { command: ['/bin/sh', '-c', 'sleep 1; echo done', MARKER] };
    const answers = Array.from({ length: 6 }, () => run(s.socket, slow));
    await waitForHealth(s.socket, (h) => h.running === 2 && h.queued === 4);
    s.child.kill('SIGTERM');
    const all = await Promise.all(answers);
    expect(all.filter((a) => a.status === 200).map((a) => a.body)).toEqual([
      expect.objectContaining({ status: 'OK', stdout: 'done\n' }), expect.objectContaining({ status: 'OK', stdout: 'done\n' }),
    ]);
    expect(all.filter((a) => a.status === 503)).toHaveLength(4);
    await expect(run(s.socket, slow)).rejects.toThrow(/ENOENT|ECONNREFUSED/);
    expect(await s.exited).toBe(0);
    expect(s.stderr()).toMatch(/SIGTERM: finishing 2 running request/);
    expectNothingLeft(s);
  }, 60_000);

  it('a server killed mid-run takes its runs with it; the next one removes its boxes', async () => {
    const s = await startServer(who, ['--concurrency', '1']);
    const pending = run(s.socket, { command: ['/bin/sh', '-c', 'echo x > left.txt; sleep 30; :', MARKER], limits: { wallTime: 60 } });
    await waitForHealth(s.socket, (h) => h.running === 1);
    s.child.kill('SIGKILL');
    await expect(pending).rejects.toThrow();
    await s.exited;
    expect(await waitFor(() => processesWith(MARKER).length === 0, 5000)).toBe(true);
    expect(existsSync(s.boxes)).toBe(true);
    const next = await startServer(who, []);
    try {
      // stderr and stdout are separate pipes: the message may arrive after the ready line
      expect(await waitFor(() => next.stderr().includes(`removed the boxes a stopped server left in ${s.boxes}`), 3000)).toBe(true);
      expect(existsSync(s.boxes)).toBe(false);
    } finally {
      expect(await stopServer(next)).toBe(0);
    }
    expectNothingLeft(next);
  }, 60_000);

  it('--listen takes a loopback TCP address only', async () => {
    const s = await startServer(who, ['--no-socket-flag', '--listen', '127.0.0.1:0']);
    try {
      const port = Number(/^127\.0\.0\.1:(\d+)$/.exec(s.socket)?.[1]);
      expect(port).toBeGreaterThan(0);
      const answer = await new Promise<Answer>((resolve, reject) => {
        const data = JSON.stringify({ command: ['/bin/echo', 'tcp'] });
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/run', agent: false }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        });
        req.on('error', reject);
        req.end(data);
      });
      expect(answer).toMatchObject({ status: 200, body: { status: 'OK', stdout: 'tcp\n' } });
    } finally {
      expect(await stopServer(s)).toBe(0);
    }
    expect(existsSync(s.boxes)).toBe(false);
    const refused = spawnSync(process.execPath, [join(packageForUsers(), 'bin', 'sandbox.cjs'), 'serve', '--listen', '0.0.0.0:8080'], { encoding: 'utf8' });
    expect(refused.status).toBe(125);
    expect(refused.stderr).toMatch(/invalid --listen 0\.0\.0\.0:8080/);
  });

  it('--boxes chooses where the boxes are made', async () => {
    const mine = socketDir(who);
    // root's runs walk to their box as an id of root's range
    if (who.uid === 0) chmodSync(mine, 0o711);
    const parent = join(mine, 'boxes');
    const s = await startServer(who, ['--boxes', parent]);
    try {
      expect(s.boxes.startsWith(`${parent}/rootless-sandbox-serve-`)).toBe(true);
      expect(await run(s.socket, { command: ['/bin/sh', '-c', 'pwd; echo x > f', MARKER] })).toMatchObject({ status: 200, body: { status: 'OK', stdout: '/box\n' } });
      expect(readdirSync(s.boxes)).toEqual([]);
    } finally {
      expect(await stopServer(s)).toBe(0);
    }
    expect(readdirSync(parent)).toEqual([]);
    if (who.uid === 0 && !(statSync('/root').mode & 0o001)) {
      // root's runs could not reach a box below /root: refused at start, with the fix
      const r = spawnSync(process.execPath, [join(packageForUsers(), 'bin', 'sandbox.cjs'), 'serve', '--socket', join(parent, 'x.sock'), '--boxes', '/root/serve-boxes-test'], { encoding: 'utf8' });
      expect(r.status).toBe(125);
      expect(r.stderr).toMatch(/below \/root \(mode 07\d0\).*cannot search/);
      rmSync('/root/serve-boxes-test', { recursive: true, force: true });
    }
  });

  it('the default socket is under $XDG_RUNTIME_DIR, 0600 in a 0700 directory', async () => {
    const runtime = socketDir(who);
    const s = await startServer(who, ['--no-socket-flag'], { XDG_RUNTIME_DIR: runtime });
    try {
      expect(s.socket).toBe(join(runtime, 'rootless-sandbox', 'serve.sock'));
      expect(statSync(s.socket).mode & 0o777).toBe(0o600);
      expect(statSync(join(runtime, 'rootless-sandbox')).mode & 0o777).toBe(0o700);
      expect((await health(s.socket)).body).toEqual({ ok: true, running: 0, queued: 0 });
      if (SBTEST_OTHER) {
        // another local user may not connect
        const probe = `require('node:net').connect(${JSON.stringify(s.socket)}).on('connect', () => process.exit(0)).on('error', (e) => { console.log(e.code); process.exit(1); })`;
        const r = spawnSync(process.execPath, ['-e', probe], { uid: SBTEST_OTHER.uid, gid: SBTEST_OTHER.gid, encoding: 'utf8' });
        expect(r.status).toBe(1);
        expect(r.stdout.trim()).toBe('EACCES');
      }
    } finally {
      expect(await stopServer(s)).toBe(0);
    }
    expectNothingLeft(s);
  });
});

async function waitForHealth(socket: string, ok: (h: { running: number; queued: number }) => boolean): Promise<void> {
  const end = Date.now() + 10_000;
  for (;;) {
    const h = await health(socket);
    if (ok(h.body)) return;
    if (Date.now() > end) throw new Error(`health never matched: ${JSON.stringify(h.body)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
