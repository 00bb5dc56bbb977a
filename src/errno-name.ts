// errnoName: the one place an errno number becomes its name. Node's
// os.constants.errno lists aliases (EAGAIN/EWOULDBLOCK, ENOTSUP/EOPNOTSUPP);
// we print the name glibc's strerrorname_np and strace print.
import { constants } from 'node:os';

/** Where Node has two names for one number, the conventional one. */
const PREFERRED: Readonly<Record<string, string>> = { EWOULDBLOCK: 'EAGAIN', ENOTSUP: 'EOPNOTSUPP', EDEADLOCK: 'EDEADLK' };

const NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(constants.errno)) {
  const preferred = PREFERRED[name] ?? name;
  if (!NAMES.has(n) || preferred === name) NAMES.set(n, preferred);
}

/** "EPERM" for 1, "EAGAIN" for 11; "errno N" for numbers Node does not name. */
export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `errno ${errno}`;
}
