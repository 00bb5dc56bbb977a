/* confine.c: CONFINE and the confined paths: resolving paths under the new root with
 * openat2(RESOLVE_IN_ROOT) so image symlinks never lead outside. */
#include "stage.h"

/* ------------------------------------------------------- confined paths
 * Image content is untrusted: a layer may hold /etc -> /oldroot/home/alice.
 * After CONFINE, a path under the root is never resolved by the kernel's
 * ordinary walk (which would follow that link out of the new root) but with
 * openat2(RESOLVE_IN_ROOT) from an fd of the root, so every symlink and ".."
 * stays inside; the syscalls then act on fds (mkdirat, openat, symlinkat,
 * open_tree + move_mount, mount_setattr AT_EMPTY_PATH). */

/* The part of `path` below the confinement root ("." for the root itself), or NULL. */
const char *confined_rel(struct stage *st, const char *path) {
  if (st->confine.fd < 0) return NULL;
  size_t n = strlen(st->confine.root);
  if (strncmp(path, st->confine.root, n) != 0 || (path[n] != 0 && path[n] != '/')) return NULL;
  const char *rest = path + n;
  while (*rest == '/') rest++;
  return *rest ? rest : ".";
}

static int open_in_root(struct stage *st, const char *rel, int flags) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (uint64_t)(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return (int)syscall(SYS_openat2, st->confine.fd, rel, &how, sizeof how);
}

/* An O_PATH fd of `path`: resolved inside the root when confined, as usual otherwise. */
int path_fd(struct stage *st, const char *path, int flags) {
  const char *rel = confined_rel(st, path);
  if (rel) return open_in_root(st, rel, O_PATH | flags);
  return open(path, O_PATH | O_CLOEXEC | flags);
}

/* Splits rel into its parent (resolved inside the root, as an fd) and its last name. */
static int parent_in_root(struct stage *st, const char *rel, char *base, size_t cap) {
  char dir[4096];
  if (strlen(rel) >= sizeof dir) { errno = ENAMETOOLONG; return -1; }
  strcpy(dir, rel);
  char *slash = strrchr(dir, '/');
  const char *name = slash ? slash + 1 : dir;
  if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strlen(name) >= cap) { errno = EINVAL; return -1; }
  strcpy(base, name);
  if (slash) *slash = 0;
  return open_in_root(st, slash ? dir : ".", O_PATH | O_DIRECTORY);
}

/* mkdir -p inside the root: each prefix is resolved from the root again, so a
 * symlinked component is followed the way the workload would see it. */
static int mkdir_in_root(struct stage *st, const char *rel, mode_t mode) {
  char buf[4096];
  if (strlen(rel) >= sizeof buf) { errno = ENAMETOOLONG; return -1; }
  strcpy(buf, rel);
  for (char *p = buf;; p++) {
    if (*p != '/' && *p != 0) continue;
    char saved = *p;
    *p = 0;
    if (*buf) {
      int fd = open_in_root(st, buf, O_PATH | O_DIRECTORY);
      if (fd >= 0) close(fd);
      else if (errno != ENOENT) return -1;
      else {
        char name[256];
        int dfd = parent_in_root(st, buf, name, sizeof name);
        if (dfd < 0) return -1;
        int r = mkdirat(dfd, name, saved ? 0755 : mode);
        int e = errno;
        close(dfd);
        if (r < 0 && e != EEXIST) { errno = e; return -1; }
      }
    }
    if (!saved) break;
    *p = saved;
  }
  return 0;
}

void confined_mkdir(struct stage *st, uint32_t step, const char *path, const char *rel, mode_t mode, int64_t uid, int64_t gid) {
  if (mkdir_in_root(st, rel, mode) < 0) fail(step, errno, "mkdir %s", path);
  if (uid < 0 && gid < 0) return;
  int fd = open_in_root(st, rel, O_PATH | O_DIRECTORY);
  if (fd < 0) fail(step, errno, "open %s", path);
  if (fchownat(fd, "", (uid_t)uid, (gid_t)gid, AT_EMPTY_PATH) < 0) fail(step, errno, "chown %s", path);
  close(fd);
}

