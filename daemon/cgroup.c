/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cgroup.h"
#include "util/macro.h"

/* ---- pure path parsing ---- */

struct comp {
	const char *s;
	size_t len;
};

static bool comp_eq(struct comp c, const char *lit)
{
	size_t n = strlen(lit);

	return c.len == n && memcmp(c.s, lit, n) == 0;
}

static bool comp_startswith(struct comp c, const char *lit)
{
	size_t n = strlen(lit);

	return c.len >= n && memcmp(c.s, lit, n) == 0;
}

static bool comp_endswith(struct comp c, const char *lit)
{
	size_t n = strlen(lit);

	return c.len >= n && memcmp(c.s + c.len - n, lit, n) == 0;
}

static bool comp_contains(struct comp c, const char *lit)
{
	size_t n = strlen(lit);

	for (size_t i = 0; i + n <= c.len; i++)
		if (memcmp(c.s + i, lit, n) == 0)
			return true;
	return false;
}

static bool is_hex_lower(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool is_container_id(const char *s, size_t n)
{
	return n == CONTAINER_ID_LEN && is_hex_lower(s, n);
}

/*
 * A pod uid: a UUID (8-4-4-4-12, with '-' or systemd's escaped '_') or the 32 hex digits of a
 * static pod's config hash. Writes the dashed form to out.
 */
static bool parse_pod_uid(const char *s, size_t n, char out[static POD_UID_MAX + 1])
{
	if (n == 32 && is_hex_lower(s, n)) {
		memcpy(out, s, n);
		out[n] = 0;
		return true;
	}
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (ch != '-' && ch != '_')
				return false;
			out[i] = '-';
		} else {
			if (!is_hex_lower(&ch, 1))
				return false;
			out[i] = ch;
		}
	}
	out[n] = 0;
	return true;
}

static const struct {
	const char *prefix;
	enum container_runtime runtime;
} container_prefixes[] = {
	{"docker-", CONTAINER_RUNTIME_DOCKER},
	{"cri-containerd-", CONTAINER_RUNTIME_CONTAINERD},
	{"crio-", CONTAINER_RUNTIME_CRIO},     /* "crio-conmon-<id>" fails the hex check */
	{"libpod-", CONTAINER_RUNTIME_PODMAN}, /* likewise "libpod-conmon-<id>" */
};

/* Returns the runtime and sets *id to the id's position when c names a container. */
static enum container_runtime match_container(struct comp c, struct comp prev, bool kubepods,
					      const char **id)
{
	struct comp name = c;

	if (comp_endswith(name, ".scope"))
		name.len -= strlen(".scope");
	for (size_t i = 0; i < ELEMENTSOF(container_prefixes); i++) {
		size_t n = strlen(container_prefixes[i].prefix);

		if (comp_startswith(name, container_prefixes[i].prefix) &&
		    is_container_id(name.s + n, name.len - n)) {
			*id = name.s + n;
			return container_prefixes[i].runtime;
		}
	}
	/* cgroupfs drivers: /docker/<id>, /kubepods/<qos>/pod<uid>/<id> */
	if (is_container_id(c.s, c.len)) {
		if (comp_eq(prev, "docker")) {
			*id = c.s;
			return CONTAINER_RUNTIME_DOCKER;
		}
		if (kubepods) {
			*id = c.s;
			return CONTAINER_RUNTIME_CONTAINERD;
		}
	}
	return CONTAINER_RUNTIME_NONE;
}

/* "kubepods-burstable-pod<uid>.slice" (systemd driver) or "pod<uid>" (cgroupfs driver). */
static bool match_pod(struct comp c, bool kubepods, char out[static POD_UID_MAX + 1])
{
	if (comp_endswith(c, ".slice")) {
		size_t end = c.len - strlen(".slice");

		for (size_t i = end; i >= 4; i--)
			if (memcmp(c.s + i - 4, "-pod", 4) == 0)
				return parse_pod_uid(c.s + i, end - i, out);
		return false;
	}
	if (kubepods && comp_startswith(c, "pod"))
		return parse_pod_uid(c.s + 3, c.len - 3, out);
	return false;
}

static struct cgroup_span span_of(const char *path, struct comp c)
{
	return (struct cgroup_span){.off = (uint16_t)(c.s - path), .len = (uint16_t)c.len};
}

static const struct {
	const char *name;
	enum container_runtime runtime;
} colon_runtimes[] = {
	{"cri-containerd", CONTAINER_RUNTIME_CONTAINERD},
	{"docker", CONTAINER_RUNTIME_DOCKER},
	{"crio", CONTAINER_RUNTIME_CRIO},
};

