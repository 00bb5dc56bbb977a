/*
 * sandbox-stage: executes a plan made by the sandbox (TypeScript).
 *
 * The stage is an interpreter, not a decider: it reads a list of operations
 * on fd 3, carries them out top to bottom, and either succeeds or reports
 * {step, errno}. No defaults, no config parsing, no path policy live here.
 * It exists because a multi-threaded Node process may not create a user
 * namespace and no JavaScript may run between clone and exec.
 *
 * Processes:
 *   stage    reads the plan, creates the namespaces, forks pid 1, then
 *            monitors: relays errors, signals, the pty, and the exit status.
 *   helper   forked before unshare(CLONE_NEWUSER); writes the id maps
 *            (directly or through newuidmap/newgidmap) from the parent userns.
 *   reaper   pid 1 of the new pid namespace: sets up the root filesystem,
 *            forks the workload, forwards signals, reports its wait status
 *            and exits, which kills whatever is left in the namespace.
 *   workload drops everything and execs the program.
 *
 * Everything is parsed and allocated before the first fork.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <dirent.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <grp.h>
#include <linux/securebits.h>

#include "protocol.h"

#define CTL_FD 3
#define MAX_PLAN_BYTES (64u << 20)
#define MAX_OPS 65536u
#define DETAIL_MAX 512

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

struct op {
  uint32_t code;
  uint32_t nint, nstr;
  int64_t *ints;
  char **strs;      /* NUL-terminated views into the plan buffer */
  uint32_t *lens;
  void *aligned;    /* SECCOMP: BPF copied to aligned memory */
  char **argv, **envp; /* EXEC: prepared before any fork */
};

static struct op *ops;
static uint32_t nops;

enum role { ROLE_STAGE, ROLE_HELPER, ROLE_INIT, ROLE_WORKLOAD };
static enum role role = ROLE_STAGE;
static int err_fd = -1;     /* children: write end of the exec-status pipe */
static int report_fd = -1;  /* reaper -> stage: pty master, wait status */
static int tty_slave = -1;
static sigset_t forwarded; /* signals the stage and the reaper pass on */
static mode_t caller_umask; /* set-up runs with umask 0 (exact modes); the workload gets this back */
/* FORK_INIT: the workload's exit code when EXEC fails (ENOENT, other); 125 without FORK_INIT */
static int exec_exit_not_found = 125, exec_exit_other = 125;

/* LIMITS: enforced by the stage while it monitors (-1 = none) */
static struct {
  int64_t cpu_us, wall_us, output;
  int flags;
  const char *usage_file;
  int usage_format;
} limits = {-1, -1, -1, 0, "", CPU_USAGE_PROC};
/* Opened at LIMITS, before pid 1 pivots the shared mount namespace: after
 * that, paths name the sandbox's files, and its /proc shows its own pids. */
static int host_proc = -1, usage_fd = -1;
static int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};

#define CPU_POLL_NS (10 * 1000000LL)
/* stage -> pid 1 on the report socket: end the run now, reaping the whole tree */
#define REAPER_END_TREE 'E'
/* how long pid 1 gets to kill and reap the tree before the stage kills pid 1 itself */
#define END_TREE_GRACE_NS (2000 * 1000000LL)

