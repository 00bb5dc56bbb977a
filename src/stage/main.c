/* main.c: the stage's entry point: reads the plan into memory, takes the run's choices
 * (FORK_INIT) and runs the ops. */
#include "stage.h"

/* ------------------------------------------------------------ plan parsing */

static uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static int64_t rd64(const unsigned char *p) { int64_t v; memcpy(&v, p, 8); return v; }

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

static void read_plan(struct stage *st) {
  unsigned char hdr[16];
  if (read_all(CTL_FD, hdr, sizeof hdr) < 0) _exit(EXIT_LOST_CONTROL);
  if (rd32(hdr) != PLAN_MAGIC) bad_plan("wrong magic");
  if (rd32(hdr + 4) != PROTOCOL_VERSION) bad_plan("protocol version mismatch");
  uint32_t size = rd32(hdr + 8);
  st->nops = rd32(hdr + 12);
  if (size > MAX_PLAN_BYTES || st->nops > MAX_OPS) bad_plan("too large");
  unsigned char *buf = malloc(size ? size : 1);
  st->ops = calloc(st->nops ? st->nops : 1, sizeof *st->ops);
  if (!buf || !st->ops) bad_plan("out of memory");
  if (read_all(CTL_FD, buf, size) < 0) _exit(EXIT_LOST_CONTROL);

  size_t off = 0;
  for (uint32_t i = 0; i < st->nops; i++) {
    struct op *o = &st->ops[i];
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

int64_t arg_i(struct stage *st, const struct op *o, uint32_t k, uint32_t step) {
  if (k >= o->nint) fail(step, EINVAL, "op %u: missing integer argument %u", o->code, k);
  return o->ints[k];
}

const char *arg_s(struct stage *st, const struct op *o, uint32_t k, uint32_t step) {
  if (k >= o->nstr) fail(step, EINVAL, "op %u: missing string argument %u", o->code, k);
  return o->strs[k];
}

/* FORK_INIT carries the run's choices: exec failure exit codes, the signals to pass on.
 * Only those (and the ones the stage handles itself) stay blocked; any other signal
 * gets its default action again. */
static void take_run_choices(struct stage *st) {
  sigemptyset(&st->forwarded);
  for (uint32_t i = 0; i < st->nops; i++) {
    const struct op *o = &st->ops[i];
    if (o->code != OP_FORK_INIT) continue;
    if (o->nint >= 3) { st->exec_exit_not_found = (int)o->ints[1]; st->exec_exit_other = (int)o->ints[2]; }
    for (uint32_t k = 3; k < o->nint; k++) {
      int sig = (int)o->ints[k];
      if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD) bad_plan("FORK_INIT signal out of range");
      sigaddset(&st->forwarded, sig);
    }
    break;
  }
  sigset_t keep = st->forwarded;
  sigaddset(&keep, SIGCHLD);
  sigaddset(&keep, SIGWINCH);
  sigaddset(&keep, SIGPIPE);
  sigprocmask(SIG_SETMASK, &keep, NULL);
}

int main(void) {
  int64_t started_at = now_ns();
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
  struct stage stage = {
    .role = ROLE_STAGE, .err_fd = -1, .report_fd = -1, .tty_slave = -1,
    .exec_exit_not_found = 125, .exec_exit_other = 125,
    .limits = {-1, -1, -1, 0, "", CPU_USAGE_PROC},
    .host_proc = -1, .usage_fd = -1, .out_pipe = {-1, -1}, .err_pipe = {-1, -1},
    .confine = {.fd = -1},
    .gate = {.fd = -1, .proc = -1, .pipe = {-1, -1}},
    .times = {.start = started_at, .maps = -1, .namespaces = -1, .pid1 = -1},
  };
  struct stage *st = &stage;
  sigemptyset(&st->forwarded);
  st->caller_umask = umask(0);
  read_plan(st);
  take_run_choices(st);
  run_ops(st, 0);
  /* a plan without FORK_INIT only prepares; nothing ran */
  send_done();
  return 0;
}
