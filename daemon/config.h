/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/macro.h"

/*
 * Config discovery, drop-in merge (STYLE.md §3.10, systemd standard-conf semantics) and INI
 * parsing into an immutable struct vigil_config. A reload (manager_reload) loads a new one.
 */

#define EX_CONFIG_STATUS 78 /* sysexits.h EX_CONFIG: exit status for a bad config value */

/* One assignment as read, in parse order (main file first, then drop-ins sorted by name). */
struct vigil_kv {
	char *section;
	char *key;
	char *value; /* "" for an empty assignment (which resets list-valued keys) */
	char *file;
	unsigned line;
};

enum vigil_full_policy {
	VIGIL_FULL_DROP_OLDEST = 0,
	VIGIL_FULL_DROP_NEWEST,
	_VIGIL_FULL_POLICY_MAX,
	_VIGIL_FULL_POLICY_INVALID = -22,
};

/* [Output] Spool= */
enum vigil_spool_mode {
	VIGIL_SPOOL_AUTO = 0, /* on for remote sinks (the plugin's VIGIL_PLUGIN_F_SPOOL) */
	VIGIL_SPOOL_OFF,
	VIGIL_SPOOL_ON,
	_VIGIL_SPOOL_MODE_MAX,
	_VIGIL_SPOOL_MODE_INVALID = -22,
};

#define VIGIL_METRICS_LISTEN_DEFAULT "127.0.0.1:9847"

/* One outputs.d/NAME.conf (+ NAME.conf.d/ drop-ins). */
struct vigil_output_config {
	char *name;		 /* instance: basename without .conf */
	char *path;		 /* the winning NAME.conf */
	char *plugin;		 /* [Output] Plugin=, required, [a-z0-9_]+ */
	bool enabled;		 /* [Output] Enabled=, default yes */
	unsigned queue_size;	 /* [Output] QueueSize=, records, default 8192 */
	unsigned batch_size;	 /* [Output] BatchSize=, records per emit(), default 512 */
	uint64_t retry_max_usec; /* [Output] RetryMaxSec=, default 30s */
	/* [Output] FullPolicy= (alias QueueFullPolicy=) drop-oldest|drop-newest: the queue and the
	 * spool */
	enum vigil_full_policy full_policy;
	enum vigil_spool_mode spool; /* [Output] Spool=auto|yes|no */
	uint64_t spool_max_size;     /* [Output] SpoolMaxSize=, bytes, default 1G */
	bool spool_sync;	     /* [Output] SpoolSync=none|batch, default none */
	char **events;		     /* [Output] Events= (list; NULL or empty = all), event keys */
	char **filters;		     /* [Output] Filters= (list, in order) */
	struct vigil_kv *kvs;	     /* every assignment of this instance, all sections, in order */
	size_t n_kvs;
};

struct vigil_config {
	/* [Daemon] */
	char *node_name;	       /* NodeName=, default: hostname */
	uint64_t status_interval_usec; /* StatusIntervalSec=, default 10s */
	/* MetricsListen=: NULL = the default VIGIL_METRICS_LISTEN_DEFAULT, "" = disabled ("no"),
	 * else a validated "IPv4:port" or "[IPv6]:port". */
	char *metrics_listen;
	char *socket_group; /* SocketGroup=: group name or number allowed on the control socket */
	/* [Sensor] */
	uint32_t
		ringbuf_size; /* RingBufferSize= bytes (K/M/G suffixes), power of two, default 4M */
	uint32_t argv_max;    /* ArgvMaxBytes=, default 16384, at most VIGIL_ARGS_MAX */
	bool clone_events;    /* CloneEvents= export process_clone records, default no */
	/* PollIntervalSec= how long events may wait in the ring buffer while the kernel batches
	 * wake-ups, default 50ms; 0 = a wake-up per event */
	uint64_t poll_interval_usec;
	char **exclude_binaries; /* ExcludeBinaries= path prefixes, filtered in the kernel */
	char **exclude_cgroups;	 /* ExcludeCgroups= cgroup names, filtered in the kernel */
	/* [ProcessCache] */
	uint32_t cache_max_entries; /* MaxEntries=, default 65536 */
	uint64_t cache_grace_usec;  /* ExitGraceSec=, default 30s */
	bool ancestors;		    /* Ancestors=, add the ancestors array, default no */

	struct vigil_output_config *outputs; /* enabled and disabled, sorted by name */
	size_t n_outputs;

	char *policy_dir_list; /* ':'-separated policy.d directories in precedence order */
	char **files;	       /* every file that contributed, in parse order (for --cat-config) */
	unsigned n_warnings;   /* unknown sections/keys seen (--validate fails on any) */
};

/*
 * Where to look. config_dir NULL = the standard /etc, /run, /usr/local/lib, /usr/lib hierarchy
 * (each + "/vigil"); otherwise only config_dir itself.
 */
struct config_source {
	const char *config_dir;
};

/*
 * Load and validate. Logs each problem with "file:line: message". Returns 0, or -EINVAL for a bad
 * value of a known key (caller exits EX_CONFIG_STATUS), or another -errno (I/O).
 */
int config_load(const struct config_source *src, struct vigil_config **ret);
struct vigil_config *config_free(struct vigil_config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vigil_config *, config_free)

/*
 * Files ending in suffix (".yaml") in the ':'-separated directories of dir_list (highest
 * precedence first), with the drop-in rules of the config: same basename → the first directory
 * wins, a /dev/null symlink masks, survivors sorted by basename. *ret_paths is a NULL-terminated
 * strv (NULL when none); returns 0 or -errno.
 */
int config_collect_files(const char *dir_list, const char *suffix, char ***ret_paths);

/* Print the merged files with "# /path" headers, like systemd-analyze cat-config. */
int config_cat(const struct config_source *src, FILE *out);

/*
 * Helpers shared with the plugin host (instance sections are validated there).
 * config_output_get: the last assignment of section/key, or NULL if unset or if that last
 * assignment is empty (an empty assignment resets a key to its default).
 */
const struct vigil_kv *config_output_get(const struct vigil_output_config *o, const char *section,
					 const char *key);
/* Values of a list key after the last empty assignment; returns count, *ret is NULL-terminated. */
int config_output_get_list(const struct vigil_output_config *o, const char *section,
			   const char *key, char ***ret);
/* "10s", "5min", "250ms", "1h", "2d", plain number = seconds. */
int config_parse_usec(const char *s, uint64_t *ret);
/* "8M", "64K", "1G", plain bytes (1024-based). */
int config_parse_size(const char *s, uint64_t *ret);
int config_parse_bool(const char *s, bool *ret);
/* Closest candidate by edit distance, or NULL if none is close enough. */
const char *config_suggest(const char *word, const char *const *candidates);

#endif /* VIGIL_CONFIG_H */