/* ------------------------------------------------------------ I/O helpers */

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int read_all(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Frames are packed by the code generated into protocol.h from protocol.ts. */
static void send_error(int fd, uint32_t step, int err, const char *detail, size_t len) {
  unsigned char buf[EV_ERROR_BYTES + DETAIL_MAX];
  struct ev_error f = {.step = step, .error_number = err, .detail = detail, .detail_len = (uint32_t)len};
  (void)write_all(fd, buf, pack_ev_error(buf, sizeof buf, &f));
}

/* The stage's last frame: the run is over. */
static void send_done(void) {
  unsigned char buf[EV_DONE_BYTES];
  (void)write_all(CTL_FD, buf, pack_ev_done(buf, sizeof buf));
}

/* Reports a failed step and ends this process with `code`. The stage writes
 * to the control socket (and ends with DONE); children write to the
 * exec-status pipe, which the stage relays. */
__attribute__((noreturn, format(printf, 4, 5)))
static void fail_exit(int code, uint32_t step, int err, const char *fmt, ...) {
  char detail[DETAIL_MAX];
  int n = 0;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(detail, DETAIL_MAX, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if (n >= DETAIL_MAX) n = DETAIL_MAX - 1;
  }
  int fd = (role == ROLE_STAGE || role == ROLE_HELPER) ? CTL_FD : err_fd;
  send_error(fd, step, err, detail, (size_t)n);
  if (role == ROLE_STAGE) send_done();
  _exit(code);
}

#define fail(...) fail_exit(125, __VA_ARGS__)

/* ------------------------------------------------------------ plan parsing */

static uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static int64_t rd64(const unsigned char *p) { int64_t v; memcpy(&v, p, 8); return v; }

__attribute__((noreturn)) static void bad_plan(const char *why) {
  char detail[DETAIL_MAX];
  int n = snprintf(detail, DETAIL_MAX, "bad plan: %s", why);
  send_error(CTL_FD, UINT32_MAX, EINVAL, detail, (size_t)n);
  send_done();
  _exit(EXIT_BAD_PLAN);
}

static void prepare_exec(struct op *o) {
  if (o->nint < 1 || o->nstr < 2) bad_plan("EXEC and RUN need file, search path, argc");
  int64_t argc = o->ints[0];
  if (argc < 1 || (uint64_t)argc > o->nstr - 2) bad_plan("EXEC or RUN argc out of range");
  uint32_t nenv = o->nstr - 2 - (uint32_t)argc;
  o->argv = calloc((size_t)argc + 1, sizeof(char *));
  o->envp = calloc((size_t)nenv + 1, sizeof(char *));
  if (!o->argv || !o->envp) bad_plan("out of memory");
  for (int64_t i = 0; i < argc; i++) o->argv[i] = o->strs[2 + i];
  for (uint32_t i = 0; i < nenv; i++) o->envp[i] = o->strs[2 + argc + i];
}

static void read_plan(void) {
  unsigned char hdr[16];
  if (read_all(CTL_FD, hdr, sizeof hdr) < 0) _exit(EXIT_LOST_CONTROL);
  if (rd32(hdr) != PLAN_MAGIC) bad_plan("wrong magic");
  if (rd32(hdr + 4) != PROTOCOL_VERSION) bad_plan("protocol version mismatch");
  uint32_t size = rd32(hdr + 8);
  nops = rd32(hdr + 12);
  if (size > MAX_PLAN_BYTES || nops > MAX_OPS) bad_plan("too large");
  unsigned char *buf = malloc(size ? size : 1);
  ops = calloc(nops ? nops : 1, sizeof *ops);
  if (!buf || !ops) bad_plan("out of memory");
  if (read_all(CTL_FD, buf, size) < 0) _exit(EXIT_LOST_CONTROL);

  size_t off = 0;
  for (uint32_t i = 0; i < nops; i++) {
    struct op *o = &ops[i];
    if (size - off < 12) bad_plan("truncated op header");
    o->code = rd32(buf + off);
    o->nint = rd32(buf + off + 4);
    o->nstr = rd32(buf + off + 8);
    off += 12;
    if (o->nint > 64 || o->nstr > 1u << 20) bad_plan("too many arguments");
    if ((size - off) / 8 < o->nint) bad_plan("truncated integers");
    o->ints = calloc(o->nint + 1, sizeof(int64_t));
    o->strs = calloc(o->nstr + 1, sizeof(char *));
    o->lens = calloc(o->nstr + 1, sizeof(uint32_t));
    if (!o->ints || !o->strs || !o->lens) bad_plan("out of memory");
    for (uint32_t k = 0; k < o->nint; k++, off += 8) o->ints[k] = rd64(buf + off);
    for (uint32_t k = 0; k < o->nstr; k++) {
      if (size - off < 4) bad_plan("truncated string length");
      uint32_t len = rd32(buf + off);
      off += 4;
      /* every string is followed by a NUL, so it can be used in place */
      if (size - off < (size_t)len + 1 || buf[off + len] != 0) bad_plan("unterminated string");
      o->strs[k] = (char *)buf + off;
      o->lens[k] = len;
      off += (size_t)len + 1;
    }
    if (o->code == OP_SECCOMP) {
      if (o->nstr < 1 || o->lens[0] == 0 || o->lens[0] % sizeof(struct sock_filter)) bad_plan("SECCOMP program size");
      o->aligned = aligned_alloc(8, (o->lens[0] + 7) & ~7u);
      if (!o->aligned) bad_plan("out of memory");
      memcpy(o->aligned, o->strs[0], o->lens[0]);
    }
    if (o->code == OP_EXEC || o->code == OP_RUN) prepare_exec(o);
  }
  if (off != size) bad_plan("trailing bytes");
}

static int64_t arg_i(const struct op *o, uint32_t k, uint32_t step) {
  if (k >= o->nint) fail(step, EINVAL, "op %u: missing integer argument %u", o->code, k);
  return o->ints[k];
}

static const char *arg_s(const struct op *o, uint32_t k, uint32_t step) {
  if (k >= o->nstr) fail(step, EINVAL, "op %u: missing string argument %u", o->code, k);
  return o->strs[k];
}

/* "" stands for NULL in mount(2) arguments. */
static const char *or_null(const char *s) { return s[0] ? s : NULL; }

/* ------------------------------------------------------------ the id-map helper */

/* A running newuidmap/newgidmap: started together, awaited together. */
struct map_child { pid_t pid; int err_rd; uint32_t step; const char *program; };

/* Runs in the helper, which is still in the parent user namespace. */
static struct map_child helper_map_start(uint32_t step, const struct op *o, pid_t target) {
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

static void helper_map_finish(const struct map_child *c) {
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

static void helper_map_write(uint32_t step, const struct op *o, pid_t target) {
  char path[64];
  const char *file = arg_s(o, 0, step);
  snprintf(path, sizeof path, "/proc/%d/%s", (int)target, file);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(step, errno, "open %s", path);
  if (write_all(fd, o->strs[1], o->lens[1]) < 0) fail(step, errno, "write %s", path);
  close(fd);
}

/* USERNS: fork the helper first (it must stay in the parent user namespace
 * to write the maps), then unshare, then let the helper run the MAP_* ops. */
static uint32_t do_userns(uint32_t step) {
  uint32_t last = step;
  while (last + 1 < nops && (ops[last + 1].code == OP_MAP_WRITE || ops[last + 1].code == OP_MAP_EXEC)) last++;
  int go[2];
  if (pipe2(go, O_CLOEXEC) < 0) fail(step, errno, "pipe");
  pid_t target = getpid();
  pid_t helper = fork();
  if (helper < 0) fail(step, errno, "fork helper");
  if (helper == 0) {
    role = ROLE_HELPER;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(go[1]);
    char c;
    if (read(go[0], &c, 1) != 1) _exit(1); /* stage failed to unshare */
    /* newuidmap and newgidmap are independent: run them at the same time */
    struct map_child running[8];
    int nrun = 0;
    for (uint32_t k = step + 1; k <= last; k++) {
      if (ops[k].code == OP_MAP_EXEC && nrun < 8) running[nrun++] = helper_map_start(k, &ops[k], target);
      else if (ops[k].code == OP_MAP_EXEC) fail(k, E2BIG, "too many MAP_EXEC ops");
      else helper_map_write(k, &ops[k], target);
    }
    for (int k = 0; k < nrun; k++) helper_map_finish(&running[k]);
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

/* ------------------------------------------------------------ privileges */

static int capset_to(uint64_t keep) {
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  d[0].effective = d[0].permitted = (uint32_t)keep;
  d[1].effective = d[1].permitted = (uint32_t)(keep >> 32);
  return (int)syscall(SYS_capset, &h, d);
}

static int drop_bounding_except(uint64_t keep) {
  for (int cap = 0; cap < 64; cap++) {
    if (keep & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
      if (errno == EINVAL) break; /* past the last capability */
      return -1;
    }
  }
  return 0;
}

/* Takes an identity inside the user namespace without losing capabilities. */
static void setup_ids(uint32_t step, uid_t uid, gid_t gid) {
  if (getuid() != uid || getgid() != gid) {
    if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP) < 0) fail(step, errno, "securebits");
    if (setresgid(gid, gid, gid) < 0) fail(step, errno, "setresgid(%d)", (int)gid);
    if (setresuid(uid, uid, uid) < 0) fail(step, errno, "setresuid(%d)", (int)uid);
  }
  /* a credential change clears the parent-death signal: arm it again */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail(step, errno, "pdeathsig");
}

/* Leaves the workload `keep` in its bounding set and `held` permitted and
 * effective (under no_new_privs exec grants no more than the process already
 * holds). Exec then gives a uid 0 workload what it holds, any other uid none,
 * by the kernel's own rules. With nothing to keep, root is locked out of
 * capabilities for good (SECBIT_NOROOT). Ambient raises are always locked off. */
static void drop_caps(uint32_t step, uint64_t keep, uint64_t held) {
  if (drop_bounding_except(keep) < 0) fail(step, errno, "PR_CAPBSET_DROP");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) fail(step, errno, "clear ambient");
  unsigned long bits = SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  if (!keep) bits |= SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED;
  /* without NO_SETUID_FIXUP (which SET_IDS set) a setuid to non-root inside clears capabilities, as usual */
  if (prctl(PR_SET_SECUREBITS, bits) < 0) fail(step, errno, "lock securebits");
  if (capset_to(held & keep) < 0) fail(step, errno, "capset");
}

/* ------------------------------------------------------------ clearing
 * Empties a directory whose files belong to ids of the user namespace (a
 * run's writable layer): only the stage, inside with its capabilities, may
 * remove them. Subdirectories are renamed up to the top level before they are
 * emptied, so a tree of any depth is cleared with two fds and no recursion;
 * symlinks are removed, never followed. */

#define MAX_CLEAR 8
static int clear_after_run[MAX_CLEAR], n_clear_after_run;

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
static int clear_dir(int top) {
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

static void do_clear_dir(uint32_t step, const struct op *o) {
  int fd = (int)arg_i(o, 0, step);
  if (arg_i(o, 1, step)) {
    if (n_clear_after_run == MAX_CLEAR) fail(step, E2BIG, "more than %d directories to clear", MAX_CLEAR);
    clear_after_run[n_clear_after_run++] = fd;
    return;
  }
  int err = clear_dir(fd);
  if (err) fail(step, err, "clear the directory of fd %d", fd);
  close(fd);
}

/* ------------------------------------------------------------ filesystem ops */

/* ------------------------------------------------------- confined paths
 * Image content is untrusted: a layer may hold /etc -> /oldroot/home/alice.
 * After CONFINE, a path under the root is never resolved by the kernel's
 * ordinary walk (which would follow that link out of the new root) but with
 * openat2(RESOLVE_IN_ROOT) from an fd of the root, so every symlink and ".."
 * stays inside; the syscalls then act on fds (mkdirat, openat, symlinkat,
 * open_tree + move_mount, mount_setattr AT_EMPTY_PATH). */

static int confine_fd = -1;
static const char *confine_root, *confine_staging;

/* The part of `path` below the confinement root ("." for the root itself), or NULL. */
static const char *confined_rel(const char *path) {
  if (confine_fd < 0) return NULL;
  size_t n = strlen(confine_root);
  if (strncmp(path, confine_root, n) != 0 || (path[n] != 0 && path[n] != '/')) return NULL;
  const char *rest = path + n;
  while (*rest == '/') rest++;
  return *rest ? rest : ".";
}

static int open_in_root(const char *rel, int flags) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (uint64_t)(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return (int)syscall(SYS_openat2, confine_fd, rel, &how, sizeof how);
}

/* An O_PATH fd of `path`: resolved inside the root when confined, as usual otherwise. */
static int path_fd(const char *path, int flags) {
  const char *rel = confined_rel(path);
  if (rel) return open_in_root(rel, O_PATH | flags);
  return open(path, O_PATH | O_CLOEXEC | flags);
}

/* Splits rel into its parent (resolved inside the root, as an fd) and its last name. */
static int parent_in_root(const char *rel, char *base, size_t cap) {
  char dir[4096];
  if (strlen(rel) >= sizeof dir) { errno = ENAMETOOLONG; return -1; }
  strcpy(dir, rel);
  char *slash = strrchr(dir, '/');
  const char *name = slash ? slash + 1 : dir;
  if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strlen(name) >= cap) { errno = EINVAL; return -1; }
  strcpy(base, name);
  if (slash) *slash = 0;
  return open_in_root(slash ? dir : ".", O_PATH | O_DIRECTORY);
}

/* mkdir -p inside the root: each prefix is resolved from the root again, so a
 * symlinked component is followed the way the workload would see it. */
static int mkdir_in_root(const char *rel, mode_t mode) {
  char buf[4096];
  if (strlen(rel) >= sizeof buf) { errno = ENAMETOOLONG; return -1; }
  strcpy(buf, rel);
  for (char *p = buf;; p++) {
    if (*p != '/' && *p != 0) continue;
    char saved = *p;
    *p = 0;
    if (*buf) {
      int fd = open_in_root(buf, O_PATH | O_DIRECTORY);
      if (fd >= 0) close(fd);
      else if (errno != ENOENT) return -1;
      else {
        char name[256];
        int dfd = parent_in_root(buf, name, sizeof name);
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

static void confined_mkdir(uint32_t step, const char *path, const char *rel, mode_t mode, int64_t uid, int64_t gid) {
  if (mkdir_in_root(rel, mode) < 0) fail(step, errno, "mkdir %s", path);
  if (uid < 0 && gid < 0) return;
  int fd = open_in_root(rel, O_PATH | O_DIRECTORY);
  if (fd < 0) fail(step, errno, "open %s", path);
  if (fchownat(fd, "", (uid_t)uid, (gid_t)gid, AT_EMPTY_PATH) < 0) fail(step, errno, "chown %s", path);
  close(fd);
}

/* What is at the path is replaced (a symlink, fifo or file of the image), never written through;
 * with `keep`, anything already there is left as it is (-1: nothing to write). */
static int confined_create(uint32_t step, const char *path, const char *rel, mode_t mode, int keep) {
  char name[256];
  int dfd = parent_in_root(rel, name, sizeof name);
  if (dfd < 0) fail(step, errno, "open the directory of %s", path);
  struct stat st;
  if (keep && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) { close(dfd); return -1; }
  if (!keep && unlinkat(dfd, name, 0) < 0 && errno != ENOENT) fail(step, errno, "replace %s", path);
  int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) fail(step, errno, "create %s", path);
  close(dfd);
  return fd;
}

static void confined_symlink(uint32_t step, const char *target, const char *path, const char *rel) {
  char name[256];
  int dfd = parent_in_root(rel, name, sizeof name);
  if (dfd < 0) fail(step, errno, "open the directory of %s", path);
  if (symlinkat(target, dfd, name) < 0) fail(step, errno, "symlink %s -> %s", path, target);
  close(dfd);
}

/* A backstop for image content: a mount target (not the root itself) that
 * resolves to the root of the confinement (an image symlink such as
 * /proc -> .. or /tmp -> /) would cover the whole image. TypeScript refuses
 * these first, naming the link; this only keeps the stage from doing it. */
static void refuse_root_target(uint32_t step, const char *dst, int tfd) {
  const char *rel = confined_rel(dst);
  if (!rel || strcmp(rel, ".") == 0 || !*rel) return;
  struct stat t, r;
  if (fstat(tfd, &t) == 0 && fstat(confine_fd, &r) == 0 && t.st_dev == r.st_dev && t.st_ino == r.st_ino)
    fail(step, ELOOP, "mount on %s: it resolves to the root of the sandbox (a symlink in the image leads there)", dst);
}

/* Bind: a detached copy of the source tree, attached at the target's fd. */
static void confined_bind(uint32_t step, const char *src, const char *dst, int recursive) {
  int sfd = path_fd(src, 0);
  if (sfd < 0) fail(step, errno, "open %s", src);
  int tree = (int)syscall(SYS_open_tree, sfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0));
  if (tree < 0) fail(step, errno, "bind %s on %s: open_tree", src, dst);
  int tfd = path_fd(dst, 0);
  if (tfd < 0) fail(step, errno, "open %s", dst);
  refuse_root_target(step, dst, tfd);
  if (syscall(SYS_move_mount, tree, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    fail(step, errno, "bind %s on %s", src, dst);
  close(tree); close(tfd); close(sfd);
}

/* A new mount is made on the trusted staging dir, then moved onto the target's fd. */
static void confined_mount(uint32_t step, const char *src, const char *dst, const char *fs, unsigned long flags, const char *data) {
  if (mount(or_null(src), confine_staging, or_null(fs), flags, or_null(data)) < 0)
    fail(step, errno, "mount %s on %s (%s)", src, dst, fs);
  int tfd = path_fd(dst, O_DIRECTORY);
  if (tfd < 0) fail(step, errno, "open %s", dst);
  refuse_root_target(step, dst, tfd);
  if (syscall(SYS_move_mount, AT_FDCWD, confine_staging, tfd, "", MOVE_MOUNT_T_EMPTY_PATH) < 0)
    fail(step, errno, "move the mount of %s to %s", fs, dst);
  close(tfd);
}

static void do_confine(uint32_t step, const struct op *o) {
  confine_root = arg_s(o, 0, step);
  confine_staging = arg_s(o, 1, step);
  if (confine_fd >= 0) close(confine_fd);
  confine_fd = open(confine_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (confine_fd < 0) fail(step, errno, "open %s", confine_root);
}

/* Gives `fd` the number `want` (close-on-exec). */
static void move_fd(uint32_t step, int fd, int want, const char *what) {
  if (fd == want) return;
  if (dup3(fd, want, O_CLOEXEC) < 0) fail(step, errno, "dup3 %s to fd %d", what, want);
  close(fd);
}

/* O_PATH: no read permission is needed here, CLEAR_DIR opens the directory again
 * inside; O_NOFOLLOW: a link in place of the directory is never followed. */
static void do_open_dir(uint32_t step, const struct op *o) {
  const char *path = arg_s(o, 0, step);
  int fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) fail(step, errno, "open %s", path);
  move_fd(step, fd, (int)arg_i(o, 0, step), path);
}

static void do_keep_mount_ns(uint32_t step, const struct op *o) {
  int fd = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(step, errno, "open /proc/thread-self/ns/mnt");
  move_fd(step, fd, (int)arg_i(o, 0, step), "the mount namespace");
}


static int mkdir_p(char *path, mode_t mode) {
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    int r = mkdir(path, 0755);
    *p = '/';
    if (r < 0 && errno != EEXIST) return -1;
  }
  if (mkdir(path, mode) < 0) {
    if (errno != EEXIST) return -1;
    struct stat st;
    if (stat(path, &st) < 0) return -1;
    if (!S_ISDIR(st.st_mode)) { errno = ENOTDIR; return -1; }
    return 1; /* already there: leave its mode alone */
  }
  return 0;
}

static void do_mkdir(uint32_t step, const struct op *o) {
  char path[4096];
  const char *s = arg_s(o, 0, step);
  if (strlen(s) >= sizeof path) fail(step, ENAMETOOLONG, "mkdir %s", s);
  strcpy(path, s);
  mode_t mode = (mode_t)arg_i(o, 0, step);
  const char *rel = confined_rel(s);
  if (rel) { confined_mkdir(step, s, rel, mode, arg_i(o, 1, step), arg_i(o, 2, step)); return; }
  int r = mkdir_p(path, mode);
  if (r < 0) fail(step, errno, "mkdir %s", s);
  uid_t uid = (uid_t)arg_i(o, 1, step);
  gid_t gid = (gid_t)arg_i(o, 2, step);
  if ((o->ints[1] >= 0 || o->ints[2] >= 0) && chown(path, uid, gid) < 0) fail(step, errno, "chown %s", s);
}

static void do_write_file(uint32_t step, const struct op *o) {
  const char *path = arg_s(o, 0, step);
  mode_t mode = (mode_t)arg_i(o, 0, step);
  const char *rel = confined_rel(path);
  int keep = o->nint > 3 && o->ints[3];
  int fd;
  if (rel) {
    fd = confined_create(step, path, rel, mode, keep);
    if (fd < 0) return; /* kept */
  } else {
    fd = open(path, O_WRONLY | O_CREAT | (keep ? 0 : O_TRUNC) | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) fail(step, errno, "create %s", path);
  }
  if (o->nstr > 1 && o->lens[1] > 0 && write_all(fd, o->strs[1], o->lens[1]) < 0) fail(step, errno, "write %s", path);
  if ((o->ints[1] >= 0 || o->ints[2] >= 0) && fchown(fd, (uid_t)o->ints[1], (gid_t)o->ints[2]) < 0)
    fail(step, errno, "chown %s", path);
  close(fd);
}

static void do_setattr(uint32_t step, const struct op *o) {
  const char *path = arg_s(o, 0, step);
  struct mount_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.attr_set = (uint64_t)arg_i(o, 0, step);
  attr.attr_clr = (uint64_t)arg_i(o, 1, step);
  unsigned flags = arg_i(o, 2, step) ? AT_RECURSIVE : 0;
  if (confined_rel(path)) {
    int fd = path_fd(path, 0);
    if (fd < 0) fail(step, errno, "open %s", path);
    if (syscall(SYS_mount_setattr, fd, "", flags | AT_EMPTY_PATH, &attr, sizeof attr) < 0)
      fail(step, errno, "mount_setattr %s", path);
    close(fd);
    return;
  }
  if (syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &attr, sizeof attr) < 0)
    fail(step, errno, "mount_setattr %s", path);
}

static void do_pivot_root(uint32_t step, const struct op *o) {
  const char *root = arg_s(o, 0, step), *put_old = arg_s(o, 1, step);
  if (syscall(SYS_pivot_root, root, put_old) < 0) fail(step, errno, "pivot_root %s %s", root, put_old);
  /* the confinement root's path means something else from here on */
  if (confine_fd >= 0) { close(confine_fd); confine_fd = -1; }
}

static void do_loopback_up(uint32_t step) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail(step, errno, "socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) fail(step, errno, "SIOCGIFFLAGS lo");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) fail(step, errno, "SIOCSIFFLAGS lo");
  close(s);
}

/* Opens a pty in the sandbox's own devpts and hands the master to the stage. */
static void do_pty(uint32_t step, const struct op *o) {
  const char *ptmx = arg_s(o, 0, step);
  int master = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail(step, errno, "open %s", ptmx);
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) fail(step, errno, "unlock pty");
  tty_slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (tty_slave < 0) fail(step, errno, "open pty slave");
  char tag = 'P';
  struct iovec iov = {.iov_base = &tag, .iov_len = 1};
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctrl;
  memset(&ctrl, 0, sizeof ctrl);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf, .msg_controllen = sizeof ctrl.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &master, sizeof(int));
  if (sendmsg(report_fd, &msg, MSG_NOSIGNAL) < 0) fail(step, errno, "send pty master");
  close(master);
}

/* ------------------------------------------------------------ exec */

static void do_exec(uint32_t step, const struct op *o) {
  const char *file = o->strs[0];
  const char *search = o->strs[1];
  /* the workload starts with a clean signal state */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (strchr(file, '/')) {
    execve(file, o->argv, o->envp);
    int e = errno;
    fail_exit(e == ENOENT ? exec_exit_not_found : exec_exit_other, step, e, "exec %s", file);
  }
  int err = ENOENT;
  char path[4096];
  for (const char *p = search; ; ) {
    const char *end = strchrnul(p, ':');
    size_t dlen = (size_t)(end - p);
    if (dlen == 0) dlen = 1, p = "."; /* empty entry: current directory, as execvp does */
    if (dlen + 1 + strlen(file) + 1 <= sizeof path) {
      memcpy(path, p, dlen);
      path[dlen] = '/';
      strcpy(path + dlen + 1, file);
      execve(path, o->argv, o->envp);
      if (errno == EACCES) err = EACCES;
      else if (errno != ENOENT && errno != ENOTDIR) { err = errno; break; }
    }
    if (!*end) break;
    p = end + 1;
  }
  fail_exit(err == ENOENT ? exec_exit_not_found : exec_exit_other, step, err, "exec %s", file);
}

/* A helper pid 1 needs while it sets up (fuse-overlayfs): runs it to its end,
 * which for a daemon means until it has forked into the background ready.
 * Its output is kept for the error message, not shown on success. */
static void do_run(uint32_t step, const struct op *o) {
  const char *file = o->strs[0];
  if (!strchr(file, '/')) fail(step, EINVAL, "RUN needs an absolute path: %s", file);
  int out[2];
  if (pipe2(out, O_CLOEXEC) < 0) fail(step, errno, "pipe");
  pid_t pid = fork();
  if (pid < 0) fail(step, errno, "fork %s", file);
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0) _exit(126);
    execve(file, o->argv, o->envp);
    _exit(127);
  }
  close(out[1]);
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) fail(step, errno, "wait for %s", file);
  /* a daemon may still hold the pipe: take what is there, do not wait for EOF */
  char said[256] = "";
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  ssize_t n = read(out[0], said, sizeof said - 1);
  said[n > 0 ? n : 0] = 0;
  for (char *c = said; *c; c++) if (*c == '\n') *c = ' ';
  close(out[0]);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127) fail(step, ENOENT, "exec %s", file);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    fail(step, ECHILD, "%s %s %d: %s", file, WIFEXITED(st) ? "exited with" : "was killed by signal",
         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), said);
}

