// Parsers for the string forms users type (-u 1000:1000, -v SRC:DST:ro,
// --tmpfs /x:size=1m, -e K=V, 64m). Shared by the CLI and the library, pure.
// Errors name the flag (`where`) and the value.
import { SandboxError } from '../errors.js';
import type { ProfileTmpfs, ProfileVolume } from '../config/profile.js';

const SUFFIX: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export function parseSize(value: string, where: string): number {
  const m = /^([0-9]+)([kmg]?)$/i.exec(value.trim());
  const n = m ? Number(m[1]) * SUFFIX[m[2]!.toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new SandboxError('usage', `invalid size "${value}" (${where})`, 'use a byte count or a k, m or g suffix, e.g. 64m');
  }
  return n;
}

function parseId(text: string, what: string, where: string): number {
  if (!/^[0-9]{1,10}$/.test(text) || Number(text) > 4294967294) {
    throw new SandboxError('usage', `invalid ${what} "${text}" (${where})`, 'use a numeric id, e.g. -u 1000:1000');
  }
  return Number(text);
}

/** UID[:GID]; the gid defaults to the uid, as with docker for numeric users. */
export function parseUser(value: string, where = '-u'): { uid: number; gid: number } {
  const [u, g, ...rest] = value.split(':');
  if (rest.length || u === undefined || u === '') {
    throw new SandboxError('usage', `invalid user "${value}" (${where})`, 'use UID or UID:GID, e.g. -u 1000:1000');
  }
  const uid = parseId(u, 'uid', where);
  return { uid, gid: g === undefined ? uid : parseId(g, 'gid', where) };
}

function absolute(path: string, what: string, where: string, value: string): string {
  if (!path.startsWith('/')) {
    throw new SandboxError('usage', `${what} "${path}" in "${value}" (${where}) is not an absolute path`,
      `write it from /, e.g. ${where} /data`);
  }
  return path;
}

/** SRC:DST[:ro|rw] */
export function parseVolume(value: string, where = '-v'): ProfileVolume {
  const parts = value.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
    throw new SandboxError('usage', `invalid volume "${value}" (${where})`, 'use SRC:DST[:ro|rw] with absolute paths, e.g. -v $PWD:/work:rw');
  }
  const mode = parts[2] ?? 'ro';
  if (mode !== 'ro' && mode !== 'rw') {
    throw new SandboxError('usage', `invalid volume mode "${mode}" in "${value}" (${where})`, 'use ro (the default) or rw');
  }
  return {
    source: absolute(parts[0], 'source', where, value),
    target: absolute(parts[1], 'target', where, value),
    writable: mode === 'rw',
  };
}

/** DST[:size=N,mode=NNNN] */
export function parseTmpfs(value: string, where = '--tmpfs'): ProfileTmpfs {
  const idx = value.indexOf(':');
  const path = absolute(idx < 0 ? value : value.slice(0, idx), 'path', where, value);
  const result: { path: string; size?: string; mode?: string } = { path };
  if (idx >= 0) {
    for (const opt of value.slice(idx + 1).split(',')) {
      const [k, v, extra] = opt.split('=');
      if (extra !== undefined) throw new SandboxError('usage', `invalid tmpfs option "${opt}" in "${value}" (${where})`, 'use size=N[k|m|g] and mode=OCTAL');
      if (k === 'size' && v) { parseSize(v, where); result.size = v; }
      else if (k === 'mode' && v && /^[0-7]{3,4}$/.test(v)) result.mode = v;
      else throw new SandboxError('usage', `invalid tmpfs option "${opt}" in "${value}" (${where})`, 'use size=N[k|m|g] and mode=OCTAL, e.g. --tmpfs /scratch:size=16m,mode=1777');
    }
  }
  return result;
}

/** KEY=VAL, or KEY alone to copy the caller's value (left out if unset). */
export function parseEnvArg(value: string, callerEnv: NodeJS.ProcessEnv, where = '-e'): [string, string] | null {
  const eq = value.indexOf('=');
  const key = eq < 0 ? value : value.slice(0, eq);
  if (!/^[^=\0\s]+$/.test(key) || value.includes('\0')) {
    throw new SandboxError('usage', `invalid environment variable "${value}" (${where})`, 'use KEY=VALUE or KEY');
  }
  if (eq >= 0) return [key, value.slice(eq + 1)];
  const inherited = callerEnv[key];
  return inherited === undefined ? null : [key, inherited];
}

/** An env file as docker reads it: KEY=VAL or KEY lines, # comments, no quoting. */
export function parseEnvFile(text: string, file: string, callerEnv: NodeJS.ProcessEnv): [string, string][] {
  const out: [string, string][] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (!line.trim() || line.trimStart().startsWith('#')) return;
    const pair = parseEnvArg(line.trimStart(), callerEnv, `--env-file ${file}:${i + 1}`);
    if (pair) out.push(pair);
  });
  return out;
}

export function parseOctal(mode: string): number {
  return parseInt(mode, 8);
}
