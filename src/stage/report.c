/* report.c: frames on the control socket (packed by the code generated into protocol.h),
 * the exec-status reports of children, and the I/O helpers they use. */
#include "stage.h"

/* ------------------------------------------------------------ I/O helpers */

int write_all(int fd, const void *buf, size_t len) {
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

int read_all(int fd, void *buf, size_t len) {
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
void send_error(int fd, uint32_t step, int err, const char *detail, size_t len) {
  unsigned char buf[EV_ERROR_BYTES + DETAIL_MAX];
  struct ev_error f = {.step = step, .error_number = err, .detail = detail, .detail_len = (uint32_t)len};
  (void)write_all(fd, buf, pack_ev_error(buf, sizeof buf, &f));
}

/* The stage's last frame: the run is over. */
void send_done(void) {
  unsigned char buf[EV_DONE_BYTES];
  (void)write_all(CTL_FD, buf, pack_ev_done(buf, sizeof buf));
}

/* Reports a failed step and ends this process with `code`. The stage writes
 * to the control socket (and ends with DONE); children write to the
 * exec-status pipe, which the stage relays. */
void fail_exit(struct stage *st, int code, uint32_t step, int err, const char *fmt, ...) {
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
  int fd = (st->role == ROLE_STAGE || st->role == ROLE_HELPER) ? CTL_FD : st->err_fd;
  send_error(fd, step, err, detail, (size_t)n);
  if (st->role == ROLE_STAGE) send_done();
  _exit(code);
}

__attribute__((noreturn)) void bad_plan(const char *why) {
  char detail[DETAIL_MAX];
  int n = snprintf(detail, DETAIL_MAX, "bad plan: %s", why);
  send_error(CTL_FD, UINT32_MAX, EINVAL, detail, (size_t)n);
  send_done();
  _exit(EXIT_BAD_PLAN);
}
