/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Diagnostics: inner functions record problems here; the face decides where they are said. */
#include "config.h"

#include <stdio.h>

#include "core.h"

void dm_diag_vadd(struct dm_diag *d, const char *fmt, va_list ap)
{
	if (!d)
		return;
	if (d->n >= DM_DIAG_MAX) {
		d->dropped++;
		return;
	}
	vsnprintf(d->msg[d->n++], DM_DIAG_LEN, fmt, ap);
}

void dm_diag_add(struct dm_diag *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dm_diag_vadd(d, fmt, ap);
	va_end(ap);
}
