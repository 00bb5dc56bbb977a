// Shared made-up inputs for the pure planners: host facts, a host image
// layout and an inspectPath stub. Nothing here touches the host.
import { expect } from 'vitest';
import type { LoadedProfile, Profile } from '../../../src/config/profile.js';
import { SandboxError, type SandboxErrorCode } from '../../../src/errors.js';
import type { HostFacts } from '../../../src/host/probe-host.js';
import type { ExecOptions } from '../../../src/resolve/exec-options.js';
import { resolveRunSpec, type InspectPath, type ResolveInput } from '../../../src/resolve/resolve-run-spec.js';
import type { RunSpec } from '../../../src/resolve/run-spec.js';
import type { HostImageLayout } from '../../../src/rootfs/host-image.js';

export const NEWUIDMAP = '/usr/bin/newuidmap';
export const NEWGIDMAP = '/usr/bin/newgidmap';
export const TOOLS = { newuidmap: NEWUIDMAP, newgidmap: NEWGIDMAP } as const;

/** Non-root caller with subordinate ranges and the setuid helpers. */
export const aliceSubid: HostFacts = {
  uid: 1000, gid: 1000, userName: 'alice',
  subuid: { start: 100000, count: 65536 }, subgid: { start: 300000, count: 65536 },
  newuidmap: NEWUIDMAP, newgidmap: NEWGIDMAP, arch: 'x64', kernel: '6.1.0-18-amd64', pasta: '/usr/bin/pasta', slirp4netns: '/usr/bin/slirp4netns',
};
/** Non-root caller without any /etc/subuid range. */
export const aliceNoRange: HostFacts = { ...aliceSubid, subuid: null, subgid: null };
/** Non-root caller with ranges but without newuidmap/newgidmap installed. */
export const aliceNoTools: HostFacts = { ...aliceSubid, newuidmap: null, newgidmap: null };
/** Root with a range of its own. */
export const rootSubid: HostFacts = {
  uid: 0, gid: 0, userName: 'root',
  subuid: { start: 200000, count: 65536 }, subgid: { start: 400000, count: 65536 },
  newuidmap: NEWUIDMAP, newgidmap: NEWGIDMAP, arch: 'x64', kernel: '6.1.0-18-amd64', pasta: '/usr/bin/pasta', slirp4netns: '/usr/bin/slirp4netns',
};
/** Root without a range. */
export const rootNoRange: HostFacts = { ...rootSubid, subuid: null, subgid: null };

/** A fresh layout each call: resolveRunSpec freezes what it is given. */
export function fakeLayout(): HostImageLayout {
  return {
    rootEntries: [
      { path: '/bin', kind: 'symlink', target: 'usr/bin' },
      { path: '/sbin', kind: 'symlink', target: 'usr/sbin' },
      { path: '/lib', kind: 'symlink', target: 'usr/lib' },
      { path: '/lib64', kind: 'dir' },
    ],
    etcEntries: [
      { path: '/etc/ld.so.cache', kind: 'file' },
      { path: '/etc/ld.so.conf.d', kind: 'dir' },
      { path: '/etc/ssl', kind: 'dir' },
      { path: '/etc/localtime', kind: 'symlink', target: '/usr/share/zoneinfo/Etc/UTC' },
      { path: '/etc/nsswitch.conf', kind: 'file' },
    ],
    proc: {
      maskFiles: ['/proc/kcore', '/proc/keys'],
      maskDirs: ['/proc/acpi'],
      readOnly: ['/proc/sys', '/proc/sysrq-trigger'],
    },
    sys: { maskDirs: ['/sys/firmware'] },
  };
}

/** Host paths that "exist" for volume tests, with their canonical paths. */
export const HOST_PATHS: Record<string, { real: string; kind: 'dir' | 'file' | 'other' }> = {
  '/src': { real: '/srv/real-src', kind: 'dir' },
  '/data-host': { real: '/data-host', kind: 'dir' },
  '/cfg.txt': { real: '/etc-real/cfg.txt', kind: 'file' },
  '/ro-dir': { real: '/ro-dir', kind: 'dir' },
  '/dev/sda': { real: '/dev/sda', kind: 'other' },
};
export const inspectStub: InspectPath = (p) => HOST_PATHS[p] ?? null;

export function handProfile(profile: Profile, name = 'hand'): LoadedProfile {
  return { name, file: `/profiles/${name}.json`, profile };
}

export const EMPTY_PROFILE = handProfile({}, 'empty');

export function input(
  options: Partial<ExecOptions>,
  rest: Partial<Omit<ResolveInput, 'options'>> = {},
): ResolveInput {
  return {
    options: { command: ['/bin/true'], ...options },
    profile: rest.profile ?? EMPTY_PROFILE,
    host: rest.host ?? aliceSubid,
    layout: rest.layout ?? fakeLayout(),
    callerEnv: rest.callerEnv ?? {},
    envFiles: rest.envFiles ?? [],
    inspectPath: rest.inspectPath ?? inspectStub,
    hostResolvConf: rest.hostResolvConf ?? null,
    ...(rest.image && { image: rest.image }),
    ...(rest.slot !== undefined && { slot: rest.slot }),
  };
}

export function resolve(options: Partial<ExecOptions>, rest: Partial<Omit<ResolveInput, 'options'>> = {}): RunSpec {
  return resolveRunSpec(input(options, rest));
}

/** Runs fn, expects a SandboxError-like throw, and returns it. */
/** Expects a SandboxError (of `code`, when given) with a hint, and returns it. */
export function refused(fn: () => unknown, code?: SandboxErrorCode): SandboxError {
  const err = caught(fn);
  expect(err).toBeInstanceOf(SandboxError);
  if (code) expect((err as SandboxError).code).toBe(code);
  expect((err as SandboxError).hint).toBeTruthy();
  return err as SandboxError;
}

export function caught(fn: () => unknown): Error & { code?: string; hint?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string; hint?: string };
  }
  throw new Error('expected the call to throw');
}
