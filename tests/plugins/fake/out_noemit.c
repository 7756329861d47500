/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test output without emit(): the host must refuse it. */
#include "broken.h"

VIGIL_PLUGIN_DEFINE(.kind = VIGIL_PLUGIN_OUTPUT, .name = "noemit", .init = broken_init,
		    .flush = broken_flush, .fini = broken_fini);
