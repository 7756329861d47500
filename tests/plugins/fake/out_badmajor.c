/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test plugin built against a future ABI major: the host must refuse it. */
#include "broken.h"

__attribute__((visibility("default"))) const struct vigil_plugin vigil_plugin_entry = {
	.abi_version = (2U << 16) | 3U,
	.struct_size = sizeof(struct vigil_plugin),
	.kind = VIGIL_PLUGIN_OUTPUT,
	.name = "badmajor",
	.init = broken_init,
	.emit = broken_emit,
	.flush = broken_flush,
	.fini = broken_fini,
};
