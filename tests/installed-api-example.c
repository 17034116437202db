/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A program from outside the tree: installed-api.sh builds it with nothing but the installed
 * header and `pkg-config --cflags --libs duende-mlock`, in strict C11, and runs it.
 */
#include <duende_mlock.h>
#include <stdio.h>
#include <string.h>

/* Which libduende_mlock the loader picked: the test wants the installed one. */
static void print_library(void)
{
	char line[4096];
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && fgets(line, sizeof(line), f)) {
		char *path = strchr(line, '/');

		if (path && strstr(path, "/libduende_mlock.so")) {
			printf("library=%s", path);
			break;
		}
	}
	if (f)
		fclose(f);
}

int main(void)
{
	struct dmlock_status st = DMLOCK_STATUS_INIT;
	char line[1024];
	int before = dmlock_is_locked();
	int r = dmlock_lock_all(&st);

	dmlock_status_format(&st, line, sizeof(line));
	printf("before_is_locked=%d\n", before);
	printf("rc=%d\n", r);
	printf("rc_is_permission_denied=%d\n", r == DMLOCK_ERR_PERMISSION_DENIED);
	printf("is_locked=%d\n", dmlock_is_locked());
	printf("locked_bytes=%zu\n", dmlock_locked_bytes());
	printf("cap_ipc_lock=%d\n", st.cap_ipc_lock);
	printf("strerror=%s\n", dmlock_strerror(r));
	printf("status=%s\n", line);
	print_library();
	return 0;
}
