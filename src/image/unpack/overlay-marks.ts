// The two marks an overlay reads in a lower layer, made with libc through
// koffi (Node has neither mknod nor setxattr):
//  - a whiteout: a character device 0/0. Since Linux 5.8 mknod of 0/0 needs
//    no CAP_MKNOD (vfs_mknod lets the whiteout device through), so it works
//    inside a user namespace and even unprivileged. Kernel overlayfs and
//    fuse-overlayfs both read it.
//  - an opaque directory: xattr user.overlay.opaque = "y" (kernel overlayfs
//    mounted with `userxattr`, as it is inside a user namespace) and
//    user.fuseoverlayfs.opaque = "y" (what every fuse-overlayfs version
//    reads; only newer ones also read user.overlay.opaque).
// Must not: follow a symlink (mknodat never follows its last component,
// lsetxattr acts on the link itself) or walk parents (safe-path.ts does).
import { constants } from 'node:os';
import { loadKoffi } from '../../idmap/flock.js';

export const OPAQUE_XATTRS = ['user.overlay.opaque', 'user.fuseoverlayfs.opaque'] as const;

const AT_FDCWD = -100;
const S_IFCHR = 0o020000;

interface Libc {
  mknodat(dirfd: number, path: string, mode: number, dev: number): number;
  lsetxattr(path: string, name: string, value: string, size: number, flags: number): number;
  lgetxattr(path: string, name: string, value: Buffer, size: number): number;
  errno(): number;
}

let libc: Libc | undefined;

function bind(): Libc {
  if (libc) return libc;
  const koffi = loadKoffi();
  const self = koffi.load(null); // the C library Node is linked against
  libc = {
    mknodat: self.func('int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)') as Libc['mknodat'],
    lsetxattr: self.func('int lsetxattr(const char *path, const char *name, const char *value, size_t size, int flags)') as Libc['lsetxattr'],
    lgetxattr: self.func('long lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, size_t size)') as Libc['lgetxattr'],
    errno: () => koffi.errno(),
  };
  return libc;
}

/** An Error like Node's own fs errors: `code` is the errno name. */
function errnoError(call: string, path: string, errno: number): NodeJS.ErrnoException {
  const code = Object.entries(constants.errno).find(([, v]) => v === errno)?.[0] ?? `errno ${errno}`;
  const e: NodeJS.ErrnoException = new Error(`${code}: ${call} '${path}'`);
  e.code = code;
  e.errno = errno;
  e.syscall = call;
  e.path = path;
  return e;
}

/** Creates the whiteout device at `path` (which must not exist). */
export function makeWhiteout(path: string): void {
  const c = bind();
  if (c.mknodat(AT_FDCWD, path, S_IFCHR, 0) !== 0) throw errnoError('mknodat', path, c.errno());
}

/** Marks the directory at `path` opaque for kernel overlayfs (userxattr) and fuse-overlayfs. */
export function markOpaque(path: string): void {
  const c = bind();
  for (const name of OPAQUE_XATTRS) {
    if (c.lsetxattr(path, name, 'y', 1, 0) !== 0) throw errnoError('lsetxattr', path, c.errno());
  }
}

/** The value of xattr `name` of `path` itself (never followed), or null when it has none. */
export function readXattr(path: string, name: string): string | null {
  const c = bind();
  const buf = Buffer.alloc(256);
  const n = c.lgetxattr(path, name, buf, buf.length);
  if (n >= 0) return buf.subarray(0, n).toString('utf8');
  const errno = c.errno();
  if (errno === constants.errno.ENODATA) return null;
  throw errnoError('lgetxattr', path, errno);
}
