/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The swap-server profile's steps beyond the lock: what a preload can do so that a server whose
 * device holds the machine's swap allocates nothing under pressure that reclaim must find by
 * swapping to that same device. Each step is what scripts/vm-deadlock showed to matter, in a VM
 * whose only swap a stock nbd-server serves (vm/RESULTS.md):
 *
 *   - PR_SET_IO_FLUSHER (PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE): the server's own reclaim issues
 *     no I/O, so it never waits for a swap write that only it can complete. Without it, the
 *     server's page faults reclaim into swap and wait on themselves (mempool_alloc in
 *     __swap_writepage).
 *   - a real-time class: the kernel's allocations on the server's behalf (socket buffers, page
 *     cache) may go below the min watermark (ALLOC_HARDER for rt tasks in 6.1's
 *     gfp_to_alloc_flags(), a quarter of min in __zone_watermark_ok()).
 *   - bounded thread stacks: under MCL_FUTURE a new thread's stack is populated whole when glibc
 *     mprotect()s it writable: 8 MiB of allocation under pressure for every thread a pool starts
 *     (nbd-server's glib pool does, on demand).
 *   - a heap reserve: one arena, no mmap'd chunks, no trimming, grown and touched now, so that
 *     per-request mallocs never grow the heap (brk or an arena's mprotect, populated at once).
 *   - the stack faulted in to a depth, so that deep calls under pressure find it resident.
 *   - oom_score_adj: the OOM killer must not pick the server, whose death takes the swap with it.
 *   - in fork children, every page copied at once (mlockall without MCL_ONFAULT): a copy-on-write
 *     break is an allocation, and the server's fork child serves.
 *   - where the operator names the export (the export key) and preloads the I/O object beside
 *     this one, the export's reads and writes through O_DIRECT (export.c): no page cache to
 *     allocate for each request.
 *
 * The values are settings keys (rt_priority, oom_score_adj, heap_reserve_mib, stack_kib,
 * thread_stack_kib, in a program's section of the file or DUENDE_MLOCK_*); the profile gives
 * them the defaults in core.h, and 0 turns a step off.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "core.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

void dm_swap_server_params(const struct dm_settings *s, struct dm_swap_server_params *p)
{
	*p = (struct dm_swap_server_params){
		.rt_priority = s->rt_priority,
		.oom_score_adj = s->oom_score_adj,
		.heap_mib = (unsigned)s->heap_reserve_mib,
		.stack_kib = (unsigned)s->stack_kib,
		.thread_stack_kib = (unsigned)s->thread_stack_kib,
		.export_path = s->export_path[0] ? s->export_path : NULL,
	};
}

/*
 * The I/O object's arming call (export.c), when the object is loaded: looked up only here, when
 * the export step is taken. A weak reference would cost every process that loads the preload
 * object a failed symbol lookup at load time.
 */
static int io_arm(const char *path, size_t *align)
{
	int (*arm)(const char *, size_t *);

	*(void **)&arm = dlsym(RTLD_DEFAULT, "__duende_mlock_io_arm");
	return arm ? arm(path, align) : -ENOSYS;
}

/* One arena, no chunk mmap'd on its own, nothing trimmed: the reserve stays in the heap. */
static int heap_reserve(size_t bytes)
{
	char *p;

	/*
	 * M_TOP_PAD stays as it is: padding each heap growth by the reserve would make this one
	 * grow by twice the reserve, and any later growth populate that much at once.
	 */
	if (!mallopt(M_ARENA_MAX, 1) || !mallopt(M_MMAP_MAX, 0) ||
	    !mallopt(M_TRIM_THRESHOLD, INT32_MAX))
		return -EINVAL;
	p = malloc(bytes);
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < bytes; i += 4096)
		((volatile char *)p)[i] = 1;
	free(p);
	return 0;
}

/* Out of line and not inlined: the frame is below the constructor's. */
static __attribute__((noinline)) void stack_touch(size_t bytes)
{
	volatile char *p = __builtin_alloca(bytes);

	for (size_t i = 0; i < bytes; i += 4096)
		p[i] = 0;
}

static int thread_stacks(size_t bytes)
{
	pthread_attr_t a;
	int e;

	e = pthread_attr_init(&a);
	if (e)
		return -e;
	e = pthread_attr_setstacksize(&a, bytes);
	if (!e)
		e = pthread_setattr_default_np(&a);
	pthread_attr_destroy(&a);
	return -e;
}

static int oom_adjust(int v)
{
	char text[16];
	int fd, n, r = 0;

	n = snprintf(text, sizeof(text), "%d", v);
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)n) != n)
		r = -errno;
	close(fd);
	return r;
}

