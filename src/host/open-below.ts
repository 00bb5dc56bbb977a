// Opens a path below a directory descriptor one component at a time, never
// following a symbolic link (O_PATH|O_NOFOLLOW through /proc/self/fd, i.e.
// openat without following): for trees a workload wrote, where any name may
// have been replaced by a link. A link as a directory on the way fails with
// ENOTDIR, as the last component with ELOOP.
import { closeSync, constants, openSync } from 'node:fs';

/** Linux's O_PATH (not in fs.constants): a descriptor for walking, no read permission needed. */
export const O_PATH = 0o10000000;

/** Opens `rel` ("a/b/c", no "." or "..") below `dirFd` with `flags` (O_NOFOLLOW is added) and `mode` for a file it creates. */
export function openBelow(dirFd: number, rel: string, flags: number, mode?: number): number {
  const parts = rel.split('/');
  const opened: number[] = [];
  try {
    let at = dirFd;
    for (const part of parts.slice(0, -1)) {
      at = openSync(`/proc/self/fd/${at}/${part}`, O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      opened.push(at);
    }
    return openSync(`/proc/self/fd/${at}/${parts.at(-1)!}`, flags | constants.O_NOFOLLOW, mode);
  } finally {
    for (const fd of opened) closeSync(fd);
  }
}
