// Profiles (how to run): profiles/NAME.json shipped with the package, or a path.
import { listConfigs, loadConfig, validateConfig, type ConfigKind } from './load-json-config.js';
import validateProfile from './generated/validate-profile.js';
import type { LoadedProfile, Profile } from './profile.js';

export { describeSchemaError } from './load-json-config.js';

export const PROFILE: ConfigKind = {
  what: 'profile',
  dir: 'profiles',
  flag: '--profile',
  example: '`sandbox profile show default` prints a valid profile',
  validate: validateProfile,
};

export function listBuiltinProfiles(): string[] {
  return listConfigs(PROFILE);
}

/** Validates parsed JSON as a profile; `file` is only used in messages. */
export function parseProfile(data: unknown, file: string): Profile {
  return validateConfig<Profile>(PROFILE, data, file);
}

export function loadProfile(ref: string): LoadedProfile {
  const { name, file, data } = loadConfig<Profile>(PROFILE, ref);
  return { name, file, profile: data };
}
