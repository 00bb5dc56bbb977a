// /etc/resolv.conf inside the sandbox: the helper's DNS forwarder, with the
// host's search domains and options kept; the host's own file for --network host.
import type { NetworkMode } from './parse-network.js';

/** Where slirp4netns answers DNS (its built-in forwarder in 10.0.2.0/24). */
export const SLIRP4NETNS_DNS = '10.0.2.3';
/** The address pasta is told to map to the host's first resolver (--dns-forward); link-local, so it never collides with a real network. */
export const PASTA_DNS = '169.254.1.1';

/** The search/domain/options lines of a resolv.conf. */
function keptLines(host: string | null): string[] {
  return (host ?? '').split('\n').map((l) => l.trim()).filter((l) => /^(search|domain|options)\s/.test(l));
}

/** null: no resolv.conf (no network). */
export function renderResolvConf(mode: NetworkMode, host: string | null): string | null {
  switch (mode) {
    case 'none': return null;
    case 'host': return host ?? '';
    case 'pasta': return [`nameserver ${PASTA_DNS}`, ...keptLines(host)].join('\n') + '\n';
    case 'slirp4netns': return [`nameserver ${SLIRP4NETNS_DNS}`, ...keptLines(host)].join('\n') + '\n';
  }
}