/*
 * kubelet's systemd driver with a runtime not using systemd itself names the container cgroup
 * "<pod slice>:<runtime>:<id>" in one component. Split it; returns true when it matched.
 */
static bool match_colon_form(struct comp c, struct comp *ret_slice, const char **ret_id,
			     enum container_runtime *ret_runtime)
{
	const char *c1 = memchr(c.s, ':', c.len), *c2;
	struct comp mid;

	if (!c1)
		return false;
	c2 = memchr(c1 + 1, ':', c.s + c.len - c1 - 1);
	if (!c2 || !is_container_id(c2 + 1, c.s + c.len - c2 - 1))
		return false;
	mid = (struct comp){c1 + 1, c2 - c1 - 1};
	for (size_t i = 0; i < ELEMENTSOF(colon_runtimes); i++)
		if (comp_eq(mid, colon_runtimes[i].name)) {
			*ret_slice = (struct comp){c.s, c1 - c.s};
			*ret_id = c2 + 1;
			*ret_runtime = colon_runtimes[i].runtime;
			return true;
		}
	return false;
}

int cgroup_parse_path(const char *path, struct cgroup_info *ret)
{
	struct cgroup_info info = {};
	struct comp prev = {}, last_slice = {};
	bool kubepods = false, in_user = false, in_container = false;
	size_t plen;

	if (!path || path[0] != '/')
		return -EINVAL;
	plen = strlen(path);
	if (plen > CGROUP_PATH_MAX)
		return -ENAMETOOLONG;

	for (const char *p = path; *p;) {
		struct comp c, cslice;
		const char *id = NULL;
		enum container_runtime rt;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		c.s = p;
		c.len = strcspn(p, "/");
		p += c.len;

		if (comp_contains(c, "kubepods"))
			kubepods = true;

		if (match_colon_form(c, &cslice, &id, &rt)) {
			match_pod(cslice, kubepods, info.pod_uid);
			if (!in_container && !info.unit.len)
				last_slice = cslice;
			info.container_id = span_of(path, (struct comp){id, CONTAINER_ID_LEN});
			info.runtime = rt;
			in_container = true;
			prev = c;
			continue;
		}

		if (comp_endswith(c, ".slice")) {
			if (!in_container && !info.unit.len)
				last_slice = c;
			match_pod(c, kubepods, info.pod_uid);
		} else if (comp_endswith(c, ".service") || comp_endswith(c, ".scope")) {
			if (!in_container) {
				if (in_user) {
					info.user_unit = span_of(path, c);
				} else {
					info.unit = span_of(path, c);
					info.slice = last_slice.len ? span_of(path, last_slice)
								    : (struct cgroup_span){};
					if (comp_startswith(c, "user@") &&
					    comp_endswith(c, ".service"))
						in_user = true;
				}
			}
		} else if (kubepods && !in_container) {
			match_pod(c, kubepods, info.pod_uid);
		}

		rt = match_container(c, prev, kubepods, &id);
		if (rt != CONTAINER_RUNTIME_NONE) {
			info.container_id = span_of(path, (struct comp){id, CONTAINER_ID_LEN});
			info.runtime = rt;
			in_container = true;
		}
		prev = c;
	}

	if (!info.unit.len && last_slice.len)
		info.slice = span_of(path, last_slice);
	*ret = info;
	return 0;
}

const char *container_runtime_to_string(enum container_runtime r)
{
	static const char *const names[_CONTAINER_RUNTIME_MAX] = {
		[CONTAINER_RUNTIME_DOCKER] = "docker",
		[CONTAINER_RUNTIME_CONTAINERD] = "containerd",
		[CONTAINER_RUNTIME_CRIO] = "cri-o",
		[CONTAINER_RUNTIME_PODMAN] = "podman",
	};

	if ((unsigned)r >= _CONTAINER_RUNTIME_MAX)
		return NULL;
	return names[r];
}

/* ---- resolver ---- */

#define RESOLVER_MAX_ENTRIES 4096
#define RESOLVER_BUCKETS     4096 /* power of two */
#define RESCAN_INTERVAL_USEC USEC_PER_SEC
#define RESCAN_MAX_DEPTH     32

struct cg_entry {
	uint64_t id;
	struct cg_entry *hnext;
	struct cg_entry *prev, *next; /* LRU, most recent first */
	struct cgroup_info info;
	char path[];
};

