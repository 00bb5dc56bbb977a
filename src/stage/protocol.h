/* Generated from src/stage/protocol.ts by `npm run gen:protocol`. Do not edit. */
#ifndef SANDBOX_PROTOCOL_H
#define SANDBOX_PROTOCOL_H
#define PLAN_MAGIC 0x31584253u
#define PROTOCOL_VERSION 1
#define OP_USERNS 1
#define OP_MAP_WRITE 2
#define OP_MAP_EXEC 3
#define OP_SETUP_IDS 4
#define OP_UNSHARE 5
#define OP_SYNC 6
#define OP_FORK_INIT 7
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
#define OP_RLIMIT 31
#define OP_SET_IDS 32
#define OP_DROP_CAPS 33
#define OP_NO_NEW_PRIVS 34
#define OP_SECCOMP 35
#define OP_EXEC 36
#define FORK_TTY 1
#define FORK_TTY_STDIN 2
#define EV_NS_READY 1
#define EV_STARTED 2
#define EV_ERROR 3
#define EV_EXIT 4
#define CMD_GO 1
#define EXIT_BAD_PLAN 120
#define EXIT_LOST_CONTROL 121
#endif