static int oom_read(void)
{
	char text[16];
	int fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	return (int)strtol(text, NULL, 10);
}

void dm_swap_server_helper_prepare(void)
{
	struct sched_param sp = { 0 };
	char value[48];
	int policy = sched_getscheduler(0);

	if (policy < 0 || sched_getparam(0, &sp) < 0)
		return;
	snprintf(value, sizeof(value), "%d,%d,%d", policy, sp.sched_priority, oom_read());
	setenv(DM_SERVER_BEFORE_ENV, value, 1);
	/* The profile and its steps' keys: a helper that kept a step key would be told it is unused. */
	unsetenv(dm_keys[DM_KEY_PROFILE].env);
	for (int k = DM_KEY_RT_PRIORITY; k <= DM_KEY_EXPORT; k++)
		unsetenv(dm_keys[k].env);
}

void dm_swap_server_helper_restore(void)
{
	const char *v = secure_getenv(DM_SERVER_BEFORE_ENV);
	struct sched_param sp = { 0 };
	int policy, prio, oom;

	if (!v)
		return;
	if (sscanf(v, "%d,%d,%d", &policy, &prio, &oom) == 3) {
		sp.sched_priority = prio;
		/* Only ever back down: never to a real-time class the helper does not have now. */
		if (sched_getscheduler(0) != policy &&
		    (policy == SCHED_OTHER || policy == SCHED_BATCH || policy == SCHED_IDLE))
			sched_setscheduler(0, policy, &sp);
		if (oom >= -1000 && oom <= 1000 && oom > oom_read())
			oom_adjust(oom);
	}
	/* The helper's own children are not the server's. */
	unsetenv(DM_SERVER_BEFORE_ENV);
}

/* A fork child copies every page now: each copy-on-write break later is an allocation. */
static void copy_in_child(void)
{
	int saved = errno;

	/* After lock.c's handler, which relocked what it could (registered earlier, runs first). */
	if (dm_guard.flags & MCL_CURRENT)
		dm_sys_mlockall(MCL_CURRENT | (dm_guard.flags & MCL_FUTURE));
	errno = saved;
}

static void register_copy_in_child(void)
{
	pthread_atfork(NULL, NULL, copy_in_child);
}

void dm_swap_server_apply(const struct dm_swap_server_params *p, bool locked,
			  struct dm_swap_server_result *r)
{
	*r = (struct dm_swap_server_result){ .params = *p };
	r->heap = p->heap_mib ? heap_reserve((size_t)p->heap_mib << 20) : 1;
	if (p->stack_kib)
		stack_touch((size_t)p->stack_kib << 10);
	r->stack = p->stack_kib ? 0 : 1;
	r->thread_stack =
		p->thread_stack_kib ? thread_stacks((size_t)p->thread_stack_kib << 10) : 1;
	r->io_flusher = prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) ? -errno : 0;
	r->oom = p->oom_score_adj ? oom_adjust(p->oom_score_adj) : 1;
	if (p->rt_priority) {
		struct sched_param sp = { .sched_priority = p->rt_priority };

		r->sched = sched_setscheduler(0, SCHED_FIFO, &sp) ? -errno : 0;
	} else {
		r->sched = 1;
	}
	r->export_r = 1;
	if (p->export_path)
		r->export_r = io_arm(p->export_path, &r->export_align);
	if (locked) {
		static pthread_once_t once = PTHREAD_ONCE_INIT;

		pthread_once(&once, register_copy_in_child);
	}
}

