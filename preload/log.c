/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The one log helper. It runs inside someone else's process, so it borrows nothing from it:
 * no stdio, no openlog()/syslog() (process-wide state, and a stuck /dev/log blocks the caller),
 * one write per line, errno and the signal mask as they were.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

/*
 * fd 2 may be closed (ld.so reopens 0-2 only for AT_SECURE programs) or a pipe whose reader is
 * gone. A plain write to the latter raises SIGPIPE and kills the host, so SIGPIPE is blocked
 * around the write and a SIGPIPE that the write itself raised is taken back before unblocking.
 */
static void write_stderr(const char *line, size_t len)
{
	sigset_t pipe_set, old, pending;
	bool was_pending;
	ssize_t n;

	if (fcntl(STDERR_FILENO, F_GETFD) < 0)
		return;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old) != 0)
		return;
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	do
		n = write(STDERR_FILENO, line, len);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EPIPE && !was_pending) {
		static const struct timespec zero = { 0, 0 };

		sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/*
 * One datagram to the system log socket, in the RFC 3164 form that journald and rsyslog accept
 * without a timestamp (they stamp it on receipt; formatting local time here would load the
 * host's time zone state). Non-blocking: a full or stuck log daemon loses the line, never stalls
 * the host.
 */
static void write_syslog(int priority, const char *msg, size_t len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = DM_SYSLOG_PATH };
	char buf[DM_LOG_MAX + 64];
	int fd, n;

	n = snprintf(buf, sizeof(buf), "<%d>duende-mlock[%d]: %.*s", LOG_DAEMON | priority,
		     (int)getpid(), (int)len, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	sendto(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&addr,
	       sizeof(addr));
	close(fd);
}

void dm_log(enum dm_log_target target, int priority, const char *fmt, ...)
{
	static const char prefix[] = "duende-mlock: ";
	char line[DM_LOG_MAX];
	size_t len = sizeof(prefix) - 1;
	int saved = errno;
	va_list ap;
	int n;

	if (target == DM_LOG_NONE || target == DM_LOG_DEFAULT)
		goto out;
	memcpy(line, prefix, len);
	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto out;
	len += (size_t)n < sizeof(line) - len - 1 ? (size_t)n : sizeof(line) - len - 2;
	/* Newlines inside a message would forge extra log lines. */
	for (size_t i = sizeof(prefix) - 1; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	if (target == DM_LOG_SYSLOG) {
		write_syslog(priority, line + sizeof(prefix) - 1, len - (sizeof(prefix) - 1));
	} else {
		line[len++] = '\n';
		write_stderr(line, len);
	}
out:
	errno = saved;
}
