// Finds and validates a policy: a name (policies/NAME.json shipped with the
// package), a path, or "unconfined" (no filter). Errors name the file and
// the JSON pointer of the offending field.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { describeSchemaError } from '../config/load-profile.js';
import { SandboxError } from '../errors.js';
import { packagePath } from '../package-root.js';
import validatePolicy from './generated/validate-policy.js';
import type { LoadedPolicy, SeccompPolicy } from './policy.js';

export const UNCONFINED = 'unconfined';

export function listBuiltinPolicies(): string[] {
  return readdirSync(packagePath('policies')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

function isPath(ref: string): boolean {
  return ref.includes('/') || ref.endsWith('.json');
}

export function policyFile(ref: string): string {
  return isPath(ref) ? resolve(ref) : packagePath('policies', `${ref}.json`);
}

export function parsePolicy(text: string, file: string): SeccompPolicy {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new SandboxError('config', `seccomp policy ${file} is not valid JSON: ${(e as Error).message}`,
      'fix the syntax (`python3 -m json.tool FILE` shows where)');
  }
  if (!validatePolicy(data)) {
    const problems = (validatePolicy.errors ?? []).map(describeSchemaError);
    throw new SandboxError('config', `seccomp policy ${file} is invalid: ${problems.join('; ')}`,
      'fix the fields named above; the format is the OCI runtime-spec LinuxSeccomp object (`sandbox policy show default` prints one)');
  }
  return data as SeccompPolicy;
}

/** Loads a policy by name or path; "unconfined" is not a file and is handled by the caller. */
export function loadPolicy(ref: string): LoadedPolicy {
  const file = policyFile(ref);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !isPath(ref)) {
      throw new SandboxError('usage', `unknown seccomp policy "${ref}"`,
        `known policies: ${listBuiltinPolicies().join(', ')}, ${UNCONFINED}; or give a path to a .json file`);
    }
    throw new SandboxError('config', `cannot read seccomp policy ${file}: ${code ?? String(e)}`, 'check the path given to --security-opt seccomp=');
  }
  return { name: isPath(ref) ? basename(file, '.json') : ref, file, text, policy: parsePolicy(text, file) };
}
