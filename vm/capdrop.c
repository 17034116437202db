/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The refusal runs of scripts/vm-deadlock: start a program without some capabilities, as root.
 *
 *   capdrop CAP[,CAP...] PROG [ARGS...]
 *
 * CAP is a name from the table below or a number. Each one leaves the bounding set (so that
 * execve() cannot give it back: root's permitted set after execve() is the bounding set, see
 * capabilities(7)) and the effective, permitted, inheritable and ambient sets. Busybox's setpriv
 * has no --bounding-set, and util-linux's would bring libcap-ng and its loader paths into the
 * image. The drop is read back before the exec: a refusal test that runs with the capability
 * after all would pass for the wrong reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const struct {
	const char *name;
	int cap;
} names[] = {
	{ "CAP_IPC_LOCK", CAP_IPC_LOCK },
	{ "CAP_SYS_NICE", CAP_SYS_NICE },
	{ "CAP_SYS_RESOURCE", CAP_SYS_RESOURCE },
};

static int cap_number(const char *s)
{
	char *end;
	long v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].cap;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > CAP_LAST_CAP)
		return -1;
	return (int)v;
}

static int caps_get(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return (int)syscall(SYS_capget, &h, d);
}

static int caps_set(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return (int)syscall(SYS_capset, &h, d);
}

int main(int argc, char **argv)
{
	struct __user_cap_data_struct d[2];
	int caps[64], n = 0;
	char *list, *tok, *save = NULL;

	if (argc < 3) {
		fprintf(stderr, "usage: capdrop CAP[,CAP...] PROG [ARGS...]\n");
		return 2;
	}
	list = argv[1];
	for (tok = strtok_r(list, ",", &save); tok && n < 64; tok = strtok_r(NULL, ",", &save)) {
		caps[n] = cap_number(tok);
		if (caps[n] < 0) {
			fprintf(stderr, "capdrop: unknown capability %s\n", tok);
			return 2;
		}
		n++;
	}
	if (caps_get(d) < 0) {
		perror("capdrop: capget");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		unsigned bit = 1u << (caps[i] % 32);

		if (prctl(PR_CAPBSET_DROP, caps[i], 0, 0, 0) < 0) {
			fprintf(stderr, "capdrop: PR_CAPBSET_DROP %d: %s\n", caps[i],
				strerror(errno));
			return 1;
		}
		d[caps[i] / 32].effective &= ~bit;
		d[caps[i] / 32].permitted &= ~bit;
		d[caps[i] / 32].inheritable &= ~bit;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		perror("capdrop: PR_CAP_AMBIENT_CLEAR_ALL");
		return 1;
	}
	if (caps_set(d) < 0) {
		perror("capdrop: capset");
		return 1;
	}
	if (caps_get(d) < 0) {
		perror("capdrop: capget");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		unsigned bit = 1u << (caps[i] % 32);
		const struct __user_cap_data_struct *w = &d[caps[i] / 32];

		if (prctl(PR_CAPBSET_READ, caps[i], 0, 0, 0) != 0 ||
		    ((w->effective | w->permitted | w->inheritable) & bit)) {
			fprintf(stderr, "capdrop: capability %d is still held\n", caps[i]);
			return 1;
		}
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "capdrop: %s: %s\n", argv[2], strerror(errno));
	return 127;
}
