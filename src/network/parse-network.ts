// network/: the sandbox's network modes: parsing what the user asks for,
// the helpers (pasta, slirp4netns) that give a private network namespace a
// way out, port publishing, and the resolv.conf each mode needs.
// Must not: run anything at parse time, or ever fall back to another mode.
import { SandboxError } from '../errors.js';

export type NetworkMode = 'none' | 'host' | 'pasta' | 'slirp4netns';
export const NETWORK_MODES: readonly NetworkMode[] = ['none', 'host', 'pasta', 'slirp4netns'];

export interface NetworkChoice {
  readonly mode: NetworkMode;
  /** The host's loopback services are reachable from inside (off unless asked for). */
  readonly allowHostLoopback: boolean;
}

const SYNTAX = 'use none, host, pasta, slirp4netns, pasta:allow-host-loopback or slirp4netns:allow_host_loopback=true';

/** One helper option: podman's spellings are accepted next to ours. */
function parseOption(opt: string, mode: NetworkMode, where: string, value: string): boolean {
  if (opt === 'allow-host-loopback' || opt === 'allow_host_loopback=true') return true;
  if (opt === 'allow_host_loopback=false') return false;
  // podman's pasta option that maps the gateway to the host
  if (mode === 'pasta' && opt === '--map-gw') return true;
  throw new SandboxError('usage', `unknown ${mode} option "${opt}" in "${value}" (${where})`, SYNTAX);
}

/** MODE[:OPTION,...], as podman's --network takes it. */
export function parseNetwork(value: string, where = '--network'): NetworkChoice {
  const colon = value.indexOf(':');
  const name = colon < 0 ? value : value.slice(0, colon);
  if (!(NETWORK_MODES as readonly string[]).includes(name)) {
    throw new SandboxError('usage', `unknown network mode "${value}" (${where})`, SYNTAX);
  }
  const mode = name as NetworkMode;
  let allowHostLoopback = false;
  if (colon >= 0) {
    if (mode === 'none' || mode === 'host') {
      throw new SandboxError('usage', `network mode ${mode} takes no options ("${value}", ${where})`, SYNTAX);
    }
    const opts = value.slice(colon + 1).split(',');
    if (opts.some((o) => o === '')) throw new SandboxError('usage', `empty option in "${value}" (${where})`, SYNTAX);
    for (const opt of opts) allowHostLoopback = parseOption(opt, mode, where, value);
  }
  return { mode, allowHostLoopback };
}
