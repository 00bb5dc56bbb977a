/*
 * probe: test helper for rootless-sandbox. Tests run it inside a sandbox and
 * assert on the facts it reports, as one JSON object on stdout:
 *
 *     probe REPORT...        e.g.  probe ids caps write:/usr/x syscall:bpf exit:3
 *
 * Network reports: connect:ADDR:PORT (TCP, reads one line), listen:PORT then
 * accept:SECS (serves one connection a line), send:ADDR:PORT:MIB (throughput), ifaces.
 *
 * One key per report; the key is the whole argument. Output is streamed: each
 * finished report is written to stdout at once, so whatever ran before a kill
 * is still there. Exit status: 0, or 2 if a report name or argument was not
 * understood, or whatever exit:N / signal:N asks for.
 *
 * Built statically by build-probe.mjs so it runs in any image. No libraries.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#define UNUSED __attribute__((unused))
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* From <linux/keyctl.h>, spelled out so the probe needs no extra headers. */
#define KEYCTL_GET_KEYRING_ID 0
#define KEY_SPEC_SESSION_KEYRING (-3)
#define NR_IO_URING_SETUP 425 /* the same number on every architecture */

static int exit_status;

/* ------------------------------------------------------------------ JSON -- */

static char obuf[65536];
static size_t olen;
static int depth;         /* nesting level; 0 is the top-level object */
static bool nonempty[64]; /* the container at this level already has a member */
static bool after_key;    /* the next value follows a "key": */
static bool opened;       /* the top-level '{' has been written */

static void flush_out(void) {
	for (size_t off = 0; off < olen;) {
		ssize_t n = write(STDOUT_FILENO, obuf + off, olen - off);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) break; /* stdout is gone: nobody is left to read the rest */
		off += (size_t)n;
	}
	olen = 0;
}

static void emit(const char *s, size_t n) {
	while (n > 0) {
		if (olen == sizeof obuf) flush_out();
		size_t k = MIN(sizeof obuf - olen, n);
		memcpy(obuf + olen, s, k);
		olen += k, s += k, n -= k;
	}
}

static void emits(const char *s) { emit(s, strlen(s)); }

/* Length of the valid UTF-8 sequence at p (1 for ASCII), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n) {
	uint32_t cp, min;
	size_t len;
	if (p[0] < 0x80) return 1;
	if ((p[0] & 0xe0) == 0xc0) len = 2, cp = p[0] & 0x1f, min = 0x80;
	else if ((p[0] & 0xf0) == 0xe0) len = 3, cp = p[0] & 0x0f, min = 0x800;
	else if ((p[0] & 0xf8) == 0xf0) len = 4, cp = p[0] & 0x07, min = 0x10000;
	else return 0;
	if (len > n) return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80) return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
	return len;
}

/* A JSON string. Valid UTF-8 passes through; control bytes and bytes that are
 * not valid UTF-8 become \u00XX, so JSON.parse turns byte 0xXX into U+00XX. */
static void put_str(const char *s, size_t n) {
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	emit("\"", 1);
	for (size_t i = 0; i < n;) {
		size_t len = utf8_len(p + i, n - i);
		if (p[i] == '"' || p[i] == '\\') {
			emit("\\", 1), emit(s + i, 1), i++;
		} else if (len == 0 || p[i] < 0x20 || p[i] == 0x7f) {
			snprintf(esc, sizeof esc, "\\u%04x", p[i]);
			emit(esc, 6), i++;
		} else {
			emit(s + i, len), i += len;
		}
	}
	emit("\"", 1);
}

/* A comma before every member but the first, and none right after a key. */
static void sep(void) {
	if (after_key) { after_key = false; return; }
	if (nonempty[depth]) emit(",", 1);
	nonempty[depth] = true;
}

static void keyn(const char *k, size_t n) {
	/* '{' is written lazily, so that a successful exec: given first prints nothing */
	if (!opened) emit("{", 1), opened = true;
	sep();
	put_str(k, n);
	emit(":", 1);
	after_key = true;
}

static void key(const char *k) { keyn(k, strlen(k)); }
static void open_c(char c) { sep(); emit(&c, 1); nonempty[++depth] = false; }
static void close_c(char c) { emit(&c, 1); depth--; }
static void obj(void) { open_c('{'); }
static void obj_end(void) { close_c('}'); }
static void arr(void) { open_c('['); }
static void arr_end(void) { close_c(']'); }
static void j_null(void) { sep(); emits("null"); }
static void j_bool(bool b) { sep(); emits(b ? "true" : "false"); }
static void j_strn(const char *s, size_t n) { sep(); put_str(s, n); }
static void j_str(const char *s) { if (s) j_strn(s, strlen(s)); else j_null(); }

static void j_int(long long v) {
	char b[32];
	sep();
	emit(b, (size_t)snprintf(b, sizeof b, "%lld", v));
}