struct cgroup_resolver {
	char *root;
	char *proc_root;
	struct cg_entry *buckets[RESOLVER_BUCKETS];
	struct cg_entry *lru_head, *lru_tail;
	size_t n;
	uint64_t last_rescan_usec;
	uint64_t rescans;
};

static uint64_t now_monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

static size_t bucket_of(uint64_t id)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ULL) >> 32) & (RESOLVER_BUCKETS - 1);
}

static void lru_unlink(struct cgroup_resolver *r, struct cg_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		r->lru_head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		r->lru_tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push_front(struct cgroup_resolver *r, struct cg_entry *e)
{
	e->prev = NULL;
	e->next = r->lru_head;
	if (r->lru_head)
		r->lru_head->prev = e;
	r->lru_head = e;
	if (!r->lru_tail)
		r->lru_tail = e;
}

static void entry_remove(struct cgroup_resolver *r, struct cg_entry *e)
{
	struct cg_entry **pp = &r->buckets[bucket_of(e->id)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	lru_unlink(r, e);
	r->n--;
	free(e);
}

static struct cg_entry *cache_find(struct cgroup_resolver *r, uint64_t id)
{
	for (struct cg_entry *e = r->buckets[bucket_of(id)]; e; e = e->hnext)
		if (e->id == id)
			return e;
	return NULL;
}

static struct cg_entry *cache_put(struct cgroup_resolver *r, uint64_t id, const char *path)
{
	struct cg_entry *e = cache_find(r, id);
	size_t len = strlen(path);

	if (e) {
		if (streq(e->path, path))
			return e;
		entry_remove(r, e);
	}
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return NULL;
	*e = (struct cg_entry){.id = id};
	memcpy(e->path, path, len + 1);
	if (cgroup_parse_path(e->path, &e->info) < 0)
		e->info = (struct cgroup_info){};

	while (r->n >= RESOLVER_MAX_ENTRIES && r->lru_tail)
		entry_remove(r, r->lru_tail);
	e->hnext = r->buckets[bucket_of(id)];
	r->buckets[bucket_of(id)] = e;
	lru_push_front(r, e);
	r->n++;
	return e;
}

/* Unescape mountinfo's octal escapes (\040 for space) in place. */
static void unoctal(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else
			*w++ = *s;
	}
	*w = 0;
}

static int find_cgroup2_mount(char **ret)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t n = 0;

	if (!f)
		return -errno;
	while (getline(&line, &n, f) > 0) {
		char *sep = strstr(line, " - "), *fields[5], *save = NULL, *tok;
		int i = 0;

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		*sep = 0;
		for (tok = strtok_r(line, " ", &save); tok && i < 5;
		     tok = strtok_r(NULL, " ", &save))
			fields[i++] = tok;
		if (i < 5)
			continue;
		unoctal(fields[4]);
		*ret = strdup(fields[4]);
		return *ret ? 0 : -ENOMEM;
	}
	return -ENOMEDIUM;
}

int cgroup_resolver_new_at(const char *cgroup_root, const char *proc_root,
			   struct cgroup_resolver **ret)
{
	struct cgroup_resolver *r;

	if (!cgroup_root || !ret)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->root = strdup(cgroup_root);
	r->proc_root = strdup(proc_root ?: "/proc");
	if (!r->root || !r->proc_root) {
		cgroup_resolver_free(r);
		return -ENOMEM;
	}
	/* Strip a trailing slash so root + "/x" joins cleanly ("/" becomes ""). */
	if (r->root[0] && r->root[strlen(r->root) - 1] == '/')
		r->root[strlen(r->root) - 1] = 0;
	*ret = r;
	return 0;
}

int cgroup_resolver_new(struct cgroup_resolver **ret)
{
	_cleanup_free_ char *mnt = NULL;
	int r;

	r = find_cgroup2_mount(&mnt);
	if (r < 0)
		return r;
	return cgroup_resolver_new_at(mnt, "/proc", ret);
}

struct cgroup_resolver *cgroup_resolver_free(struct cgroup_resolver *r)
{
	if (!r)
		return NULL;
	while (r->lru_head)
		entry_remove(r, r->lru_head);
	free(r->root);
	free(r->proc_root);
	free(r);
	return NULL;
}

const char *cgroup_resolver_root(const struct cgroup_resolver *r)
{
	return r ? r->root : NULL;
}

uint64_t cgroup_resolver_rescans(const struct cgroup_resolver *r)
{
	return r ? r->rescans : 0;
}

size_t cgroup_resolver_size(const struct cgroup_resolver *r)
{
	return r ? r->n : 0;
}

