/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The public C API: a thin face over the core in lock.c, status.c and procfs.c. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "duende_mlock.h"

#define DM_EXPORT __attribute__((visibility("default")))

DM_EXPORT struct dmlock_config dmlock_config_default(void)
{
	return (struct dmlock_config)DMLOCK_CONFIG_DEFAULT;
}

static int error_code(int err)
{
	switch (err) {
	case EPERM:
		return DMLOCK_ERR_PERMISSION_DENIED;
	case ENOMEM:
		return DMLOCK_ERR_RESOURCE_LIMIT;
	case EINVAL:
		return DMLOCK_ERR_INVALID_ARGUMENT;
	case EAGAIN:
		return DMLOCK_ERR_WOULD_BLOCK;
	case ENOSYS:
		return DMLOCK_ERR_UNSUPPORTED;
	case ECANCELED:
		return DMLOCK_ERR_FUTURE_WITHHELD;
	default:
		return DMLOCK_ERR_UNKNOWN;
	}
}

/*
 * The bytes of a caller's status this library may read and write: its size, 0 for this version's
 * whole struct, never more than this version knows. 0 when it is too small to be a status.
 */
#define STATUS_MIN_SIZE                                                                            \
	(offsetof(struct dmlock_status, vm_size) + sizeof(((struct dmlock_status *)0)->vm_size))

static size_t status_span(const struct dmlock_status *st)
{
	size_t n = st->size ? st->size : sizeof(*st);

	if (n < STATUS_MIN_SIZE)
		return 0;
	return n < sizeof(*st) ? n : sizeof(*st);
}

/* A caller's status, as this version's struct: the fields past its size read as zero. */
static bool status_read(const struct dmlock_status *st, struct dmlock_status *full)
{
	size_t n = status_span(st);

	*full = (struct dmlock_status){ 0 };
	if (!n)
		return false;
	memcpy(full, st, n);
	return true;
}

static void status_write(struct dmlock_status *st, const struct dmlock_status *full)
{
	size_t size = st->size, n = status_span(st);

	memcpy(st, full, n);
	st->size = size;
}

static void status_from_result(struct dmlock_status *st, const struct dm_lock_result *res)
{
	*st = (struct dmlock_status){
		.state = !res->err	    ? DMLOCK_LOCKED :
			 res->err == ENOSYS ? DMLOCK_UNSUPPORTED :
					      DMLOCK_FAILED,
		.bytes_locked = (size_t)res->mem.vm_lck,
		.error = res->err,
		.flags_requested = res->flags_requested,
		.flags_used = res->flags_used,
		.onfault_fallback = res->onfault_fallback,
		.future_withheld = res->future_withheld,
		.soft_limit_raised = res->soft_raised,
		.cap_ipc_lock = res->cap_ipc_lock,
		.memlock_soft = res->limit.rlim_cur,
		.memlock_hard = res->limit.rlim_max,
		.vm_size = res->mem.vm_size,
		.limit_lifted = res->limit_lifted,
		.future_needs_cap = res->future_needs_cap,
	};
}

static void result_from_status(struct dm_lock_result *res, const struct dmlock_status *st, int err)
{
	*res = (struct dm_lock_result){
		.flags_requested = st->flags_requested,
		.flags_used = st->flags_used,
		.err = err,
		.onfault_fallback = st->onfault_fallback,
		.future_withheld = st->future_withheld,
		.soft_raised = st->soft_limit_raised,
		.limit_lifted = st->limit_lifted,
		.future_needs_cap = st->future_needs_cap,
		.cap_ipc_lock = st->cap_ipc_lock,
		.limit = { (rlim_t)st->memlock_soft, (rlim_t)st->memlock_hard },
		.mem = { .vm_size = st->vm_size, .vm_lck = st->bytes_locked },
	};
}

DM_EXPORT int dmlock_lock_with_config(const struct dmlock_config *config,
				      struct dmlock_status *status)
{
	struct dm_lock_result res;
	struct dmlock_status full;
	int r;

