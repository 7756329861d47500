/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test filter "suffix": appends [Suffix] Text= (default "!") to every record. */
#include <errno.h>
#include <string.h>

#include <vigil/plugin.h>

static const char *const suffix_keys[] = {"Text", NULL};

static int suffix_init(const struct vigil_host *host, void **ret)
{
	const char *t = host->cfg_get(host, "Suffix", "Text");

	*ret = (void *)(t ? t : "!");
	return 0;
}

static int suffix_filter(void *instance, const struct vigil_record *in, struct vigil_buf *out)
{
	const char *t = instance;
	size_t n = strlen(t);
	uint8_t *p = out->reserve(out, in->size + n);

	if (!p)
		return -ENOMEM;
	memcpy(p, in->data, in->size);
	memcpy(p + in->size, t, n);
	out->size += in->size + n;
	return VIGIL_FILTER_REPLACE;
}

static void suffix_fini(void *instance)
{
}

VIGIL_PLUGIN_DEFINE(.kind = VIGIL_PLUGIN_FILTER, .name = "suffix",
		    .description = "test filter: append text", .section = "Suffix",
		    .keys = suffix_keys, .init = suffix_init, .filter = suffix_filter,
		    .fini = suffix_fini);