/* ------------------------------------------------------------ processes */

static uint32_t run_ops(uint32_t from);

/* Kills everything else in the pid namespace and reaps it here, so the
 * stage's wait4 on pid 1 accounts for the whole tree (processes the kernel
 * kills when pid 1 leaves are reaped without adding their CPU time to
 * anyone's), then reports the workload's wait status and exits. */
__attribute__((noreturn)) static void reaper_end(pid_t workload, int have_status, int32_t status) {
  kill(-1, SIGKILL);
  int st;
  pid_t p;
  while ((p = waitpid(-1, &st, __WALL)) > 0 || errno == EINTR) {
    if (p == workload && !have_status) { status = st; have_status = 1; }
  }
  if (have_status) (void)send(report_fd, &status, sizeof status, MSG_NOSIGNAL);
  _exit(0);
}

/* pid 1 was killed by a signal from outside the sandbox (kill -9 of its
 * host pid) before it could report: the kernel killed everything else in its
 * pid namespace with SIGKILL, the workload included, so the run ends as a
 * workload killed by SIGKILL (SG, 137), not as a set-up failure. */
static int pid1_killed_from_outside(int reaped, int reaper_status) {
  return reaped && WIFSIGNALED(reaper_status);
}

static void reaper_loop(pid_t workload) {
  close(err_fd);
  if (tty_slave >= 0) close(tty_slave);
  close(0); close(1); close(2);
  /* not traceable, and only able to signal its own child */
  prctl(PR_SET_DUMPABLE, 0);
  drop_bounding_except(1ULL << CAP_KILL);
  capset_to(1ULL << CAP_KILL);
  sigset_t waitset = forwarded;
  sigaddset(&waitset, SIGCHLD);
  int sigfd = signalfd(-1, &waitset, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) reaper_end(workload, 0, 0);
  for (;;) {
    struct pollfd p[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = report_fd, .events = POLLIN}};
    if (poll(p, 2, -1) < 0) continue;
    if (p[1].revents) {
      /* the stage ends the run at a limit (END_TREE), or is gone */
      char cmd;
      ssize_t r = recv(report_fd, &cmd, 1, MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR) || (r == 1 && cmd == REAPER_END_TREE)) reaper_end(workload, 0, 0);
    }
    if (!p[0].revents) continue;
    struct signalfd_siginfo si;
    while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
      if (si.ssi_signo != SIGCHLD) kill(workload, (int)si.ssi_signo);
    }
    int status;
    pid_t w;
    while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
      if (w == workload) reaper_end(workload, 1, status);
    }
  }
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void copy_winsize(int master) {
  struct winsize ws;
  if (ioctl(0, TIOCGWINSZ, &ws) == 0 || ioctl(1, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws);
}

/* ------------------------------------------------------------ monitoring */

/* Output the workload wrote, counted per stream; the limit covers both. */
static struct {
  int64_t bytes[2];
  int truncated;   /* bit 0 stdout, bit 1 stderr */
} output;
static int kill_reason = KILL_NONE;
static int64_t killed_at; /* when the stage ended the run */
static int64_t cpu_polled_us = -1; /* last CPU sample: the tree's time when the stage had to kill it */

static int64_t now_ns(void);

static int end_fd = -1; /* timer: pid 1 did not end the tree in time */

static int arm_timer(int64_t first_ns, int64_t interval_ns);

/* Ends the run at a limit. pid 1 kills and reaps the tree itself, so the
 * times of the processes it kills are accounted; if it cannot (gone, stuck),
 * SIGKILL to pid 1 makes the kernel kill the namespace. */
static void end_run(pid_t reaper, int reason) {
  if (kill_reason != KILL_NONE) return;
  kill_reason = reason;
  killed_at = now_ns();
  char cmd = REAPER_END_TREE;
  if (send(report_fd, &cmd, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) kill(reaper, SIGKILL);
  else end_fd = arm_timer(END_TREE_GRACE_NS, 0);
}

enum { RELAY_EOF = 0, RELAY_DATA = 1, RELAY_WAIT = 2 };

/* Relays what is available from `from` to fd `to` (1 or 2), within the output
 * limit; past it the rest is discarded and the run is ended. */
static int relay(int from, int to, pid_t reaper) {
  char buf[65536];
  ssize_t n = read(from, buf, sizeof buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN ? RELAY_WAIT : RELAY_EOF;
  if (n == 0) return RELAY_EOF;
  int stream = to == 2;
  size_t keep = (size_t)n;
  if (limits.output >= 0) {
    int64_t room = limits.output - output.bytes[0] - output.bytes[1];
    if (room < 0) room = 0;
    if ((int64_t)keep > room) {
      keep = (size_t)room;
      output.truncated |= 1 << stream;
      end_run(reaper, KILL_OUTPUT);
    }
  }
  output.bytes[stream] += (int64_t)keep;
  if (keep > 0) (void)write_all(to, buf, keep); /* a reader that went away loses the rest */
  return RELAY_DATA;
}

/* Reads /proc/PID/stat: utime+stime+cutime+cstime in clock ticks, or -1. */
static int64_t proc_ticks(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "%d/stat", (int)pid);
  int fd = openat(host_proc, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* the command name may contain spaces */
  if (!p) return -1;
  unsigned long long v[4];
  /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3]) != 4) return -1;
  return (int64_t)(v[0] + v[1] + v[2] + v[3]);
}