static void kv_int(const char *k, long long v) { key(k); j_int(v); }
static void kv_str(const char *k, const char *v) { key(k); j_str(v); }
static void kv_bool(const char *k, bool v) { key(k); j_bool(v); }
static void kv_null(const char *k) { key(k); j_null(); }
static void kv_errno(int err) { kv_int("errno", err); kv_str("error", strerror(err)); }

/* Close the top-level object and write everything out. */
static void finish(void) {
	if (!opened) emit("{", 1);
	emit("}\n", 2);
	flush_out();
}

static void bad_arg(void) {
	obj();
	kv_str("error", "bad argument");
	obj_end();
	exit_status = 2;
}

/* --------------------------------------------------------------- helpers -- */

static void *xrealloc(void *p, size_t n) {
	if (!(p = realloc(p, n))) _exit(70);
	return p;
}

/* Up to max bytes of a file, NUL-terminated (st_size is useless for /proc).
 * NULL with errno set on failure. */
static char *slurp(const char *path, size_t max, size_t *len) {
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) return NULL;
	size_t cap = 4096, n = 0;
	char *buf = xrealloc(NULL, cap + 1);
	while (n < max) {
		if (n == cap) buf = xrealloc(buf, (cap = MIN(cap * 2, max)) + 1);
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) {
			int e = errno;
			free(buf), close(fd);
			errno = e;
			return NULL;
		}
		if (r == 0) break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	*len = n;
	return buf;
}

/* "k": the trimmed content of a file, or null if it is unreadable. */
static void kv_file(const char *k, const char *path) {
	size_t n;
	char *buf = slurp(path, 1 << 20, &n), *s = buf;
	key(k);
	if (!buf) { j_null(); return; }
	while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
	while (n > 0 && isspace((unsigned char)*s)) s++, n--;
	j_strn(s, n);
	free(buf);
}

/* The value of a "Name:\tvalue" line of /proc/self/status, or NULL. */
static const char *status_field(const char *status, const char *name, char *val, size_t valsz) {
	size_t nl = strlen(name);
	for (const char *line = status; line && *line;) {
		const char *eol = strchrnul(line, '\n');
		if (strncmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t')) v++;
			size_t n = MIN((size_t)(eol - v), valsz - 1);
			memcpy(val, v, n);
			val[n] = 0;
			return val;
		}
		line = *eol ? eol + 1 : NULL;
	}
	return NULL;
}

static bool parse_long(const char *s, long *out) {
	char *end;
	errno = 0;
	*out = strtol(s, &end, 10);
	return *s && !*end && errno == 0;
}

static bool parse_secs(const char *s, double *out) {
	char *end;
	*out = strtod(s, &end);
	return *s && !*end && *out >= 0 && *out < 1e9;
}