	if (status && !status_span(status))
		return DMLOCK_ERR_INVALID_ARGUMENT;
	if (!config) {
		if (status)
			status_write(status, &(struct dmlock_status){ .state = DMLOCK_FAILED,
								      .error = EINVAL });
		return DMLOCK_ERR_INVALID_ARGUMENT;
	}
	r = dm_lock(&(struct dm_lock_request){ .current = config->current,
					       .future = config->future,
					       .onfault = config->onfault },
		    &res);
	status_from_result(&full, &res);
	if (status)
		status_write(status, &full);
	if (r == 0)
		return 0;
	if (res.flags_requested == 0)
		return DMLOCK_ERR_INVALID_ARGUMENT;
	return config->required ? error_code(res.err) : 0;
}

DM_EXPORT int dmlock_lock_all(struct dmlock_status *status)
{
	struct dmlock_config c = dmlock_config_default();

	return dmlock_lock_with_config(&c, status);
}

DM_EXPORT int dmlock_unlock_all(void)
{
	return dm_unlock();
}

DM_EXPORT size_t dmlock_locked_bytes(void)
{
	struct dm_proc_mem m;

	if (dm_proc_mem_read(0, &m) < 0)
		return 0;
	return (size_t)m.vm_lck;
}

DM_EXPORT bool dmlock_is_locked(void)
{
	return dmlock_locked_bytes() > 0;
}

/* A status these helpers can read: not NULL, and large enough to hold what they read. */
static bool readable(const struct dmlock_status *status)
{
	return status && status_span(status);
}

DM_EXPORT bool dmlock_status_is_locked(const struct dmlock_status *status)
{
	return readable(status) && status->state == DMLOCK_LOCKED;
}

DM_EXPORT bool dmlock_status_is_failed(const struct dmlock_status *status)
{
	return readable(status) && status->state == DMLOCK_FAILED;
}

DM_EXPORT bool dmlock_status_is_unsupported(const struct dmlock_status *status)
{
	return readable(status) && status->state == DMLOCK_UNSUPPORTED;
}

DM_EXPORT size_t dmlock_status_bytes_locked(const struct dmlock_status *status)
{
	return readable(status) && status->state == DMLOCK_LOCKED ? status->bytes_locked : 0;
}

DM_EXPORT int dmlock_status_failure_errno(const struct dmlock_status *status)
{
	return readable(status) && status->state != DMLOCK_LOCKED ? status->error : 0;
}

DM_EXPORT const char *dmlock_strerror(int error)
{
	/* -INT_MIN does not exist; it stays negative and is no errno the table knows. */
	return dm_errno_summary(error < 0 && error != INT_MIN ? -error : error);
}

/*
 * The errno a status stands for, from its state: a status made by hand, as the crate's tests make
 * them ({ .state = DMLOCK_UNSUPPORTED } with no errno), must not read as "locked". -EINVAL when
 * it is no status at all: an unknown state (a zeroed struct), or a failure without an errno.
 */
static int status_errno(const struct dmlock_status *st)
{
	switch (st->state) {
	case DMLOCK_LOCKED:
		return 0;
	case DMLOCK_UNSUPPORTED:
		return st->error ? st->error : ENOSYS;
	case DMLOCK_FAILED:
		return st->error > 0 ? st->error : -EINVAL;
	default:
		return -EINVAL;
	}
}

DM_EXPORT int dmlock_status_format(const struct dmlock_status *status, char *buf, size_t size)
{
	struct dmlock_status full;
	struct dm_lock_result res;
	char line[DM_LOG_MAX];
	size_t n;
	int err;

	if (!status || !status_read(status, &full))
		return -EINVAL;
	err = status_errno(&full);
	if (err < 0)
		return err;
	result_from_status(&res, &full, err);
	if (err && !res.flags_requested && err != EINVAL) {
		/*
		 * A failure with no flags was made by hand ({ DMLOCK_FAILED, .error = ENOMEM }): the
		 * core reads "no flags" as "nothing asked for", which only dmlock_lock_*() can know
		 * (and then the errno is EINVAL). Say what is known, in the core's words.
		 */
		const char *meaning = dm_errno_meaning(err), *remedy = dm_errno_remedy(err);
		int w = snprintf(line, sizeof(line), "not locked: mlockall failed: %s (%s)%s%s",
				 dm_errno_name(err), meaning ? meaning : strerror(err),
				 remedy ? "; fix: " : "", remedy ? remedy : "");

		n = w < 0 ? 0 : (size_t)w < sizeof(line) ? (size_t)w : sizeof(line) - 1;
	} else {
		n = dm_status_format(line, sizeof(line), NULL, NULL, 0, &res);
	}
	if (buf && size)
		snprintf(buf, size, "%s", line);
	return (int)n;
}