static size_t step(char *buf, size_t size, size_t n, const char *what, int r, const char *needs)
{
	int w;

	if (n >= size)
		return n;
	if (r == 1)
		w = snprintf(buf + n, size - n, "%s%s off", n ? "; " : "", what);
	else if (r == 0)
		w = snprintf(buf + n, size - n, "%s%s done", n ? "; " : "", what);
	else
		w = snprintf(buf + n, size - n, "%s%s not done: %s%s%s", n ? "; " : "", what,
			     strerror(-r), needs && (r == -EPERM || r == -EACCES) ? ", needs " : "",
			     needs && (r == -EPERM || r == -EACCES) ? needs : "");
	return w < 0 ? n : n + (size_t)w;
}

size_t dm_swap_server_format(char *buf, size_t size, const struct dm_swap_server_result *r)
{
	char what[64];
	size_t n = 0;

	if (size)
		buf[0] = '\0';
	n = step(buf, size, n, "io_flusher", r->io_flusher, "CAP_SYS_RESOURCE");
	snprintf(what, sizeof(what), "oom_score_adj %d", r->params.oom_score_adj);
	n = step(buf, size, n, what, r->oom, "CAP_SYS_RESOURCE");
	snprintf(what, sizeof(what), "SCHED_FIFO %d", r->params.rt_priority);
	n = step(buf, size, n, what, r->sched, "CAP_SYS_NICE or RLIMIT_RTPRIO");
	snprintf(what, sizeof(what), "heap reserve %u MiB", r->params.heap_mib);
	n = step(buf, size, n, what, r->heap, NULL);
	snprintf(what, sizeof(what), "stack %u KiB", r->params.stack_kib);
	n = step(buf, size, n, what, r->stack, NULL);
	snprintf(what, sizeof(what), "thread stacks %u KiB", r->params.thread_stack_kib);
	n = step(buf, size, n, what, r->thread_stack, NULL);
	if (r->params.export_path && n < size) {
		char esc[96];
		int w;

		dm_escape(esc, sizeof(esc), r->params.export_path, 64);
		if (r->export_r == 0 && r->export_align)
			w = snprintf(buf + n, size - n, "; export %s O_DIRECT (align %zu) done",
				     esc, r->export_align);
		else if (r->export_r == 0)
			w = snprintf(buf + n, size - n, "; export %s O_DIRECT done", esc);
		else if (r->export_r == -ENOSYS)
			w = snprintf(
				buf + n, size - n,
				"; export %s O_DIRECT not done: %s is not preloaded beside this "
				"library",
				esc, DM_IO_STEM);
		else if (r->export_r == -EOPNOTSUPP)
			w = snprintf(
				buf + n, size - n,
				"; export %s O_DIRECT not done: its file system does no O_DIRECT",
				esc);
		else if (r->export_r == -EINVAL)
			w = snprintf(buf + n, size - n,
				     "; export %s O_DIRECT not done: not a regular file or a block "
				     "device",
				     esc);
		else
			w = snprintf(buf + n, size - n, "; export %s O_DIRECT not done: %s", esc,
				     strerror(-r->export_r));
		n = w < 0 ? n : n + (size_t)w;
	}
	return n;
}

const char *dm_swap_server_failed(const struct dm_swap_server_result *r)
{
	if (r->io_flusher < 0)
		return "io_flusher";
	if (r->oom < 0)
		return "oom_score_adj";
	if (r->sched < 0)
		return "SCHED_FIFO";
	if (r->heap < 0)
		return "heap reserve";
	if (r->thread_stack < 0)
		return "thread stacks";
	if (r->params.export_path && r->export_r < 0)
		return "export";
	return NULL;
}
