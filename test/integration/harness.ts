// Runs the real CLI (bin/sandbox.cjs, the built bundle) as root and as the
// unprivileged test users that .ci/run creates, and the probe inside.
import { execFileSync, spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { cpSync, mkdtempSync, chmodSync, existsSync, readFileSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
// @ts-expect-error: plain ESM helper without types
import { buildProbe } from '../probe/build-probe.mjs';

export const REPO = resolve(import.meta.dirname, '../..');

export interface Identity {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

function lookup(name: string): Identity | null {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const [, , uid, gid, , home] = r.stdout.trim().split(':');
  return { name, uid: Number(uid), gid: Number(gid), home: home ?? '/' };
}

export const isRoot = process.getuid?.() === 0;
/** The identity running the tests: root in CI, or a developer. */
export const ME: Identity = isRoot
  ? { name: 'root', uid: 0, gid: 0, home: '/root' }
  : { name: userInfo().username, uid: process.getuid!(), gid: process.getgid!(), home: homedir() };
/** Kept for readability in tests that only need "whoever runs the suite". */
export const ROOT = ME;
/** Has /etc/subuid and /etc/subgid ranges (sbtest:200000:65536). */
export const SBTEST = lookup('sbtest');
/** Has no ranges: single-id mapping. */
export const SBTEST_NORANGE = lookup('sbtest-norange');
/** Has no ranges either: the other local user of the security tests, who must reach nothing of the others' stores. */
export const SBTEST_OTHER = lookup('sbtest-other');

export const missingUsers = !isRoot || !SBTEST || !SBTEST_NORANGE;
if (missingUsers) {
  console.warn('integration: tests as unprivileged users are skipped: they need root and the users sbtest and sbtest-norange (run `sudo bash scripts/setup-host.sh --test-users`; .ci/run does)');
}

/** Identities every case runs as; CI (root, with the test users) has both. */
export const IDENTITIES: Identity[] = isRoot && SBTEST ? [ME, SBTEST] : [ME];

let packageDir: string | undefined;

/**
 * Where the built package is, readable by the test users: the checkout if
 * they can read it, else a world-readable copy (CI may clone under /root).
 */
export function packageForUsers(): string {
  if (packageDir) return packageDir;
  const cli = join(REPO, 'dist', 'cli.cjs');
  if (!existsSync(cli)) throw new Error('dist/cli.cjs is missing: run `npm run build` (npm test does)');
  const readable = !SBTEST || spawnSync('test', ['-r', cli, '-a', '-x', join(REPO, 'dist')], { uid: SBTEST.uid, gid: SBTEST.gid }).status === 0;
  if (readable) return (packageDir = REPO);
  const dir = mkdtempSync(join(tmpdir(), 'rootless-sandbox-pkg-'));
  for (const part of ['bin', 'dist', 'profiles', 'policies', 'package.json', 'node_modules/koffi']) cpSync(join(REPO, part), join(dir, part), { recursive: true });
  chmodSync(dir, 0o755);
  execFileSync('chmod', ['-R', 'a+rX', dir]);
  return (packageDir = dir);
}

let probePath: string | undefined;
export async function probe(): Promise<string> {
  probePath ??= (await buildProbe()) as string;
  return probePath;
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunAs {
  readonly as: Identity;
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly stdio?: SpawnOptions['stdio'];
  readonly timeoutMs?: number;
  /** The bin to run (default sandbox.cjs; sandbox-oci.cjs for the OCI runtime). */
  readonly bin?: string;
  /** Working directory (default /tmp). */
  readonly cwd?: string;
}

export function cliEnv(who: Identity, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: who.home, USER: who.name, LANG: 'C.UTF-8', ...extra };
}

/** Starts `sandbox ARGS` (or another bin of the package) as the given identity. */
export function startCli(args: readonly string[], opts: RunAs) {
  const pkg = packageForUsers();
  return spawn(process.execPath, [join(pkg, 'bin', opts.bin ?? 'sandbox.cjs'), ...args], {
    cwd: opts.cwd ?? '/tmp',
    env: cliEnv(opts.as, opts.env),
    stdio: opts.stdio ?? ['pipe', 'pipe', 'pipe'],
    ...(opts.as.uid !== process.getuid?.() ? { uid: opts.as.uid, gid: opts.as.gid } : {}),
  });
}

/** Runs `sandbox ARGS` to the end. */
export function runCli(args: readonly string[], opts: RunAs): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = startCli(args, opts);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    child.stdin?.end(opts.input ?? '');
  });
}

/** Runs the probe in a sandbox (bound at /probe) and parses its JSON report. */
export async function runProbe(
  sandboxArgs: readonly string[],
  reports: readonly string[],
  opts: RunAs,
): Promise<CliResult & { report: Record<string, any> }> {
  const p = await probe();
  const r = await runCli(['exec', '-v', `${p}:/probe`, ...sandboxArgs, 'host', '/probe', ...reports], opts);
  let report: Record<string, any>;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    throw new Error(`probe printed no JSON (exit ${r.code}):\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  return { ...r, report };
}

/** Host pids of processes whose command line contains `marker`. */
export function processesWith(marker: string): number[] {
  const r = spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number).filter((pid) => pid !== process.pid);
}

export async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

export const hasScript = spawnSync('script', ['--version']).status === 0;
if (!hasScript) console.warn('terminal tests skipped: script(1) from util-linux is missing (bsdutils; setup-host.sh --test-users installs it)');

/** Runs a shell command line inside a fresh pty (script -q -e -c), as `who`. */
export function inTerminal(who: Identity, commandLine: string, input = ''): { code: number | null; out: string } {
  const r = spawnSync('script', ['-q', '-e', '-c', commandLine, '/dev/null'], {
    cwd: '/tmp', env: cliEnv(who, { TERM: 'xterm' }), input, encoding: 'utf8', timeout: 20_000,
    ...(who.uid !== process.getuid?.() ? { uid: who.uid, gid: who.gid } : {}),
  });
  return { code: r.status, out: r.stdout.replace(/\r/g, '') };
}

/** The JSON object in terminal output (which may carry other text around it). */
export function jsonIn(out: string): any {
  return JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1));
}

/** The CLI as a shell command line, for inTerminal. */
export function sandboxCommand(): string {
  return `${process.execPath} ${join(packageForUsers(), 'bin', 'sandbox.cjs')}`;
}

/** A 64-bit ELF file without a program interpreter (PT_INTERP): it runs alone in an empty root. */
export function isStaticElf(file: string): boolean {
  if (!existsSync(file)) return false;
  const elf = readFileSync(file);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const size = elf.readUInt16LE(0x36);
  return Array.from({ length: elf.readUInt16LE(0x38) }, (_, i) => elf.readUInt32LE(phoff + i * size)).every((type) => type !== 3);
}