int cgroup_read_pid_path(const char *proc_root, uint32_t pid, char *buf, size_t bufsize)
{
	char fn[128];
	char line[CGROUP_PATH_MAX + 8];
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(fn, sizeof(fn), "%s/%u/cgroup", proc_root ?: "/proc", pid);
	f = fopen(fn, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		size_t l;

		if (strncmp(line, "0::", 3) != 0)
			continue;
		l = strcspn(line + 3, "\n");
		if (l + 1 > bufsize)
			return -ENAMETOOLONG;
		memcpy(buf, line + 3, l);
		buf[l] = 0;
		return 0;
	}
	return -ENODATA;
}

int cgroup_resolver_path_to_id(struct cgroup_resolver *r, const char *path, uint64_t *ret_id)
{
	char fn[CGROUP_PATH_MAX * 2];
	struct stat st;

	if (!r || !path || path[0] != '/')
		return -EINVAL;
	if ((size_t)snprintf(fn, sizeof(fn), "%s%s", r->root, path) >= sizeof(fn))
		return -ENAMETOOLONG;
	if (stat(fn, &st) < 0)
		return -errno;
	*ret_id = (uint64_t)st.st_ino;
	return 0;
}

static void closedirp_(DIR **d)
{
	if (*d)
		(void)closedir(*d);
}

struct walk_state {
	struct cgroup_resolver *r;
	uint64_t want;
	char found[CGROUP_PATH_MAX + 1];
	bool have;
	char path[CGROUP_PATH_MAX + 1];
};

static void walk(struct walk_state *w, int dfd, size_t plen, unsigned depth)
{
	_cleanup_(closedirp_) DIR *d = NULL;
	struct dirent *de;

	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		struct stat st;
		size_t nl;
		int cfd;

		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		nl = strlen(de->d_name);
		if (plen + 1 + nl > CGROUP_PATH_MAX)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		w->path[plen] = '/';
		memcpy(w->path + plen + 1, de->d_name, nl + 1);
		if ((uint64_t)st.st_ino == w->want) {
			memcpy(w->found, w->path, plen + nl + 2);
			w->have = true;
		} else
			cache_put(w->r, st.st_ino, w->path);
		if (depth < RESCAN_MAX_DEPTH) {
			cfd = openat(dirfd(d), de->d_name,
				     O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (cfd >= 0)
				walk(w, cfd, plen + 1 + nl, depth + 1);
		}
		w->path[plen] = 0;
	}
}

static int rescan(struct cgroup_resolver *r, uint64_t id, struct cg_entry **ret)
{
	struct walk_state *w;
	struct stat st;
	int fd;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->r = r;
	w->want = id;
	fd = open(r->root[0] ? r->root : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		free(w);
		return -errno;
	}
	r->rescans++;
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_ino == id) {
		strcpy(w->found, "/");
		w->have = true;
	}
	walk(w, fd, 0, 0);
	/* Insert the wanted one last so the LRU bound cannot push it out. */
	*ret = w->have ? cache_put(r, id, w->found) : NULL;
	free(w);
	return *ret ? 0 : -ENOENT;
}

int cgroup_resolver_lookup_info(struct cgroup_resolver *r, uint64_t id, uint32_t pid_hint,
				const char **ret_path, const struct cgroup_info **ret_info)
{
	struct cg_entry *e;
	uint64_t now;
	int k;

	if (!r)
		return -EINVAL;
	e = cache_find(r, id);
	if (e) {
		lru_unlink(r, e);
		lru_push_front(r, e);
		goto found;
	}

	if (pid_hint > 0) {
		char path[CGROUP_PATH_MAX + 1];
		uint64_t got;

		if (cgroup_read_pid_path(r->proc_root, pid_hint, path, sizeof(path)) >= 0 &&
		    cgroup_resolver_path_to_id(r, path, &got) >= 0 && got == id) {
			e = cache_put(r, id, path);
			if (!e)
				return -ENOMEM;
			goto found;
		}
	}

	now = now_monotonic_usec();
	if (r->rescans > 0 && now - r->last_rescan_usec < RESCAN_INTERVAL_USEC)
		return -ENOENT;
	r->last_rescan_usec = now;
	k = rescan(r, id, &e);
	if (k < 0)
		return k;
found:
	if (ret_path)
		*ret_path = e->path;
	if (ret_info)
		*ret_info = &e->info;
	return 0;
}

int cgroup_resolver_lookup(struct cgroup_resolver *r, uint64_t id, uint32_t pid_hint,
			   const char **ret_path)
{
	return cgroup_resolver_lookup_info(r, id, pid_hint, ret_path, NULL);
}