/* CPU time of every process of the sandbox, from /proc: a live process's
 * cutime/cstime already holds the children it reaped, so nothing counts twice. */
static int64_t proc_tree_us(pid_t root) {
  static pid_t stack[8192];
  int top = 0;
  int64_t ticks = 0;
  stack[top++] = root;
  while (top > 0) {
    pid_t pid = stack[--top];
    int64_t t = proc_ticks(pid);
    if (t > 0) ticks += t;
    char dir[64];
    snprintf(dir, sizeof dir, "%d/task", (int)pid);
    int dfd = openat(host_proc, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) { if (dfd >= 0) close(dfd); continue; }
    struct dirent *e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      char path[320], buf[4096];
      snprintf(path, sizeof path, "%d/task/%s/children", (int)pid, e->d_name);
      int fd = openat(host_proc, path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      ssize_t n = read(fd, buf, sizeof buf - 1);
      close(fd);
      if (n <= 0) continue;
      buf[n] = 0;
      for (char *q = buf; *q;) {
        char *end;
        long child = strtol(q, &end, 10);
        if (end == q) break;
        if (top < (int)(sizeof stack / sizeof stack[0])) stack[top++] = (pid_t)child;
        q = end;
      }
    }
    closedir(d);
  }
  return ticks * 1000000 / sysconf(_SC_CLK_TCK);
}

