/* process.c: the stage's processes: pid 1 (FORK_INIT, the reaper), the workload
 * (FORK_WORKLOAD, privileges, EXEC) and helpers pid 1 runs (RUN). */
#include "stage.h"

/* ------------------------------------------------------------ privileges */

int capset_to(uint64_t keep) {
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  d[0].effective = d[0].permitted = (uint32_t)keep;
  d[1].effective = d[1].permitted = (uint32_t)(keep >> 32);
  return (int)syscall(SYS_capset, &h, d);
}

int drop_bounding_except(uint64_t keep) {
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
void setup_ids(struct stage *st, uint32_t step, uid_t uid, gid_t gid) {
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
void drop_caps(struct stage *st, uint32_t step, uint64_t keep, uint64_t held) {
  if (drop_bounding_except(keep) < 0) fail(step, errno, "PR_CAPBSET_DROP");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) fail(step, errno, "clear ambient");
  unsigned long bits = SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  if (!keep) bits |= SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED;
  /* without NO_SETUID_FIXUP (which SET_IDS set) a setuid to non-root inside clears capabilities, as usual */
  if (prctl(PR_SET_SECUREBITS, bits) < 0) fail(step, errno, "lock securebits");
  if (capset_to(held & keep) < 0) fail(step, errno, "capset");
}

/* ------------------------------------------------------------ exec */

void do_exec(struct stage *st, uint32_t step, const struct op *o) {
  const char *file = o->strs[0];
  const char *search = o->strs[1];
  /* the workload starts with a clean signal state */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (strchr(file, '/')) {
    execve(file, o->argv, o->envp);
    int e = errno;
    fail_exit(st, e == ENOENT ? st->exec_exit_not_found : st->exec_exit_other, step, e, "exec %s", file);
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
  fail_exit(st, err == ENOENT ? st->exec_exit_not_found : st->exec_exit_other, step, err, "exec %s", file);
}

/* The start gate, in the workload: tells the stage its host pid (GATE), then
 * blocks opening the FIFO for writing until `start` opens it for reading
 * (runc's exec.fifo), writes one byte and goes on to exec. Signals stay
 * blocked here, as during the whole set-up: they are delivered after exec
 * (SIGKILL ends the workload at the gate). */
void do_wait_start(struct stage *st, uint32_t step, const struct op *o) {
  int fd = (int)arg_i(st, o, 0, step);
  if (st->gate.fd != fd || st->gate.proc < 0 || st->gate.pipe[1] < 0) fail(step, EBADF, "no start gate at fd %d (OPEN_GATE missing)", fd);
  char link[32];
  ssize_t n = readlinkat(st->gate.proc, "self", link, sizeof link - 1);
  if (n <= 0) fail(step, n < 0 ? errno : EINVAL, "readlink /proc/self");
  link[n] = 0;
  uint32_t pid = (uint32_t)strtoul(link, NULL, 10);
  if (write_all(st->gate.pipe[1], &pid, sizeof pid) < 0) fail(step, errno, "report the pid at the start gate");
  close(st->gate.pipe[1]);
  st->gate.pipe[1] = -1;
  char path[48];
  snprintf(path, sizeof path, "self/fd/%d", fd);
  int w;
  while ((w = openat(st->gate.proc, path, O_WRONLY | O_CLOEXEC)) < 0 && errno == EINTR) {}
  if (w < 0) fail(step, errno, "open the start FIFO for writing");
  if (write_all(w, "0", 1) < 0) fail(step, errno, "write the start FIFO");
  close(w);
  close(fd);
  close(st->gate.proc);
  st->gate.fd = st->gate.proc = -1;
}

/* A helper pid 1 needs while it sets up (fuse-overlayfs): runs it to its end,
 * which for a daemon means until it has forked into the background ready.
 * Its output is kept for the error message, not shown on success. */
void do_run(struct stage *st, uint32_t step, const struct op *o) {
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
  int ws;
  while (waitpid(pid, &ws, 0) < 0)
    if (errno != EINTR) fail(step, errno, "wait for %s", file);
  /* a daemon may still hold the pipe: take what is there, do not wait for EOF */
  char said[256] = "";
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  ssize_t n = read(out[0], said, sizeof said - 1);
  said[n > 0 ? n : 0] = 0;
  for (char *c = said; *c; c++) if (*c == '\n') *c = ' ';
  close(out[0]);
  if (WIFEXITED(ws) && WEXITSTATUS(ws) == 127) fail(step, ENOENT, "exec %s", file);
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
    fail(step, ECHILD, "%s %s %d: %s", file, WIFEXITED(ws) ? "exited with" : "was killed by signal",
         WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws), said);
}

/* ------------------------------------------------------------ processes */


/* Kills everything else in the pid namespace and reaps it here, so the
 * stage's wait4 on pid 1 accounts for the whole tree (processes the kernel
 * kills when pid 1 leaves are reaped without adding their CPU time to
 * anyone's), then reports the workload's wait status and exits. */
__attribute__((noreturn)) static void reaper_end(struct stage *st, pid_t workload, int have_status, int32_t status) {
  kill(-1, SIGKILL);
  int ws;
  pid_t p;
  while ((p = waitpid(-1, &ws, __WALL)) > 0 || errno == EINTR) {
    if (p == workload && !have_status) { status = ws; have_status = 1; }
  }
  if (have_status) (void)send(st->report_fd, &status, sizeof status, MSG_NOSIGNAL);
  _exit(0);
}

static void reaper_loop(struct stage *st, pid_t workload) {
  close(st->err_fd);
  if (st->tty_slave >= 0) close(st->tty_slave);
  close(0); close(1); close(2);
  /* the start gate is the workload's */
  if (st->gate.pipe[1] >= 0) { close(st->gate.pipe[1]); st->gate.pipe[1] = -1; }
  if (st->gate.proc >= 0) { close(st->gate.proc); st->gate.proc = -1; }
  if (st->gate.fd >= 0) { close(st->gate.fd); st->gate.fd = -1; }
  /* not traceable, and only able to signal its own child */
  prctl(PR_SET_DUMPABLE, 0);
  drop_bounding_except(1ULL << CAP_KILL);
  capset_to(1ULL << CAP_KILL);
  sigset_t waitset = st->forwarded;
  sigaddset(&waitset, SIGCHLD);
  int sigfd = signalfd(-1, &waitset, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) reaper_end(st, workload, 0, 0);
  for (;;) {
    struct pollfd p[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = st->report_fd, .events = POLLIN}};
    if (poll(p, 2, -1) < 0) continue;
    if (p[1].revents) {
      /* the stage ends the run at a limit (END_TREE), or is gone */
      char cmd;
      ssize_t r = recv(st->report_fd, &cmd, 1, MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR) || (r == 1 && cmd == REAPER_END_TREE)) reaper_end(st, workload, 0, 0);
    }
    if (!p[0].revents) continue;
    struct signalfd_siginfo si;
    while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
      if (si.ssi_signo != SIGCHLD) kill(workload, (int)si.ssi_signo);
    }
    int status;
    pid_t w;
    while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
      if (w == workload) reaper_end(st, workload, 1, status);
    }
  }
}