static void sleep_for(double secs) {
	struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* Reap a child; a stopped one (it may be ptrace'd by us) is killed. */
static int wait_child(pid_t pid) {
	int st = 0;
	for (;;) {
		if (waitpid(pid, &st, 0) < 0) {
			if (errno == EINTR) continue;
			return -1;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) return st;
		kill(pid, SIGKILL);
	}
}

/* --------------------------------------------------------------- reports -- */

static void r_ids(const char *arg UNUSED) {
	obj();
	kv_int("uid", getuid());
	kv_int("euid", geteuid());
	kv_int("gid", getgid());
	kv_int("egid", getegid());
	key("groups");
	arr();
	int n = getgroups(0, NULL);
	if (n > 0) {
		gid_t *g = xrealloc(NULL, (size_t)n * sizeof *g);
		n = getgroups(n, g);
		for (int i = 0; i < n; i++) j_int(g[i]);
		free(g);
	}
	arr_end();
	kv_file("uid_map", "/proc/self/uid_map");
	kv_file("gid_map", "/proc/self/gid_map");
	kv_file("setgroups", "/proc/self/setgroups");
	obj_end();
}

static void r_caps(const char *arg UNUSED) {
	static const char *const hex[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
	static const char *const num[] = { "NoNewPrivs", "Seccomp", "Seccomp_filters" };
	size_t n;
	char *st = slurp("/proc/self/status", 1 << 20, &n), v[128];
	obj();
	for (size_t i = 0; i < COUNT(hex); i++)
		kv_str(hex[i], st ? status_field(st, hex[i], v, sizeof v) : NULL);
	for (size_t i = 0; i < COUNT(num); i++) {
		key(num[i]); /* null if absent: Seccomp_filters only exists since Linux 5.9 */
		if (st && status_field(st, num[i], v, sizeof v)) j_int(strtoll(v, NULL, 10));
		else j_null();
	}
	obj_end();
	free(st);
}

static void r_pid(const char *arg UNUSED) {
	obj();
	kv_int("pid", getpid());
	kv_int("ppid", getppid());
	kv_int("pgid", getpgrp());
	kv_int("sid", getsid(0));
	kv_file("comm_of_1", "/proc/1/comm");
	obj_end();
}

static void r_ns(const char *arg UNUSED) {
	static const char *const names[] = { "user", "pid", "mnt", "net", "uts", "ipc", "cgroup" };
	char path[64], target[256];
	obj();
	for (size_t i = 0; i < COUNT(names); i++) {
		snprintf(path, sizeof path, "/proc/self/ns/%s", names[i]);
		ssize_t n = readlink(path, target, sizeof target);
		key(names[i]);
		if (n < 0) j_null();
		else j_strn(target, (size_t)n);
	}
	obj_end();
}

static void r_hostname(const char *arg UNUSED) {
	struct utsname u;
	j_str(uname(&u) == 0 ? u.nodename : NULL);
}

static void r_ifaces(const char *arg UNUSED) {
	struct if_nameindex *ifs = if_nameindex(); /* uses netlink: null if that is refused */
	if (!ifs) { j_null(); return; }
	/* SIOCGIFFLAGS works on any socket; try AF_UNIX if AF_INET is refused. */
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	arr();
	for (struct if_nameindex *p = ifs; p->if_index != 0; p++) {
		struct ifreq ifr;
		memset(&ifr, 0, sizeof ifr);
		snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", p->if_name);
		obj();
		kv_str("name", p->if_name);
		key("up");
		if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) j_bool(ifr.ifr_flags & IFF_UP);
		else j_null();
		obj_end();
	}
	arr_end();
	if (s >= 0) close(s);
	if_freenameindex(ifs);
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void r_fds(const char *arg UNUSED) {
	DIR *d = opendir("/proc/self/fd");
	if (!d) { j_null(); return; }
	int *fds = NULL, skip = dirfd(d);
	size_t n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == skip) continue;
		fds = xrealloc(fds, (n + 1) * sizeof *fds);
		fds[n++] = atoi(e->d_name);
	}
	closedir(d);
	if (n > 0) qsort(fds, n, sizeof *fds, cmp_int);
	arr();
	for (size_t i = 0; i < n; i++) j_int(fds[i]);
	arr_end();
	free(fds);
}

static void r_env(const char *arg UNUSED) {
	extern char **environ;
	obj();
	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		keyn(*e, eq ? (size_t)(eq - *e) : strlen(*e));
		j_str(eq ? eq + 1 : "");
	}
	obj_end();
}

static void r_cwd(const char *arg UNUSED) {
	char *cwd = getcwd(NULL, 0);
	j_str(cwd);
	free(cwd);
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape(char *s) {
	char *w = s;
	for (char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = 0;
	return s;
}

static void r_mounts(const char *arg UNUSED) {
	size_t n;
	char *buf = slurp("/proc/self/mountinfo", 64 << 20, &n), *rest = buf, *line;
	if (!buf) { j_null(); return; }
	arr();
	while ((line = strsep(&rest, "\n")) != NULL) {
		/* id parent maj:min root mount_point options [optional...] - type source super_options
		 * strsep, not strtok: an empty source stays an (empty) field. */
		char *f[64];
		int nf = 0, dash = 6;
		while (nf < 64 && (f[nf] = strsep(&line, " ")) != NULL) nf++;
		while (dash < nf && strcmp(f[dash], "-") != 0) dash++;
		if (dash + 3 >= nf) continue;
		obj();
		kv_str("mount_point", unescape(f[4]));
		kv_str("root", unescape(f[3]));
		kv_str("fs_type", f[dash + 1]);
		kv_str("source", unescape(f[dash + 2]));
		kv_str("options", f[5]);
		kv_str("super_options", f[dash + 3]);
		obj_end();
	}
	arr_end();
	free(buf);
}

/* Creates the file and removes it again. An existing file is only opened for
 * writing and left alone: the probe never deletes what it did not make. */
static void r_write(const char *path) {
	bool created = true;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0644);
	int err = fd < 0 ? errno : 0;
	if (fd < 0 && err == EEXIST) {
		created = false;
		fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		err = fd < 0 ? errno : 0;
	}
	if (fd >= 0) {
		close(fd);
		if (created) unlink(path);
	}
	obj();
	kv_bool("ok", fd >= 0);
	kv_errno(err);
	kv_bool("created", fd >= 0 && created);
	obj_end();
}

static void r_read(const char *path) {
	size_t n = 0;
	char *buf = slurp(path, 64 << 10, &n);
	int err = buf ? 0 : errno;
	obj();
	kv_bool("ok", buf != NULL);
	kv_errno(err);
	kv_int("bytes", (long long)n);
	key("content");
	j_strn(buf ? buf : "", MIN(n, 4096));
	obj_end();
	free(buf);
}

static const char *type_name(mode_t m) {
	switch (m & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFCHR: return "chr";
	case S_IFBLK: return "blk";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "sock";
	}
	return "unknown";
}

static void r_stat(const char *path) {
	struct stat st;
	int rc = lstat(path, &st);
	int err = rc < 0 ? errno : 0;
	obj();
	kv_bool("ok", rc == 0);
	kv_errno(err);
	if (rc == 0) {
		kv_int("mode", st.st_mode & 07777); /* permission bits; the kind is in "type" */
		kv_int("uid", st.st_uid);
		kv_int("gid", st.st_gid);
		kv_str("type", type_name(st.st_mode));
		kv_int("rdev_major", major(st.st_rdev));
		kv_int("rdev_minor", minor(st.st_rdev));
		kv_int("size", st.st_size);
	}
	obj_end();
}

static void r_readlink(const char *path) {
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof target);
	int err = n < 0 ? errno : 0;
	obj();
	kv_bool("ok", n >= 0);
	kv_errno(err);
	key("target");
	if (n < 0) j_null();
	else j_strn(target, (size_t)n);
	obj_end();
}

