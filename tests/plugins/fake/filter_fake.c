/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test filter "fake": drops records starting with "drop", replaces records starting with "up"
 * by their upper-case form, fails (-EIO) on records starting with "fail", passes the rest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vigil/plugin.h>

static int fake_init(const struct vigil_host *host, void **ret)
{
	*ret = (void *)host;
	return 0;
}

static int fake_filter(void *instance, const struct vigil_record *in, struct vigil_buf *out)
{
	uint8_t *p;

	if (in->size >= 4 && memcmp(in->data, "drop", 4) == 0)
		return VIGIL_FILTER_DROP;
	if (in->size >= 4 && memcmp(in->data, "fail", 4) == 0)
		return -EIO;
	if (in->size < 2 || memcmp(in->data, "up", 2) != 0)
		return VIGIL_FILTER_PASS;
	p = out->reserve(out, in->size);
	if (!p)
		return -ENOMEM;
	for (uint32_t i = 0; i < in->size; i++)
		p[i] = in->data[i] >= 'a' && in->data[i] <= 'z' ? in->data[i] - 32 : in->data[i];
	out->size += in->size;
	return VIGIL_FILTER_REPLACE;
}

static void fake_fini(void *instance)
{
}

VIGIL_PLUGIN_DEFINE(.kind = VIGIL_PLUGIN_FILTER, .name = "fake",
		    .description = "test filter: drop/upcase", .init = fake_init,
		    .filter = fake_filter, .fini = fake_fini);
