/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VIGIL_MANAGER_H
#define VIGIL_MANAGER_H

#include <stdbool.h>

#include "config.h"
#include "util/macro.h"

/*
 * struct manager owns everything a running vigild has: the sd-event loop, the BPF loader, the
 * process cache, the record encoder and the plugin host. It wires the sample path
 * (ring buffer -> decode -> enrich -> encode -> enqueue) and the daemon life cycle.
 */
struct manager;

struct manager_options {
	const char *plugin_dir;
	const char *state_dir;
	const char *runtime_dir;
	bool debug;
};

/* Takes ownership of cfg. Initialises outputs, loads and attaches BPF, scans /proc. */
int manager_new(struct vigil_config *cfg, const struct manager_options *o, struct manager **ret);
/* Runs until SIGTERM/SIGINT; returns 0 after a clean drain, or -errno. */
int manager_run(struct manager *m);
struct manager *manager_free(struct manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct manager *, manager_free)

#endif /* VIGIL_MANAGER_H */
