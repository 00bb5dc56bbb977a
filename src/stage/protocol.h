/* Generated from src/stage/protocol.ts by `npm run gen:protocol`. Do not edit. */
#ifndef SANDBOX_PROTOCOL_H
#define SANDBOX_PROTOCOL_H
#define PLAN_MAGIC 0x31584253u
#define PROTOCOL_VERSION 1
#define OP_JOIN_USERNS 39
#define OP_USERNS 1
#define OP_MAP_WRITE 2
#define OP_MAP_EXEC 3
#define OP_SETUP_IDS 4
#define OP_UNSHARE 5
#define OP_SYNC 6
#define OP_JOIN_CGROUP 8
#define OP_LIMITS 9
#define OP_FORK_INIT 7
#define OP_OPEN_DIR 22
#define OP_OPEN_GATE 40
#define OP_CLOSE_FD 23
#define OP_CONFINE 24
#define OP_CLEAR_DIR 25
#define OP_CHOWN_TREE 38
#define OP_RUN 26
#define OP_KEEP_MOUNT_NS 27
#define OP_ENTER_MOUNT_NS 28
#define OP_MOUNT 10
#define OP_BIND 11
#define OP_SETATTR 12
#define OP_UMOUNT 13
#define OP_MKDIR 14
#define OP_WRITE_FILE 15
#define OP_SYMLINK 16
#define OP_PIVOT_ROOT 17
#define OP_SETHOSTNAME 18
#define OP_LOOPBACK_UP 19
#define OP_PTY 20
#define OP_FORK_WORKLOAD 21
#define OP_CHDIR 30
#define OP_OOM_SCORE_ADJ 37
#define OP_RLIMIT 31
#define OP_SET_IDS 32
#define OP_DROP_CAPS 33
#define OP_NO_NEW_PRIVS 34
#define OP_SECCOMP 35
#define OP_WAIT_START 41
#define OP_EXEC 36
#define FORK_TTY 1
#define FORK_TTY_STDIN 2
#define LIMIT_RELAY_OUTPUT 1
#define LIMIT_MERGE_STDERR 2
#define CPU_USAGE_PROC 0
#define CPU_USAGE_CGROUP2_CPU_STAT 1
#define CPU_USAGE_CGROUP1_CPUACCT 2
#define KILL_NONE 0
#define KILL_CPU 1
#define KILL_WALL 2
#define KILL_OUTPUT 3
#define KILL_REQUESTED 4
#define EV_NS_READY 1
#define EV_STARTED 2
#define EV_ERROR 3
#define EV_EXIT 4
#define EV_DONE 5
#define EV_GATE 6
#define CMD_GO 1
#define CMD_END 2
#define EXIT_BAD_PLAN 120
#define EXIT_LOST_CONTROL 121

/* Frames: u32 type, u32 payload length, payload (fields little-endian, as the host). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum { FRAME_HEADER_BYTES = 8 };
/* Bytes of each event frame without its text */
enum {
  EV_NS_READY_BYTES = 16,
  EV_STARTED_BYTES = 48,
  EV_ERROR_BYTES = 16,
  EV_EXIT_BYTES = 92,
  EV_DONE_BYTES = 8,
  EV_GATE_BYTES = 16,
};

struct ev_ns_ready {
  uint32_t pid;
  uint32_t sync_id;
};
/* The whole NS_READY frame into out (cap >= EV_NS_READY_BYTES); returns its length. */
static inline size_t pack_ev_ns_ready(unsigned char *out, size_t cap, const struct ev_ns_ready *f) {
  size_t n = FRAME_HEADER_BYTES;
  (void)cap;
  memcpy(out + n, &f->pid, 4); n += 4;
  memcpy(out + n, &f->sync_id, 4); n += 4;
  uint32_t type = EV_NS_READY, len = (uint32_t)(n - FRAME_HEADER_BYTES);
  memcpy(out, &type, 4);
  memcpy(out + 4, &len, 4);
  return n;
}

struct ev_started {
  uint32_t reaper_pid;
  uint32_t reserved;
  int64_t maps_ns;
  int64_t namespaces_ns;
  int64_t pid1_ns;
  int64_t exec_ns;
};
/* The whole STARTED frame into out (cap >= EV_STARTED_BYTES); returns its length. */
static inline size_t pack_ev_started(unsigned char *out, size_t cap, const struct ev_started *f) {
  size_t n = FRAME_HEADER_BYTES;
  (void)cap;
  memcpy(out + n, &f->reaper_pid, 4); n += 4;
  memcpy(out + n, &f->reserved, 4); n += 4;
  memcpy(out + n, &f->maps_ns, 8); n += 8;
  memcpy(out + n, &f->namespaces_ns, 8); n += 8;
  memcpy(out + n, &f->pid1_ns, 8); n += 8;
  memcpy(out + n, &f->exec_ns, 8); n += 8;
  uint32_t type = EV_STARTED, len = (uint32_t)(n - FRAME_HEADER_BYTES);
  memcpy(out, &type, 4);
  memcpy(out + 4, &len, 4);
  return n;
}

