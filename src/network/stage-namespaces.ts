// The stage's user and network namespaces as open descriptors, for a helper
// to join through /proc/self/fd/N: the sandbox may open them (same caller,
// or root), a helper that drops privileges first may not.
import { closeSync, openSync } from 'node:fs';
import { SandboxError } from '../errors.js';

export function openNamespaces(stagePid: number): { user: number; net: number; close(): void } {
  const open = (kind: string) => {
    try {
      return openSync(`/proc/${stagePid}/ns/${kind}`, 'r');
    } catch (e) {
      throw new SandboxError('setup', `cannot open the sandbox's ${kind} namespace /proc/${stagePid}/ns/${kind}: ${(e as NodeJS.ErrnoException).code ?? e}`,
        'the stage ended early, or this system forbids opening its namespaces; run `sandbox doctor`');
    }
  };
  const user = open('user');
  let net: number;
  try {
    net = open('net');
  } catch (e) {
    closeSync(user);
    throw e;
  }
  return { user, net, close: () => { closeSync(user); closeSync(net); } };
}
