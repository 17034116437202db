/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The positive control of scripts/vm-deadlock: the smallest NBD server that allocates nothing
 * once it serves. If this one deadlocks, the harness (or the VM's settings) is broken, not the
 * server under test.
 *
 *   nbdsrv [-p PORT] [-F PRIO] [-L] [-I] [-O] [-D] EXPORT
 *
 * Before it accepts the client it takes every step a swap server needs: mlockall(current and
 * future), PR_SET_IO_FLUSHER, oom_score_adj -1000, SCHED_FIFO at PRIO (default 50; 0 leaves the
 * normal class), a pre-touched 4 MiB transfer buffer, 256 KiB of stack faulted in, the export
 * opened with O_DIRECT. -L, -I, -O and -D leave out the lock, IO_FLUSHER, the score and O_DIRECT,
 * to measure which step matters. Then it serves one connection, one request at a time: no malloc,
 * no stdio, no page cache.
 *
 * Protocol: fixed newstyle handshake, NBD_OPT_GO / NBD_OPT_EXPORT_NAME, simple replies
 * (doc/proto.md in the NBD repository).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

#define BUF_SIZE (4u << 20)

#define NBD_MAGIC 0x4e42444d41474943ULL /* "NBDMAGIC" */
#define IHAVEOPT 0x49484156454f5054ULL
#define REPLY_MAGIC 0x3e889045565a9ULL
#define REQUEST_MAGIC 0x25609513u
#define SIMPLE_REPLY_MAGIC 0x67446698u

enum { OPT_EXPORT_NAME = 1, OPT_ABORT = 2, OPT_INFO = 6, OPT_GO = 7 };
enum { REP_ACK = 1, REP_INFO = 3, REP_ERR_UNSUP = 0x80000001u };
enum { CMD_READ = 0, CMD_WRITE = 1, CMD_DISC = 2, CMD_FLUSH = 3, CMD_TRIM = 4 };
enum { FLAG_HAS_FLAGS = 1, FLAG_SEND_FLUSH = 4, FLAG_SEND_TRIM = 32 };

static uint8_t *buf;
static int sock = -1, disk = -1;
static uint64_t size;

static void say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)!write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static int io_all(int fd, void *p, size_t n, int out)
{
	uint8_t *b = p;

	while (n) {
		ssize_t r = out ? send(fd, b, n, MSG_NOSIGNAL) : recv(fd, b, n, MSG_WAITALL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static int get(void *p, size_t n)
{
	return io_all(sock, p, n, 0);
}

static int put(const void *p, size_t n)
{
	return io_all(sock, (void *)p, n, 1);
}

static int opt_reply(uint32_t opt, uint32_t type, const void *data, uint32_t len)
{
	struct __attribute__((packed)) {
		uint64_t magic;
		uint32_t opt, type, len;
	} h = { htobe64(REPLY_MAGIC), htobe32(opt), htobe32(type), htobe32(len) };

	if (put(&h, sizeof(h)))
		return -1;
	return len ? put(data, len) : 0;
}

static int handshake(void)
{
	const uint16_t tflags = FLAG_HAS_FLAGS | FLAG_SEND_FLUSH | FLAG_SEND_TRIM;
	struct __attribute__((packed)) {
		uint64_t magic, opts;
		uint16_t flags;
	} hello = { htobe64(NBD_MAGIC), htobe64(IHAVEOPT),
		    htobe16(3) /* FIXED_NEWSTYLE|NO_ZEROES */ };
	uint32_t cflags;

	if (put(&hello, sizeof(hello)) || get(&cflags, sizeof(cflags)))
		return -1;
	for (;;) {
		struct __attribute__((packed)) {
			uint64_t magic;
			uint32_t opt, len;
		} o;
		uint32_t opt, len;

		if (get(&o, sizeof(o)) || be64toh(o.magic) != IHAVEOPT)
			return -1;
		opt = be32toh(o.opt);
		len = be32toh(o.len);
		if (len > BUF_SIZE || (len && get(buf, len)))
			return -1;
		if (opt == OPT_EXPORT_NAME) {
			struct __attribute__((packed)) {
				uint64_t size;
				uint16_t flags;
			} e = { htobe64(size), htobe16(tflags) };

			if (put(&e, sizeof(e)))
				return -1;
			/* 124 zero bytes follow unless the client set NBD_FLAG_C_NO_ZEROES. */
			memset(buf, 0, 124);
			return be32toh(cflags) & 2 ? 0 : put(buf, 124);
		}
		if (opt == OPT_GO || opt == OPT_INFO) {
			struct __attribute__((packed)) {
				uint16_t type;
				uint64_t size;
				uint16_t flags;
			} info = { 0 /* NBD_INFO_EXPORT */, htobe64(size), htobe16(tflags) };

			if (opt_reply(opt, REP_INFO, &info, sizeof(info)) ||
			    opt_reply(opt, REP_ACK, NULL, 0))
				return -1;
			if (opt == OPT_GO)
				return 0;
			continue;
		}
		if (opt == OPT_ABORT) {
			opt_reply(opt, REP_ACK, NULL, 0);
			return -1;
		}
		if (opt_reply(opt, REP_ERR_UNSUP, NULL, 0))
			return -1;
	}
}

static int reply(uint64_t handle, uint32_t error, int more)
{
	struct __attribute__((packed)) {
		uint32_t magic, error;
		uint64_t handle;
	} r = { htobe32(SIMPLE_REPLY_MAGIC), htobe32(error), handle };

	/* A read's data follows at once: one segment rather than a lone 16-byte header. */
	if (more)
		return send(sock, &r, sizeof(r), MSG_NOSIGNAL | MSG_MORE) == sizeof(r) ? 0 : -1;
	return put(&r, sizeof(r));
}

static int serve(void)
{
	for (;;) {
		struct __attribute__((packed)) {
			uint32_t magic;
			uint16_t flags, type;
			uint64_t handle, offset;
			uint32_t len;
		} q;
		uint64_t off;
		uint32_t len, err = 0;

		if (get(&q, sizeof(q)) || be32toh(q.magic) != REQUEST_MAGIC)
			return -1;
		off = be64toh(q.offset);
		len = be32toh(q.len);
		switch (be16toh(q.type)) {
		case CMD_READ:
			/* Reply header first, then the data in buffer-sized pieces. */
			if (reply(q.handle, 0, len > 0))
				return -1;
			while (len) {
				uint32_t n = len < BUF_SIZE ? len : BUF_SIZE;

				if (pread(disk, buf, n, (off_t)off) != (ssize_t)n) {
					say("nbdsrv: read at %llu: %s\n", (unsigned long long)off,
					    strerror(errno));
					return -1;
				}
				if (put(buf, n))
					return -1;
				off += n;
				len -= n;
			}
			continue;
		case CMD_WRITE:
			while (len) {
				uint32_t n = len < BUF_SIZE ? len : BUF_SIZE;

				if (get(buf, n))
					return -1;
				if (!err && pwrite(disk, buf, n, (off_t)off) != (ssize_t)n)
					err = (uint32_t)errno ? (uint32_t)errno : EIO;
				off += n;
				len -= n;
			}
			break;
		case CMD_FLUSH:
			if (fdatasync(disk))
				err = (uint32_t)errno;
			break;
		case CMD_TRIM:
			break;
		case CMD_DISC:
			return 0;
		default:
			err = EINVAL;
		}
		if (reply(q.handle, err, 0))
			return -1;
	}
}

static void prefault_stack(void)
{
	volatile char pad[256 * 1024];

	for (size_t i = 0; i < sizeof(pad); i += 4096)
		pad[i] = 0;
}

int main(int argc, char **argv)
{
	int port = 10809, prio = 50, lock = 1, flusher = 1, oom = 1, direct = 1, opt, lfd, one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET };

	while ((opt = getopt(argc, argv, "p:F:LIOD")) != -1) {
		switch (opt) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'F':
			prio = atoi(optarg);
			break;
		case 'L':
			lock = 0;
			break;
		case 'I':
			flusher = 0;
			break;
		case 'O':
			oom = 0;
			break;
		case 'D':
			direct = 0;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		say("usage: nbdsrv [-p PORT] [-F PRIO] [-L] [-I] [-O] [-D] EXPORT\n");
		return 2;
	}
	disk = open(argv[optind], O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0));
	if (disk < 0) {
		say("nbdsrv: open %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	size = (uint64_t)lseek(disk, 0, SEEK_END);
	buf = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED)
		return 1;
	memset(buf, 0, BUF_SIZE);
	prefault_stack();
	if (lock && mlockall(MCL_CURRENT | MCL_FUTURE))
		say("nbdsrv: mlockall: %s\n", strerror(errno));
	if (flusher && prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0))
		say("nbdsrv: PR_SET_IO_FLUSHER: %s\n", strerror(errno));
	if (oom) {
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, "-1000", 5) != 5)
			say("nbdsrv: oom_score_adj: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (prio > 0) {
		struct sched_param sp = { .sched_priority = prio };

		if (sched_setscheduler(0, SCHED_FIFO, &sp))
			say("nbdsrv: SCHED_FIFO: %s\n", strerror(errno));
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1)) {
		say("nbdsrv: listen on port %d: %s\n", port, strerror(errno));
		return 1;
	}
	say("nbdsrv: serving %s (%llu bytes) on 127.0.0.1:%d; lock %d io_flusher %d oom %d fifo %d "
	    "direct %d\n",
	    argv[optind], (unsigned long long)size, port, lock, flusher, oom, prio, direct);
	for (;;) {
		sock = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (sock < 0)
			continue;
		setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (handshake() == 0)
			serve();
		close(sock);
	}
}
