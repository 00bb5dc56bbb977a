/* ops.c: the op interpreter (run_ops) and the file-system, network and pty ops. */
#include "stage.h"

/* Gives `fd` the number `want` (close-on-exec). */
static void move_fd(struct stage *st, uint32_t step, int fd, int want, const char *what) {
  if (fd == want) return;
  if (dup3(fd, want, O_CLOEXEC) < 0) fail(step, errno, "dup3 %s to fd %d", what, want);
  close(fd);
}

/* O_PATH: no read permission is needed here, CLEAR_DIR opens the directory again
 * inside; O_NOFOLLOW: a link in place of the directory is never followed. */
static void do_open_dir(struct stage *st, uint32_t step, const struct op *o) {
  const char *path = arg_s(st, o, 0, step);
  int fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) fail(step, errno, "open %s", path);
  move_fd(st, step, fd, (int)arg_i(st, o, 0, step), path);
}

/* The start gate (sandbox-oci create): the FIFO as an O_PATH fd (no reader is
 * needed to open it so; the workload reopens it O_WRONLY at WAIT_START), the
 * host's /proc, in which "self" names the workload by its host pid, and the
 * pipe on which the workload reports that pid. Made with the caller's rights,
 * before USERNS: the FIFO lives in the caller's state directory. */
static void do_open_gate(struct stage *st, uint32_t step, const struct op *o) {
  const char *path = arg_s(st, o, 0, step);
  if (st->gate.fd >= 0) fail(step, EEXIST, "a second start gate %s", path);
  int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) fail(step, errno, "open %s", path);
  struct stat sb;
  if (fstat(fd, &sb) < 0) fail(step, errno, "stat %s", path);
  if (!S_ISFIFO(sb.st_mode)) fail(step, EINVAL, "%s is not a FIFO", path);
  int want = (int)arg_i(st, o, 0, step);
  move_fd(st, step, fd, want, path);
  st->gate.fd = want;
  st->gate.proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (st->gate.proc < 0) fail(step, errno, "open /proc");
  if (pipe2(st->gate.pipe, O_CLOEXEC) < 0) fail(step, errno, "pipe");
}

