/* idmap-helper.c: USERNS and the id-map helper (MAP_WRITE, MAP_EXEC), which stays in the
 * parent user namespace to write the maps of the stage's new one. */
#include "stage.h"

/* ------------------------------------------------------------ the id-map helper */

/* A running newuidmap/newgidmap: started together, awaited together. */
struct map_child { pid_t pid; int err_rd; uint32_t step; const char *program; };

/* Runs in the helper, which is still in the parent user namespace. */
static struct map_child helper_map_start(struct stage *st, uint32_t step, const struct op *o, pid_t target) {
  char pidstr[16];
  snprintf(pidstr, sizeof pidstr, "%d", (int)target);
  char *argv[64];
  uint32_t n = o->nstr;
  if (n < 1 || n + 1 >= 64) fail(step, EINVAL, "MAP_EXEC argument count");
  if (o->strs[0][0] != '/') fail(step, EINVAL, "MAP_EXEC needs an absolute path: %s", o->strs[0]);
  argv[0] = o->strs[0];
  argv[1] = pidstr;
  for (uint32_t k = 1; k < n; k++) argv[k + 1] = o->strs[k];
  argv[n + 1] = NULL;

  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) < 0) fail(step, errno, "pipe");
  pid_t pid = fork();
  if (pid < 0) fail(step, errno, "fork");
  if (pid == 0) {
    char *envp[] = {NULL};
    dup2(errpipe[1], 2);
    execve(argv[0], argv, envp);
    dprintf(2, "cannot execute %s: %s", argv[0], strerror(errno));
    _exit(127);
  }
  close(errpipe[1]);
  return (struct map_child){.pid = pid, .err_rd = errpipe[0], .step = step, .program = o->strs[0]};
}

static void helper_map_finish(struct stage *st, const struct map_child *c) {
  char detail[DETAIL_MAX];
  size_t used = 0;
  for (;;) {
    ssize_t r = read(c->err_rd, detail + used, sizeof detail - 1 - used);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    used += (size_t)r;
    if (used == sizeof detail - 1) break;
  }
  detail[used] = 0;
  while (used > 0 && (detail[used - 1] == '\n')) detail[--used] = 0;
  close(c->err_rd);
  int status;
  while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail(c->step, EPERM, "%s failed (status %d): %s", c->program,
         WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), detail);
}

static void helper_map_write(struct stage *st, uint32_t step, const struct op *o, pid_t target) {
  char path[64];
  const char *file = arg_s(st, o, 0, step);
  snprintf(path, sizeof path, "/proc/%d/%s", (int)target, file);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(step, errno, "open %s", path);
  if (write_all(fd, o->strs[1], o->lens[1]) < 0) fail(step, errno, "write %s", path);
  close(fd);
}

/* USERNS: fork the helper first (it must stay in the parent user namespace
 * to write the maps), then unshare, then let the helper run the MAP_* ops. */
uint32_t do_userns(struct stage *st, uint32_t step) {
  uint32_t last = step;
  while (last + 1 < st->nops && (st->ops[last + 1].code == OP_MAP_WRITE || st->ops[last + 1].code == OP_MAP_EXEC)) last++;
  int go[2];
  if (pipe2(go, O_CLOEXEC) < 0) fail(step, errno, "pipe");
  pid_t target = getpid();
  pid_t helper = fork();
  if (helper < 0) fail(step, errno, "fork helper");
  if (helper == 0) {
    st->role = ROLE_HELPER;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(go[1]);
    char c;
    if (read(go[0], &c, 1) != 1) _exit(1); /* stage failed to unshare */
    /* newuidmap and newgidmap are independent: run them at the same time */
    struct map_child running[8];
    int nrun = 0;
    for (uint32_t k = step + 1; k <= last; k++) {
      if (st->ops[k].code == OP_MAP_EXEC && nrun < 8) running[nrun++] = helper_map_start(st, k, &st->ops[k], target);
      else if (st->ops[k].code == OP_MAP_EXEC) fail(k, E2BIG, "too many MAP_EXEC ops");
      else helper_map_write(st, k, &st->ops[k], target);
    }
    for (int k = 0; k < nrun; k++) helper_map_finish(st, &running[k]);
    _exit(0);
  }
  close(go[0]);
  if (unshare(CLONE_NEWUSER) < 0) {
    int e = errno;
    kill(helper, SIGKILL);
    waitpid(helper, NULL, 0);
    fail(step, e, "unshare(CLONE_NEWUSER)");
  }
  if (write(go[1], "g", 1) != 1) fail(step, errno, "wake helper");
  close(go[1]);
  int status;
  while (waitpid(helper, &status, 0) < 0) {
    if (errno != EINTR) fail(step, errno, "wait helper");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { send_done(); _exit(125); } /* helper reported */
  return last;
}

