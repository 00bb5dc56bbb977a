/* clear-tree.c: CLEAR_DIR, emptying a tree whose files belong to ids of the user namespace,
 * fd-relative and without recursion. */
#include "stage.h"

/* ------------------------------------------------------------ clearing
 * Empties a directory whose files belong to ids of the user namespace (a
 * run's writable layer): only the stage, inside with its capabilities, may
 * remove them. Subdirectories are renamed up to the top level before they are
 * emptied, so a tree of any depth is cleared with two fds and no recursion;
 * symlinks are removed, never followed. */

/* Removes every entry of `dir`, moving subdirectories to `top`. Returns how many entries it removed or moved. */
static long clear_level(int top, int dir, unsigned long *serial, int *err) {
  int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) { *err = errno; if (fd >= 0) close(fd); return 0; }
  long progress = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (unlinkat(dir, e->d_name, 0) == 0) { progress++; continue; }
    if (errno != EISDIR) { *err = errno; continue; }
    if (unlinkat(dir, e->d_name, AT_REMOVEDIR) == 0) { progress++; continue; }
    if (dir == top) continue; /* a full directory at the top: emptied by the next pass */
    char name[32];
    for (;;) {
      snprintf(name, sizeof name, ".clear-%lu", (*serial)++);
      if (syscall(SYS_renameat2, dir, e->d_name, top, name, RENAME_NOREPLACE) == 0) { progress++; break; }
      if (errno != EEXIST) { *err = errno; break; }
    }
  }
  closedir(d);
  return progress;
}

/* Empties the directory `top` (which stays). 0, or an errno. */
int clear_dir(int top) {
  unsigned long serial = 0;
  for (;;) {
    int err = 0;
    long progress = clear_level(top, top, &serial, &err);
    int fd = openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) return errno;
    int left = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      left = 1;
      int sub = openat(top, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) { err = errno; continue; }
      progress += clear_level(top, sub, &serial, &err);
      close(sub);
    }
    closedir(d);
    if (!left) return 0;
    if (progress == 0) return err ? err : ENOTEMPTY;
  }
}

void do_clear_dir(struct stage *st, uint32_t step, const struct op *o) {
  int fd = (int)arg_i(st, o, 0, step);
  if (arg_i(st, o, 1, step)) {
    if (st->n_clear_after_run == MAX_CLEAR) fail(step, E2BIG, "more than %d directories to clear", MAX_CLEAR);
    st->clear_after_run[st->n_clear_after_run++] = fd;
    return;
  }
  int err = clear_dir(fd);
  if (err) fail(step, err, "clear the directory of fd %d", fd);
  close(fd);
}

