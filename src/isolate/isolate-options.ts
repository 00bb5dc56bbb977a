// isolate 2.x's command line (isolate(1)) as data: exactly one command, and
// the options in isolate's units (KiB, seconds). Pure; a bad command line is
// an IsolateUsageError (exit 2 with the usage text, as isolate does).
import { getopt, GetoptError, type LongOption } from './getopt.js';

export const ISOLATE_SHORT_OPTIONS = 'b:c:d:DeE:f:i:k:m:M:n:o:p::q:r:st:vw:x:';

const LONG_OPTIONS: readonly LongOption[] = [
  { name: 'box-id', arg: 'required', short: 'b' },
  { name: 'chdir', arg: 'required', short: 'c' },
  { name: 'dir', arg: 'required', short: 'd' },
  { name: 'no-default-dirs', arg: 'none', short: 'D' },
  { name: 'full-env', arg: 'none', short: 'e' },
  { name: 'env', arg: 'required', short: 'E' },
  { name: 'fsize', arg: 'required', short: 'f' },
  { name: 'stdin', arg: 'required', short: 'i' },
  { name: 'stack', arg: 'required', short: 'k' },
  { name: 'mem', arg: 'required', short: 'm' },
  { name: 'meta', arg: 'required', short: 'M' },
  { name: 'open-files', arg: 'required', short: 'n' },
  { name: 'stdout', arg: 'required', short: 'o' },
  { name: 'processes', arg: 'optional', short: 'p' },
  { name: 'quota', arg: 'required', short: 'q' },
  { name: 'stderr', arg: 'required', short: 'r' },
  { name: 'silent', arg: 'none', short: 's' },
  { name: 'time', arg: 'required', short: 't' },
  { name: 'verbose', arg: 'none', short: 'v' },
  { name: 'wall-time', arg: 'required', short: 'w' },
  { name: 'extra-time', arg: 'required', short: 'x' },
  { name: 'stderr-to-stdout', arg: 'none' },
  { name: 'cg', arg: 'none' },
  { name: 'cg-mem', arg: 'required' },
  // isolate 1.x's; Judge0 1.13.1 passes --cg-timing. CPU time is always the whole tree's here.
  { name: 'cg-timing', arg: 'none' },
  { name: 'no-cg-timing', arg: 'none' },
  { name: 'share-net', arg: 'none' },
  { name: 'inherit-fds', arg: 'none' },
  { name: 'wait', arg: 'none' },
  { name: 'as-uid', arg: 'required' },
  { name: 'as-gid', arg: 'required' },
  { name: 'init', arg: 'none' },
  { name: 'run', arg: 'none' },
  { name: 'cleanup', arg: 'none' },
  { name: 'version', arg: 'none' },
  { name: 'check-config', arg: 'none' },
  { name: 'print-cg-root', arg: 'none' },
];

export type IsolateCommand = 'init' | 'run' | 'cleanup' | 'version' | 'check-config' | 'print-cg-root';
const COMMANDS: readonly IsolateCommand[] = ['init', 'run', 'cleanup', 'version', 'check-config', 'print-cg-root'];

/** A directory rule (-d IN=OUT:OPTIONS): OUT null removes the rule for IN. */
export interface DirRule {
  /** Inside path, absolute. */
  readonly inside: string;
  /** Outside path (absolute, or "./..." relative to the box's directory); for "fs" the file system type; null: remove. */
  readonly outside: string | null;
  readonly rw: boolean;
  readonly dev: boolean;
  readonly noexec: boolean;
  readonly maybe: boolean;
  readonly fs: boolean;
  readonly tmp: boolean;
  readonly norec: boolean;
}

/** An environment rule (-E VAR, -E VAR=VALUE; an empty VALUE removes VAR). */
export interface EnvRule {
  readonly name: string;
  /** undefined: inherit from the caller. */
  readonly value: string | undefined;
}

