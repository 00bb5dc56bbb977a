// sandbox-oci's lifecycle of a detached container through the real bin
// (bin/sandbox-oci.cjs), as root and as the unprivileged test user, with a
// static busybox bundle: create (the process waits before exec, its pid in
// --pid-file), state, list, start, kill, delete; runc's errors (an id that
// exists or does not, start of a container not created, delete of one not
// stopped, kill of a stopped one); delete --force of a created container and
// kill --all of a running one; and nothing left behind: no keeper, no
// sandbox process, no state directory.
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IDENTITIES, isStaticElf, processesWith, runCli, startCli, waitFor, type Identity } from './harness.js';

const BUSYBOX = '/usr/bin/busybox';
const staticBusybox = isStaticElf(BUSYBOX);
if (!staticBusybox) console.warn('oci-lifecycle: skipped: no static /usr/bin/busybox (apt-get install busybox-static)');

const T = 60_000;
const base = mkdtempSync('/tmp/oci-lifecycle-');
chmodSync(base, 0o755);
/** Every state directory made, with its owner: a failed case's containers are deleted at the end. */
const roots: [string, Identity][] = [];
afterAll(async () => {
  for (const [root, who] of roots) {
    const ids = (await runCli(['--root', root, 'list', '-q'], { as: who, bin: 'sandbox-oci.cjs' })).stdout.split('\n').filter(Boolean);
    for (const id of ids) await runCli(['--root', root, 'delete', '--force', id], { as: who, bin: 'sandbox-oci.cjs' });
  }
  rmSync(base, { recursive: true, force: true });
});

type Config = Record<string, any>;

/** A bundle with a busybox root, owned by `who`, running `script` (with $0 = marker, to find its processes). */
async function bundle(who: Identity, name: string, script: string, marker: string): Promise<string> {
  const dir = join(base, `${who.name}-${name}`);
  mkdirSync(join(dir, 'rootfs', 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'rootfs', 'bin', 'busybox'));
  chmodSync(join(dir, 'rootfs', 'bin', 'busybox'), 0o755);
  for (const tool of ['sh', 'echo', 'sleep']) symlinkSync('busybox', join(dir, 'rootfs', 'bin', tool));
  for (const d of [dir, join(dir, 'rootfs'), join(dir, 'rootfs', 'bin')]) chownSync(d, who.uid, who.gid);
  chmodSync(dir, 0o755);
  const r = await runCli(['spec', ...(who.uid !== 0 ? ['--rootless'] : []), '--bundle', dir], { as: who, bin: 'sandbox-oci.cjs' });
  expect(r.code, r.stderr).toBe(0);
  const c: Config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  c.process.terminal = false;
  c.process.args = ['sh', '-c', script, marker];
  c.mounts = c.mounts.filter((m: Config) => !['/dev/mqueue', '/sys/fs/cgroup'].includes(m.destination));
  for (const m of c.mounts) if (m.destination === '/dev/shm') m.options = m.options.filter((o: string) => o !== 'noexec');
  delete c.linux.uidMappings;
  delete c.linux.gidMappings;
  c.annotations = { 'org.example.test': name };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c, null, 2));
  return dir;
}

let creates = 0;
const TRAP = 'echo hello; trap "echo got TERM; exit 3" TERM; while true; do sleep 0.1; done';

/** The state directory of `who`'s containers. */
function rootOf(who: Identity, name: string): string {
  const root = join(base, `${who.name}-${name}-state`);
  mkdirSync(root, { recursive: true });
  chownSync(root, who.uid, who.gid);
  roots.push([root, who]);
  return root;
}

const ppid = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
};

