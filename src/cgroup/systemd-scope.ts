// cgroup/systemd-scope: asks the caller's systemd manager (the user manager,
// or the system manager for root) for a transient scope around one pid, with
// Delegate=yes, over the manager's private socket (what systemctl and
// systemd-run use; it needs no D-Bus broker and no helper process), and waits
// until the kernel shows the pid in the scope.
// Failures are plain Errors carrying the manager's answer: callers wrap them
// (cgroup2-scope-run.ts: a host SandboxError with its hint; doctor: its cgroups check).
// Must not: touch cgroup files; the cgroup backend does that inside the scope.
import { readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { decodeMessage, encodeMethodCall, messageLength, MessageType, type DbusValue, type Message } from './dbus-wire.js';
import { findUnifiedPath, parseProcCgroup } from './parse-proc-cgroup.js';

export interface ScopeRequest {
  /** The manager's private socket: /run/user/UID/systemd/private, or /run/systemd/private for root. */
  readonly socket: string;
  /** Who connects (for AUTH EXTERNAL; the manager checks it against the socket's peer credentials). */
  readonly uid: number;
  /** "rootless-sandbox-RUNID.scope" */
  readonly unit: string;
  readonly slice: string;
  /** The process the scope is made for; resolves once it is in the scope. */
  readonly pid: number;
  /** More processes to put in the scope with it. */
  readonly extraPids?: readonly number[];
  readonly description: string;
  /** The cgroup path the scope gets ("/user.slice/.../app.slice/NAME.scope"). */
  readonly cgroupPath: string;
  readonly timeoutMs: number;
}

const DEST = 'org.freedesktop.systemd1';
const PATH = '/org/freedesktop/systemd1';
const IFACE = 'org.freedesktop.systemd1.Manager';

/** The StartTransientUnit arguments (signature ssa(sv)a(sa(sv))). */
export function scopeUnitArgs(r: Pick<ScopeRequest, 'unit' | 'slice' | 'pid' | 'extraPids' | 'description'>): DbusValue[] {
  const prop = (name: string, sig: string, v: DbusValue): DbusValue =>
    ({ t: 'r', v: [{ t: 's', v: name }, { t: 'v', sig, v }] });
  return [
    { t: 's', v: r.unit },
    { t: 's', v: 'fail' }, // a unit of that name already exists: refuse rather than replace
    {
      t: 'a', sig: '(sv)', v: [
        prop('PIDs', 'au', { t: 'a', sig: 'u', v: [r.pid, ...(r.extraPids ?? [])].map((v) => ({ t: 'u' as const, v })) }),
        // our own sub-cgroups below the scope, so we can enable controllers there
        prop('Delegate', 'b', { t: 'b', v: true }),
        // unload the unit even when it ends "failed" (an OOM kill), instead of listing it in --failed
        prop('CollectMode', 's', { t: 's', v: 'inactive-or-failed' }),
        prop('Slice', 's', { t: 's', v: r.slice }),
        prop('Description', 's', { t: 's', v: r.description }),
      ],
    },
    { t: 'a', sig: '(sa(sv))', v: [] },
  ];
}

/** The 0:: cgroup of a process, or null once it is gone. */
export function readProcessCgroup(pid: number): string | null {
  try {
    return findUnifiedPath(parseProcCgroup(readFileSync(`/proc/${pid}/cgroup`, 'utf8')));
  } catch {
    return null;
  }
}

class ManagerConnection {
  private buffered = Buffer.alloc(0);
  private authed = false;
  private readonly waiters = new Set<() => void>();
  readonly inbox: Message[] = [];
  failure: Error | null = null;

  constructor(private readonly sock: Socket) {
    sock.on('data', (chunk: Buffer) => this.receive(chunk));
    sock.on('error', (e) => this.fail(e));
    sock.on('close', () => this.fail(new Error('the manager closed the connection')));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private receive(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    if (!this.authed) {
      const eol = this.buffered.indexOf('\r\n');
      if (eol < 0) return;
      const line = this.buffered.toString('ascii', 0, eol);
      this.buffered = this.buffered.subarray(eol + 2);
      if (!line.startsWith('OK ')) {
        this.fail(new Error(`authentication refused (${line})`));
        return;
      }
      this.authed = true;
    }
    for (;;) {
      const n = messageLength(this.buffered);
      if (n === null) break;
      this.inbox.push(decodeMessage(this.buffered.subarray(0, n)));
      this.buffered = this.buffered.subarray(n);
    }
    this.wake();
  }

  /** Resolves on the next event (a message, an error) or after `ms`. */
  waitEvent(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  get ready(): boolean {
    return this.authed;
  }

  write(b: Buffer | string): void {
    this.sock.write(b);
  }

  close(): void {
    this.sock.destroy();
  }
}

async function openConnection(socket: string, uid: number, deadline: number): Promise<ManagerConnection> {
  const sock = createConnection({ path: socket });
  const conn = new ManagerConnection(sock);
  // a NUL byte, then SASL EXTERNAL with our uid in hex-encoded decimal
  sock.write(`\0AUTH EXTERNAL ${Buffer.from(String(uid)).toString('hex')}\r\n`);
  while (!conn.ready) {
    if (conn.failure) throw conn.failure;
    if (Date.now() > deadline) throw new Error('no answer to authentication');
    await conn.waitEvent(deadline - Date.now());
  }
  conn.write('BEGIN\r\n');
  return conn;
}

/**
 * Starts the scope and resolves once `pid` is in it. Rejects with a plain
 * Error (the caller words the SandboxError) when the manager refuses, the job
 * fails, the pid disappears, or time runs out.
 */
export async function startScope(r: ScopeRequest): Promise<void> {
  const deadline = Date.now() + r.timeoutMs;
  const conn = await openConnection(r.socket, r.uid, deadline);
  try {
    const serial = 1;
    conn.write(encodeMethodCall({ serial, destination: DEST, path: PATH, iface: IFACE, member: 'StartTransientUnit', args: scopeUnitArgs(r) }));
    let job: string | null = null;
    for (;;) {
      // the job runs after the reply; the kernel's view of the pid is what counts
      if (job !== null) {
        const now = readProcessCgroup(r.pid);
        if (now === r.cgroupPath) return;
        if (now === null) throw new Error(`process ${r.pid} exited before it was in the scope`);
      }
      for (let m = conn.inbox.shift(); m; m = conn.inbox.shift()) {
        if (m.replySerial === serial && m.type === MessageType.ERROR) {
          throw new Error(`${m.errorName ?? 'error'}: ${String(m.args[0] ?? '')}`);
        }
        if (m.replySerial === serial && m.type === MessageType.METHOD_RETURN) job = String(m.args[0] ?? '');
        // the manager sends every signal to clients of its private socket; JobRemoved(id, job, unit, result)
        if (job !== null && m.type === MessageType.SIGNAL && m.member === 'JobRemoved' && m.args[1] === job && m.args[3] !== 'done') {
          throw new Error(`the start job of ${r.unit} ended "${String(m.args[3])}"`);
        }
      }
      if (conn.failure) throw conn.failure;
      if (Date.now() > deadline) {
        throw new Error(job === null
          ? `no answer within ${r.timeoutMs} ms`
          : `process ${r.pid} is still in ${readProcessCgroup(r.pid) ?? '?'} after ${r.timeoutMs} ms, not in ${r.cgroupPath}`);
      }
      await conn.waitEvent(job === null ? deadline - Date.now() : 2);
    }
  } finally {
    conn.close();
  }
}

/** Asks the manager for its version over the private socket: proves it answers (for `sandbox doctor`). */
export async function readManagerVersion(socket: string, uid: number, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const conn = await openConnection(socket, uid, deadline);
  try {
    conn.write(encodeMethodCall({
      serial: 1, destination: DEST, path: PATH, iface: 'org.freedesktop.DBus.Properties', member: 'Get',
      args: [{ t: 's', v: IFACE }, { t: 's', v: 'Version' }],
    }));
    for (;;) {
      for (let m = conn.inbox.shift(); m; m = conn.inbox.shift()) {
        if (m.replySerial !== 1) continue;
        if (m.type === MessageType.ERROR) throw new Error(`${m.errorName ?? 'error'}: ${String(m.args[0] ?? '')}`);
        return String(m.args[0] ?? '');
      }
      if (conn.failure) throw conn.failure;
      if (Date.now() > deadline) throw new Error(`no answer within ${timeoutMs} ms`);
      await conn.waitEvent(deadline - Date.now());
    }
  } finally {
    conn.close();
  }
}
