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
	const char *config_dir; /* --config-dir, NULL = the standard hierarchy; re-read on reload */
	const char *plugin_dir;
	const char *state_dir;
	const char *runtime_dir;
	bool debug;
};

/* Takes ownership of cfg. Initialises outputs, loads and attaches BPF, scans /proc. */
int manager_new(struct vigil_config *cfg, const struct manager_options *o, struct manager **ret);
/*
 * SIGHUP, `systemctl reload`, `vigilctl reload`: re-read the configuration, outputs and policies
 * (vigild(8), SIGHUP). A configuration with errors is rejected (logged with file:line) and the
 * running one stays; returns 0, or -EINVAL when rejected.
 */
int manager_reload(struct manager *m);
/* Runs until SIGTERM/SIGINT; returns 0 after a clean drain, or -errno. */
int manager_run(struct manager *m);
struct manager *manager_free(struct manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct manager *, manager_free)

#endif /* VIGIL_MANAGER_H */
