// Errno numbers to names, once for the whole sandbox (stage outcomes, doctor,
// the unpack worker): the names strace and glibc's strerrorname_np print.
import { constants } from 'node:os';

/** Where Node lists two names for one number, the conventional one. */
const PREFERRED = new Set(['EAGAIN', 'EDEADLK', 'EOPNOTSUPP']);
const NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!NAMES.has(value) || PREFERRED.has(name)) NAMES.set(value, name);
}

/** "EAGAIN" for 11; "errno N" for a number without a name. */
export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `errno ${errno}`;
}
