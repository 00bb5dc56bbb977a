/*
 * stage.h: the private header of sandbox-stage, which executes a plan made by the sandbox (TypeScript).
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
/*
 * The parts (built together by scripts/build-stage.mjs): main.c (entry, plan
 * parsing), report.c (frames, failures), ops.c (the op interpreter),
 * idmap-helper.c, confine.c (openat2), clear-tree.c, process.c (pid 1, the
 * workload, exec), monitor.c (relay, limits, CPU accounting, EXIT). They
 * share no file-scope state: everything lives in one `struct stage`, made in
 * main() and passed to every function that needs it.
 */
#ifndef SANDBOX_STAGE_H
#define SANDBOX_STAGE_H
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

enum role { ROLE_STAGE, ROLE_HELPER, ROLE_INIT, ROLE_WORKLOAD };

#define MAX_CLEAR 8
#define CPU_POLL_NS (10 * 1000000LL)
/* stage -> pid 1 on the report socket: end the run now, reaping the whole tree */
#define REAPER_END_TREE 'E'
/* how long pid 1 gets to kill and reap the tree before the stage kills pid 1 itself */
#define END_TREE_GRACE_NS (2000 * 1000000LL)

/* The whole state of a stage process (each process has its own copy after fork). */
struct stage {
  struct op *ops;
  uint32_t nops;
  enum role role;
  int err_fd;          /* children: write end of the exec-status pipe */
  int report_fd;       /* reaper -> stage: pty master, wait status */
  int tty_slave;
  sigset_t forwarded;  /* signals the stage and the reaper pass on (FORK_INIT) */
  mode_t caller_umask; /* set-up runs with umask 0 (exact modes); the workload gets this back */
  /* FORK_INIT: the workload's exit code when EXEC fails (ENOENT, other); 125 without FORK_INIT */
  int exec_exit_not_found, exec_exit_other;
  /* LIMITS: enforced by the stage while it monitors (-1 = none) */
  struct {
    int64_t cpu_us, wall_us, output;
    int flags;
    const char *usage_file;
    int usage_format;
  } limits;
  /* Opened at LIMITS, before pid 1 pivots the shared mount namespace: after
   * that, paths name the sandbox's files, and its /proc shows its own pids. */
  int host_proc, usage_fd;
  int out_pipe[2], err_pipe[2];
  /* CLEAR_DIR after the run */
  int clear_after_run[MAX_CLEAR], n_clear_after_run;
  /* CHOWN_TREE after the run */
  struct { int fd; uid_t uid; gid_t gid; } chown_after_run[MAX_CLEAR];
  int n_chown_after_run;
  /* CONFINE: paths under root are resolved inside it until PIVOT_ROOT */
  struct { int fd; const char *root, *staging; } confine;
  /* OPEN_GATE: the FIFO's fd (its number in the plan), the host's /proc (O_PATH) and the pipe on which the
   * workload reports its host pid at WAIT_START (read by the stage's monitor, sent as GATE); -1: no gate */
  struct { int fd, proc, pipe[2]; } gate;
  /* when the stage started, and when its id maps, namespaces and pid 1 were made (CLOCK_MONOTONIC ns; -1 = not) */
  struct { int64_t start, maps, namespaces, pid1; } times;
};

/* report.c */
int write_all(int fd, const void *buf, size_t len);
int read_all(int fd, void *buf, size_t len);
void send_error(int fd, uint32_t step, int err, const char *detail, size_t len);
void send_done(void);
__attribute__((noreturn, format(printf, 5, 6)))
void fail_exit(struct stage *st, int code, uint32_t step, int err, const char *fmt, ...);
/* Reports a failed step of `st` (a variable of every function that fails) and exits 125. */
#define fail(...) fail_exit(st, 125, __VA_ARGS__)
__attribute__((noreturn)) void bad_plan(const char *why);

/* main.c */
int64_t arg_i(struct stage *st, const struct op *o, uint32_t k, uint32_t step);
const char *arg_s(struct stage *st, const struct op *o, uint32_t k, uint32_t step);
/* "" stands for NULL in mount(2) arguments. */
static inline const char *or_null(const char *s) { return s[0] ? s : NULL; }

/* ops.c */
uint32_t run_ops(struct stage *st, uint32_t from);

/* idmap-helper.c */
uint32_t do_userns(struct stage *st, uint32_t step);

/* confine.c */
const char *confined_rel(struct stage *st, const char *path);
int path_fd(struct stage *st, const char *path, int flags);
void confined_mkdir(struct stage *st, uint32_t step, const char *path, const char *rel, mode_t mode, int64_t uid, int64_t gid);
int confined_create(struct stage *st, uint32_t step, const char *path, const char *rel, mode_t mode, int keep);
void confined_symlink(struct stage *st, uint32_t step, const char *target, const char *path, const char *rel);
void confined_bind(struct stage *st, uint32_t step, const char *src, const char *dst, int recursive);
void confined_mount(struct stage *st, uint32_t step, const char *src, const char *dst, const char *fs, unsigned long flags, const char *data);
void do_confine(struct stage *st, uint32_t step, const struct op *o);

/* clear-tree.c */
int clear_dir(int top);
void do_clear_dir(struct stage *st, uint32_t step, const struct op *o);
int chown_tree(int top, uid_t uid, gid_t gid);
void do_chown_tree(struct stage *st, uint32_t step, const struct op *o);

/* process.c */
int capset_to(uint64_t keep);
int drop_bounding_except(uint64_t keep);
void setup_ids(struct stage *st, uint32_t step, uid_t uid, gid_t gid);
void drop_caps(struct stage *st, uint32_t step, uint64_t keep, uint64_t held);
void do_exec(struct stage *st, uint32_t step, const struct op *o);
void do_run(struct stage *st, uint32_t step, const struct op *o);
void do_fork_init(struct stage *st, uint32_t step, const struct op *o);
void do_fork_workload(struct stage *st, uint32_t step, const struct op *o);
void do_wait_start(struct stage *st, uint32_t step, const struct op *o);
int64_t now_ns(void);
void copy_winsize(int master);

/* monitor.c */
__attribute__((noreturn)) void stage_monitor(struct stage *st, pid_t reaper, int exec_rd, int flags);

#endif
