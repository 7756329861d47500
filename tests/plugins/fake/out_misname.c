/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test plugin whose descriptor name differs from its file name: the host must refuse it. */
#include "broken.h"

VIGIL_PLUGIN_DEFINE(.kind = VIGIL_PLUGIN_OUTPUT, .name = "other", .init = broken_init,
		    .emit = broken_emit, .flush = broken_flush, .fini = broken_fini);
