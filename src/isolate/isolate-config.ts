// The isolate mode's configuration file, in isolate's format: `key = value`
// lines, # comments. Where it is: $ISOLATE_CONFIG_FILE, else
// $XDG_CONFIG_HOME/rootless-sandbox/isolate.cf (~/.config/...) for a user and
// /etc/rootless-sandbox/isolate.cf for root; a missing file means defaults.
// Keys: box_root (where boxes are; default $XDG_STATE_HOME/rootless-sandbox/
// isolate for a user, isolate's /var/local/lib/isolate for root), num_boxes
// (box ids are below it; default 1000), cg_fallback (`rlimit` lets --cg run
// with rlimits where the caller gets no control group; default `refuse`).
// isolate's own keys that do not apply here (lock_root, cg_root, first_uid,
// first_gid, restricted_init, boxN.cpus, boxN.node) are accepted and unused,
// so one file serves both; anything else is an error naming file and line.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

export interface IsolateConfig {
  /** The file read, or null when there was none (defaults). */
  readonly file: string | null;
  readonly boxRoot: string;
  readonly numBoxes: number;
  readonly cgFallback: 'refuse' | 'rlimit';
}

export class IsolateConfigError extends Error {}

const ISOLATE_ONLY_KEYS = /^(lock_root|cg_root|first_uid|first_gid|restricted_init|box\d+\.(cpus|node))$/;

function xdg(env: NodeJS.ProcessEnv, name: 'XDG_CONFIG_HOME' | 'XDG_STATE_HOME', fallback: string): string {
  const v = env[name];
  return v && isAbsolute(v) ? v : join(homedir(), fallback);
}

export function configPath(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string {
  if (env.ISOLATE_CONFIG_FILE) return env.ISOLATE_CONFIG_FILE;
  return uid === 0 ? '/etc/rootless-sandbox/isolate.cf' : join(xdg(env, 'XDG_CONFIG_HOME', '.config'), 'rootless-sandbox', 'isolate.cf');
}

export function defaultBoxRoot(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string {
  return uid === 0 ? '/var/local/lib/isolate' : join(xdg(env, 'XDG_STATE_HOME', '.local/state'), 'rootless-sandbox', 'isolate');
}

/** Parses a configuration text; `file` is for messages. */
export function parseIsolateConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): IsolateConfig {
  let boxRoot = defaultBoxRoot(env, uid);
  let numBoxes = 1000;
  let cgFallback: IsolateConfig['cgFallback'] = 'refuse';
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const where = `${file}:${i + 1}`;
    const m = /^([A-Za-z0-9_.]+)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new IsolateConfigError(`${where}: expected "key = value", found ${JSON.stringify(raw.trim())}`);
    const [, key, value] = m as unknown as [string, string, string];
    switch (key) {
      case 'box_root':
        if (!isAbsolute(value)) throw new IsolateConfigError(`${where}: box_root must be an absolute path, not ${JSON.stringify(value)}`);
        boxRoot = value;
        break;
      case 'num_boxes':
        if (!/^\d+$/.test(value) || Number(value) < 1) throw new IsolateConfigError(`${where}: num_boxes must be a whole number of at least 1, not ${JSON.stringify(value)}`);
        numBoxes = Number(value);
        break;
      case 'cg_fallback':
        if (value !== 'refuse' && value !== 'rlimit') throw new IsolateConfigError(`${where}: cg_fallback must be refuse or rlimit, not ${JSON.stringify(value)}`);
        cgFallback = value;
        break;
      default:
        if (!ISOLATE_ONLY_KEYS.test(key)) throw new IsolateConfigError(`${where}: unknown key ${key} (known: box_root, num_boxes, cg_fallback, and isolate's own keys, which are not used here)`);
    }
  });
  return { file, boxRoot, numBoxes, cgFallback };
}

/** Reads the configuration (defaults when the file does not exist). */
export function loadIsolateConfig(env: NodeJS.ProcessEnv = process.env): IsolateConfig {
  const file = configPath(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !env.ISOLATE_CONFIG_FILE) {
      return { file: null, boxRoot: defaultBoxRoot(env), numBoxes: 1000, cgFallback: 'refuse' };
    }
    throw new IsolateConfigError(`cannot read the configuration file ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  return parseIsolateConfig(text, file, env);
}