struct ev_error {
  uint32_t step;
  int32_t error_number;
  const char *detail;
  uint32_t detail_len;
};
/* The whole ERROR frame into out (cap >= EV_ERROR_BYTES); returns its length. */
static inline size_t pack_ev_error(unsigned char *out, size_t cap, const struct ev_error *f) {
  size_t n = FRAME_HEADER_BYTES;
  (void)cap;
  memcpy(out + n, &f->step, 4); n += 4;
  memcpy(out + n, &f->error_number, 4); n += 4;
  { size_t t = f->detail_len; if (t > cap - n) t = cap - n; memcpy(out + n, f->detail, t); n += t; }
  uint32_t type = EV_ERROR, len = (uint32_t)(n - FRAME_HEADER_BYTES);
  memcpy(out, &type, 4);
  memcpy(out + 4, &len, 4);
  return n;
}

struct ev_exit {
  int32_t wait_status;
  int64_t wall_ns;
  int64_t user_us;
  int64_t system_us;
  int64_t max_rss_kib;
  uint32_t kill_reason;
  uint32_t truncated;
  int64_t stdout_bytes;
  int64_t stderr_bytes;
  int64_t cpu_sample_us;
  int64_t voluntary_switches;
  int64_t involuntary_switches;
};
/* The whole EXIT frame into out (cap >= EV_EXIT_BYTES); returns its length. */
static inline size_t pack_ev_exit(unsigned char *out, size_t cap, const struct ev_exit *f) {
  size_t n = FRAME_HEADER_BYTES;
  (void)cap;
  memcpy(out + n, &f->wait_status, 4); n += 4;
  memcpy(out + n, &f->wall_ns, 8); n += 8;
  memcpy(out + n, &f->user_us, 8); n += 8;
  memcpy(out + n, &f->system_us, 8); n += 8;
  memcpy(out + n, &f->max_rss_kib, 8); n += 8;
  memcpy(out + n, &f->kill_reason, 4); n += 4;
  memcpy(out + n, &f->truncated, 4); n += 4;
  memcpy(out + n, &f->stdout_bytes, 8); n += 8;
  memcpy(out + n, &f->stderr_bytes, 8); n += 8;
  memcpy(out + n, &f->cpu_sample_us, 8); n += 8;
  memcpy(out + n, &f->voluntary_switches, 8); n += 8;
  memcpy(out + n, &f->involuntary_switches, 8); n += 8;
  uint32_t type = EV_EXIT, len = (uint32_t)(n - FRAME_HEADER_BYTES);
  memcpy(out, &type, 4);
  memcpy(out + 4, &len, 4);
  return n;
}

/* The whole DONE frame into out (cap >= EV_DONE_BYTES); returns its length. */
static inline size_t pack_ev_done(unsigned char *out, size_t cap) {
  size_t n = FRAME_HEADER_BYTES;
  (void)cap;
  uint32_t type = EV_DONE, len = (uint32_t)(n - FRAME_HEADER_BYTES);
  memcpy(out, &type, 4);
  memcpy(out + 4, &len, 4);
  return n;
}

struct ev_gate {
  uint32_t pid;
  uint32_t reserved;
};
/* The whole GATE frame into out (cap >= EV_GATE_BYTES); returns its length. */
static inline size_t pack_ev_gate(unsigned char *out, size_t cap, const struct ev_gate *f) {
  size_t n = FRAME_HEADER_BYTES;
  (void)cap;
  memcpy(out + n, &f->pid, 4); n += 4;
  memcpy(out + n, &f->reserved, 4); n += 4;
  uint32_t type = EV_GATE, len = (uint32_t)(n - FRAME_HEADER_BYTES);
  memcpy(out, &type, 4);
  memcpy(out + 4, &len, 4);
  return n;
}

static inline int unpack_cmd_go(const unsigned char *body, size_t len) {
  (void)len;
  (void)body;
  return 0;
}

static inline int unpack_cmd_end(const unsigned char *body, size_t len) {
  (void)len;
  (void)body;
  return 0;
}

/* The header of a frame. */
static inline void unpack_frame_header(const unsigned char *p, uint32_t *type, uint32_t *len) {
  memcpy(type, p, 4);
  memcpy(len, p + 4, 4);
}
#endif
