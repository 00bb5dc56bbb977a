// The network part of a RunSpec: the mode from the flag or the profile, the
// helper's absolute path, published ports and resolv.conf. Pure: host facts
// and the host's resolv.conf come in as data.
import type { LoadedProfile } from '../config/profile.js';
import { SandboxError } from '../errors.js';
import { checkPublishUnique, parsePublish, type PublishSpec } from './publish.js';
import { parseNetwork } from './parse-network.js';
import { renderResolvConf } from './resolv-conf.js';

export type NetworkSpec =
  | { readonly mode: 'none' }
  | { readonly mode: 'host'; readonly resolvConf: string }
  | {
    readonly mode: 'pasta' | 'slirp4netns';
    /** Absolute path of the helper binary. */
    readonly helper: string;
    readonly allowHostLoopback: boolean;
    readonly publish: readonly PublishSpec[];
    readonly resolvConf: string;
  };

/** Debian's package for each helper (the install hint). */
export const HELPER_PACKAGE = { pasta: 'passt', slirp4netns: 'slirp4netns' } as const;

export interface NetworkInput {
  readonly network?: string;
  readonly publish?: readonly string[];
  readonly profile: LoadedProfile;
  /** Absolute paths of the helpers found in PATH, or null. */
  readonly helpers: { readonly pasta: string | null; readonly slirp4netns: string | null };
  /** The host's /etc/resolv.conf, or null if it has none. */
  readonly hostResolvConf: string | null;
}

export function resolveNetwork(input: NetworkInput): NetworkSpec {
  const { profile: loaded } = input;
  const profile = loaded.profile;
  const fromFlag = input.network !== undefined;
  const where = fromFlag ? '--network' : `${loaded.file}#/network`;
  const choice = parseNetwork(input.network ?? profile.network ?? 'none', where);
  const flagPorts = input.publish ?? [];
  const publish: PublishSpec[] = flagPorts.length > 0
    ? flagPorts.map((p) => parsePublish(p, '-p'))
    : (profile.publish ?? []).map((p, i) => parsePublish(p, `${loaded.file}#/publish/${i}`));
  checkPublishUnique(publish, flagPorts.length > 0 ? '-p' : `${loaded.file}#/publish`);

  if (choice.mode === 'host' && profile.refuseHostNetwork) {
    throw new SandboxError('usage', `profile ${loaded.name} refuses --network host`,
      'this profile is for untrusted code and never shares the host\'s network; use --network pasta or slirp4netns, or a profile that allows it (default)');
  }
  if (choice.mode === 'none' || choice.mode === 'host') {
    if (publish.length > 0) {
      throw new SandboxError('usage', `cannot publish ports with --network ${choice.mode} (${flagPorts.length > 0 ? '-p' : `${loaded.file}#/publish`})`,
        choice.mode === 'host' ? 'with the host network the workload listens on the host\'s ports itself; drop -p' : 'publishing needs a network: add --network pasta or --network slirp4netns');
    }
    return choice.mode === 'none' ? { mode: 'none' } : { mode: 'host', resolvConf: renderResolvConf('host', input.hostResolvConf)! };
  }
  const helper = input.helpers[choice.mode];
  if (!helper) {
    const pkg = HELPER_PACKAGE[choice.mode];
    throw new SandboxError('host', `network mode ${choice.mode} needs the ${choice.mode} program, which is not in PATH (${where})`,
      `install it (Debian/Ubuntu: sudo apt-get install ${pkg}; Fedora: sudo dnf install ${pkg}), or choose another --network mode`);
  }
  return {
    mode: choice.mode,
    helper,
    allowHostLoopback: choice.allowHostLoopback,
    publish,
    resolvConf: renderResolvConf(choice.mode, input.hostResolvConf)!,
  };
}