static void isatty_array(void) {
	key("isatty");
	arr();
	for (int fd = 0; fd < 3; fd++) j_int(isatty(fd));
	arr_end();
}

/* TIOCSTI pushes a byte into a terminal's input queue: a sandbox must not let
 * a workload type commands into the terminal it was started from. */
static int try_tiocsti(int fd) {
	char c = '#';
	return ioctl(fd, TIOCSTI, &c) == 0 ? 0 : errno;
}

static void r_tiocsti(const char *arg UNUSED) {
	obj();
	kv_int("fd0", try_tiocsti(0));
	kv_int("fd1", try_tiocsti(1));
	kv_int("fd2", try_tiocsti(2));
	int t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	int open_err = t < 0 ? errno : 0;
	kv_int("devtty", t < 0 ? open_err : try_tiocsti(t));
	kv_int("devtty_open", open_err);
	if (t >= 0) close(t);
	isatty_array();
	kv_str("ttyname0", ttyname(0));
	obj_end();
}

static void r_tty(const char *arg UNUSED) {
	struct winsize ws;
	obj();
	isatty_array();
	key("ttyname");
	arr();
	for (int fd = 0; fd < 3; fd++) j_str(ttyname(fd)); /* static buffer: used at once */
	arr_end();
	key("winsize");
	if (ioctl(0, TIOCGWINSZ, &ws) == 0 || ioctl(1, TIOCGWINSZ, &ws) == 0) {
		obj();
		kv_int("rows", ws.ws_row);
		kv_int("cols", ws.ws_col);
		obj_end();
	} else {
		j_null();
	}
	pid_t pg = tcgetpgrp(0);
	kv_int("ctty_pgrp", pg < 0 ? -errno : pg);
	kv_int("sid", getsid(0));
	kv_int("pgid", getpgrp());
	obj_end();
}

/* -------------------------------------------------------------- syscalls -- */

/* Each attempt returns the call's result and stores the errno taken right after it. */
typedef long (*sc_fn)(int *err);
#define ERRNO_OF(r) ((r) == -1 ? errno : 0)

#define SIMPLE(name, call) \
	static long sc_##name(int *err) { long r = (long)(call); *err = ERRNO_OF(r); return r; }
/* The same for calls that return a file descriptor, which is closed again. */
#define FD_CALL(name, call) \
	static long sc_##name(int *err) \
	{ long r = (long)(call); *err = ERRNO_OF(r); if (r >= 0) close((int)r); return r; }

SIMPLE(unshare_user, unshare(CLONE_NEWUSER))
SIMPLE(unshare_ns, unshare(CLONE_NEWNS))
SIMPLE(ptrace_traceme, ptrace(PTRACE_TRACEME, 0, NULL, NULL))
SIMPLE(setuid0, setuid(0))
SIMPLE(chroot, chroot("/"))
SIMPLE(kill_1, kill(1, 0))
SIMPLE(keyctl, syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0))
SIMPLE(bpf, syscall(SYS_bpf, 0, NULL, 0))
FD_CALL(socket_inet, socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0))
FD_CALL(socket_unix, socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0))
FD_CALL(socket_netlink, socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE))
FD_CALL(userfaultfd, syscall(SYS_userfaultfd, 0))

static long sc_mount_tmpfs(int *err) {
	long r = mount("none", "/tmp", "tmpfs", 0, NULL);
	*err = ERRNO_OF(r);
	if (r == 0) umount2("/tmp", MNT_DETACH); /* the mount namespace is shared: uncover /tmp */
	return r;
}

static long sc_sethostname(int *err) {
	struct utsname u;
	bool have_old = uname(&u) == 0;
	long r = sethostname("x", 1);
	*err = ERRNO_OF(r);
	if (r == 0 && have_old) /* the UTS namespace is shared: put the name back */
		(void)!sethostname(u.nodename, strlen(u.nodename));
	return r;
}

