/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VIGIL_CGROUP_H
#define VIGIL_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Enrichment from a cgroup v2 path: systemd unit/slice, container id/runtime, pod uid.
 * cgroup_parse_path() is pure: the unit, user_unit, slice and container_id are spans into the
 * parsed path (they are always substrings of it), so a cache entry only needs to copy the path
 * plus this small struct. pod_uid is rewritten (systemd escapes '-' as '_'), so it is copied.
 */

#define CGROUP_PATH_MAX	 4096
#define CONTAINER_ID_LEN 64
#define POD_UID_MAX	 36

enum container_runtime {
	CONTAINER_RUNTIME_NONE = 0,
	CONTAINER_RUNTIME_DOCKER,
	CONTAINER_RUNTIME_CONTAINERD,
	CONTAINER_RUNTIME_CRIO,
	CONTAINER_RUNTIME_PODMAN,
	_CONTAINER_RUNTIME_MAX,
};

struct cgroup_span {
	uint16_t off;
	uint16_t len; /* 0 = absent */
};

struct cgroup_info {
	struct cgroup_span unit;      /* "nginx.service", "session-3.scope", "user@1000.service" */
	struct cgroup_span user_unit; /* unit inside user@UID.service: "app.service" */
	struct cgroup_span slice;     /* the slice holding unit: "system.slice" */
	struct cgroup_span container_id; /* 64 lowercase hex */
	uint8_t runtime;		 /* enum container_runtime */
	char pod_uid[POD_UID_MAX + 1];	 /* "" when none */
};

/* 0, or -EINVAL (NULL/relative path), -ENAMETOOLONG (longer than CGROUP_PATH_MAX). */
int cgroup_parse_path(const char *path, struct cgroup_info *ret);

/* "docker", "containerd", "cri-o", "podman", or NULL for none. */
const char *container_runtime_to_string(enum container_runtime r);

static inline bool cgroup_span_empty(struct cgroup_span s)
{
	return s.len == 0;
}

/*
 * cgroup id → path resolver. The cgroup v2 id is the kernfs inode number of the cgroup's
 * directory. Paths are relative to the cgroup2 root and start with "/".
 */
struct cgroup_resolver;

/* Finds the cgroup2 mount in /proc/self/mountinfo. -ENOMEDIUM when there is none. */
int cgroup_resolver_new(struct cgroup_resolver **ret);
/* Same with an explicit cgroup2 root and proc root (tests). */
int cgroup_resolver_new_at(const char *cgroup_root, const char *proc_root,
			   struct cgroup_resolver **ret);
struct cgroup_resolver *cgroup_resolver_free(struct cgroup_resolver *r);
const char *cgroup_resolver_root(const struct cgroup_resolver *r);

/*
 * Cached (bounded). On a miss: the cgroup of pid_hint (0 = none) verified by inode, else a
 * rescan of the whole tree, at most once per second. Returns 0 and a path owned by the cache,
 * valid until the next lookup; -ENOENT when not found (process gone and no rescan allowed yet,
 * or the cgroup was removed).
 */
int cgroup_resolver_lookup(struct cgroup_resolver *r, uint64_t id, uint32_t pid_hint,
			   const char **ret_path);
/* Same, also returning the parsed path (cached with it). */
int cgroup_resolver_lookup_info(struct cgroup_resolver *r, uint64_t id, uint32_t pid_hint,
				const char **ret_path, const struct cgroup_info **ret_info);
/* The id (inode) of a path relative to the root; -errno if it does not exist. */
int cgroup_resolver_path_to_id(struct cgroup_resolver *r, const char *path, uint64_t *ret_id);
/* Counters: full-tree rescans done, lookups answered from the cache. */
uint64_t cgroup_resolver_rescans(const struct cgroup_resolver *r);
size_t cgroup_resolver_size(const struct cgroup_resolver *r);

/* Read the "0::" line of <proc_root>/<pid>/cgroup into buf. */
int cgroup_read_pid_path(const char *proc_root, uint32_t pid, char *buf, size_t bufsize);

#endif /* VIGIL_CGROUP_H */
