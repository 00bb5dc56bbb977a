/* monitor.c: the stage while the sandbox runs: relays output and errors, forwards signals,
 * enforces the CPU, wall and output limits, accounts CPU time and reports EXIT. */
#include "stage.h"

/* ------------------------------------------------------------ monitoring */

/* What the stage measures and decides while it monitors one run. */
struct monitor {
  /* Output the workload wrote, counted per stream; the limit covers both. */
  struct {
    int64_t bytes[2];
    int truncated;   /* bit 0 stdout, bit 1 stderr */
  } output;
  int kill_reason;
  int64_t killed_at;     /* when the stage ended the run */
  int64_t cpu_polled_us; /* last CPU sample: the tree's time when the stage had to kill it */
  int end_fd;            /* timer: pid 1 did not end the tree in time */
};

static int arm_timer(int64_t first_ns, int64_t interval_ns);

/* Ends the run at a limit. pid 1 kills and reaps the tree itself, so the
 * times of the processes it kills are accounted; if it cannot (gone, stuck),
 * SIGKILL to pid 1 makes the kernel kill the namespace. */
static void end_run(struct stage *st, struct monitor *m, pid_t reaper, int reason) {
  if (m->kill_reason != KILL_NONE) return;
  m->kill_reason = reason;
  m->killed_at = now_ns();
  char cmd = REAPER_END_TREE;
  if (send(st->report_fd, &cmd, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) kill(reaper, SIGKILL);
  else m->end_fd = arm_timer(END_TREE_GRACE_NS, 0);
}

enum { RELAY_EOF = 0, RELAY_DATA = 1, RELAY_WAIT = 2 };

/* Relays what is available from `from` to fd `to` (1 or 2), within the output
 * limit; past it the rest is discarded and the run is ended. */
static int relay(struct stage *st, struct monitor *m, int from, int to, pid_t reaper) {
  char buf[65536];
  ssize_t n = read(from, buf, sizeof buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN ? RELAY_WAIT : RELAY_EOF;
  if (n == 0) return RELAY_EOF;
  int stream = to == 2;
  size_t keep = (size_t)n;
  if (st->limits.output >= 0) {
    int64_t room = st->limits.output - m->output.bytes[0] - m->output.bytes[1];
    if (room < 0) room = 0;
    if ((int64_t)keep > room) {
      keep = (size_t)room;
      m->output.truncated |= 1 << stream;
      end_run(st, m, reaper, KILL_OUTPUT);
    }
  }
  m->output.bytes[stream] += (int64_t)keep;
  if (keep > 0) (void)write_all(to, buf, keep); /* a reader that went away loses the rest */
  return RELAY_DATA;
}

/* Reads /proc/PID/stat: utime+stime+cutime+cstime in clock ticks, or -1. */
static int64_t proc_ticks(struct stage *st, pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "%d/stat", (int)pid);
  int fd = openat(st->host_proc, path, O_RDONLY | O_CLOEXEC);
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
static int64_t proc_tree_us(struct stage *st, pid_t root) {
  static pid_t stack[8192];
  int top = 0;
  int64_t ticks = 0;
  stack[top++] = root;
  while (top > 0) {
    pid_t pid = stack[--top];
    int64_t t = proc_ticks(st, pid);
    if (t > 0) ticks += t;
    char dir[64];
    snprintf(dir, sizeof dir, "%d/task", (int)pid);
    int dfd = openat(st->host_proc, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) { if (dfd >= 0) close(dfd); continue; }
    struct dirent *e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      char path[320], buf[4096];
      snprintf(path, sizeof path, "%d/task/%s/children", (int)pid, e->d_name);
      int fd = openat(st->host_proc, path, O_RDONLY | O_CLOEXEC);
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
static int64_t cpu_usage_us(struct stage *st, pid_t reaper) {
  if (st->limits.usage_format == CPU_USAGE_PROC) return proc_tree_us(st, reaper);
  char buf[4096];
  ssize_t n = pread(st->usage_fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return -1;
  buf[n] = 0;
  if (st->limits.usage_format == CPU_USAGE_CGROUP1_CPUACCT) return strtoll(buf, NULL, 10) / 1000;
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

static void send_exit(struct stage *st, struct monitor *m, int32_t wstatus, int64_t wall, const struct rusage *ru) {
  int relayed = st->out_pipe[0] >= 0 || (st->limits.flags & LIMIT_RELAY_OUTPUT);
  struct ev_exit f = {
    .wait_status = wstatus,
    .wall_ns = wall,
    .user_us = (int64_t)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec,
    .system_us = (int64_t)ru->ru_stime.tv_sec * 1000000 + ru->ru_stime.tv_usec,
    .max_rss_kib = ru->ru_maxrss,
    .kill_reason = (uint32_t)m->kill_reason,
    .truncated = (uint32_t)m->output.truncated,
    .stdout_bytes = relayed ? m->output.bytes[0] : -1,
    .stderr_bytes = relayed ? m->output.bytes[1] : -1,
    .cpu_sample_us = m->cpu_polled_us,
    .voluntary_switches = ru->ru_nvcsw,
    .involuntary_switches = ru->ru_nivcsw,
  };
  unsigned char buf[EV_EXIT_BYTES];
  (void)write_all(CTL_FD, buf, pack_ev_exit(buf, sizeof buf, &f));
}

void stage_monitor(struct stage *st, pid_t reaper, int exec_rd, int flags) {
  struct monitor mon = {.kill_reason = KILL_NONE, .cpu_polled_us = -1, .end_fd = -1};
  struct monitor *m = &mon;
  int tty = flags & FORK_TTY;
  int tty_stdin = tty && (flags & FORK_TTY_STDIN);
  /* what the stage keeps of its own stdio: the pty's ends, or the relay's destinations */
  if (!tty_stdin) close(0);
  if (!tty && st->out_pipe[0] < 0) close(1);

  sigset_t mask = st->forwarded;
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGWINCH);
  int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) { kill(reaper, SIGKILL); fail(UINT32_MAX, errno, "signalfd"); }

  int master = -1, started = 0, failed = 0, have_status = 0, stdin_open = tty_stdin, report_eof = 0;
  int out_rd = st->out_pipe[0], err_rd = st->err_pipe[0];
  int wall_fd = -1, cpu_fd = -1;
  int32_t wstatus = 0;
  int64_t t0 = now_ns(), t_exit = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  int reaped = 0, reaper_status = 0;
  sigset_t deferred;
  sigemptyset(&deferred);

  while (!reaped) {
    struct pollfd p[12];
    int i_gate = -1;
    int n = 0, i_ctl, i_exec = -1, i_rep, i_sig, i_master = -1, i_in = -1, i_out = -1, i_err = -1, i_wall = -1, i_cpu = -1, i_end = -1;
    i_ctl = n; p[n++] = (struct pollfd){.fd = CTL_FD, .events = POLLIN};
    if (exec_rd >= 0) { i_exec = n; p[n++] = (struct pollfd){.fd = exec_rd, .events = POLLIN}; }
    /* after pid 1's last word (EOF) the socket stays readable: stop polling it, or the stage spins until SIGCHLD */
    i_rep = -1;
    if (!report_eof) { i_rep = n; p[n++] = (struct pollfd){.fd = st->report_fd, .events = POLLIN}; }
    i_sig = n; p[n++] = (struct pollfd){.fd = sigfd, .events = POLLIN};
    if (master >= 0) { i_master = n; p[n++] = (struct pollfd){.fd = master, .events = POLLIN}; }
    if (master >= 0 && stdin_open) { i_in = n; p[n++] = (struct pollfd){.fd = 0, .events = POLLIN}; }
    if (out_rd >= 0) { i_out = n; p[n++] = (struct pollfd){.fd = out_rd, .events = POLLIN}; }
    if (err_rd >= 0) { i_err = n; p[n++] = (struct pollfd){.fd = err_rd, .events = POLLIN}; }
    if (wall_fd >= 0) { i_wall = n; p[n++] = (struct pollfd){.fd = wall_fd, .events = POLLIN}; }
    if (cpu_fd >= 0) { i_cpu = n; p[n++] = (struct pollfd){.fd = cpu_fd, .events = POLLIN}; }
    if (st->gate.pipe[0] >= 0) { i_gate = n; p[n++] = (struct pollfd){.fd = st->gate.pipe[0], .events = POLLIN}; }
    if (m->end_fd >= 0) { i_end = n; p[n++] = (struct pollfd){.fd = m->end_fd, .events = POLLIN}; }
    if (poll(p, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[i_ctl].revents) {
      unsigned char buf[64];
      ssize_t r = read(CTL_FD, buf, sizeof buf);
      if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
        /* the sandbox is gone: take everything with us */
        kill(reaper, SIGKILL);
        _exit(EXIT_LOST_CONTROL);
      }
      /* commands are whole 8-byte frames (no payload); END ends the run with its accounting */
      for (ssize_t at = 0; at + FRAME_HEADER_BYTES <= r; at += FRAME_HEADER_BYTES) {
        uint32_t type, len;
        unpack_frame_header(buf + at, &type, &len);
        if (type == CMD_END && len == 0) end_run(st, m, reaper, KILL_REQUESTED);
      }
    }
    if (i_gate >= 0 && p[i_gate].revents) {
      /* the workload at WAIT_START: its host pid, once (then the pipe is done) */
      uint32_t pid;
      if (read(st->gate.pipe[0], &pid, sizeof pid) == (ssize_t)sizeof pid) {
        struct ev_gate f = {.pid = pid, .reserved = 0};
        unsigned char frame[EV_GATE_BYTES];
        (void)write_all(CTL_FD, frame, pack_ev_gate(frame, sizeof frame, &f));
      }
      close(st->gate.pipe[0]);
      st->gate.pipe[0] = -1;
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
          if (st->limits.wall_us >= 0) wall_fd = arm_timer(st->limits.wall_us * 1000, 0);
          if (st->limits.cpu_us >= 0) cpu_fd = arm_timer(CPU_POLL_NS, CPU_POLL_NS);
          /* each phase's end, in ns since the stage started (-1: it had none) */
          int64_t base = st->times.start;
#define SINCE(t) ((t) < 0 ? -1 : (t) - base)
          struct ev_started f = {.reaper_pid = (uint32_t)reaper, .reserved = 0, .maps_ns = SINCE(st->times.maps),
            .namespaces_ns = SINCE(st->times.namespaces), .pid1_ns = SINCE(st->times.pid1), .exec_ns = t0 - base};
#undef SINCE
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
      ssize_t r = recvmsg(st->report_fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
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
    if (i_master >= 0 && p[i_master].revents && relay(st, m, master, 1, reaper) == RELAY_EOF) { close(master); master = -1; }
    if (i_in >= 0 && p[i_in].revents) {
      char buf[16384];
      ssize_t r = read(0, buf, sizeof buf);
      if (r > 0) (void)write_all(master, buf, (size_t)r);
      else if (r == 0 || (errno != EINTR && errno != EAGAIN)) stdin_open = 0;
    }
    if (i_out >= 0 && p[i_out].revents && relay(st, m, out_rd, 1, reaper) == RELAY_EOF) { close(out_rd); out_rd = -1; }
    if (i_err >= 0 && p[i_err].revents && relay(st, m, err_rd, 2, reaper) == RELAY_EOF) { close(err_rd); err_rd = -1; }
    if (i_wall >= 0 && p[i_wall].revents) {
      end_run(st, m, reaper, KILL_WALL);
      close(wall_fd);
      wall_fd = -1;
    }
    if (i_cpu >= 0 && p[i_cpu].revents) {
      uint64_t ticks;
      (void)!read(cpu_fd, &ticks, sizeof ticks);
      m->cpu_polled_us = cpu_usage_us(st, reaper);
      if (m->cpu_polled_us >= st->limits.cpu_us) {
        end_run(st, m, reaper, KILL_CPU);
        close(cpu_fd);
        cpu_fd = -1;
      }
    }
    if (i_end >= 0 && p[i_end].revents) {
      kill(reaper, SIGKILL);
      close(m->end_fd);
      m->end_fd = -1;
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
    int32_t ws;
    if (recv(st->report_fd, &ws, sizeof ws, MSG_DONTWAIT) == (ssize_t)sizeof ws) {
      wstatus = ws;
      have_status = 1;
      t_exit = now_ns();
    } else if (m->kill_reason != KILL_NONE) {
      /* the stage killed pid 1 before it could report: the workload died of that SIGKILL */
      wstatus = SIGKILL;
      have_status = 1;
      t_exit = m->killed_at;
    } else if (reaped && WIFSIGNALED(reaper_status)) {
      /* pid 1 was killed from outside the sandbox (kill -9 of its host pid) before it could report: the
       * kernel killed everything else in its pid namespace with SIGKILL, the workload included, so the
       * run ends as a workload killed by SIGKILL (SG, 137), not as a set-up failure */
      wstatus = SIGKILL;
      have_status = 1;
      t_exit = now_ns();
    }
  }
  /* everything in the sandbox is dead: drain what it wrote before */
  if (master >= 0) {
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    while (relay(st, m, master, 1, reaper) == RELAY_DATA) {}
  }
  while (out_rd >= 0 && relay(st, m, out_rd, 1, reaper) == RELAY_DATA) {}
  while (err_rd >= 0 && relay(st, m, err_rd, 2, reaper) == RELAY_DATA) {}
  if (exec_rd >= 0) {
    /* exec status and exit arrived together, or pid 1 died early */
    char buf[8 + 8 + DETAIL_MAX];
    ssize_t r = read(exec_rd, buf, sizeof buf);
    if (r > 0) { (void)write_all(CTL_FD, buf, (size_t)r); failed = 1; }
    else if (r == 0 && !failed) started = 1;
  }
  /* the run's writable layer: nothing of the sandbox can use it any more */
  for (int k = 0; k < st->n_clear_after_run; k++) { (void)clear_dir(st->clear_after_run[k]); close(st->clear_after_run[k]); }
  /* volumes whose files go back to their owner (the isolate mode's box) */
  for (int k = 0; k < st->n_chown_after_run; k++) {
    (void)chown_tree(st->chown_after_run[k].fd, st->chown_after_run[k].uid, st->chown_after_run[k].gid);
    close(st->chown_after_run[k].fd);
  }
  if (started && !failed && have_status) {
    /* a run the stage ended lasted until the stage ended it, not until pid 1 had reaped the tree */
    if (m->kill_reason != KILL_NONE && m->killed_at < t_exit) t_exit = m->killed_at;
    send_exit(st, m, wstatus, t_exit - t0, &ru);
  } else if (!failed) {
    static const char why[] = "pid 1 of the sandbox ended without a status";
    send_error(CTL_FD, UINT32_MAX, ECHILD, why, sizeof why - 1);
  }
  send_done();
  _exit(0);
}

