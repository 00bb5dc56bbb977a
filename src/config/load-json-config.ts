// The one way configuration files are found and read: a NAME shipped in a
// folder of the package (profiles/, policies/) or a PATH; JSON parsed and
// validated by an ahead-of-time compiled schema. Errors name the file and
// the JSON pointer of each offending field.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { ErrorObject } from 'ajv';
import { SandboxError } from '../errors.js';
import { packagePath } from '../package-root.js';

export interface ConfigKind {
  /** "profile", "seccomp policy": how messages name it. */
  readonly what: string;
  /** Package folder of the named files. */
  readonly dir: string;
  /** The flag that takes it, for messages ("--profile"). */
  readonly flag: string;
  /** Names accepted besides the files ("unconfined"). */
  readonly extraNames?: readonly string[];
  /** What to run to see a valid one. */
  readonly example: string;
  readonly validate: { (data: unknown): boolean; errors?: ErrorObject[] | null };
}

export interface LoadedConfig<T> {
  readonly name: string;
  readonly file: string;
  readonly text: string;
  readonly data: T;
}

export function isConfigPath(ref: string): boolean {
  return ref.includes('/') || ref.endsWith('.json');
}

export function configFile(kind: ConfigKind, ref: string): string {
  return isConfigPath(ref) ? resolve(ref) : packagePath(kind.dir, `${ref}.json`);
}

export function listConfigs(kind: ConfigKind): string[] {
  return readdirSync(packagePath(kind.dir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

/** Describes one ajv error as "POINTER: message". */
export function describeSchemaError(e: ErrorObject): string {
  const pointer = e.instancePath || '/';
  if (e.keyword === 'additionalProperties') {
    const extra = String((e.params as { additionalProperty: string }).additionalProperty);
    return `${e.instancePath}/${extra}: unknown field "${extra}"`;
  }
  if (e.keyword === 'enum') {
    const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ');
    return `${pointer}: must be one of ${allowed}`;
  }
  return `${pointer}: ${e.message ?? 'is invalid'}`;
}

/** Validates parsed JSON; `file` is only used in messages. */
export function validateConfig<T>(kind: ConfigKind, data: unknown, file: string): T {
  if (!kind.validate(data)) {
    const problems = (kind.validate.errors ?? []).map(describeSchemaError);
    throw new SandboxError('config', `${kind.what} ${file} is invalid: ${problems.join('; ')}`,
      `fix the fields named above; ${kind.example}`);
  }
  return data as T;
}

export function parseConfig<T>(kind: ConfigKind, text: string, file: string): T {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new SandboxError('config', `${kind.what} ${file} is not valid JSON: ${(e as Error).message}`,
      'fix the syntax (`python3 -m json.tool FILE` shows where)');
  }
  return validateConfig<T>(kind, data, file);
}

export function loadConfig<T>(kind: ConfigKind, ref: string): LoadedConfig<T> {
  const file = configFile(kind, ref);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !isConfigPath(ref)) {
      throw new SandboxError('usage', `unknown ${kind.what} "${ref}" (${kind.flag})`,
        `known ${kind.dir}: ${[...listConfigs(kind), ...(kind.extraNames ?? [])].join(', ')}; or give a path to a .json file`);
    }
    throw new SandboxError('config', `cannot read ${kind.what} ${file}: ${code ?? String(e)}`, `check the path given to ${kind.flag}`);
  }
  return { name: isConfigPath(ref) ? basename(file, '.json') : ref, file, text, data: parseConfig<T>(kind, text, file) };
}