export interface IsolateOptions {
  readonly command: IsolateCommand;
  /** The program and its arguments (--run). */
  readonly program: readonly string[];
  readonly boxId: number;
  readonly chdir?: string;
  readonly dirRules: readonly DirRule[];
  readonly defaultDirs: boolean;
  readonly fullEnv: boolean;
  readonly envRules: readonly EnvRule[];
  /** KiB. */
  readonly fsizeKiB?: number;
  readonly stackKiB?: number;
  readonly memKiB?: number;
  readonly cgMemKiB?: number;
  readonly stdin?: string;
  readonly stdout?: string;
  readonly stderr?: string;
  readonly stderrToStdout: boolean;
  readonly meta?: string;
  readonly openFiles: number;
  /** null: unlimited (bare -p, or -p0). */
  readonly processes: number | null;
  readonly quota?: { readonly blocks: number; readonly inodes: number };
  readonly silent: boolean;
  readonly verbose: number;
  /** Seconds. */
  readonly time?: number;
  readonly wallTime?: number;
  readonly extraTime?: number;
  readonly cg: boolean;
  readonly shareNet: boolean;
  readonly inheritFds: boolean;
  readonly wait: boolean;
  readonly asUid?: number;
  readonly asGid?: number;
}

export class IsolateUsageError extends Error {}

/** isolate's defaults when no option says otherwise. */
export const ISOLATE_DEFAULT_OPEN_FILES = 64;

