/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The timer's own floor: linked statically, so no ld.so, no library, no preload (the loader reads
 * neither LD_PRELOAD nor /etc/ld.so.preload for it), and _exit() at once. What posix_spawn() to
 * wait4() of this costs is in every figure of the start-up table.
 */
#include <unistd.h>

int main(void)
{
	_exit(0);
}