/* CPU time of the sandbox so far, in microseconds (-1: unknown). */
static int64_t cpu_usage_us(pid_t reaper) {
  if (limits.usage_format == CPU_USAGE_PROC) return proc_tree_us(reaper);
  char buf[4096];
  ssize_t n = pread(usage_fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return -1;
  buf[n] = 0;
  if (limits.usage_format == CPU_USAGE_CGROUP1_CPUACCT) return strtoll(buf, NULL, 10) / 1000;
  char *p = strstr(buf, "usage_usec ");
  return p ? strtoll(p + 11, NULL, 10) : -1;
}

static int arm_timer(int64_t first_ns, int64_t interval_ns) {
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (fd < 0) return -1;
  struct itimerspec its = {
    .it_value = {.tv_sec = first_ns / 1000000000LL, .tv_nsec = first_ns % 1000000000LL},
    .it_interval = {.tv_sec = interval_ns / 1000000000LL, .tv_nsec = interval_ns % 1000000000LL},
  };
  if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
  timerfd_settime(fd, 0, &its, NULL);
  return fd;
}

static void send_exit(int32_t wstatus, int64_t wall, const struct rusage *ru) {
  int relayed = out_pipe[0] >= 0 || (limits.flags & LIMIT_RELAY_OUTPUT);
  struct ev_exit f = {
    .wait_status = wstatus,
    .wall_ns = wall,
    .user_us = (int64_t)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec,
    .system_us = (int64_t)ru->ru_stime.tv_sec * 1000000 + ru->ru_stime.tv_usec,
    .max_rss_kib = ru->ru_maxrss,
    .kill_reason = (uint32_t)kill_reason,
    .truncated = (uint32_t)output.truncated,
    .stdout_bytes = relayed ? output.bytes[0] : -1,
    .stderr_bytes = relayed ? output.bytes[1] : -1,
    .cpu_sample_us = cpu_polled_us,
    .voluntary_switches = ru->ru_nvcsw,
    .involuntary_switches = ru->ru_nivcsw,
  };
  unsigned char buf[EV_EXIT_BYTES];
  (void)write_all(CTL_FD, buf, pack_ev_exit(buf, sizeof buf, &f));
}

static void stage_monitor(pid_t reaper, int exec_rd, int flags) {
  int tty = flags & FORK_TTY;
  int tty_stdin = tty && (flags & FORK_TTY_STDIN);
  /* what the stage keeps of its own stdio: the pty's ends, or the relay's destinations */
  if (!tty_stdin) close(0);
  if (!tty && out_pipe[0] < 0) close(1);

  sigset_t mask = forwarded;
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGWINCH);
  int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) { kill(reaper, SIGKILL); fail(UINT32_MAX, errno, "signalfd"); }

  int master = -1, started = 0, failed = 0, have_status = 0, stdin_open = tty_stdin, report_eof = 0;
  int out_rd = out_pipe[0], err_rd = err_pipe[0];
  int wall_fd = -1, cpu_fd = -1;
  int32_t wstatus = 0;
  int64_t t0 = now_ns(), t_exit = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  int reaped = 0, reaper_status = 0;
  sigset_t deferred;
  sigemptyset(&deferred);

  while (!reaped) {
    struct pollfd p[11];
    int n = 0, i_ctl, i_exec = -1, i_rep, i_sig, i_master = -1, i_in = -1, i_out = -1, i_err = -1, i_wall = -1, i_cpu = -1, i_end = -1;
    i_ctl = n; p[n++] = (struct pollfd){.fd = CTL_FD, .events = POLLIN};
    if (exec_rd >= 0) { i_exec = n; p[n++] = (struct pollfd){.fd = exec_rd, .events = POLLIN}; }
    /* after pid 1's last word (EOF) the socket stays readable: stop polling it, or the stage spins until SIGCHLD */
    i_rep = -1;
    if (!report_eof) { i_rep = n; p[n++] = (struct pollfd){.fd = report_fd, .events = POLLIN}; }
    i_sig = n; p[n++] = (struct pollfd){.fd = sigfd, .events = POLLIN};
    if (master >= 0) { i_master = n; p[n++] = (struct pollfd){.fd = master, .events = POLLIN}; }
    if (master >= 0 && stdin_open) { i_in = n; p[n++] = (struct pollfd){.fd = 0, .events = POLLIN}; }
    if (out_rd >= 0) { i_out = n; p[n++] = (struct pollfd){.fd = out_rd, .events = POLLIN}; }
    if (err_rd >= 0) { i_err = n; p[n++] = (struct pollfd){.fd = err_rd, .events = POLLIN}; }
    if (wall_fd >= 0) { i_wall = n; p[n++] = (struct pollfd){.fd = wall_fd, .events = POLLIN}; }
    if (cpu_fd >= 0) { i_cpu = n; p[n++] = (struct pollfd){.fd = cpu_fd, .events = POLLIN}; }
    if (end_fd >= 0) { i_end = n; p[n++] = (struct pollfd){.fd = end_fd, .events = POLLIN}; }
    if (poll(p, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[i_ctl].revents) {
      char buf[64];
      ssize_t r = read(CTL_FD, buf, sizeof buf);
      if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
        /* the sandbox is gone: take everything with us */
        kill(reaper, SIGKILL);
        _exit(EXIT_LOST_CONTROL);
      }
    }
    if (i_exec >= 0 && p[i_exec].revents) {
      char buf[8 + 8 + DETAIL_MAX];
      ssize_t r = read(exec_rd, buf, sizeof buf);
      if (r > 0) {
        (void)write_all(CTL_FD, buf, (size_t)r); /* an EV_ERROR frame from a child */
        failed = 1;
      } else if (r == 0 || errno != EINTR) {
        close(exec_rd);
        exec_rd = -1;
        if (!failed) {
          started = 1;
          t0 = now_ns();
          /* limits count from exec */
          if (limits.wall_us >= 0) wall_fd = arm_timer(limits.wall_us * 1000, 0);
          if (limits.cpu_us >= 0) cpu_fd = arm_timer(CPU_POLL_NS, CPU_POLL_NS);
          struct ev_started f = {.reaper_pid = (uint32_t)reaper, .reserved = 0};
          unsigned char frame[EV_STARTED_BYTES];
          (void)write_all(CTL_FD, frame, pack_ev_started(frame, sizeof frame, &f));
          for (int sig = 1; sig < NSIG; sig++)
            if (sigismember(&deferred, sig)) kill(reaper, sig);
        }
      }
    }
    if (i_rep >= 0 && p[i_rep].revents) {
      char tag[4];
      union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctrl;
      struct iovec iov = {.iov_base = tag, .iov_len = sizeof tag};
      struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf, .msg_controllen = sizeof ctrl.buf};
      ssize_t r = recvmsg(report_fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
      struct cmsghdr *c = r > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
      if (c && c->cmsg_type == SCM_RIGHTS) {
        memcpy(&master, CMSG_DATA(c), sizeof(int));
        copy_winsize(master);
      } else if (r == (ssize_t)sizeof wstatus) {
        memcpy(&wstatus, tag, sizeof wstatus);
        have_status = 1;
        t_exit = now_ns();
      } else if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        report_eof = 1;
      }
    }
    if (i_master >= 0 && p[i_master].revents && relay(master, 1, reaper) == RELAY_EOF) { close(master); master = -1; }
    if (i_in >= 0 && p[i_in].revents) {
      char buf[16384];
      ssize_t r = read(0, buf, sizeof buf);
      if (r > 0) (void)write_all(master, buf, (size_t)r);
      else if (r == 0 || (errno != EINTR && errno != EAGAIN)) stdin_open = 0;
    }
    if (i_out >= 0 && p[i_out].revents && relay(out_rd, 1, reaper) == RELAY_EOF) { close(out_rd); out_rd = -1; }
    if (i_err >= 0 && p[i_err].revents && relay(err_rd, 2, reaper) == RELAY_EOF) { close(err_rd); err_rd = -1; }
    if (i_wall >= 0 && p[i_wall].revents) {
      end_run(reaper, KILL_WALL);
      close(wall_fd);
      wall_fd = -1;
    }
    if (i_cpu >= 0 && p[i_cpu].revents) {
      uint64_t ticks;
      (void)!read(cpu_fd, &ticks, sizeof ticks);
      cpu_polled_us = cpu_usage_us(reaper);
      if (cpu_polled_us >= limits.cpu_us) {
        end_run(reaper, KILL_CPU);
        close(cpu_fd);
        cpu_fd = -1;
      }
    }
    if (i_end >= 0 && p[i_end].revents) {
      kill(reaper, SIGKILL);
      close(end_fd);
      end_fd = -1;
    }
    if (p[i_sig].revents) {
      struct signalfd_siginfo si;
      while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
          if (wait4(reaper, &reaper_status, WNOHANG, &ru) == reaper) reaped = 1;
        } else if (si.ssi_signo == SIGWINCH) {
          if (master >= 0) copy_winsize(master);
        } else if (!started) {
          /* not yet executed: a signal now would kill the workload inside
           * the stage's own code and look like a run; hold it until STARTED */
          sigaddset(&deferred, (int)si.ssi_signo);
        } else {
          kill(reaper, (int)si.ssi_signo);
        }
      }
    }
  }
  /* the status message was sent before the reaper exited */
  if (!have_status) {
    int32_t st;
    if (recv(report_fd, &st, sizeof st, MSG_DONTWAIT) == (ssize_t)sizeof st) {
      wstatus = st;
      have_status = 1;
      t_exit = now_ns();
    } else if (kill_reason != KILL_NONE) {
      /* the stage killed pid 1 before it could report: the workload died of that SIGKILL */
      wstatus = SIGKILL;
      have_status = 1;
      t_exit = killed_at;    } else if (pid1_killed_from_outside(reaped, reaper_status)) {
      wstatus = SIGKILL;
      have_status = 1;
      t_exit = now_ns();
    }
  }
  /* everything in the sandbox is dead: drain what it wrote before */
  if (master >= 0) {
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    while (relay(master, 1, reaper) == RELAY_DATA) {}
  }
  while (out_rd >= 0 && relay(out_rd, 1, reaper) == RELAY_DATA) {}
  while (err_rd >= 0 && relay(err_rd, 2, reaper) == RELAY_DATA) {}
  if (exec_rd >= 0) {
    /* exec status and exit arrived together, or pid 1 died early */
    char buf[8 + 8 + DETAIL_MAX];
    ssize_t r = read(exec_rd, buf, sizeof buf);
    if (r > 0) { (void)write_all(CTL_FD, buf, (size_t)r); failed = 1; }
    else if (r == 0 && !failed) started = 1;
  }
  /* the run's writable layer: nothing of the sandbox can use it any more */
  for (int k = 0; k < n_clear_after_run; k++) { (void)clear_dir(clear_after_run[k]); close(clear_after_run[k]); }
  if (started && !failed && have_status) {
    /* a run the stage ended lasted until the stage ended it, not until pid 1 had reaped the tree */
    if (kill_reason != KILL_NONE && killed_at < t_exit) t_exit = killed_at;
    send_exit(wstatus, t_exit - t0, &ru);
  } else if (!failed) {
    static const char why[] = "pid 1 of the sandbox ended without a status";
    send_error(CTL_FD, UINT32_MAX, ECHILD, why, sizeof why - 1);
  }
  send_done();
  _exit(0);
}

