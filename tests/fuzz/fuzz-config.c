/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer entry point: the input is one config file. It is written both as the main
 * vigild.conf and as an output instance outputs.d/fuzz.conf of a private --config-dir, and
 * loaded through config_load() (discovery, INI reader, key tables, list handling), then the
 * value parsers see it as a plain string.
 *
 * Not part of `make check`. Build and run (see tests/config.mk):
 *   make fuzz
 *   mkdir -p fuzz-corpus && cp conf.d/vigild.conf fuzz-corpus/
 *   ./tests/fuzz/fuzz-config -max_total_time=60 fuzz-corpus
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h" /* not "config.h": -I. finds the autoconf header first */
#include "daemon/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[PATH_MAX];

static int write_all(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	if (size > 0 && fwrite(data, 1, size, f) != size) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) == 0 ? 0 : -errno;
}

static void cleanup(void)
{
	char p[PATH_MAX + 32];

	snprintf(p, sizeof(p), "%s/outputs.d/fuzz.conf", dir);
	(void)unlink(p);
	snprintf(p, sizeof(p), "%s/outputs.d", dir);
	(void)rmdir(p);
	snprintf(p, sizeof(p), "%s/vigild.conf", dir);
	(void)unlink(p);
	(void)rmdir(dir);
}

static int setup(void)
{
	char sub[PATH_MAX + 16];

	snprintf(dir, sizeof(dir), "%s/vigil-fuzz-config.XXXXXX", getenv("TMPDIR") ?: "/tmp");
	if (!mkdtemp(dir))
		return -errno;
	snprintf(sub, sizeof(sub), "%s/outputs.d", dir);
	if (mkdir(sub, 0700) < 0)
		return -errno;
	atexit(cleanup);
	/* Quiet: the fuzzer prints millions of config errors otherwise. */
	log_set_journal(false);
	log_set_max_level(LOG_CRIT);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_source src = {.config_dir = dir};
	struct vigil_config *c = NULL;
	char path[PATH_MAX + 32], *s;
	uint64_t u;
	bool b;

	if (!dir[0] && setup() < 0)
		abort();
	if (size > 256 * 1024)
		return 0;

	snprintf(path, sizeof(path), "%s/vigild.conf", dir);
	if (write_all(path, data, size) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/outputs.d/fuzz.conf", dir);
	if (write_all(path, data, size) < 0)
		abort();

	if (config_load(&src, &c) == 0) {
		for (size_t i = 0; i < c->n_outputs; i++) {
			char **l = NULL;

			(void)config_output_get(&c->outputs[i], "Output", "Plugin");
			if (config_output_get_list(&c->outputs[i], "Output", "Events", &l) >= 0)
				for (char **e = l; *e; e++)
					free(*e);
			free(l);
		}
		config_free(c);
	}

	s = strndup((const char *)data, size);
	if (!s)
		return 0;
	(void)config_parse_usec(s, &u);
	(void)config_parse_size(s, &u);
	(void)config_parse_bool(s, &b);
	if (strlen(s) < 1024) {
		const char *const cand[] = {"RingBufferSize", "Events", "process_exec", NULL};

		(void)config_suggest(s, cand);
	}
	free(s);
	return 0;
}
