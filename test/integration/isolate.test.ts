// `sandbox isolate` (and the bin run through a link named isolate) driven the
// way CMS's IsolateSandbox and Judge0's IsolateJob drive isolate 2.x: their
// flag order and values, --cleanup then --init then --run, the exit codes,
// the status line on stderr and the meta file read by a parser as strict as
// theirs; as root and as the unprivileged user. Facts are checked from inside
// the box (ids, limits, forks), not only through exit codes.
//
// Each identity has its own configuration file (ISOLATE_CONFIG_FILE) and box
// root in a directory it owns, and its own range of box ids.
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync, chownSync, closeSync, copyFileSync, existsSync, fstatSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync,
  rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, IDENTITIES, packageForUsers, processesWith, runCli, waitFor, type CliResult, type Identity } from './harness.js';
import { parseIsolateMeta } from './isolate-meta.js';

const TOP = mkdtempSync(join(tmpdir(), 'sandbox-isolate-test-'));
chmodSync(TOP, 0o755);
afterAll(() => rmSync(TOP, { recursive: true, force: true }));

// ---- C programs, built once with the host's gcc (readable by everyone) ----

const hasGcc = spawnSync('gcc', ['--version']).status === 0;
if (!hasGcc) console.warn('isolate tests with C programs skipped: gcc is missing (apt-get install gcc)');

const PROGRAMS: Record<string, string> = {
  spin: 'int main(void){volatile unsigned long x=0;for(;;)x++;}',
  segv: 'int main(void){volatile int *p=0;*p=1;return 0;}',
  big: `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int c,char**v){size_t n=(size_t)atol(v[1])<<20;char*p=malloc(n);if(!p){puts("malloc failed");return 3;}memset(p,1,n);puts("touched");return 0;}`,
  fork: `#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sys/wait.h>
int main(void){pid_t p=fork();if(p<0){printf("fork failed: %s\\n",strerror(errno));return 4;}if(p==0)_exit(0);wait(0);puts("fork ok");return 0;}`,
  fsize: `#include <stdio.h>
int main(void){FILE*f=fopen("big.out","w");static char b[4096];for(int i=0;i<1024;i++)fwrite(b,1,sizeof b,f);fclose(f);puts("wrote 4 MiB");return 0;}`,
  sum: `#include <stdio.h>
int main(void){long a,b;if(scanf("%ld %ld",&a,&b)!=2)return 2;printf("%ld\\n",a+b);fprintf(stderr,"summed\\n");return 0;}`,
};
const C_DIR = join(TOP, 'c');
const SUM_SOURCE = PROGRAMS.sum!;