static void do_fork_init(uint32_t step, const struct op *o) {
  int exec_pipe[2], rep[2];
  int flags = (int)arg_i(o, 0, step);
  int relay = (limits.flags & LIMIT_RELAY_OUTPUT) && !(flags & FORK_TTY);
  if (pipe2(exec_pipe, O_CLOEXEC) < 0) fail(step, errno, "pipe");
  if (relay && pipe2(out_pipe, O_CLOEXEC) < 0) fail(step, errno, "pipe");
  if (relay && !(limits.flags & LIMIT_MERGE_STDERR) && pipe2(err_pipe, O_CLOEXEC) < 0) fail(step, errno, "pipe");
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rep) < 0) fail(step, errno, "socketpair");
  pid_t pid = fork();
  if (pid < 0) fail(step, errno, "fork pid 1");
  if (pid == 0) {
    role = ROLE_INIT;
    close(exec_pipe[0]);
    close(rep[0]);
    err_fd = exec_pipe[1];
    report_fd = rep[1];
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* the stage may have died before PDEATHSIG was armed */
    struct pollfd pf = {.fd = report_fd, .events = POLLRDHUP};
    if (poll(&pf, 1, 0) > 0 && (pf.revents & (POLLHUP | POLLRDHUP))) _exit(1);
    close(CTL_FD);
    if (relay) {
      /* the workload writes into the stage's pipes; dup2 clears close-on-exec */
      if (dup2(out_pipe[1], 1) < 0 || dup2(err_pipe[1] >= 0 ? err_pipe[1] : out_pipe[1], 2) < 0) fail(step, errno, "dup2 output");
      close(out_pipe[0]); close(out_pipe[1]);
      if (err_pipe[0] >= 0) { close(err_pipe[0]); close(err_pipe[1]); }
    }
    run_ops(step + 1);
    _exit(125);
  }
  close(exec_pipe[1]);
  close(rep[1]);
  report_fd = rep[0];
  if (relay) {
    close(out_pipe[1]);
    fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
    if (err_pipe[1] >= 0) { close(err_pipe[1]); fcntl(err_pipe[0], F_SETFL, O_NONBLOCK); }
  }
  stage_monitor(pid, exec_pipe[0], flags);
}

