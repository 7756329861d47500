/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test plugin whose descriptor is shorter than ABI 1.0's: the host must refuse it. */
#include <stdint.h>

#include <vigil/plugin.h>

struct short_descriptor {
	uint32_t abi_version;
	uint32_t struct_size;
	uint32_t kind;
	uint32_t max_in_flight;
	const char *name;
};

__attribute__((visibility("default"))) const struct short_descriptor vigil_plugin_entry = {
	.abi_version = VIGIL_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(struct short_descriptor),
	.kind = VIGIL_PLUGIN_OUTPUT,
	.name = "short",
};