/*
 * size 0 is the struct as 1.1 made it, for good: a later, larger struct must never be assumed of
 * a caller that did not say its size.
 */
#define SWAP_SERVER_SIZE_1_1 (offsetof(struct dmlock_swap_server, export_io) + sizeof(int))

static size_t swap_server_size(const struct dmlock_swap_server *ss)
{
	return ss->size ? ss->size : SWAP_SERVER_SIZE_1_1;
}

/* The fields up to export_path are the request; a caller's size must hold them and the results. */
static bool swap_server_read(const struct dmlock_swap_server *ss, struct dmlock_swap_server *full)
{
	size_t n = swap_server_size(ss);

	if (n < offsetof(struct dmlock_swap_server, export_io) + sizeof(int))
		return false;
	*full = (struct dmlock_swap_server){ 0 };
	memcpy(full, ss, n < sizeof(*full) ? n : sizeof(*full));
	return full->rt_priority >= 0 && full->rt_priority <= 99 && full->oom_score_adj >= -1000 &&
	       full->oom_score_adj <= 0 && full->heap_reserve_mib <= 1024 &&
	       full->stack_kib <= 4096 && full->thread_stack_kib <= 65536;
}

static void swap_server_params(const struct dmlock_swap_server *ss, struct dm_swap_server_params *p)
{
	*p = (struct dm_swap_server_params){
		.rt_priority = ss->rt_priority,
		.oom_score_adj = ss->oom_score_adj,
		.heap_mib = ss->heap_reserve_mib,
		.stack_kib = ss->stack_kib,
		.thread_stack_kib = ss->thread_stack_kib,
		.export_path = ss->export_path && ss->export_path[0] ? ss->export_path : NULL,
	};
}

DM_EXPORT int dmlock_swap_server(struct dmlock_swap_server *ss)
{
	struct dmlock_swap_server full;
	struct dm_swap_server_params p;
	struct dm_swap_server_result r;
	size_t n;

	if (!ss || !swap_server_read(ss, &full))
		return -EINVAL;
	swap_server_params(&full, &p);
	dm_swap_server_apply(&p, dm_guard.flags != 0, &r);
	full.io_flusher = r.io_flusher;
	full.oom = r.oom;
	full.sched = r.sched;
	full.heap = r.heap;
	full.stack = r.stack;
	full.thread_stack = r.thread_stack;
	full.export_io = p.export_path ? r.export_r : 1;
	n = swap_server_size(ss);
	memcpy(ss, &full, n < sizeof(full) ? n : sizeof(full));
	{
		const int steps[] = { full.io_flusher, full.oom,	  full.sched,	 full.heap,
				      full.stack,      full.thread_stack, full.export_io };

		for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
			if (steps[i] < 0)
				return steps[i];
	}
	return 0;
}

DM_EXPORT int dmlock_swap_server_format(const struct dmlock_swap_server *ss, char *buf, size_t size)
{
	struct dmlock_swap_server full;
	struct dm_swap_server_result r;
	char line[DM_LOG_MAX];
	size_t n;

	if (!ss || !swap_server_read(ss, &full))
		return -EINVAL;
	r = (struct dm_swap_server_result){ .io_flusher = full.io_flusher,
					    .oom = full.oom,
					    .sched = full.sched,
					    .heap = full.heap,
					    .stack = full.stack,
					    .thread_stack = full.thread_stack,
					    .export_r = full.export_io };
	swap_server_params(&full, &r.params);
	n = dm_swap_server_format(line, sizeof(line), &r);
	if (buf && size)
		snprintf(buf, size, "%s", line);
	return (int)n;
}
