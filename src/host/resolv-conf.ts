// The host's /etc/resolv.conf, read for the network modes (network/resolv-conf.ts renders the sandbox's).
import { readFileSync } from 'node:fs';

/** null when the host has none. */
export function readHostResolvConf(path = '/etc/resolv.conf'): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}