function int(as: string, value: string | undefined, min = 0): number {
  if (value === undefined || !/^\d+$/.test(value)) throw new IsolateUsageError(`Invalid value of ${as}: ${JSON.stringify(value ?? '')} (a whole number is expected)`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new IsolateUsageError(`Invalid value of ${as}: ${value}`);
  return n;
}

function seconds(as: string, value: string | undefined): number {
  if (value === undefined || !/^(\d+(\.\d*)?|\.\d+)$/.test(value)) throw new IsolateUsageError(`Invalid value of ${as}: ${JSON.stringify(value ?? '')} (seconds are expected, fractions allowed)`);
  return Number(value);
}

const DIR_OPTIONS = new Set(['rw', 'dev', 'noexec', 'maybe', 'fs', 'tmp', 'norec']);

/** -d IN=OUT:OPTS, -d DIR:OPTS (OUT = /DIR), -d IN= (removes IN's rule). */
export function parseDirRule(arg: string): DirRule {
  const [spec, ...opts] = arg.split(':');
  for (const o of opts) if (!DIR_OPTIONS.has(o)) throw new IsolateUsageError(`Unknown directory option ${o} (in --dir=${arg}; known: ${[...DIR_OPTIONS].join(', ')})`);
  const has = (o: string) => opts.includes(o);
  const eq = spec!.indexOf('=');
  const rawIn = eq < 0 ? spec! : spec!.slice(0, eq);
  const inside = `/${rawIn.replace(/^\/+/, '')}`;
  if (inside === '/') throw new IsolateUsageError(`Invalid directory rule --dir=${arg}: the inside path is empty`);
  let outside: string | null = eq < 0 ? inside : spec!.slice(eq + 1) || null;
  if (has('tmp')) outside = outside ?? 'tmpfs';
  if (outside !== null && !has('fs') && !has('tmp') && !outside.startsWith('/') && !outside.startsWith('./')) {
    throw new IsolateUsageError(`Invalid directory rule --dir=${arg}: the outside path must be absolute or start with ./`);
  }
  if (outside !== null && has('fs') && outside.startsWith('/')) throw new IsolateUsageError(`Invalid directory rule --dir=${arg}: with fs, give a file system type, not a path`);
  return { inside, outside, rw: has('rw'), dev: has('dev'), noexec: has('noexec'), maybe: has('maybe'), fs: has('fs'), tmp: has('tmp'), norec: has('norec') };
}

export function parseEnvRule(arg: string): EnvRule {
  const eq = arg.indexOf('=');
  if (eq === 0 || arg === '') throw new IsolateUsageError(`Invalid environment rule: ${arg}`);
  return eq < 0 ? { name: arg, value: undefined } : { name: arg.slice(0, eq), value: arg.slice(eq + 1) };
}

/** Parses isolate's argv (without the program name). */
export function parseIsolateArgs(argv: readonly string[]): IsolateOptions {
  let parsed;
  try {
    parsed = getopt(argv, ISOLATE_SHORT_OPTIONS, LONG_OPTIONS);
  } catch (e) {
    if (e instanceof GetoptError) throw new IsolateUsageError(e.message);
    throw e;
  }
  const commands = parsed.options.filter((o) => (COMMANDS as readonly string[]).includes(o.name));
  if (commands.length !== 1) {
    throw new IsolateUsageError(commands.length === 0 ? 'Please specify an isolate command (e.g. --init, --run).' : 'Please specify only one isolate command.');
  }
  const command = commands[0]!.name as IsolateCommand;
  const o: { -readonly [K in keyof IsolateOptions]?: IsolateOptions[K] } = {};
  const dirRules: DirRule[] = [];
  const envRules: EnvRule[] = [];
  let verbose = 0;
  for (const { name, value, as } of parsed.options) {
    switch (name) {
      case 'box-id': o.boxId = int(as, value); break;
      case 'chdir': o.chdir = value!; break;
      case 'dir': dirRules.push(parseDirRule(value!)); break;
      case 'no-default-dirs': o.defaultDirs = false; break;
      case 'full-env': o.fullEnv = true; break;
      case 'env': envRules.push(parseEnvRule(value!)); break;
      case 'fsize': o.fsizeKiB = int(as, value, 1); break;
      case 'stdin': o.stdin = value!; break;
      case 'stack': o.stackKiB = int(as, value, 1); break;
      case 'mem': o.memKiB = int(as, value, 1); break;
      case 'meta': o.meta = value!; break;
      case 'open-files': o.openFiles = int(as, value, 1); break;
      case 'stdout': o.stdout = value!; break;
      case 'processes': o.processes = value === undefined ? null : int(as, value) || null; break;
      case 'quota': {
        const m = /^(\d+),(\d+)$/.exec(value ?? '');
        if (!m) throw new IsolateUsageError(`Invalid quota: ${value} (blocks,inodes is expected)`);
        o.quota = { blocks: Number(m[1]), inodes: Number(m[2]) };
        break;
      }
      case 'stderr': o.stderr = value!; break;
      case 'silent': o.silent = true; break;
      case 'time': o.time = seconds(as, value); break;
      case 'verbose': verbose++; break;
      case 'wall-time': o.wallTime = seconds(as, value); break;
      case 'extra-time': o.extraTime = seconds(as, value); break;
      case 'stderr-to-stdout': o.stderrToStdout = true; break;
      case 'cg': o.cg = true; break;
      case 'cg-mem': o.cgMemKiB = int(as, value, 1); break;
      case 'cg-timing': case 'no-cg-timing': break;
      case 'share-net': o.shareNet = true; break;
      case 'inherit-fds': o.inheritFds = true; break;
      case 'wait': o.wait = true; break;
      case 'as-uid': o.asUid = int(as, value); break;
      case 'as-gid': o.asGid = int(as, value); break;
      default: break; // the commands
    }
  }
  if (o.cgMemKiB !== undefined && !o.cg) throw new IsolateUsageError('Memory limit on the whole control group (--cg-mem) requires --cg.');
  if ((o.asUid === undefined) !== (o.asGid === undefined)) throw new IsolateUsageError('--as-uid and --as-gid must be given together.');
  if (command === 'run' && parsed.operands.length === 0) throw new IsolateUsageError('--run requires the program to run (isolate --run -- PROGRAM [ARGS...])');
  if (command !== 'run' && parsed.operands.length > 0) throw new IsolateUsageError(`Unexpected arguments: ${parsed.operands.join(' ')}`);
  return {
    command,
    program: parsed.operands,
    boxId: o.boxId ?? 0,
    dirRules,
    defaultDirs: o.defaultDirs ?? true,
    fullEnv: o.fullEnv ?? false,
    envRules,
    stderrToStdout: o.stderrToStdout ?? false,
    openFiles: o.openFiles ?? ISOLATE_DEFAULT_OPEN_FILES,
    processes: o.processes === undefined ? 1 : o.processes,
    silent: o.silent ?? false,
    verbose,
    cg: o.cg ?? false,
    shareNet: o.shareNet ?? false,
    inheritFds: o.inheritFds ?? false,
    wait: o.wait ?? false,
    ...(o.chdir !== undefined && { chdir: o.chdir }),
    ...(o.fsizeKiB !== undefined && { fsizeKiB: o.fsizeKiB }),
    ...(o.stackKiB !== undefined && { stackKiB: o.stackKiB }),
    ...(o.memKiB !== undefined && { memKiB: o.memKiB }),
    ...(o.cgMemKiB !== undefined && { cgMemKiB: o.cgMemKiB }),
    ...(o.stdin !== undefined && { stdin: o.stdin }),
    ...(o.stdout !== undefined && { stdout: o.stdout }),
    ...(o.stderr !== undefined && { stderr: o.stderr }),
    ...(o.meta !== undefined && { meta: o.meta }),
    ...(o.quota !== undefined && { quota: o.quota }),
    ...(o.time !== undefined && { time: o.time }),
    ...(o.wallTime !== undefined && { wallTime: o.wallTime }),
    ...(o.extraTime !== undefined && { extraTime: o.extraTime }),
    ...(o.asUid !== undefined && { asUid: o.asUid, asGid: o.asGid! }),
  };
}

/** The usage text of the isolate mode (printed on stdout with exit 2 after a usage error). */
export const ISOLATE_USAGE = `Usage: isolate [OPTIONS] COMMAND   (rootless-sandbox's isolate-compatible mode)

Commands (exactly one):
  --init                 create (or re-create) box --box-id and print its directory
  --run -- PROG [ARGS]   run PROG (used as given: no PATH search) in the box
  --cleanup              remove the box
  --version              print the version and the configuration in use
  --check-config         check the configuration file and the control groups
  --print-cg-root        print the control group the boxes' groups are made in

Options:
  -b, --box-id=ID        which box (default 0)
  -c, --chdir=DIR        working directory inside (default /box)
  -d, --dir=IN[=OUT][:OPT,...]  bind OUT (default /IN) at IN; IN= drops a rule;
                         options rw, noexec, maybe, fs (OUT is a file system type),
                         tmp (an empty writable tmpfs), dev, norec
  -D, --no-default-dirs  no default rules (the host's read-only /usr, /bin, /lib* stay)
  -e, --full-env         pass the whole environment
  -E, --env=VAR[=VALUE]  pass VAR, or set it (an empty VALUE removes it)
  -f, --fsize=KB         largest file the program may write
  -i, --stdin=FILE       stdin from FILE (in the box)
  -o, --stdout=FILE      stdout to FILE (in the box)
  -r, --stderr=FILE      stderr to FILE (in the box)
      --stderr-to-stdout stderr where stdout goes
  -k, --stack=KB         stack size limit (default: unlimited)
  -m, --mem=KB           address space limit of each process
  -M, --meta=FILE        write the meta file (- for stdout)
  -n, --open-files=N     open file limit (default 64)
  -p, --processes[=N]    allow N processes (bare -p: any number; default 1)
  -q, --quota=B,I        disk quota (not available rootless: refused)
  -s, --silent           no status line
  -t, --time=SEC         CPU time limit
  -w, --wall-time=SEC    wall clock limit
  -x, --extra-time=SEC   run this long past --time before the kill
  -v, --verbose          say more (repeatable)
      --cg               use a control group (memory and processes of the whole tree)
      --cg-mem=KB        memory limit of the control group (needs --cg)
      --cg-timing, --no-cg-timing   accepted (CPU time always covers the whole tree)
      --share-net        refused: the strict profile has no network
      --inherit-fds      refused: only stdin, stdout and stderr are passed
      --wait             wait while the box is busy instead of failing
      --as-uid=UID, --as-gid=GID    (root) whose files the box is
`;
