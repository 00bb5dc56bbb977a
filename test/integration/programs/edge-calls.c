/* System calls the probe does not make, with the arguments that matter for
 * the filters: clone3, and 32-bit arguments with garbage in the upper half of
 * the register (a deny rule must still match; an allow rule must not).
 * Prints one line per name: "NAME RET ERRNO". */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#define HIGH 0x100000000UL /* bit 32: ignored by the kernel for int arguments */

static long clone3_child(void)
{
	struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls; } args;
	memset(&args, 0, sizeof args);
	args.exit_signal = SIGCHLD;
	long r = syscall(SYS_clone3, &args, sizeof args);
	if (r == 0) _exit(0);
	if (r > 0) waitpid((pid_t)r, NULL, 0), r = 0;
	return r;
}

static long call(const char *name)
{
	char c = 'x';
	if (strcmp(name, "clone3") == 0) return clone3_child();
	if (strcmp(name, "tiocsti_high") == 0) return syscall(SYS_ioctl, 0, HIGH | 0x5412UL, &c);
	if (strcmp(name, "socket_vsock") == 0) return syscall(SYS_socket, 40UL, (unsigned long)SOCK_STREAM, 0UL);
	if (strcmp(name, "socket_vsock_high") == 0) return syscall(SYS_socket, HIGH | 40UL, (unsigned long)SOCK_STREAM, 0UL);
	if (strcmp(name, "socket_inet_high") == 0) return syscall(SYS_socket, HIGH | 2UL, (unsigned long)SOCK_STREAM, 0UL);
	errno = EINVAL;
	return -2;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		errno = 0;
		long r = call(argv[i]);
		int e = r < 0 ? errno : 0;
		if (r > 2) close((int)r); /* a descriptor */
		printf("%s %ld %d\n", argv[i], r < 0 ? -1L : r, e);
	}
	return 0;
}