static void do_keep_mount_ns(struct stage *st, uint32_t step, const struct op *o) {
  int fd = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(step, errno, "open /proc/thread-self/ns/mnt");
  move_fd(st, step, fd, (int)arg_i(st, o, 0, step), "the mount namespace");
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

static void do_mkdir(struct stage *st, uint32_t step, const struct op *o) {
  char path[4096];
  const char *s = arg_s(st, o, 0, step);
  if (strlen(s) >= sizeof path) fail(step, ENAMETOOLONG, "mkdir %s", s);
  strcpy(path, s);
  mode_t mode = (mode_t)arg_i(st, o, 0, step);
  const char *rel = confined_rel(st, s);
  if (rel) { confined_mkdir(st, step, s, rel, mode, arg_i(st, o, 1, step), arg_i(st, o, 2, step)); return; }
  int r = mkdir_p(path, mode);
  if (r < 0) fail(step, errno, "mkdir %s", s);
  uid_t uid = (uid_t)arg_i(st, o, 1, step);
  gid_t gid = (gid_t)arg_i(st, o, 2, step);
  if ((o->ints[1] >= 0 || o->ints[2] >= 0) && chown(path, uid, gid) < 0) fail(step, errno, "chown %s", s);
}

static void do_write_file(struct stage *st, uint32_t step, const struct op *o) {
  const char *path = arg_s(st, o, 0, step);
  mode_t mode = (mode_t)arg_i(st, o, 0, step);
  const char *rel = confined_rel(st, path);
  int keep = o->nint > 3 && o->ints[3];
  int fd;
  if (rel) {
    fd = confined_create(st, step, path, rel, mode, keep);
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

static void do_setattr(struct stage *st, uint32_t step, const struct op *o) {
  const char *path = arg_s(st, o, 0, step);
  struct mount_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.attr_set = (uint64_t)arg_i(st, o, 0, step);
  attr.attr_clr = (uint64_t)arg_i(st, o, 1, step);
  unsigned flags = arg_i(st, o, 2, step) ? AT_RECURSIVE : 0;
  if (confined_rel(st, path)) {
    int fd = path_fd(st, path, 0);
    if (fd < 0) fail(step, errno, "open %s", path);
    if (syscall(SYS_mount_setattr, fd, "", flags | AT_EMPTY_PATH, &attr, sizeof attr) < 0)
      fail(step, errno, "mount_setattr %s", path);
    close(fd);
    return;
  }
  if (syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &attr, sizeof attr) < 0)
    fail(step, errno, "mount_setattr %s", path);
}

static void do_pivot_root(struct stage *st, uint32_t step, const struct op *o) {
  const char *root = arg_s(st, o, 0, step), *put_old = arg_s(st, o, 1, step);
  if (syscall(SYS_pivot_root, root, put_old) < 0) fail(step, errno, "pivot_root %s %s", root, put_old);
  /* the confinement root's path means something else from here on */
  if (st->confine.fd >= 0) { close(st->confine.fd); st->confine.fd = -1; }
}

static void do_loopback_up(struct stage *st, uint32_t step) {
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
static void do_pty(struct stage *st, uint32_t step, const struct op *o) {
  const char *ptmx = arg_s(st, o, 0, step);
  int master = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail(step, errno, "open %s", ptmx);
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) fail(step, errno, "unlock pty");
  st->tty_slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (st->tty_slave < 0) fail(step, errno, "open pty slave");
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
  if (sendmsg(st->report_fd, &msg, MSG_NOSIGNAL) < 0) fail(step, errno, "send pty master");
  close(master);
}

static void do_sync(struct stage *st, uint32_t step, const struct op *o) {
  struct ev_ns_ready f = {.pid = (uint32_t)getpid(), .sync_id = (uint32_t)arg_i(st, o, 0, step)};
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
uint32_t run_ops(struct stage *st, uint32_t from) {
  for (uint32_t i = from; i < st->nops; i++) {
    const struct op *o = &st->ops[i];
    switch (o->code) {
    case OP_JOIN_USERNS: {
      int fd = open(arg_s(st, o, 0, i), O_RDONLY | O_CLOEXEC);
      if (fd < 0) fail(i, errno, "open %s", o->strs[0]);
      if (setns(fd, CLONE_NEWUSER) < 0) fail(i, errno, "setns %s", o->strs[0]);
      close(fd);
      break;
    }
    case OP_USERNS: i = do_userns(st, i); st->times.maps = now_ns(); break;
    case OP_MAP_WRITE:
    case OP_MAP_EXEC: fail(i, EINVAL, "MAP ops must follow USERNS");
    case OP_SETUP_IDS: setup_ids(st, i, (uid_t)arg_i(st, o, 0, i), (gid_t)arg_i(st, o, 1, i)); break;
    case OP_UNSHARE:
      if (unshare((int)arg_i(st, o, 0, i)) < 0) fail(i, errno, "unshare(0x%llx)", (unsigned long long)o->ints[0]);
      st->times.namespaces = now_ns();
      break;
    case OP_SYNC: do_sync(st, i, o); break;
    case OP_JOIN_CGROUP: {
      const char *procs = arg_s(st, o, 0, i);
      int fd = open(procs, O_WRONLY | O_CLOEXEC);
      if (fd < 0) fail(i, errno, "open %s", procs);
      char pid[16];
      int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
      if (write(fd, pid, (size_t)n) != n) fail(i, errno, "write %s", procs);
      close(fd);
      break;
    }
    case OP_LIMITS:
      st->limits.cpu_us = arg_i(st, o, 0, i);
      st->limits.wall_us = arg_i(st, o, 1, i);
      st->limits.output = arg_i(st, o, 2, i);
      st->limits.flags = (int)arg_i(st, o, 3, i);
      st->limits.usage_file = arg_s(st, o, 0, i);
      st->limits.usage_format = atoi(arg_s(st, o, 1, i));
      st->host_proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (st->host_proc < 0) fail(i, errno, "open /proc");
      if (st->limits.usage_format != CPU_USAGE_PROC) {
        st->usage_fd = open(st->limits.usage_file, O_RDONLY | O_CLOEXEC);
        if (st->usage_fd < 0) fail(i, errno, "open %s", st->limits.usage_file);
      }
      break;
    case OP_FORK_INIT: do_fork_init(st, i, o); break; /* the stage never returns */
    case OP_MOUNT: {
      const char *src = arg_s(st, o, 0, i), *dst = arg_s(st, o, 1, i), *fs = arg_s(st, o, 2, i), *data = arg_s(st, o, 3, i);
      if (confined_rel(st, dst)) { confined_mount(st, i, src, dst, fs, (unsigned long)o->ints[0], data); break; }
      if (mount(or_null(src), dst, or_null(fs), (unsigned long)arg_i(st, o, 0, i), or_null(data)) < 0)
        fail(i, errno, "mount %s on %s (%s)", src, dst, fs);
      break;
    }
    case OP_BIND: {
      const char *src = arg_s(st, o, 0, i), *dst = arg_s(st, o, 1, i);
      unsigned long fl = MS_BIND | (arg_i(st, o, 0, i) ? MS_REC : 0);
      if (confined_rel(st, src) || confined_rel(st, dst)) { confined_bind(st, i, src, dst, (int)o->ints[0]); break; }
      if (mount(src, dst, NULL, fl, NULL) < 0) fail(i, errno, "bind %s on %s", src, dst);
      break;
    }
    case OP_SETATTR: do_setattr(st, i, o); break;
    case OP_UMOUNT:
      if (umount2(arg_s(st, o, 0, i), (int)arg_i(st, o, 0, i)) < 0) fail(i, errno, "umount %s", o->strs[0]);
      break;
    case OP_MKDIR: do_mkdir(st, i, o); break;
    case OP_WRITE_FILE: do_write_file(st, i, o); break;
    case OP_SYMLINK:
      if (confined_rel(st, arg_s(st, o, 1, i))) { confined_symlink(st, i, arg_s(st, o, 0, i), o->strs[1], confined_rel(st, o->strs[1])); break; }
      if (symlink(arg_s(st, o, 0, i), arg_s(st, o, 1, i)) < 0) fail(i, errno, "symlink %s -> %s", o->strs[1], o->strs[0]);
      break;
    case OP_PIVOT_ROOT: do_pivot_root(st, i, o); break;
    case OP_OPEN_DIR: do_open_dir(st, i, o); break;
    case OP_OPEN_GATE: do_open_gate(st, i, o); break;
    case OP_WAIT_START: do_wait_start(st, i, o); break;
    case OP_CLOSE_FD:
      if (close((int)arg_i(st, o, 0, i)) < 0) fail(i, errno, "close fd %lld", (long long)o->ints[0]);
      break;
    case OP_CONFINE: do_confine(st, i, o); break;
    case OP_CLEAR_DIR: do_clear_dir(st, i, o); break;
    case OP_CHOWN_TREE: do_chown_tree(st, i, o); break;
    case OP_KEEP_MOUNT_NS: do_keep_mount_ns(st, i, o); break;
    case OP_ENTER_MOUNT_NS:
      if (setns((int)arg_i(st, o, 0, i), CLONE_NEWNS) < 0) fail(i, errno, "setns fd %lld", (long long)o->ints[0]);
      break;
    case OP_RUN: do_run(st, i, o); break;
    case OP_SETHOSTNAME: {
      const char *h = arg_s(st, o, 0, i);
      if (sethostname(h, strlen(h)) < 0) fail(i, errno, "sethostname %s", h);
      break;
    }
    case OP_LOOPBACK_UP: do_loopback_up(st, i); break;
    case OP_PTY: do_pty(st, i, o); break;
    case OP_FORK_WORKLOAD: do_fork_workload(st, i, o); break; /* the reaper never returns */
    case OP_CHDIR:
      if (chdir(arg_s(st, o, 0, i)) < 0) fail(i, errno, "chdir %s", o->strs[0]);
      break;
    case OP_OOM_SCORE_ADJ: {
      /* a credential change left this process non-dumpable, so /proc/self is
       * not its own until exec; it will be dumpable after exec anyway */
      if (prctl(PR_SET_DUMPABLE, 1) < 0) fail(i, errno, "PR_SET_DUMPABLE");
      int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
      if (fd < 0) fail(i, errno, "open /proc/self/oom_score_adj");
      char v[24];
      int n = snprintf(v, sizeof v, "%lld\n", (long long)arg_i(st, o, 0, i));
      if (write(fd, v, (size_t)n) != n) fail(i, errno, "write /proc/self/oom_score_adj");
      close(fd);
      break;
    }
    case OP_RLIMIT: {
      int64_t soft = arg_i(st, o, 1, i), hard = arg_i(st, o, 2, i);
      struct rlimit rl = {.rlim_cur = soft < 0 ? RLIM_INFINITY : (rlim_t)soft, .rlim_max = hard < 0 ? RLIM_INFINITY : (rlim_t)hard};
      if (setrlimit((int)o->ints[0], &rl) < 0) fail(i, errno, "setrlimit %lld", (long long)o->ints[0]);
      break;
    }
    case OP_SET_IDS: {
      uid_t uid = (uid_t)arg_i(st, o, 0, i);
      gid_t gid = (gid_t)arg_i(st, o, 1, i);
      /* keep capabilities across the switch so DROP_CAPS can still clear the
       * bounding set; DROP_CAPS then drops every set explicitly */
      if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP) < 0) fail(i, errno, "securebits");
      if (arg_i(st, o, 2, i) && setgroups(0, NULL) < 0) fail(i, errno, "setgroups");
      if (setresgid(gid, gid, gid) < 0) fail(i, errno, "setresgid(%d)", (int)gid);
      if (setresuid(uid, uid, uid) < 0) fail(i, errno, "setresuid(%d)", (int)uid);
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail(i, errno, "pdeathsig");
      break;
    }
    case OP_DROP_CAPS: drop_caps(st, i, (uint64_t)arg_i(st, o, 0, i), (uint64_t)arg_i(st, o, 1, i)); break;
    case OP_NO_NEW_PRIVS:
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(i, errno, "no_new_privs");
      break;
    case OP_SECCOMP: {
      struct sock_fprog prog = {.len = (unsigned short)(o->lens[0] / sizeof(struct sock_filter)), .filter = o->aligned};
      if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)arg_i(st, o, 0, i), &prog) < 0)
        fail(i, errno, "seccomp");
      break;
    }
    case OP_EXEC: do_exec(st, i, o); break;
    default: fail(i, EINVAL, "unknown op %u", o->code);
    }
  }
  return st->nops;
}
