// Loads a profile by name (profiles/NAME.json shipped with the package) or by
// path, and validates its shape with the ahead-of-time compiled schema.
// Errors name the file and the JSON pointer of the offending field.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { ErrorObject } from 'ajv';
import { SandboxError } from '../errors.js';
import { packagePath } from '../package-root.js';
import validateProfile from './generated/validate-profile.js';
import type { LoadedProfile, Profile } from './profile.js';

export function builtinProfileDir(): string {
  return packagePath('profiles');
}

/** Names of the profiles shipped with the package. */
export function listBuiltinProfiles(): string[] {
  return readdirSync(builtinProfileDir())
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

function isPath(ref: string): boolean {
  return ref.includes('/') || ref.endsWith('.json');
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

/** Validates parsed JSON as a profile; `file` is only used in messages. */
export function parseProfile(data: unknown, file: string): Profile {
  if (!validateProfile(data)) {
    const problems = (validateProfile.errors ?? []).map(describeSchemaError);
    throw new SandboxError(
      'config',
      `profile ${file} is invalid: ${problems.join('; ')}`,
      'fix the fields named above; `sandbox profile show default` prints a valid profile',
    );
  }
  return data as Profile;
}

export function loadProfile(ref: string): LoadedProfile {
  const file = isPath(ref) ? resolve(ref) : packagePath('profiles', `${ref}.json`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !isPath(ref)) {
      throw new SandboxError('usage', `unknown profile "${ref}" (--profile)`,
        `known profiles: ${listBuiltinProfiles().join(', ')}; or give a path to a .json file`);
    }
    throw new SandboxError('config', `cannot read profile ${file}: ${code ?? String(e)}`, 'check the path given to --profile');
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new SandboxError('config', `profile ${file} is not valid JSON: ${(e as Error).message}`,
      'fix the syntax (a JSON linter such as `python3 -m json.tool FILE` shows where)');
  }
  const name = isPath(ref) ? basename(file, '.json') : ref;
  return { name, file, profile: parseProfile(data, file) };
}
