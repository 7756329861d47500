/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared callbacks of the deliberately broken test plugins (each .c file is one plugin). */
#ifndef FAKE_BROKEN_H
#define FAKE_BROKEN_H

#include <vigil/plugin.h>

__attribute__((unused)) static int broken_init(const struct vigil_host *host, void **ret)
{
	*ret = (void *)host;
	return 0;
}

__attribute__((unused)) static enum vigil_status
broken_emit(void *instance, const struct vigil_batch *b, uint8_t *res)
{
	return VIGIL_OK;
}

__attribute__((unused)) static enum vigil_status broken_flush(void *instance, uint64_t timeout_usec)
{
	return VIGIL_OK;
}

__attribute__((unused)) static void broken_fini(void *instance)
{
}

#endif