beforeAll(() => {
  if (!hasGcc) return;
  mkdirSync(C_DIR, { mode: 0o755 });
  for (const [name, source] of Object.entries(PROGRAMS)) {
    writeFileSync(join(C_DIR, `${name}.c`), source);
    const r = spawnSync('gcc', ['-O0', '-o', join(C_DIR, name), join(C_DIR, `${name}.c`)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gcc ${name}.c: ${r.stderr}`);
  }
}, 60_000);

// ---- per identity: a directory it owns, its configuration files, its box ids ----

interface Place {
  readonly who: Identity;
  /** Owned by who. */
  readonly dir: string;
  readonly boxRoot: string;
  /** cg_fallback = rlimit (runs with --cg where the caller gets no cgroup). */
  readonly config: string;
  /** cg_fallback = refuse (isolate's behaviour). */
  readonly strictConfig: string;
  nextBox: number;
}

function placeOf(who: Identity): Place {
  const dir = join(TOP, who.name);
  // a user's is private; root's must be traversable (isolate's box root is 0755: the box is bound in a user namespace)
  mkdirSync(dir, { mode: 0o700 });
  chmodSync(dir, who.uid === 0 ? 0o755 : 0o700);
  const boxRoot = join(dir, 'boxes');
  const config = join(dir, 'isolate.cf');
  const strictConfig = join(dir, 'isolate-strict.cf');
  writeFileSync(config, `# test configuration of ${who.name}\nbox_root = ${boxRoot}\nnum_boxes = 400\ncg_fallback = rlimit\n`);
  writeFileSync(strictConfig, `box_root = ${boxRoot}\nnum_boxes = 400\ncg_fallback = refuse\n`);
  for (const p of [dir, config, strictConfig]) chownSync(p, who.uid, who.gid);
  return { who, dir, boxRoot, config, strictConfig, nextBox: who.uid === 0 ? 100 : 200 };
}

/** Box ids are distinct across identities too (100.. root, 200.. the user). */
function isolate(place: Place, args: readonly string[], opts: { input?: string; config?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return runCli(['isolate', ...args], {
    as: place.who,
    input: opts.input ?? '',
    env: { ISOLATE_CONFIG_FILE: opts.config ?? place.config, ...opts.env },
    timeoutMs: opts.timeoutMs ?? 30_000,
  });
}

/** A fresh box, the way CMS makes one: --cleanup, then --init (which prints <box_root>/<id>). */
async function freshBox(place: Place, programs: readonly string[] = []): Promise<{ id: number; dir: string; box: string }> {
  const id = place.nextBox++;
  const clean = await isolate(place, [`--box-id=${id}`, '--cg', '--cleanup']);
  expect(clean.code, clean.stderr).toBe(0);
  const init = await isolate(place, [`--box-id=${id}`, '--cg', '--init']);
  expect(init.code, init.stderr).toBe(0);
  const dir = join(place.boxRoot, String(id));
  expect(init.stdout).toBe(`${dir}\n`);
  const box = join(dir, 'box');
  for (const p of programs) {
    copyFileSync(join(C_DIR, p), join(box, p));
    chmodSync(join(box, p), 0o755);
    chownSync(join(box, p), place.who.uid, place.who.gid);
  }
  return { id, dir, box };
}

let metaN = 0;
/** Runs in box `id` with -M; returns the CLI result and the meta file as the strict parser reads it. */
async function runMeta(place: Place, id: number, args: readonly string[], program: readonly string[], opts: { input?: string; config?: string } = {}) {
  const metaPath = join(place.dir, `meta-${++metaN}.txt`);
  const cli = await isolate(place, ['-b', String(id), '-M', metaPath, ...args, '--run', '--', ...program], opts);
  const text = readFileSync(metaPath, 'utf8');
  let meta: Record<string, string>;
  try {
    meta = parseIsolateMeta(text);
  } catch (e) {
    throw new Error(`${(e as Error).message}\nmeta file:\n${text}\nstderr: ${cli.stderr}`);
  }
  return { cli, meta, metaPath };
}

const OK_LINE = /^OK \(\d+\.\d{3} sec real, \d+\.\d{3} sec wall\)\n$/;

/** Whether this identity gets a control group here (isolate --print-cg-root says). */
async function hasCgroup(place: Place): Promise<boolean> {
  const r = await isolate(place, ['--print-cg-root']);
  return r.code === 0;
}

describe.each(IDENTITIES)('sandbox isolate as $name', (who) => {
  let place: Place;
  let cgroups = false;
  beforeAll(async () => {
    place = placeOf(who);
    cgroups = await hasCgroup(place);
    console.log(`isolate tests as ${who.name}: ${cgroups ? 'control groups available' : 'no control group (--cg runs with cg_fallback = rlimit)'}`);
  });
  const C = it.skipIf(!hasGcc);

  describe('boxes and commands', () => {
    it('--init prints <box_root>/<id>, whose box/ is the program\'s /box; --cleanup removes it; --run without --init is XX, exit 2', async () => {
      const { id, dir, box } = await freshBox(place);
      expect(statSync(box).isDirectory()).toBe(true);
      const pwd = await isolate(place, ['-b', String(id), '--run', '--', '/bin/pwd']);
      expect(pwd.code).toBe(0);
      expect(pwd.stdout).toBe('/box\n');
      const clean = await isolate(place, ['-b', String(id), '--cleanup']);
      expect(clean.code).toBe(0);
      expect(existsSync(dir)).toBe(false);
      const { cli, meta } = await runMeta(place, id, [], ['/bin/true']);
      expect(cli.code).toBe(2);
      expect(meta.status).toBe('XX');
      expect(meta.message).toMatch(/not initialized/);
      expect(cli.stderr).toMatch(/not initialized/);
    });

    it('a box id at or above num_boxes is refused (exit 2)', async () => {
      const r = await isolate(place, ['-b', '400', '--init']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/Sandbox ID out of range \(allowed: 0-399\)/);
    });

    it('--version and --check-config (with cg_fallback = rlimit: always fine)', async () => {
      const v = await isolate(place, ['--version']);
      expect(v.code).toBe(0);
      expect(v.stdout).toContain(`Box root: ${place.boxRoot}`);
      const c = await isolate(place, ['--check-config']);
      expect(c.code, c.stderr).toBe(0);
    });
  });

  describe('usage errors: exit 2, the usage text on stdout', () => {
    it.each([
      ['no command', ['-b', '1', '-t', '1']],
      ['two commands', ['--init', '--cleanup']],
      ['--run without a program', ['--run']],
      ['--cg-mem without --cg', ['--cg-mem=1000', '--run', '--', '/bin/true']],
      ['an unknown option', ['--bogus', '--init']],
      ['a bad number', ['-t', 'soon', '--run', '--', '/bin/true']],
    ])('%s', async (_what, args) => {
      const r = await isolate(place, args);
      expect(r.code).toBe(2);
      expect(r.stdout).toMatch(/^Usage: isolate /);
      expect(r.stderr).toMatch(/^isolate: /);
    });
  });

  describe('refused options: exit 2, status XX', () => {
    it.each([
      ['-q', ['-q', '1000,100']],
      ['--share-net', ['--share-net']],
      ['--inherit-fds', ['--inherit-fds']],
    ])('%s', async (_what, args) => {
      const { id } = await freshBox(place);
      const { cli, meta } = await runMeta(place, id, args, ['/bin/true']);
      expect(cli.code).toBe(2);
      expect(meta.status).toBe('XX');
      expect(meta.message).toBe(cli.stderr.trim());
    });
  });

  describe('OK and what the program sees', () => {
    it('OK: exit 0, the status line on stderr, meta with exitcode:0 and no status; -s silences the line', async () => {
      const { id } = await freshBox(place);
      const { cli, meta } = await runMeta(place, id, [], ['/bin/echo', 'hello']);
      expect(cli.code).toBe(0);
      expect(cli.stdout).toBe('hello\n');
      expect(cli.stderr).toMatch(OK_LINE);
      expect(meta.exitcode).toBe('0');
      expect(meta.status).toBeUndefined();
      expect(meta.killed).toBeUndefined();
      expect(Number(meta.time)).toBeGreaterThanOrEqual(0);
      expect(Number(meta['max-rss'])).toBeGreaterThan(0);
      const silent = await isolate(place, ['-s', '-b', String(id), '--run', '--', '/bin/echo', 'quiet']);
      expect(silent.code).toBe(0);
      expect(silent.stdout).toBe('quiet\n');
      expect(silent.stderr).toBe('');
    });

    it('the program\'s uid is not the caller\'s; files it wrote in the box belong to the caller afterwards', async () => {
      const { id, box } = await freshBox(place);
      const r = await isolate(place, ['-b', String(id), '-p', '--run', '--', '/bin/sh', '-c', 'id -u; echo made > made.txt; mkdir sub; echo x > sub/deep']);
      expect(r.code, r.stderr).toBe(0);
      const inside = Number(r.stdout.trim());
      expect(Number.isInteger(inside)).toBe(true);
      expect(inside).not.toBe(who.uid);
      expect(inside).not.toBe(0);
      for (const f of ['made.txt', 'sub', 'sub/deep']) {
        const st = statSync(join(box, f));
        expect([f, st.uid, st.gid]).toEqual([f, who.uid, who.gid]);
      }
      expect(readFileSync(join(box, 'made.txt'), 'utf8')).toBe('made\n');
      // as with isolate (the box is the box uid's for each run), the next run may rewrite all of it, the caller's files too
      writeFileSync(join(box, 'caller.txt'), 'from the caller\n', { mode: 0o644 });
      chownSync(join(box, 'caller.txt'), who.uid, who.gid);
      const again = await isolate(place, ['-b', String(id), '--run', '--', '/bin/sh', '-c', 'echo again > made.txt; echo x > sub/deep2; echo mine > caller.txt']);
      expect(again.code, again.stderr).toBe(0);
      expect(readFileSync(join(box, 'caller.txt'), 'utf8')).toBe('mine\n');
      for (const f of ['made.txt', 'sub/deep2', 'caller.txt']) expect([f, statSync(join(box, f)).uid]).toEqual([f, who.uid]);
    });

    it('the environment is empty but for what -E gives (and LIBC_FATAL_STDERR_=1); -E VAR inherits, -E VAR= removes', async () => {
      const { id } = await freshBox(place);
      const r = await isolate(place, ['-b', String(id), '-E', 'A=1', '-E', 'LANG', '-E', 'USER', '-E', 'USER=', '--run', '--', '/usr/bin/env'], { env: { LANG: 'C.UTF-8', SECRET: 'x' } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n').sort()).toEqual(['A=1', 'LANG=C.UTF-8', 'LIBC_FATAL_STDERR_=1']);
    });

    it('no PATH search: a bare name is /box/name; one that cannot be executed is RE with exit code 127', async () => {
      const { id } = await freshBox(place);
      const { cli, meta } = await runMeta(place, id, ['-E', 'PATH=/usr/bin:/bin'], ['id']);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(/Exited with error status 127\n$/);
      expect(meta).toMatchObject({ exitcode: '127', status: 'RE', message: 'Exited with error status 127' });
    });

    it('defaults: 64 open files; -n changes it', async () => {
      const { id } = await freshBox(place);
      const r = await isolate(place, ['-b', String(id), '--run', '--', '/bin/sh', '-c', 'ulimit -n']);
      expect(r.stdout).toBe('64\n');
      const n = await isolate(place, ['-b', String(id), '-n', '10', '--run', '--', '/bin/sh', '-c', 'ulimit -n']);
      expect(n.stdout).toBe('10\n');
    });

    it('-k sets the stack limit (Judge0 passes -k 64000); without it the stack is unlimited, as isolate sets it', async () => {
      const { id } = await freshBox(place);
      const r = await isolate(place, ['-b', String(id), '-k', '64000', '--run', '--', '/bin/sh', '-c', 'ulimit -s']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('64000\n');
      const d = await isolate(place, ['-b', String(id), '--run', '--', '/bin/sh', '-c', 'ulimit -s']);
      expect(d.stdout).toBe('unlimited\n');
    });

    it('without -k under a caller whose hard stack limit is finite, the stack is as large as that allows (not XX)', () => {
      const id = place.nextBox++;
      const run = (args: string[]) => spawnSync('prlimit', ['--stack=8388608:16777216', process.execPath, join(packageForUsers(), 'bin', 'sandbox.cjs'), 'isolate', '-b', String(id), ...args], {
        cwd: '/tmp', encoding: 'utf8', env: cliEnv(who, { ISOLATE_CONFIG_FILE: place.config }),
        ...(who.uid !== process.getuid?.() ? { uid: who.uid, gid: who.gid } : {}),
      });
      expect(run(['--init']).status).toBe(0);
      const r = run(['--run', '--', '/bin/sh', '-c', 'ulimit -s']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe('16384\n');
      expect(run(['--cleanup']).status).toBe(0);
    });

    it.skipIf(who.uid === 0)('a file of another id in a user\'s box does not stop the run (it stays as it is)', async () => {
      const { id, box } = await freshBox(place);
      writeFileSync(join(box, 'roots.txt'), 'root put this here\n', { mode: 0o644 }); // the test runs as root
      const r = await isolate(place, ['-b', String(id), '--run', '--', '/bin/sh', '-c', 'read l < roots.txt; echo "$l" > copy.txt']);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(join(box, 'copy.txt'), 'utf8')).toBe('root put this here\n');
      expect(statSync(join(box, 'copy.txt')).uid).toBe(who.uid);
      expect(statSync(join(box, 'roots.txt')).uid).toBe(0);
    });

    it('a busy box: a second --run or --init fails (exit 2) while the first runs; --wait waits for it', async () => {
      const { id } = await freshBox(place);
      const first = isolate(place, ['-s', '-b', String(id), '--run', '--', '/bin/sleep', `3.${id}`]);
      expect(await waitFor(() => processesWith(`^/bin/sleep 3.${id}$`).length > 0, 10_000)).toBe(true);
      const busy = await isolate(place, ['-b', String(id), '--run', '--', '/bin/true']);
      expect(busy.code).toBe(2);
      expect(busy.stderr).toMatch(new RegExp(`Box ${id} is currently in use`));
      const init = await isolate(place, ['-b', String(id), '--init']);
      expect(init.code).toBe(2);
      const waited = await isolate(place, ['-b', String(id), '--wait', '--run', '--', '/bin/true']);
      expect(waited.code).toBe(0);
      expect((await first).code).toBe(0);
    });

    C('the one-process rule: a fork fails without -p; -p (bare) and -p2 allow it', async () => {
      const { id } = await freshBox(place, ['fork']);
      const one = await runMeta(place, id, [], ['./fork']);
      expect(one.cli.code).toBe(1);
      expect(one.cli.stdout).toMatch(/^fork failed: Resource temporarily unavailable/);
      expect(one.meta).toMatchObject({ exitcode: '4', status: 'RE' });
      for (const p of [['-p'], ['-p2'], ['--processes=2']]) {
        const more = await runMeta(place, id, p, ['./fork']);
        expect([p, more.cli.code, more.cli.stdout]).toEqual([p, 0, 'fork ok\n']);
      }
    });

    it('stdin, stdout and stderr files in the box (-i -o -r); relative names are in /box', async () => {
      const { id, box } = await freshBox(place);
      writeFileSync(join(box, 'in.txt'), '20 22\n');
      chownSync(join(box, 'in.txt'), who.uid, who.gid);
      const r = await isolate(place, ['-b', String(id), '-i', 'in.txt', '-o', 'out.txt', '-r', '/box/err.txt', '--run', '--', '/bin/sh', '-c', 'read a b; echo $((a+b)); echo oops >&2']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(OK_LINE);
      expect(readFileSync(join(box, 'out.txt'), 'utf8')).toBe('42\n');
      expect(readFileSync(join(box, 'err.txt'), 'utf8')).toBe('oops\n');
      expect(statSync(join(box, 'out.txt')).uid).toBe(who.uid);
      const missing = await runMeta(place, id, ['-i', 'nope.txt'], ['/bin/true']);
      expect(missing.cli.code).toBe(2);
      expect(missing.meta.status).toBe('XX');
    });

    it('a redirection never follows a link the program left in the box (as a file or as a directory)', async () => {
      const { id, box } = await freshBox(place);
      const made = await isolate(place, ['-b', String(id), '-p', '--run', '--', '/bin/sh', '-c', 'ln -s /etc/hostname out.txt; ln -s /etc d']);
      expect(made.code, made.stderr).toBe(0);
      const asFile = await isolate(place, ['-b', String(id), '-o', 'out.txt', '--run', '--', '/bin/true']);
      expect(asFile.code).toBe(2);
      expect(asFile.stderr).toMatch(/out\.txt is a symbolic link \(redirections never follow links\)/);
      const asDir = await isolate(place, ['-b', String(id), '-i', 'd/hostname', '--run', '--', '/bin/true']);
      expect(asDir.code).toBe(2);
      expect(asDir.stderr).toMatch(/a directory on the way to \/box\/d\/hostname is not one, or is a symbolic link/);
      expect(readFileSync('/etc/hostname', 'utf8').length).toBeGreaterThan(0);
      expect(lstatSync(join(box, 'out.txt')).isSymbolicLink()).toBe(true);
    });

    it('stdin inherited from the caller when no -i (Judge0 redirects isolate\'s own stdin)', async () => {
      const { id } = await freshBox(place);
      const r = await isolate(place, ['-s', '-b', String(id), '--run', '--', '/bin/sh', '-c', 'read x; echo $((x*2))'], { input: '21\n' });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('42\n');
    });
  });

  describe('verdicts', () => {
    it('RE: exit 1, "Exited with error status 3", meta exitcode:3 status:RE', async () => {
      const { id } = await freshBox(place);
      const { cli, meta } = await runMeta(place, id, [], ['/bin/sh', '-c', 'exit 3']);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toBe('Exited with error status 3\n');
      expect(meta).toMatchObject({ exitcode: '3', status: 'RE', message: 'Exited with error status 3' });
      expect(meta.exitsig).toBeUndefined();
    });

    C('SG: a segfaulting C program is exitsig 11, "Caught fatal signal 11"', async () => {
      const { id } = await freshBox(place, ['segv']);
      const { cli, meta } = await runMeta(place, id, [], ['./segv']);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toBe('Caught fatal signal 11\n');
      expect(meta).toMatchObject({ exitsig: '11', status: 'SG', message: 'Caught fatal signal 11' });
      expect(meta.exitcode).toBeUndefined();
      expect(meta.killed).toBeUndefined();
    });

    C('TO (CPU): a spinner under -t 0.3 has time >= 0.3, killed:1, "Time limit exceeded"', async () => {
      const { id } = await freshBox(place, ['spin']);
      const { cli, meta } = await runMeta(place, id, ['-t', '0.3', '-w', '10'], ['./spin']);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toBe('Time limit exceeded\n');
      expect(meta).toMatchObject({ status: 'TO', killed: '1', message: 'Time limit exceeded' });
      expect(Number(meta.time)).toBeGreaterThanOrEqual(0.3);
      expect(Number(meta.time)).toBeLessThan(1.5);
    });

    C('TO (CPU) with -x: the kill comes after the extra time, the verdict is still TO', async () => {
      const { id } = await freshBox(place, ['spin']);
      const { cli, meta } = await runMeta(place, id, ['-t', '0.2', '-x', '0.4', '-w', '10'], ['./spin']);
      expect(cli.code).toBe(1);
      expect(meta).toMatchObject({ status: 'TO', killed: '1', message: 'Time limit exceeded' });
      expect(Number(meta.time)).toBeGreaterThanOrEqual(0.6);
    });

    it('TO (wall): sleep under -w 0.5 is "Time limit exceeded (wall clock)", time-wall >= 0.5', async () => {
      const { id } = await freshBox(place);
      const { cli, meta } = await runMeta(place, id, ['-t', '5', '-w', '0.5'], ['/bin/sleep', '10']);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toBe('Time limit exceeded (wall clock)\n');
      expect(meta).toMatchObject({ status: 'TO', killed: '1', message: 'Time limit exceeded (wall clock)' });
      expect(Number(meta['time-wall'])).toBeGreaterThanOrEqual(0.5);
      expect(Number(meta['time-wall'])).toBeLessThan(3);
      expect(Number(meta.time)).toBeLessThan(0.3);
    });

    C('-f: writing past the file size limit is SIGXFSZ, exitsig 25', async () => {
      const { id, box } = await freshBox(place, ['fsize']);
      const { cli, meta } = await runMeta(place, id, ['-f', '100'], ['./fsize']);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toBe('Caught fatal signal 25\n');
      expect(meta).toMatchObject({ exitsig: '25', status: 'SG' });
      expect(statSync(join(box, 'big.out')).size).toBe(100 * 1024);
      const free = await runMeta(place, id, ['-f', '8192'], ['./fsize']);
      expect(free.cli.code).toBe(0);
    });

    C('-m (address space): a big malloc fails inside, a small one works', async () => {
      const { id } = await freshBox(place, ['big']);
      const over = await runMeta(place, id, ['-m', '50000'], ['./big', '100']);
      expect(over.cli.stdout).toBe('malloc failed\n');
      expect(over.meta).toMatchObject({ exitcode: '3', status: 'RE' });
      const under = await runMeta(place, id, ['-m', '50000'], ['./big', '10']);
      expect(under.cli.stdout).toBe('touched\n');
      expect(under.cli.code).toBe(0);
    });

    C('--cg-mem with a control group: the OOM kill is exitsig 9 with cg-oom-killed:1 (also with one process, CMS\'s --processes=1)', async (ctx) => {
      if (!cgroups) ctx.skip(`${who.name} gets no control group on this host`);
      const { id } = await freshBox(place, ['big']);
      for (const p of [['-p'], ['--processes=1']]) {
        const { cli, meta } = await runMeta(place, id, ['--cg', '--cg-mem=50000', ...p], ['./big', '200']);
        expect([p, cli.code, cli.stderr]).toEqual([p, 1, 'Caught fatal signal 9\n']);
        expect(meta).toMatchObject({ 'cg-oom-killed': '1', exitsig: '9', status: 'SG', message: 'Caught fatal signal 9' });
        expect(Number(meta['cg-mem'])).toBeGreaterThanOrEqual(40000);
      }
      const fits = await runMeta(place, id, ['--cg', '--cg-mem=50000'], ['./big', '10']);
      expect(fits.cli.code).toBe(0);
      expect(fits.meta['cg-oom-killed']).toBeUndefined();
      expect(Number(fits.meta['cg-mem'])).toBeGreaterThanOrEqual(10 * 1024);
    });

    C('--cg without a control group: refused (exit 2, XX) unless cg_fallback = rlimit, which limits each process instead', async (ctx) => {
      if (cgroups) ctx.skip(`${who.name} has control groups here: nothing to refuse`);
      const { id } = await freshBox(place, ['big']);
      const refused = await runMeta(place, id, ['--cg', '--cg-mem=50000'], ['./big', '200'], { config: place.strictConfig });
      expect(refused.cli.code).toBe(2);
      expect(refused.meta.status).toBe('XX');
      expect(refused.cli.stderr).toMatch(/Control groups are not available.*cg_fallback = rlimit/);
      const check = await isolate(place, ['--check-config'], { config: place.strictConfig });
      expect(check.code).toBe(2);
      const fallback = await runMeta(place, id, ['--cg', '--cg-mem=50000'], ['./big', '200']);
      expect(fallback.cli.code).toBe(1);
      expect(fallback.meta['cg-mem']).toBeDefined();
      expect(fallback.meta.status).toMatch(/^(RE|SG)$/);
      const fits = await runMeta(place, id, ['--cg', '--cg-mem=50000'], ['./big', '10']);
      expect(fits.cli.code).toBe(0);
    });
  });

  describe('the meta file', () => {
    it('is rewritten in place: a descriptor opened on it before the run reads the new content (same inode)', async () => {
      const { id } = await freshBox(place);
      const metaPath = join(place.dir, 'in-place.meta');
      writeFileSync(metaPath, `${'stale:line\n'.repeat(500)}`);
      chownSync(metaPath, who.uid, who.gid);
      const before = openSync(metaPath, 'r');
      try {
        const ino = fstatSync(before).ino;
        const r = await isolate(place, ['-b', String(id), '-M', metaPath, '--run', '--', '/bin/sh', '-c', 'exit 5']);
        expect(r.code).toBe(1);
        expect(statSync(metaPath).ino).toBe(ino);
        const size = fstatSync(before).size;
        const buf = Buffer.alloc(size);
        readSync(before, buf, 0, size, 0);
        const text = buf.toString('utf8');
        expect(text).not.toContain('stale');
        expect(parseIsolateMeta(text)).toMatchObject({ exitcode: '5', status: 'RE' });
      } finally {
        closeSync(before);
      }
    });

    it('-M - writes it on stdout', async () => {
      const { id } = await freshBox(place);
      const r = await isolate(place, ['-b', String(id), '-M', '-', '--run', '--', '/bin/true']);
      expect(r.code).toBe(0);
      expect(parseIsolateMeta(r.stdout)).toMatchObject({ exitcode: '0' });
    });
  });

  describe('interrupted: SIGTERM/INT/HUP/QUIT to the isolate process', () => {
    it.each(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'] as const)('%s: exitsig of it, killed:1, status SG, "Interrupted", exit 1', async (sig) => {
      const { id } = await freshBox(place);
      const metaPath = join(place.dir, `interrupted-${sig}.meta`);
      // matched at the start of a command line: the isolate process's own has it too, after --run --
      const marker = `${(30 + id / 1000).toFixed(3)}`;
      // the program writes a file, then becomes the sleep (exec: one process)
      const child = spawn(process.execPath, [join(packageForUsers(), 'bin', 'sandbox.cjs'), 'isolate', '-b', String(id), '-M', metaPath, '--run', '--',
        '/bin/sh', '-c', `echo partial > written.txt; exec /bin/sleep ${marker}`], {
        cwd: '/tmp', env: cliEnv(who, { ISOLATE_CONFIG_FILE: place.config }), stdio: ['ignore', 'pipe', 'pipe'],
        ...(who.uid !== process.getuid?.() ? { uid: who.uid, gid: who.gid } : {}),
      });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      try {
        expect(await waitFor(() => processesWith(`^/bin/sleep ${marker}$`).length > 0, 10_000)).toBe(true);
        child.kill(sig);
        expect(await closed).toBe(1);
      } finally {
        child.kill('SIGKILL');
      }
      const meta = parseIsolateMeta(readFileSync(metaPath, 'utf8'));
      expect(meta).toMatchObject({ exitsig: String({ SIGTERM: 15, SIGINT: 2, SIGHUP: 1, SIGQUIT: 3 }[sig]), killed: '1', status: 'SG', message: 'Interrupted' });
      // measured up to the interrupt, as isolate reports it (the stage ends the tree and accounts for it)
      expect(Number(meta['time-wall'])).toBeGreaterThan(0);
      expect(stderr).toBe('Interrupted\n');
      // the box is the caller's again, as after any run
      const st = statSync(join(place.boxRoot, String(id), 'box', 'written.txt'));
      expect([st.uid, st.gid]).toEqual([who.uid, who.gid]);
      expect(await waitFor(() => processesWith(`^/bin/sleep ${marker}$`).length === 0, 5000)).toBe(true);
    });

    it('SIGABRT (Piston sends it when output grows too large): the box ends too, status XX, exit 2, nothing survives', async () => {
      const { id } = await freshBox(place);
      const metaPath = join(place.dir, 'aborted.meta');
      const marker = `${(40 + id / 1000).toFixed(3)}`;
      const child = spawn(process.execPath, [join(packageForUsers(), 'bin', 'sandbox.cjs'), 'isolate', '-b', String(id), '-M', metaPath, '--run', '--',
        '/bin/sleep', marker], {
        cwd: '/tmp', env: cliEnv(who, { ISOLATE_CONFIG_FILE: place.config }), stdio: ['ignore', 'pipe', 'pipe'],
        ...(who.uid !== process.getuid?.() ? { uid: who.uid, gid: who.gid } : {}),
      });
      const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      try {
        expect(await waitFor(() => processesWith(`^/bin/sleep ${marker}$`).length > 0, 10_000)).toBe(true);
        child.kill('SIGABRT');
        expect(await closed).toBe(2);
      } finally {
        child.kill('SIGKILL');
      }
      expect(parseIsolateMeta(readFileSync(metaPath, 'utf8'))).toMatchObject({ status: 'XX', message: 'Sandbox keeper received fatal signal 6' });
      expect(await waitFor(() => processesWith(`^/bin/sleep ${marker}$`).length === 0, 5000)).toBe(true);
    });
  });

  describe('as CMS drives it', () => {
    C('--cg --box-id --chdir=/tmp --dir=/tmp=<home>:rw --dir=/dev/shm:tmp --env=HOME=/tmp --stdin --cg-mem --stdout --processes --stderr --time --wall-time --extra-time --meta --run -- cmd', async () => {
      const home = join(place.dir, 'cms-home');
      mkdirSync(home);
      chownSync(home, who.uid, who.gid);
      chmodSync(home, 0o777); // CMS's allow_writing_all
      copyFileSync(join(C_DIR, 'sum'), join(home, 'sum'));
      writeFileSync(join(home, 'input.txt'), '40 2\n');
      const id = place.nextBox++;
      expect((await isolate(place, ['--cg', `--box-id=${id}`, '--cleanup'])).code).toBe(0);
      const init = await isolate(place, ['--cg', `--box-id=${id}`, '--init']);
      expect(init.code).toBe(0);
      const tl = 1;
      const metaPath = join(place.dir, 'cms-run.log');
      const cms = (processes: string, cmd: string[]) => isolate(place, [
        '--cg', `--box-id=${id}`, '--chdir=/tmp', `--dir=/tmp=${home}:rw`, '--dir=/dev/shm:tmp', '--env=HOME=/tmp',
        '--stdin=/tmp/input.txt', '--cg-mem=262144', '--stdout=/tmp/output.txt', processes, '--stderr=/tmp/error.txt',
        `--time=${tl}`, `--wall-time=${2 * tl + 1}`, '--extra-time=0.5', `--meta=${metaPath}`, '--run', '--', ...cmd,
      ]);
      const r = await cms('--processes=1', ['/tmp/sum']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(OK_LINE);
      expect(readFileSync(join(home, 'output.txt'), 'utf8')).toBe('42\n');
      expect(readFileSync(join(home, 'error.txt'), 'utf8')).toBe('summed\n');
      const meta = parseIsolateMeta(readFileSync(metaPath, 'utf8'));
      expect(meta.exitcode).toBe('0');
      expect(meta['cg-mem']).toBeDefined(); // CMS reads it as the memory used
      // where the program stands, its HOME, and a writable /dev/shm (shell builtins only: one process)
      const where = await cms('--processes', ['/bin/sh', '-c', 'pwd; echo $HOME; echo shm > /dev/shm/x && read l < /dev/shm/x && echo $l; ls /box']);
      expect(where.code, where.stderr).toBe(0);
      expect(readFileSync(join(home, 'output.txt'), 'utf8')).toBe('/tmp\n/tmp\nshm\n');
      // CMS's --cleanup after the evaluation
      expect((await isolate(place, ['--cg', `--box-id=${id}`, '--cleanup'])).code).toBe(0);
      expect(existsSync(join(place.boxRoot, String(id)))).toBe(false);
      expect(readFileSync(join(home, 'output.txt'), 'utf8')).toBe('/tmp\n/tmp\nshm\n'); // the home stays
    });
  });

  describe('as Judge0 drives it', () => {
    const judge0 = (id: number, metaPath: string, memory: string[]) => [
      '--cg', '-s', '-b', String(id), '-M', metaPath, '-t', '5.0', '-x', '1.0', '-w', '10.0', '-k', '64000', '-p60', '--cg-timing', ...memory,
      '-f', '1024', '-E', 'HOME=/tmp', '-E', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '-E', 'LANG', '-E', 'LANGUAGE', '-E', 'LC_ALL',
      '-d', '/etc:noexec', '--run', '--', '/bin/bash',
    ];

    it('compile (gcc in the box, -p -E PATH=...) then run with Judge0\'s flags; stdin and stdout are isolate\'s own', async (ctx) => {
      if (!hasGcc) ctx.skip('gcc is missing');
      const { id, box } = await freshBox(place);
      writeFileSync(join(box, 'main.c'), SUM_SOURCE);
      writeFileSync(join(box, 'compile'), 'gcc -O2 -o a.out main.c\n');
      writeFileSync(join(box, 'run'), 'echo "$HOME|$LANG" >&2; grep -q "/etc .*noexec" /proc/self/mountinfo && echo "etc noexec" >&2; test -r /etc/passwd && ./a.out\n');
      for (const f of ['main.c', 'compile', 'run']) chownSync(join(box, f), who.uid, who.gid);
      // Judge0's compile step: -p, the PATH, no -t smaller than gcc needs
      const compile = await isolate(place, ['-s', '-b', String(id), '-M', join(place.dir, 'j0-compile.meta'), '--stderr-to-stdout', '-i', '/dev/null', '-t', '15', '-x', '0', '-w', '20', '-k', '128000', '-p120', '-f', '4096',
        '-E', 'HOME=/tmp', '-E', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '-d', '/etc:noexec', '--run', '--', '/bin/bash', 'compile'], { timeoutMs: 60_000 });
      expect(compile.code, compile.stdout + compile.stderr).toBe(0);
      expect(statSync(join(box, 'a.out')).uid).toBe(who.uid);
      const metaPath = join(place.dir, 'j0-run.meta');
      const r = await isolate(place, [...judge0(id, metaPath, ['--cg-mem=128000']), 'run'], { input: '20 22\n', env: { LANG: 'C.UTF-8' } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('42\n');
      expect(r.stderr).toBe('/tmp|C.UTF-8\netc noexec\nsummed\n'); // -s: the program's stderr only
      // Judge0: File.read(meta).split("\n").collect { |l| l.split(":") }.to_h
      const meta = parseIsolateMeta(readFileSync(metaPath, 'utf8'));
      expect(meta.exitcode).toBe('0');
      expect(Number(meta.time)).toBeLessThan(5);
    });

    // slow (~15 s): gcc's vfork retries with 1+2+4+8 s pauses before it gives up
    it('without -p a compile step cannot start cc1 (the one-process rule)', async (ctx) => {
      if (!hasGcc) ctx.skip('gcc is missing');
      const { id, box } = await freshBox(place);
      writeFileSync(join(box, 'main.c'), SUM_SOURCE);
      chownSync(join(box, 'main.c'), who.uid, who.gid);
      const r = await isolate(place, ['-b', String(id), '-E', 'PATH=/usr/bin:/bin', '--run', '--', '/usr/bin/gcc', '-o', 'a.out', 'main.c']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/Resource temporarily unavailable/);
      expect(existsSync(join(box, 'a.out'))).toBe(false);
    });

    C('Judge0\'s verdicts: TLE, RE, SG and MLE (-m instead of --cg-mem: per-process memory)', async () => {
      const { id, box } = await freshBox(place, ['spin', 'segv', 'big']);
      const cases: [string, string, Record<string, string>][] = [
        ['./spin\n', '-t', { status: 'TO', killed: '1', message: 'Time limit exceeded' }],
        ['exit 7\n', '', { exitcode: '7', status: 'RE' }],
        // bash runs the program as its child: Judge0 sees bash's exit status 139, as with isolate
        ['./segv\n', '', { exitcode: '139', status: 'RE' }],
        ['exec ./segv\n', '', { exitsig: '11', status: 'SG' }],
      ];
      for (const [script, , want] of cases) {
        writeFileSync(join(box, 'run'), script);
        chownSync(join(box, 'run'), who.uid, who.gid);
        const metaPath = join(place.dir, `j0-${want.status}.meta`);
        const args = judge0(id, metaPath, ['--cg-mem=128000']);
        args.splice(args.indexOf('5.0'), 1, '0.5'); // -t 0.5 keeps the spinner short
        const r = await isolate(place, [...args, 'run']);
        expect([script, r.code]).toEqual([script, 1]);
        expect(parseIsolateMeta(readFileSync(metaPath, 'utf8'))).toMatchObject(want);
      }
      writeFileSync(join(box, 'run'), './big 200\n');
      chownSync(join(box, 'run'), who.uid, who.gid);
      const metaPath = join(place.dir, 'j0-mle.meta');
      const args = judge0(id, metaPath, ['-m', '64000']).filter((a) => a !== '--cg');
      const r = await isolate(place, [...args, 'run']);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('malloc failed\n');
      expect(parseIsolateMeta(readFileSync(metaPath, 'utf8'))).toMatchObject({ exitcode: '3', status: 'RE' });
    });
  });

  describe('the bin run through a link named isolate', () => {
    it('speaks isolate\'s command line without the "isolate" word', async () => {
      const linkDir = join(TOP, `bin-${who.name}`);
      mkdirSync(linkDir, { mode: 0o755 });
      const link = join(linkDir, 'isolate');
      symlinkSync(join(packageForUsers(), 'bin', 'sandbox.cjs'), link);
      const run = (args: string[]) => spawnSync(link, args, {
        cwd: '/tmp', encoding: 'utf8', timeout: 30_000,
        env: cliEnv(who, { ISOLATE_CONFIG_FILE: place.config, PATH: `${dirname(process.execPath)}:/usr/bin:/bin` }),
        ...(who.uid !== process.getuid?.() ? { uid: who.uid, gid: who.gid } : {}),
      });
      const id = place.nextBox++;
      const init = run([`-b${id}`, '--init']);
      expect(init.status, init.stderr).toBe(0);
      expect(init.stdout).toBe(`${join(place.boxRoot, String(id))}\n`);
      const r = run([`-b${id}`, '--run', '--', '/bin/sh', '-c', 'exit 9']);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe('Exited with error status 9\n');
      const usage = run([]);
      expect(usage.status).toBe(2);
      expect(usage.stdout).toMatch(/^Usage: isolate /);
      expect(run([`-b${id}`, '--cleanup']).status).toBe(0);
    });
  });
});

describe.skipIf(process.getuid?.() !== 0)('root only', () => {
  it('--as-uid/--as-gid: the box\'s files go to that user after the run', async () => {
    const root = IDENTITIES[0]!;
    const place = placeOf({ ...root, name: 'root-as' });
    const { id, box } = await freshBox(place);
    const r = await isolate(place, ['-b', String(id), '--as-uid=1234', '--as-gid=1235', '--run', '--', '/bin/sh', '-c', 'echo x > f']);
    expect(r.code, r.stderr).toBe(0);
    const st = statSync(join(box, 'f'));
    expect([st.uid, st.gid]).toEqual([1234, 1235]);
  });

  it.skipIf(IDENTITIES.length < 2)('--as-uid is refused to a user (exit 2)', async () => {
    const user = IDENTITIES[1]!;
    const place = placeOf({ ...user, name: `${user.name}-as` });
    const r = await isolate(place, ['-b', '250', '--as-uid=0', '--as-gid=0', '--init']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/only be used by root/);
  });
});