static void do_fork_workload(uint32_t step, const struct op *o) {
  int flags = (int)arg_i(o, 0, step);
  pid_t pid = fork();
  if (pid < 0) fail(step, errno, "fork workload");
  if (pid == 0) {
    role = ROLE_WORKLOAD;
    umask(caller_umask);
    close(report_fd);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (setsid() < 0) fail(step, errno, "setsid");
    if (flags & FORK_TTY) {
      if (tty_slave < 0) fail(step, EBADF, "no pty (PTY op missing)");
      if (ioctl(tty_slave, TIOCSCTTY, 0) < 0) fail(step, errno, "TIOCSCTTY");
      for (int fd = 0; fd < 3; fd++)
        if (dup2(tty_slave, fd) < 0) fail(step, errno, "dup2 pty");
      close(tty_slave);
    }
    return;
  }
  reaper_loop(pid);
}

static void do_sync(uint32_t step, const struct op *o) {
  struct ev_ns_ready f = {.pid = (uint32_t)getpid(), .sync_id = (uint32_t)arg_i(o, 0, step)};
  unsigned char frame[EV_NS_READY_BYTES];
  (void)write_all(CTL_FD, frame, pack_ev_ns_ready(frame, sizeof frame, &f));
  unsigned char hdr[FRAME_HEADER_BYTES], body[64];
  uint32_t type, len;
  if (read_all(CTL_FD, hdr, sizeof hdr) < 0) _exit(EXIT_LOST_CONTROL);
  unpack_frame_header(hdr, &type, &len);
  if (type != CMD_GO) fail(step, EPROTO, "expected GO, got %u", type);
  if (len > sizeof body) fail(step, EPROTO, "GO of %u bytes", len);
  if (len > 0 && read_all(CTL_FD, body, len) < 0) _exit(EXIT_LOST_CONTROL);
  if (unpack_cmd_go(body, len) < 0) fail(step, EPROTO, "GO of %u bytes", len);
}