static long sc_clone_newuser(int *err) {
	long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
	*err = ERRNO_OF(r);
	if (r == 0) _exit(0);
	if (r > 0) wait_child((pid_t)r), r = 0;
	return r;
}

static long sc_perf_event_open(int *err) {
	struct perf_event_attr attr;
	memset(&attr, 0, sizeof attr); /* type 0, config 0: hardware CPU cycles */
	attr.size = sizeof attr;
	long r = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
	*err = ERRNO_OF(r);
	if (r >= 0) close((int)r);
	return r;
}

static long sc_io_uring_setup(int *err) {
	uint64_t params[16]; /* a zeroed struct io_uring_params (120 bytes) */
	memset(params, 0, sizeof params);
	long r = syscall(NR_IO_URING_SETUP, 1, params);
	*err = ERRNO_OF(r);
	if (r >= 0) close((int)r);
	return r;
}

static long sc_personality_linux32(int *err) {
	long r = personality(PER_LINUX32); /* returns the previous persona */
	*err = ERRNO_OF(r);
	if (r != -1) personality((unsigned long)r);
	return r;
}

#if defined(__x86_64__)
/* The i386 syscall entry: seccomp filters that only check x86_64 numbers can
 * be bypassed through it. 20 is getpid in the i386 table. */
static long sc_int80_getpid(int *err) {
	long r = 20;
	__asm__ volatile("int $0x80" : "+a"(r) : : "memory", "cc", "r8", "r9", "r10", "r11");
	*err = r < 0 ? (int)-r : 0;
	return r;
}

/* The x32 ABI enters through the x86_64 entry with bit 30 set in the number;
 * seccomp sees it before the kernel decides whether it runs x32 at all. */
static long sc_x32_getpid(int *err) {
	long r = syscall(0x40000000L | SYS_getpid);
	*err = ERRNO_OF(r);
	return r;
}
#endif

static long sc_fork(int *err) {
	pid_t pid = fork();
	*err = ERRNO_OF(pid);
	if (pid == 0) _exit(0);
	if (pid < 0) return -1;
	wait_child(pid);
	return 0;
}

static void *noop_thread(void *arg) { return arg; }

static long sc_thread(int *err) {
	pthread_t t;
	*err = pthread_create(&t, NULL, noop_thread, NULL); /* returns the error number */
	if (*err != 0) return -1;
	pthread_join(t, NULL);
	return 0;
}

static long sc_chmod_suid(int *err) {
	int fd = open("/tmp/probe-suid", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0755);
	if (fd < 0) { *err = errno; return -1; }
	close(fd);
	long r = chmod("/tmp/probe-suid", 04755);
	*err = ERRNO_OF(r);
	unlink("/tmp/probe-suid");
	return r;
}

static long sc_mknod(int *err) {
	long r = mknod("/tmp/probe-null", S_IFCHR | 0666, makedev(1, 3));
	*err = ERRNO_OF(r);
	if (r == 0) unlink("/tmp/probe-null");
	return r;
}

static long sc_setns_user(int *err) {
	int fd = open("/proc/1/ns/user", O_RDONLY | O_CLOEXEC);
	if (fd < 0) { *err = errno; return -1; }
	long r = setns(fd, CLONE_NEWUSER);
	*err = ERRNO_OF(r);
	close(fd);
	return r;
}

/* isolate: run the attempt in a throwaway child, so that a success cannot
 * change the probe (new namespaces, uid 0, a tracer) and a seccomp kill cannot
 * end it. fork and thread run in the probe itself: they test its task limits. */
static const struct sc_entry {
	const char *name;
	sc_fn fn; /* NULL: not available on this architecture */
	bool isolate;
} syscalls[] = {
	{ "unshare_user", sc_unshare_user, true },
	{ "unshare_ns", sc_unshare_ns, true },
	{ "mount_tmpfs", sc_mount_tmpfs, true },
	{ "ptrace_traceme", sc_ptrace_traceme, true },
	{ "setuid0", sc_setuid0, true },
	{ "chroot", sc_chroot, true },
	{ "sethostname", sc_sethostname, true },
	{ "kill_1", sc_kill_1, true },
	{ "socket_inet", sc_socket_inet, true },
	{ "socket_unix", sc_socket_unix, true },
	{ "socket_netlink", sc_socket_netlink, true },
	{ "clone_newuser", sc_clone_newuser, true },
	{ "keyctl", sc_keyctl, true },
	{ "bpf", sc_bpf, true },
	{ "perf_event_open", sc_perf_event_open, true },
	{ "userfaultfd", sc_userfaultfd, true },
	{ "io_uring_setup", sc_io_uring_setup, true },
	{ "personality_linux32", sc_personality_linux32, true },
#if defined(__x86_64__)
	{ "int80_getpid", sc_int80_getpid, true },
	{ "x32_getpid", sc_x32_getpid, true },
#else
	{ "int80_getpid", NULL, true },
	{ "x32_getpid", NULL, true },
#endif
	{ "fork", sc_fork, false },
	{ "thread", sc_thread, false },
	{ "chmod_suid", sc_chmod_suid, true },
	{ "mknod", sc_mknod, true },
	{ "setns_user", sc_setns_user, true },
};

