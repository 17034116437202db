/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The settings as the shim decides them, layer over layer: the defaults, the profile, the config
 * file (a program's own section above the rest of it), the environment. The constructor, the
 * tool's run, check-config and doctor all call this, so they cannot disagree.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "core.h"

int dm_decide_load(struct dm_decision *dec, const char *path)
{
	dec->diag.n = dec->diag.dropped = 0;
	dec->parse_r = 0;
	dec->file_diags = 0;
	dec->load_r = dm_conffile_load(&dec->file, path ? path : dm_config_path(), &dec->diag);
	return dec->load_r;
}

void dm_decide_skip(struct dm_decision *dec)
{
	dm_conffile_release(&dec->file);
}

/*
 * The profile's step keys act only under the profile. One set for this program alone (in its
 * section or the environment) without it is a mistake worth a line; outside sections they are
 * values for whichever section chooses the profile, and say nothing.
 */
static void unused_steps(const struct dm_settings *s, struct dm_diag *d)
{
	if (s->profile == DM_PROFILE_SWAP_SERVER)
		return;
	for (int k = DM_KEY_RT_PRIORITY; k <= DM_KEY_EXPORT; k++) {
		if (s->origin[k] != DM_FROM_SECTION && s->origin[k] != DM_FROM_ENV)
			continue;
		if (s->origin[k] == DM_FROM_ENV)
			dm_diag_add(d, "%s is set but does nothing without %s=swap-server",
				    dm_keys[k].env, dm_keys[DM_KEY_PROFILE].env);
		else
			dm_diag_add(d,
				    "%s is set in the program's section but does nothing without "
				    "profile = swap-server",
				    dm_keys[k].name);
	}
}

/*
 * The profile is a layer below the file, yet the file (or the environment) names it: so the file
 * is parsed into a layer of its own first, the profile read from the top layer that sets it, and
 * the layers put together in order.
 */
void dm_decide_settings(struct dm_decision *dec, struct dm_self *self, struct dm_settings *s)
{
	struct dm_settings file;
	int profile;
	const char *env;

	dm_settings_default(&file);
	if (dec->load_r == 0)
		dec->parse_r = dm_conffile_apply(&dec->file, self, &file, &dec->diag);
	dm_conffile_release(&dec->file);
	dec->file_diags = dec->diag.n;

	dm_settings_default(s);
	profile = (int)file.profile;
	env = secure_getenv(dm_keys[DM_KEY_PROFILE].env);
	/* A bad value is said by dm_settings_from_env() below, and changes nothing. */
	if (env)
		dm_key_parse_enum(DM_KEY_PROFILE, env, &profile);
	dm_profile_apply(s, (enum dm_profile)profile);
	if (dec->parse_r == 0)
		dm_settings_overlay(s, &file);
	dm_settings_from_env(s, &dec->diag);
	unused_steps(s, &dec->diag);
}

void dm_decide(struct dm_decision *dec, const char *path, struct dm_self *self,
	       struct dm_settings *s)
{
	dm_decide_load(dec, path);
	dm_decide_settings(dec, self, s);
}

bool dm_decide_file_ignored(const struct dm_decision *dec)
{
	return dec->load_r < 0 || dec->parse_r < 0;
}