/* Runs ops from `from` to the end, in whatever process this is. */
static uint32_t run_ops(uint32_t from) {
  for (uint32_t i = from; i < nops; i++) {
    const struct op *o = &ops[i];
    switch (o->code) {
    case OP_USERNS: i = do_userns(i); break;
    case OP_MAP_WRITE:
    case OP_MAP_EXEC: fail(i, EINVAL, "MAP ops must follow USERNS");
    case OP_SETUP_IDS: setup_ids(i, (uid_t)arg_i(o, 0, i), (gid_t)arg_i(o, 1, i)); break;
    case OP_UNSHARE:
      if (unshare((int)arg_i(o, 0, i)) < 0) fail(i, errno, "unshare(0x%llx)", (unsigned long long)o->ints[0]);
      break;
    case OP_SYNC: do_sync(i, o); break;
    case OP_JOIN_CGROUP: {
      const char *procs = arg_s(o, 0, i);
      int fd = open(procs, O_WRONLY | O_CLOEXEC);
      if (fd < 0) fail(i, errno, "open %s", procs);
      char pid[16];
      int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
      if (write(fd, pid, (size_t)n) != n) fail(i, errno, "write %s", procs);
      close(fd);
      break;
    }
    case OP_LIMITS:
      limits.cpu_us = arg_i(o, 0, i);
      limits.wall_us = arg_i(o, 1, i);
      limits.output = arg_i(o, 2, i);
      limits.flags = (int)arg_i(o, 3, i);
      limits.usage_file = arg_s(o, 0, i);
      limits.usage_format = atoi(arg_s(o, 1, i));
      host_proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (host_proc < 0) fail(i, errno, "open /proc");
      if (limits.usage_format != CPU_USAGE_PROC) {
        usage_fd = open(limits.usage_file, O_RDONLY | O_CLOEXEC);
        if (usage_fd < 0) fail(i, errno, "open %s", limits.usage_file);
      }
      break;
    case OP_FORK_INIT: do_fork_init(i, o); break; /* the stage never returns */
    case OP_MOUNT: {
      const char *src = arg_s(o, 0, i), *dst = arg_s(o, 1, i), *fs = arg_s(o, 2, i), *data = arg_s(o, 3, i);
      if (confined_rel(dst)) { confined_mount(i, src, dst, fs, (unsigned long)o->ints[0], data); break; }
      if (mount(or_null(src), dst, or_null(fs), (unsigned long)arg_i(o, 0, i), or_null(data)) < 0)
        fail(i, errno, "mount %s on %s (%s)", src, dst, fs);
      break;
    }
    case OP_BIND: {
      const char *src = arg_s(o, 0, i), *dst = arg_s(o, 1, i);
      unsigned long fl = MS_BIND | (arg_i(o, 0, i) ? MS_REC : 0);
      if (confined_rel(src) || confined_rel(dst)) { confined_bind(i, src, dst, (int)o->ints[0]); break; }
      if (mount(src, dst, NULL, fl, NULL) < 0) fail(i, errno, "bind %s on %s", src, dst);
      break;
    }
    case OP_SETATTR: do_setattr(i, o); break;
    case OP_UMOUNT:
      if (umount2(arg_s(o, 0, i), (int)arg_i(o, 0, i)) < 0) fail(i, errno, "umount %s", o->strs[0]);
      break;
    case OP_MKDIR: do_mkdir(i, o); break;
    case OP_WRITE_FILE: do_write_file(i, o); break;
    case OP_SYMLINK:
      if (confined_rel(arg_s(o, 1, i))) { confined_symlink(i, arg_s(o, 0, i), o->strs[1], confined_rel(o->strs[1])); break; }
      if (symlink(arg_s(o, 0, i), arg_s(o, 1, i)) < 0) fail(i, errno, "symlink %s -> %s", o->strs[1], o->strs[0]);
      break;
    case OP_PIVOT_ROOT: do_pivot_root(i, o); break;
    case OP_OPEN_DIR: do_open_dir(i, o); break;
    case OP_CLOSE_FD:
      if (close((int)arg_i(o, 0, i)) < 0) fail(i, errno, "close fd %lld", (long long)o->ints[0]);
      break;
    case OP_CONFINE: do_confine(i, o); break;
    case OP_CLEAR_DIR: do_clear_dir(i, o); break;
    case OP_KEEP_MOUNT_NS: do_keep_mount_ns(i, o); break;
    case OP_ENTER_MOUNT_NS:
      if (setns((int)arg_i(o, 0, i), CLONE_NEWNS) < 0) fail(i, errno, "setns fd %lld", (long long)o->ints[0]);
      break;
    case OP_RUN: do_run(i, o); break;
    case OP_SETHOSTNAME: {
      const char *h = arg_s(o, 0, i);
      if (sethostname(h, strlen(h)) < 0) fail(i, errno, "sethostname %s", h);
      break;
    }
    case OP_LOOPBACK_UP: do_loopback_up(i); break;
    case OP_PTY: do_pty(i, o); break;
    case OP_FORK_WORKLOAD: do_fork_workload(i, o); break; /* the reaper never returns */
    case OP_CHDIR:
      if (chdir(arg_s(o, 0, i)) < 0) fail(i, errno, "chdir %s", o->strs[0]);
      break;
    case OP_OOM_SCORE_ADJ: {
      /* a credential change left this process non-dumpable, so /proc/self is
       * not its own until exec; it will be dumpable after exec anyway */
      if (prctl(PR_SET_DUMPABLE, 1) < 0) fail(i, errno, "PR_SET_DUMPABLE");
      int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
      if (fd < 0) fail(i, errno, "open /proc/self/oom_score_adj");
      char v[24];
      int n = snprintf(v, sizeof v, "%lld\n", (long long)arg_i(o, 0, i));
      if (write(fd, v, (size_t)n) != n) fail(i, errno, "write /proc/self/oom_score_adj");
      close(fd);
      break;
    }
    case OP_RLIMIT: {
      int64_t soft = arg_i(o, 1, i), hard = arg_i(o, 2, i);
      struct rlimit rl = {.rlim_cur = soft < 0 ? RLIM_INFINITY : (rlim_t)soft, .rlim_max = hard < 0 ? RLIM_INFINITY : (rlim_t)hard};
      if (setrlimit((int)o->ints[0], &rl) < 0) fail(i, errno, "setrlimit %lld", (long long)o->ints[0]);
      break;
    }
    case OP_SET_IDS: {
      uid_t uid = (uid_t)arg_i(o, 0, i);
      gid_t gid = (gid_t)arg_i(o, 1, i);
      /* keep capabilities across the switch so DROP_CAPS can still clear the
       * bounding set; DROP_CAPS then drops every set explicitly */
      if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP) < 0) fail(i, errno, "securebits");
      if (arg_i(o, 2, i) && setgroups(0, NULL) < 0) fail(i, errno, "setgroups");
      if (setresgid(gid, gid, gid) < 0) fail(i, errno, "setresgid(%d)", (int)gid);
      if (setresuid(uid, uid, uid) < 0) fail(i, errno, "setresuid(%d)", (int)uid);
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail(i, errno, "pdeathsig");
      break;
    }
    case OP_DROP_CAPS: drop_caps(i, (uint64_t)arg_i(o, 0, i), (uint64_t)arg_i(o, 1, i)); break;
    case OP_NO_NEW_PRIVS:
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(i, errno, "no_new_privs");
      break;
    case OP_SECCOMP: {
      struct sock_fprog prog = {.len = (unsigned short)(o->lens[0] / sizeof(struct sock_filter)), .filter = o->aligned};
      if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)arg_i(o, 0, i), &prog) < 0)
        fail(i, errno, "seccomp");
      break;
    }
    case OP_EXEC: do_exec(i, o); break;
    default: fail(i, EINVAL, "unknown op %u", o->code);
    }
  }
  return nops;
}

/* FORK_INIT carries the run's choices: exec failure exit codes, the signals to pass on.
 * Only those (and the ones the stage handles itself) stay blocked; any other signal
 * gets its default action again. */
static void take_run_choices(void) {
  sigemptyset(&forwarded);
  for (uint32_t i = 0; i < nops; i++) {
    const struct op *o = &ops[i];
    if (o->code != OP_FORK_INIT) continue;
    if (o->nint >= 3) { exec_exit_not_found = (int)o->ints[1]; exec_exit_other = (int)o->ints[2]; }
    for (uint32_t k = 3; k < o->nint; k++) {
      int sig = (int)o->ints[k];
      if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD) bad_plan("FORK_INIT signal out of range");
      sigaddset(&forwarded, sig);
    }
    break;
  }
  sigset_t keep = forwarded;
  sigaddset(&keep, SIGCHLD);
  sigaddset(&keep, SIGWINCH);
  sigaddset(&keep, SIGPIPE);
  sigprocmask(SIG_SETMASK, &keep, NULL);
}

int main(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* fd 3 is the control socket; anything else the caller leaked stops here */
  if (fcntl(CTL_FD, F_SETFD, FD_CLOEXEC) < 0) _exit(EXIT_LOST_CONTROL);
  if (syscall(SYS_close_range, CTL_FD + 1, ~0U, 0) < 0) {
    for (int fd = CTL_FD + 1; fd < 1024; fd++) close(fd);
  }
  /* until the plan says which signals are passed on, every signal waits */
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);
  caller_umask = umask(0);
  read_plan();
  take_run_choices();
  run_ops(0);
  /* a plan without FORK_INIT only prepares; nothing ran */
  send_done();
  return 0;
}