struct sc_result { long ret; int err; };

/* 0 with *res filled in, or the signal that killed the child (-1: the child
 * died without a result and without a signal). */
static int run_isolated(sc_fn fn, struct sc_result *res) {
	int p[2];
	pid_t pid = -1;
	memset(res, 0, sizeof *res);
	if (pipe2(p, O_CLOEXEC) == 0) {
		if ((pid = fork()) == 0) {
			close(p[0]);
			res->ret = fn(&res->err);
			_exit(write(p[1], res, sizeof *res) == sizeof *res ? 0 : 1);
		}
		close(p[1]);
		if (pid < 0) close(p[0]);
	}
	if (pid < 0) { /* no pipe or no fork (a pids limit): in-process beats nothing */
		res->ret = fn(&res->err);
		return 0;
	}
	ssize_t n;
	while ((n = read(p[0], res, sizeof *res)) < 0 && errno == EINTR) {}
	close(p[0]);
	int st = wait_child(pid);
	if (n == (ssize_t)sizeof *res) return 0;
	return st != -1 && WIFSIGNALED(st) ? WTERMSIG(st) : -1;
}

static void r_syscall(const char *name) {
	const struct sc_entry *e = NULL;
	struct sc_result res;
	for (size_t i = 0; i < COUNT(syscalls); i++)
		if (strcmp(syscalls[i].name, name) == 0) e = &syscalls[i];
	obj();
	if (!e) {
		kv_str("error", "unknown syscall");
		exit_status = 2;
	} else if (!e->fn) {
		kv_null("ret"), kv_null("errno"), kv_bool("skipped", true);
	} else {
		int sig = 0;
		if (e->isolate) sig = run_isolated(e->fn, &res);
		else res.ret = e->fn(&res.err);
		if (sig == 0) {
			kv_int("ret", res.ret), kv_errno(res.err);
		} else {
			kv_null("ret"), kv_null("errno");
			if (sig > 0) kv_int("signal", sig);
			else kv_null("signal");
		}
	}
	obj_end();
}

/* ------------------------------------------------------ process control -- */

static const char *cur_spec; /* the whole argument, for exec: which writes its own key */

static void r_sleep(const char *arg) {
	double secs;
	if (!parse_secs(arg, &secs)) { bad_arg(); return; }
	j_null();
	flush_out(); /* out before sleeping: a test can wait for it, then kill */
	sleep_for(secs);
}

static void r_spawn_orphan(const char *arg) {
	double secs;
	if (!parse_secs(arg, &secs)) { bad_arg(); return; }
	pid_t pid = fork();
	int err = ERRNO_OF(pid);
	if (pid == 0) {
		/* Keeps the inherited stdio open: an orphan that outlives the
		 * workload also holds its output pipe open, which tests notice. */
		setsid();
		prctl(PR_SET_NAME, "probe-orphan");
		sleep_for(secs);
		_exit(0);
	}
	obj();
	if (pid < 0) kv_null("pid"), kv_errno(err);
	else kv_int("pid", pid);
	obj_end();
}

static void r_exit(const char *arg) {
	long n;
	if (!parse_long(arg, &n)) { bad_arg(); return; }
	j_null();
	finish();
	_exit((int)n);
}

static void r_signal(const char *arg) {
	long n;
	sigset_t set;
	if (!parse_long(arg, &n) || n < 1 || n >= NSIG) { bad_arg(); return; }
	j_null();
	finish();
	signal((int)n, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, (int)n);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise((int)n);
	_exit(128 + (int)n); /* still here: the default action ignores or stops it */
}

/* The reports so far are on stdout already, unclosed, and a newline ends them:
 * on success the new program's output follows on the next line. On failure the
 * key is written here and the probe goes on (the newline is valid JSON space). */
static void r_exec(const char *path) {
	char *const argv[] = { (char *)path, NULL };
	if (opened) emit("\n", 1);
	flush_out();
	execv(path, argv);
	int err = errno;
	key(cur_spec);
	obj();
	kv_errno(err);
	obj_end();
}

static void r_spin(const char *arg) {
	double secs, used;
	struct timespec a, b;
	volatile unsigned long work = 0;
	if (!parse_secs(arg, &secs)) { bad_arg(); return; }
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	do {
		for (int i = 0; i < 100000; i++) work++;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
		used = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	} while (used < secs);
	j_null(); /* written after spinning: absent if a CPU limit killed the probe */
}

static void *volatile kept_memory; /* allocations stay until exit */

