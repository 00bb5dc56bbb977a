// The library API: the same run path as the CLI, without commander.
//   import { exec } from 'rootless-sandbox';
//   const result = await exec({ command: ['/bin/echo', 'hi'], profile: 'strict' });
export { exec, spawnSandbox, prepareRun } from './run/spawn-sandbox.js';
export type { SandboxProcess, SpawnOptions, StdioChoice } from './run/spawn-sandbox.js';
export type { RunResult, RunStatus } from './run/run-result.js';
export type { ExecOptions } from './resolve/exec-options.js';
export type { RunSpec } from './resolve/run-spec.js';
export type { Profile, ProfileTmpfs, ProfileVolume } from './config/profile.js';
export { loadProfile, listBuiltinProfiles } from './config/load-profile.js';
export { SandboxError, isSandboxError } from './errors.js';
export type { SandboxErrorCode } from './errors.js';
export { compilePolicy } from './seccomp/compile-policy.js';
export type { CompiledPolicy } from './seccomp/compile-policy.js';
export { listBuiltinPolicies } from './seccomp/load-policy.js';
export { prepareSeccomp, filterContext } from './seccomp/prepare-seccomp.js';
export type { SeccompPolicy } from './seccomp/policy.js';
