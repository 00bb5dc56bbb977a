/* chown-tree.c: CHOWN_TREE, giving a tree to one owner, fd-relative, never
 * following a link (the isolate mode gives a box back to its caller). */
#include "stage.h"

/* Deeper trees are left as they are below this depth (a descriptor per level). */
#define CHOWN_MAX_DEPTH 128

/* Gives every entry of `dir` (and below) to uid:gid. Returns 0, or the first errno. */
static int chown_level(int dir, uid_t uid, gid_t gid, int depth) {
  int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) { int e = errno; if (fd >= 0) close(fd); return e; }
  int err = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (fchownat(dirfd(d), e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 && !err) err = errno;
    if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;
    int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) { if (errno != ENOTDIR && errno != ELOOP && !err) err = errno; continue; }
    int r = depth + 1 < CHOWN_MAX_DEPTH ? chown_level(sub, uid, gid, depth + 1) : ELOOP;
    if (r && !err) err = r;
    close(sub);
  }
  closedir(d);
  return err;
}

int chown_tree(int top, uid_t uid, gid_t gid) {
  int err = fchownat(top, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
  int below = chown_level(top, uid, gid, 0);
  return err ? err : below;
}

void do_chown_tree(struct stage *st, uint32_t step, const struct op *o) {
  int fd = (int)arg_i(st, o, 0, step);
  uid_t uid = (uid_t)arg_i(st, o, 1, step);
  gid_t gid = (gid_t)arg_i(st, o, 2, step);
  int64_t when = arg_i(st, o, 3, step);
  if (when == 1) {
    if (st->n_chown_after_run == MAX_CLEAR) fail(step, E2BIG, "more than %d trees to give back", MAX_CLEAR);
    st->chown_after_run[st->n_chown_after_run].fd = fd;
    st->chown_after_run[st->n_chown_after_run].uid = uid;
    st->chown_after_run[st->n_chown_after_run].gid = gid;
    st->n_chown_after_run++;
    return;
  }
  int err = chown_tree(fd, uid, gid);
  if (err && when != 2) fail(step, err, "give the tree of fd %d to %d:%d", fd, (int)uid, (int)gid);
  close(fd);
}