static void r_alloc(const char *arg) {
	long mib;
	if (!parse_long(arg, &mib) || mib < 0 || (unsigned long)mib > SIZE_MAX >> 20) {
		bad_arg();
		return;
	}
	size_t size = (size_t)mib << 20;
	volatile char *p = malloc(size ? size : 1);
	if (p) {
		for (size_t i = 0; i < size; i += 4096) p[i] = 1; /* touch: make it really charged */
		kept_memory = (void *)p;
	}
	obj();
	kv_bool("ok", p != NULL);
	obj_end();
}

/* Opens /dev/null up to N times: how many it got, and the errno that stopped it. */
static void r_open_files(const char *arg) {
	long n, opened = 0;
	int err = 0;
	if (!parse_long(arg, &n) || n < 0) { bad_arg(); return; }
	for (; opened < n; opened++) {
		if (open("/dev/null", O_RDONLY | O_CLOEXEC) < 0) { err = errno; break; }
	}
	obj();
	kv_int("opened", opened);
	kv_int("errno", err);
	obj_end();
}

static void r_cat_stdin(const char *arg UNUSED) {
	char head[4096], chunk[65536];
	size_t total = 0;
	for (;;) {
		ssize_t n = read(0, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) break;
		if (total < sizeof head) memcpy(head + total, chunk, MIN((size_t)n, sizeof head - total));
		total += (size_t)n;
	}
	obj();
	kv_int("bytes", (long long)total);
	key("content");
	j_strn(head, MIN(total, sizeof head));
	obj_end();
}

static void r_echo(const char *text) { j_str(text); }

/* ------------------------------------------------------------- network -- */

/* ADDR (IPv4 or IPv6, no brackets) and PORT after the last ':'. */
static bool parse_addr(const char *arg, struct sockaddr_storage *ss, socklen_t *len) {
	const char *colon = strrchr(arg, ':');
	long port;
	char host[64];
	if (!colon || (size_t)(colon - arg) >= sizeof host || !parse_long(colon + 1, &port) || port < 1 || port > 65535) return false;
	memcpy(host, arg, (size_t)(colon - arg));
	host[colon - arg] = 0;
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET, in4->sin_port = htons((uint16_t)port), *len = sizeof *in4;
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6, in6->sin6_port = htons((uint16_t)port), *len = sizeof *in6;
	} else return false;
	return true;
}

/* Waits up to ms for fd to be ready for `events`; 0 or an errno. */
static int wait_fd(int fd, short events, int ms) {
	struct pollfd p = { .fd = fd, .events = events };
	int n = poll(&p, 1, ms);
	return n > 0 ? 0 : n == 0 ? ETIMEDOUT : errno;
}

/* TCP connect (3 s at most) and the first line the server sends (2 s). */
/* An ICMP echo through an unprivileged ICMP socket (net.ipv4.ping_group_range): did IPV4 ADDR answer? */
static void r_ping(const char *arg) {
	struct sockaddr_in to = { .sin_family = AF_INET };
	if (inet_pton(AF_INET, arg, &to.sin_addr) != 1) { bad_arg(); return; }
	obj();
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (s < 0) {
		kv_bool("reply", false);
		kv_errno(errno);
		obj_end();
		return;
	}
	struct icmphdr echo = { .type = ICMP_ECHO };
	echo.un.echo.sequence = htons(1);
	int err = sendto(s, &echo, sizeof echo, 0, (struct sockaddr *)&to, sizeof to) < 0 ? errno : wait_fd(s, POLLIN, 2000);
	char buf[512];
	ssize_t n = err ? -1 : recv(s, buf, sizeof buf, 0);
	struct icmphdr reply;
	if (n >= (ssize_t)sizeof reply) memcpy(&reply, buf, sizeof reply);
	kv_bool("reply", n >= (ssize_t)sizeof reply && reply.type == ICMP_ECHOREPLY);
	if (err) kv_errno(err);
	close(s);
	obj_end();
}

static void r_connect(const char *arg) {
	struct sockaddr_storage ss;
	socklen_t len;
	if (!parse_addr(arg, &ss, &len)) { bad_arg(); return; }
	obj();
	int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int err = 0;
	if (s < 0) err = errno;
	else if (connect(s, (struct sockaddr *)&ss, len) < 0) {
		err = errno == EINPROGRESS ? wait_fd(s, POLLOUT, 3000) : errno;
		socklen_t el = sizeof err;
		if (err == 0 && getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) < 0) err = errno;
	}
	kv_bool("connected", err == 0);
	if (err) kv_errno(err);
	else {
		char line[256];
		size_t n = 0;
		while (n < sizeof line - 1 && wait_fd(s, POLLIN, 2000) == 0) {
			ssize_t k = read(s, line + n, sizeof line - 1 - n);
			if (k <= 0) break;
			n += (size_t)k;
			if (memchr(line, '\n', n)) break;
		}
		while (n > 0 && line[n - 1] == '\n') n--;
		key("line");
		j_strn(line, n);
	}
	if (s >= 0) close(s);
	obj_end();
}

