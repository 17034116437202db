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
	struct dm_raw head = { 0 };
	size_t n;
	int fd;

	/* No snprintf(): this also runs in fork children and privilege changes (dm_log_raw). */
	dm_raw_str(&head, "<");
	dm_raw_uint(&head, (unsigned)(LOG_DAEMON | priority));
	dm_raw_str(&head, ">duende-mlock[");
	dm_raw_uint(&head, (unsigned)getpid());
	dm_raw_str(&head, "]: ");
	memcpy(buf, head.buf, head.n);
	n = len < sizeof(buf) - head.n ? len : sizeof(buf) - head.n;
	memcpy(buf + head.n, msg, n);
	n += head.n;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	sendto(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&addr, sizeof(addr));
	close(fd);
}

void dm_raw_str(struct dm_raw *r, const char *s)
{
	while (*s && r->n < sizeof(r->buf) - 1)
		r->buf[r->n++] = *s++;
	r->buf[r->n] = '\0';
}

void dm_raw_uint(struct dm_raw *r, unsigned long long v)
{
	char digits[24];
	size_t i = sizeof(digits) - 1;

	digits[i] = '\0';
	do
		digits[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i);
	dm_raw_str(r, digits + i);
}

void dm_raw_self(struct dm_raw *r)
{
	dm_raw_str(r, dm_guard.name[0] ? dm_guard.name : "process");
	dm_raw_str(r, "[");
	dm_raw_uint(r, (unsigned)getpid());
	dm_raw_str(r, "]: ");
}

void dm_log_raw(enum dm_log_target target, int priority, const struct dm_raw *r)
{
	static const char prefix[] = "duende-mlock: ";
	char line[sizeof(prefix) + sizeof(r->buf) + 1];
	int saved = errno;

	if (target == DM_LOG_NONE || target == DM_LOG_DEFAULT)
		goto out;
	if (target == DM_LOG_SYSLOG) {
		write_syslog(priority, r->buf, r->n);
		goto out;
	}
	memcpy(line, prefix, sizeof(prefix) - 1);
	memcpy(line + sizeof(prefix) - 1, r->buf, r->n);
	line[sizeof(prefix) - 1 + r->n] = '\n';
	write_stderr(line, sizeof(prefix) + r->n);
out:
	errno = saved;
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
