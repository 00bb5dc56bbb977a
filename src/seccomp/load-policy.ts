// Seccomp policies: policies/NAME.json shipped with the package, a path, or
// "unconfined" (no filter, handled by the callers).
import { configFile, listConfigs, loadConfig, parseConfig, type ConfigKind } from '../config/load-json-config.js';
import validatePolicy from './generated/validate-policy.js';
import type { LoadedPolicy, SeccompPolicy } from './policy.js';

export const UNCONFINED = 'unconfined';

export const POLICY: ConfigKind = {
  what: 'seccomp policy',
  dir: 'policies',
  flag: '--security-opt seccomp=',
  extraNames: [UNCONFINED],
  example: 'the format is the OCI runtime-spec LinuxSeccomp object (`sandbox policy show default` prints one)',
  validate: validatePolicy,
};

export function listBuiltinPolicies(): string[] {
  return listConfigs(POLICY);
}

export function policyFile(ref: string): string {
  return configFile(POLICY, ref);
}

export function parsePolicy(text: string, file: string): SeccompPolicy {
  return parseConfig<SeccompPolicy>(POLICY, text, file);
}

export function loadPolicy(ref: string): LoadedPolicy {
  const { name, file, text, data } = loadConfig<SeccompPolicy>(POLICY, ref);
  return { name, file, text, policy: data };
}