/* TCP throughput: connect ADDR:PORT, write MIB MiB, close; seconds and MiB/s. */
static void r_send(const char *arg) {
	char spec[128];
	const char *last = strrchr(arg, ':');
	long mib;
	struct sockaddr_storage ss;
	socklen_t len;
	if (!last || (size_t)(last - arg) >= sizeof spec || !parse_long(last + 1, &mib) || mib < 1) { bad_arg(); return; }
	memcpy(spec, arg, (size_t)(last - arg));
	spec[last - arg] = 0;
	if (!parse_addr(spec, &ss, &len)) { bad_arg(); return; }
	obj();
	static char buf[1 << 16];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int err = s < 0 || connect(s, (struct sockaddr *)&ss, len) < 0 ? errno : 0;
	long long left = err ? 0 : mib * (1LL << 20);
	while (left > 0) {
		ssize_t n = write(s, buf, (size_t)MIN((long long)sizeof buf, left));
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) { err = errno; break; }
		left -= n;
	}
	if (s >= 0) {
		/* the peer's end of stream: everything sent has been read */
		shutdown(s, SHUT_WR);
		while (read(s, buf, sizeof buf) > 0) {}
		close(s);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	kv_bool("ok", err == 0);
	if (err) kv_errno(err);
	kv_int("ms", (long long)(secs * 1000));
	kv_int("mib_per_s", err ? 0 : (long long)((double)mib / secs));
	obj_end();
}

static int listen_fd = -1;

/* A TCP server on 0.0.0.0:PORT, for accept:SECS. */
static void r_listen(const char *arg) {
	long port;
	if (!parse_long(arg, &port) || port < 1 || port > 65535) { bad_arg(); return; }
	obj();
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_ANY) };
	int one = 1;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s >= 0) setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 4) < 0) {
		kv_bool("listening", false);
		kv_errno(errno);
		if (s >= 0) close(s);
	} else {
		kv_bool("listening", true);
		listen_fd = s;
	}
	obj_end();
}

/* Serves one connection on the listen: socket: writes a line, closes. */
static void r_accept(const char *arg) {
	double secs;
	if (!parse_secs(arg, &secs) || listen_fd < 0) { bad_arg(); return; }
	obj();
	int err = wait_fd(listen_fd, POLLIN, (int)(secs * 1000));
	int c = err ? -1 : accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (!err && c < 0) err = errno;
	kv_bool("accepted", c >= 0);
	if (c >= 0) {
		static const char hello[] = "hello from the sandbox\n";
		if (write(c, hello, sizeof hello - 1) < 0) err = errno;
		close(c);
	}
	if (err) kv_errno(err);
	obj_end();
}

/* ------------------------------------------------------------------ main -- */

static const struct report {
	const char *name;
	void (*fn)(const char *arg);
	bool takes_arg;
} reports[] = {
	{ "ids", r_ids, false },           { "caps", r_caps, false },
	{ "pid", r_pid, false },           { "ns", r_ns, false },
	{ "hostname", r_hostname, false }, { "ifaces", r_ifaces, false },
	{ "fds", r_fds, false },           { "env", r_env, false },
	{ "cwd", r_cwd, false },           { "mounts", r_mounts, false },
	{ "write", r_write, true },        { "read", r_read, true },
	{ "stat", r_stat, true },          { "readlink", r_readlink, true },
	{ "tiocsti", r_tiocsti, false },   { "tty", r_tty, false },
	{ "syscall", r_syscall, true },    { "sleep", r_sleep, true },
	{ "spawn_orphan", r_spawn_orphan, true },
	{ "exit", r_exit, true },          { "signal", r_signal, true },
	{ "exec", r_exec, true },          { "spin", r_spin, true },
	{ "alloc", r_alloc, true },        { "cat_stdin", r_cat_stdin, false },
	{ "echo", r_echo, true },          { "open_files", r_open_files, true },
	{ "ping", r_ping, true },
	{ "connect", r_connect, true },    { "listen", r_listen, true },
	{ "accept", r_accept, true },      { "send", r_send, true },
};

static void run_report(const char *spec) {
	const char *colon = strchr(spec, ':');
	size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
	const char *arg = colon ? colon + 1 : NULL;
	for (size_t i = 0; i < COUNT(reports); i++) {
		const struct report *r = &reports[i];
		if (strlen(r->name) != len || strncmp(r->name, spec, len) != 0) continue;
		cur_spec = spec;
		if (r->takes_arg != (arg != NULL)) {
			key(spec);
			bad_arg();
		} else {
			if (r->fn != r_exec) key(spec);
			r->fn(arg);
		}
		return;
	}
	key(spec);
	obj();
	kv_str("error", "unknown report");
	obj_end();
	exit_status = 2;
}

int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		run_report(argv[i]);
		flush_out();
	}
	finish();
	return exit_status;
}