int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void copy_winsize(int master) {
  struct winsize ws;
  if (ioctl(0, TIOCGWINSZ, &ws) == 0 || ioctl(1, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws);
}

void do_fork_init(struct stage *st, uint32_t step, const struct op *o) {
  int exec_pipe[2], rep[2];
  int flags = (int)arg_i(st, o, 0, step);
  int relay = (st->limits.flags & LIMIT_RELAY_OUTPUT) && !(flags & FORK_TTY);
  if (pipe2(exec_pipe, O_CLOEXEC) < 0) fail(step, errno, "pipe");
  if (relay && pipe2(st->out_pipe, O_CLOEXEC) < 0) fail(step, errno, "pipe");
  if (relay && !(st->limits.flags & LIMIT_MERGE_STDERR) && pipe2(st->err_pipe, O_CLOEXEC) < 0) fail(step, errno, "pipe");
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rep) < 0) fail(step, errno, "socketpair");
  pid_t pid = fork();
  if (pid < 0) fail(step, errno, "fork pid 1");
  if (pid == 0) {
    st->role = ROLE_INIT;
    close(exec_pipe[0]);
    close(rep[0]);
    if (st->gate.pipe[0] >= 0) { close(st->gate.pipe[0]); st->gate.pipe[0] = -1; }
    st->err_fd = exec_pipe[1];
    st->report_fd = rep[1];
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* the stage may have died before PDEATHSIG was armed */
    struct pollfd pf = {.fd = st->report_fd, .events = POLLRDHUP};
    if (poll(&pf, 1, 0) > 0 && (pf.revents & (POLLHUP | POLLRDHUP))) _exit(1);
    close(CTL_FD);
    if (relay) {
      /* the workload writes into the stage's pipes; dup2 clears close-on-exec */
      if (dup2(st->out_pipe[1], 1) < 0 || dup2(st->err_pipe[1] >= 0 ? st->err_pipe[1] : st->out_pipe[1], 2) < 0) fail(step, errno, "dup2 output");
      close(st->out_pipe[0]); close(st->out_pipe[1]);
      if (st->err_pipe[0] >= 0) { close(st->err_pipe[0]); close(st->err_pipe[1]); }
    }
    run_ops(st, step + 1);
    _exit(125);
  }
  st->times.pid1 = now_ns();
  close(exec_pipe[1]);
  close(rep[1]);
  st->report_fd = rep[0];
  /* the stage keeps only the read end of the gate's pipe (monitor: GATE) */
  if (st->gate.pipe[1] >= 0) { close(st->gate.pipe[1]); st->gate.pipe[1] = -1; }
  if (st->gate.proc >= 0) { close(st->gate.proc); st->gate.proc = -1; }
  if (st->gate.fd >= 0) { close(st->gate.fd); st->gate.fd = -1; }
  if (relay) {
    close(st->out_pipe[1]);
    fcntl(st->out_pipe[0], F_SETFL, O_NONBLOCK);
    if (st->err_pipe[1] >= 0) { close(st->err_pipe[1]); fcntl(st->err_pipe[0], F_SETFL, O_NONBLOCK); }
  }
  stage_monitor(st, pid, exec_pipe[0], flags);
}

void do_fork_workload(struct stage *st, uint32_t step, const struct op *o) {
  int flags = (int)arg_i(st, o, 0, step);
  pid_t pid = fork();
  if (pid < 0) fail(step, errno, "fork workload");
  if (pid == 0) {
    st->role = ROLE_WORKLOAD;
    umask(st->caller_umask);
    close(st->report_fd);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (setsid() < 0) fail(step, errno, "setsid");
    if (flags & FORK_TTY) {
      if (st->tty_slave < 0) fail(step, EBADF, "no pty (PTY op missing)");
      if (ioctl(st->tty_slave, TIOCSCTTY, 0) < 0) fail(step, errno, "TIOCSCTTY");
      for (int fd = 0; fd < 3; fd++)
        if (dup2(st->tty_slave, fd) < 0) fail(step, errno, "dup2 pty");
      close(st->tty_slave);
    }
    return;
  }
  reaper_loop(st, pid);
}

