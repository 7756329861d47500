/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A struct vigil_host for plugin tests: an in-memory config (section, key, value, with a
 * "test.conf:N" location per assignment) and captured logs. Plugins are dlopen'ed from the build
 * tree exactly as the daemon would load them.
 */
#ifndef VIGIL_FAKE_HOST_H
#define VIGIL_FAKE_HOST_H

#include <stdbool.h>
#include <vigil/plugin.h>

struct fake_host {
	struct vigil_host host; /* first: plugins get &fh->host */
	struct fake_cfg *cfg;
	size_t n_cfg;
	char ***lists;
	size_t n_lists;
	char *logs;
	size_t logs_len;
	unsigned n_logs;
	char state_dir[64];
};

struct fake_host *fake_host_new(const char *instance);
struct fake_host *fake_host_free(struct fake_host *fh);
/* Append an assignment (an empty value resets a list, as in the daemon). */
void fake_host_set(struct fake_host *fh, const char *section, const char *key, const char *value);
/* All log lines so far, "LEVEL: message\n" each ("" when none). */
const char *fake_host_logs(const struct fake_host *fh);
void fake_host_clear_logs(struct fake_host *fh);

/* dlopen plugins/.libs/@file (or $PLUGIN_DIR/@file) and return its descriptor after checking the
 * ABI version and struct size, or NULL (with a TAP diagnostic). */
const struct vigil_plugin *fake_host_load(const char *file);

/* A struct vigil_buf backed by malloc, for filter(). */
struct vigil_buf *fake_buf_new(void);
void fake_buf_free(struct vigil_buf *b);

#endif