describe.skipIf(!staticBusybox).each(IDENTITIES)('sandbox-oci lifecycle as $name', (who) => {
  const oci = (root: string, args: string[]) => runCli(['--root', root, ...args], { as: who, bin: 'sandbox-oci.cjs' });
  const state = async (root: string, id: string) => {
    const r = await oci(root, ['state', id]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { ociVersion: string; id: string; pid: number; status: string; bundle: string; annotations: Record<string, string> };
  };
  /** create, with the container's stdout and stderr in a file (the keeper keeps them: a pipe would not close). */
  const create = async (root: string, dir: string, id: string, pidFile?: string) => {
    const out = join(base, `${who.name}-${id}-${++creates}.out`);
    const fd = openSync(out, 'w', 0o644);
    try {
      const child = startCli(['--root', root, 'create', '--bundle', dir, ...(pidFile ? ['--pid-file', pidFile] : []), id],
        { as: who, bin: 'sandbox-oci.cjs', stdio: ['ignore', fd, fd] });
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      return { code, out };
    } finally {
      closeSync(fd);
    }
  };

  it('create, state created (not executed), start, running, kill TERM, stopped, delete: nothing left', async () => {
    const marker = `lifecycle-main-${who.name}`;
    const dir = await bundle(who, 'main', TRAP, marker);
    const root = rootOf(who, 'main');
    const id = `main-${who.name}`;
    const pidFile = join(root, 'main.pid');
    const c = await create(root, dir, id, pidFile);
    expect(c.code, readFileSync(c.out, 'utf8')).toBe(0);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(1);

    const created = await state(root, id);
    expect(created).toMatchObject({ ociVersion: '1.2.0', id, pid, status: 'created', bundle: dir, annotations: { 'org.example.test': 'main' } });
    // waiting at the start gate: still the stage's program, the container's not executed
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Name:\tsandbox-stage$/m);
    expect(readFileSync(c.out, 'utf8')).toBe('');
    const reaper = ppid(pid);
    const stage = ppid(reaper);
    const keeper = processesWith(root);
    expect(keeper).toHaveLength(1);

    const listed = await oci(root, ['list', '--format', 'json']);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id, pid, status: 'created' })]);
    const table = await oci(root, ['list']);
    expect(table.stdout).toMatch(new RegExp(`^ID +PID +STATUS +BUNDLE +CREATED +OWNER\\n${id} +${pid} +created +${dir} `));

    // runc's errors while created
    const again = await create(root, dir, id);
    expect(again.code).toBe(1);
    expect(readFileSync(again.out, 'utf8')).toContain(`container with id exists: ${id}`);
    const notStopped = await oci(root, ['delete', id]);
    expect(notStopped.code).toBe(1);
    expect(notStopped.stderr).toContain(`cannot delete container ${id} that is not stopped: created`);

    const started = await oci(root, ['start', id]);
    expect(started.code, started.stderr).toBe(0);
    expect((await state(root, id)).status).toBe('running');
    await waitFor(() => readFileSync(c.out, 'utf8') === 'hello\n', 10_000);
    expect(readFileSync(c.out, 'utf8')).toBe('hello\n');
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Name:\tsh$/m);
    const twice = await oci(root, ['start', id]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('cannot start an already running container');

    // the trap is set once "hello" is out: give the shell a moment
    await new Promise((r) => setTimeout(r, 300));
    const killed = await oci(root, ['kill', id, 'TERM']);
    expect(killed.code, killed.stderr).toBe(0);
    const stoppedIn = Date.now() + 10_000;
    let s = await state(root, id);
    while (s.status !== 'stopped' && Date.now() < stoppedIn) s = await state(root, id);
    expect(s).toMatchObject({ status: 'stopped', pid: 0 });
    expect(readFileSync(c.out, 'utf8')).toBe('hello\ngot TERM\n');

    const kill2 = await oci(root, ['kill', id]);
    expect(kill2.code).toBe(1);
    expect(kill2.stderr).toContain('container not running');
    const start2 = await oci(root, ['start', id]);
    expect(start2.code).toBe(1);
    expect(start2.stderr).toContain('cannot start a container that has stopped');

    const deleted = await oci(root, ['delete', id]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(existsSync(join(root, id))).toBe(false);
    const gone = await oci(root, ['state', id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`container ${id} does not exist`);
    // ended when delete returns; a zombie (the keeper) may wait a moment for its reaper
    for (const p of [pid, reaper, stage, ...keeper]) expect(await waitFor(() => !existsSync(`/proc/${p}`), 5000), `process ${p}`).toBe(true);
    expect(processesWith(marker)).toEqual([]);
    expect(processesWith(root)).toEqual([]);
  }, T);

  it('delete --force of a created container, and kill --all KILL of a running one: nothing left', async () => {
    const marker = `lifecycle-force-${who.name}`;
    // sleeps of lengths no other test uses, one pair per identity, to find them
    const naps = who.uid === 0 ? ['301.5', '302.5'] : ['311.5', '312.5'];
    const dir = await bundle(who, 'force', `echo hello; sleep ${naps[0]} & sleep ${naps[1]}; wait`, marker);
    const root = rootOf(who, 'force');
    const a = `force-a-${who.name}`;
    const b = `force-b-${who.name}`;
    expect((await create(root, dir, a)).code).toBe(0);
    expect((await create(root, dir, b)).code).toBe(0);
    const pidA = (await state(root, a)).pid;
    expect((await oci(root, ['list', '-q'])).stdout).toBe(`${a}\n${b}\n`);

    const forced = await oci(root, ['delete', '--force', a]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(existsSync(join(root, a))).toBe(false);
    expect(existsSync(`/proc/${pidA}`)).toBe(false);

    expect((await oci(root, ['start', b])).code).toBe(0);
    // both sleeps run (each pattern finds its sleep and the shell whose script names it)
    expect(await waitFor(() => naps.every((n) => processesWith(`sleep ${n}`).length === 2), 10_000)).toBe(true);
    const all = await oci(root, ['kill', '--all', b, 'KILL']);
    expect(all.code, all.stderr).toBe(0);
    expect(await waitFor(() => [marker, ...naps.map((n) => `sleep ${n}`)].every((m) => processesWith(m).length === 0), 10_000)).toBe(true);
    const end = Date.now() + 10_000;
    while ((await state(root, b)).status !== 'stopped' && Date.now() < end) { /* the keeper records the end */ }
    expect((await state(root, b)).status).toBe('stopped');
    expect((await oci(root, ['delete', b])).code).toBe(0);
    expect((await oci(root, ['list', '--format', 'json'])).stdout).toBe('[]\n');
    expect(processesWith(root)).toEqual([]);
  }, T);

  it('a create that fails (a config refused by pointer, an unwritable pid file) says so once and leaves no container', async () => {
    const marker = `lifecycle-fail-${who.name}`;
    const dir = await bundle(who, 'fail', TRAP, marker);
    const root = rootOf(who, 'fail');
    const c: Config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    c.hooks = { prestart: [{ path: '/bin/true' }] };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
    const refused = await create(root, dir, 'refused');
    expect(refused.code).toBe(1);
    const said = readFileSync(refused.out, 'utf8');
    expect(said).toMatch(/config\.json#\/hooks/);
    expect(said.match(/error:/g)).toHaveLength(1);
    delete c.hooks;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
    const noPidFile = await create(root, dir, 'nopid', '/proc/nonexistent/pid');
    expect(noPidFile.code).toBe(1);
    expect(readFileSync(noPidFile.out, 'utf8')).toContain('cannot write the pid file /proc/nonexistent/pid');
    expect((await oci(root, ['list', '-q'])).stdout).toBe('');
    expect(await waitFor(() => processesWith(marker).length === 0 && processesWith(root).length === 0, 10_000)).toBe(true);
  }, T);

  it('kill of a created container ends it (stopped); unknown ids are runc\'s errors', async () => {
    const marker = `lifecycle-created-${who.name}`;
    const dir = await bundle(who, 'created', TRAP, marker);
    const root = rootOf(who, 'created');
    const id = `created-${who.name}`;
    expect((await create(root, dir, id)).code).toBe(0);
    expect((await oci(root, ['kill', id, 'SIGTERM'])).code).toBe(0);
    expect(await waitFor(() => JSON.parse(readFileSync(join(root, id, 'state.json'), 'utf8')).status === 'stopped', 10_000)).toBe(true);
    expect((await state(root, id)).status).toBe('stopped');
    expect((await oci(root, ['delete', id])).code).toBe(0);
    for (const verb of ['state', 'start', 'kill', 'delete']) {
      const r = await oci(root, [verb, 'nosuch']);
      expect(r.code, verb).toBe(1);
      expect(r.stderr, verb).toContain('container nosuch does not exist');
    }
    expect((await oci(root, ['delete', '--force', 'nosuch'])).code).toBe(0);
    expect(processesWith(marker)).toEqual([]);
    expect(processesWith(root)).toEqual([]);
  }, T);
});
