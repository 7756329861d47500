/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test plugin installed as an output but declaring itself a filter: the host must refuse it. */
#include "broken.h"

VIGIL_PLUGIN_DEFINE(.kind = VIGIL_PLUGIN_FILTER, .name = "wrongkind", .init = broken_init,
		    .emit = broken_emit, .flush = broken_flush, .fini = broken_fini);