/* What is at the path is replaced (a symlink, fifo or file of the image), never written through;
 * with `keep`, anything already there is left as it is (-1: nothing to write). */
int confined_create(struct stage *st, uint32_t step, const char *path, const char *rel, mode_t mode, int keep) {
  char name[256];
  int dfd = parent_in_root(st, rel, name, sizeof name);
  if (dfd < 0) fail(step, errno, "open the directory of %s", path);
  struct stat sb;
  if (keep && fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0) { close(dfd); return -1; }
  if (!keep && unlinkat(dfd, name, 0) < 0 && errno != ENOENT) fail(step, errno, "replace %s", path);
  int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) fail(step, errno, "create %s", path);
  close(dfd);
  return fd;
}

void confined_symlink(struct stage *st, uint32_t step, const char *target, const char *path, const char *rel) {
  char name[256];
  int dfd = parent_in_root(st, rel, name, sizeof name);
  if (dfd < 0) fail(step, errno, "open the directory of %s", path);
  if (symlinkat(target, dfd, name) < 0) fail(step, errno, "symlink %s -> %s", path, target);
  close(dfd);
}

/* A backstop for image content: a mount target (not the root itself) that resolves to the root of the
 * confinement (an image symlink such as /proc -> .. or /tmp -> /) would cover the whole image.
 * TypeScript refuses these first, naming the link (rootfs/mount-redirects.ts); this keeps the stage from doing it. */
static void refuse_root_target(struct stage *st, uint32_t step, const char *dst, int tfd) {
  const char *rel = confined_rel(st, dst);
  if (!rel || !*rel || strcmp(rel, ".") == 0) return;
  struct stat t, r;
  if (fstat(tfd, &t) == 0 && fstat(st->confine.fd, &r) == 0 && t.st_dev == r.st_dev && t.st_ino == r.st_ino)
    fail(step, ELOOP, "mount on %s: it resolves to the root of the sandbox (a symlink in the image leads there)", dst);
}

/* Bind: a detached copy of the source tree, attached at the target's fd. */
void confined_bind(struct stage *st, uint32_t step, const char *src, const char *dst, int recursive) {
  int sfd = path_fd(st, src, 0);
  if (sfd < 0) fail(step, errno, "open %s", src);
  int tree = (int)syscall(SYS_open_tree, sfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0));
  if (tree < 0) fail(step, errno, "bind %s on %s: open_tree", src, dst);
  int tfd = path_fd(st, dst, 0);
  if (tfd < 0) fail(step, errno, "open %s", dst);
  refuse_root_target(st, step, dst, tfd);
  if (syscall(SYS_move_mount, tree, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    fail(step, errno, "bind %s on %s", src, dst);
  close(tree); close(tfd); close(sfd);
}

/* A new mount is made on the trusted staging dir, then moved onto the target's fd. */
void confined_mount(struct stage *st, uint32_t step, const char *src, const char *dst, const char *fs, unsigned long flags, const char *data) {
  if (mount(or_null(src), st->confine.staging, or_null(fs), flags, or_null(data)) < 0)
    fail(step, errno, "mount %s on %s (%s)", src, dst, fs);
  int tfd = path_fd(st, dst, O_DIRECTORY);
  if (tfd < 0) fail(step, errno, "open %s", dst);
  refuse_root_target(st, step, dst, tfd);
  if (syscall(SYS_move_mount, AT_FDCWD, st->confine.staging, tfd, "", MOVE_MOUNT_T_EMPTY_PATH) < 0)
    fail(step, errno, "move the mount of %s to %s", fs, dst);
  close(tfd);
}

void do_confine(struct stage *st, uint32_t step, const struct op *o) {
  st->confine.root = arg_s(st, o, 0, step);
  st->confine.staging = arg_s(st, o, 1, step);
  if (st->confine.fd >= 0) close(st->confine.fd);
  st->confine.fd = open(st->confine.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (st->confine.fd < 0) fail(step, errno, "open %s", st->confine.root);
}

