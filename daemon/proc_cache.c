/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc_cache.h"
#include "util/fmt.h"
#include "util/macro.h"

#define EXEC_ID_MAX	  256 /* base64 of "<node≤64>:<8>:<20>:<10>:<20>" is < 180 */
#define NODE_NAME_MAX	  64
#define PARENT_MISS_SLOTS 64 /* power of two */

struct proc_list {
	struct proc_entry *head, *tail;
};

struct proc_cache {
	struct proc_entry **buckets;
	size_t n_buckets; /* power of two */
	size_t n;
	size_t max_entries;
	uint64_t grace_usec;
	uint64_t evictions;
	size_t bytes;
	uint32_t args_max;
	struct proc_list live;	 /* LRU: head = most recently used */
	struct proc_list exited; /* FIFO: head = exited first */
	struct cgroup_resolver *resolver;
	char *proc_root;
	char node_name[NODE_NAME_MAX + 1];
	char boot_id[9];
	/* exec_id: base64 of the constant "<node>:<boot id>:" up to a multiple of 3 bytes, and
	 * the 0-2 bytes after that (cache_exec_id()) */
	char id_b64[(NODE_NAME_MAX + 10) / 3 * 4 + 4];
	char id_tail[3];
	uint8_t id_b64_len, id_tail_len;
	/*
	 * Parents that are neither cached nor in /proc, so that the children of one exited parent
	 * do not each pay for opening /proc/<ppid>. A process that is gone never comes back under
	 * the same (pid, start time), and find() is always asked first.
	 */
	struct {
		uint32_t pid;
		bool valid;
		uint64_t ticks;
	} parent_miss[PARENT_MISS_SLOTS];
};

/* What an entry is built from; strings need not be NUL-terminated. */
struct entry_src {
	struct proc_entry f; /* numeric fields and cg */
	const char *parent_exec_id;
	size_t parent_exec_id_len;
	const char *binary, *cwd, *cgroup, *args;
	size_t binary_len, cwd_len, cgroup_len, args_len;
};

/* ---- exec_id ---- */

static size_t base64url(const uint8_t *in, size_t n, char *out)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = tbl[v >> 18];
		out[o++] = tbl[(v >> 12) & 63];
		out[o++] = tbl[(v >> 6) & 63];
		out[o++] = tbl[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = tbl[v >> 18];
		out[o++] = tbl[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = tbl[v >> 18];
		out[o++] = tbl[(v >> 12) & 63];
		out[o++] = tbl[(v >> 6) & 63];
	}
	out[o] = 0;
	return o;
}

int proc_exec_id(const char *node_name, const char *boot_id8, uint64_t start_ticks, uint32_t pid,
		 uint64_t exe_ino, char *buf, size_t bufsize)
{
	/* "%.*s:%s:%llu:%u:%llu" by hand: snprintf() was most of the cost of an exec event. */
	char raw[NODE_NAME_MAX + 80], *w = raw;
	size_t nl = strnlen(node_name, NODE_NAME_MAX), bl = strlen(boot_id8), n;

	/* node, boot id, 4 colons and at most 20 + 10 + 20 digits must fit */
	if (nl + bl + 4 + 50 >= sizeof(raw))
		return -ENAMETOOLONG;
	memcpy(w, node_name, nl);
	w += nl;
	*w++ = ':';
	memcpy(w, boot_id8, bl);
	w += bl;
	*w++ = ':';
	w = fmt_put_u64(w, start_ticks);
	*w++ = ':';
	w = fmt_put_u64(w, pid);
	*w++ = ':';
	w = fmt_put_u64(w, exe_ino);
	n = (size_t)(w - raw);
	if (bufsize < (n + 2) / 3 * 4 + 1)
		return -ENOBUFS;
	return (int)base64url((const uint8_t *)raw, n, buf);
}

/*
 * proc_exec_id() for this cache's node and boot id. "<node>:<boot id>:" is the same for every
 * process: its base64 up to the last whole 3-byte group is computed once (base64 of a
 * concatenation at a multiple of 3 bytes is the concatenation of the two encodings).
 */
static void exec_id_prefix_init(struct proc_cache *c)
{
	char raw[NODE_NAME_MAX + 16];
	size_t nl = strnlen(c->node_name, NODE_NAME_MAX), bl = strlen(c->boot_id), n, q;

	memcpy(raw, c->node_name, nl);
	raw[nl] = ':';
	memcpy(raw + nl + 1, c->boot_id, bl);
	raw[nl + 1 + bl] = ':';
	n = nl + bl + 2;
	q = n / 3 * 3;
	c->id_b64_len = (uint8_t)base64url((const uint8_t *)raw, q, c->id_b64);
	c->id_tail_len = (uint8_t)(n - q);
	memcpy(c->id_tail, raw + q, n - q);
}

static int cache_exec_id(const struct proc_cache *c, uint64_t start_ticks, uint32_t pid,
			 uint64_t exe_ino, char *buf, size_t bufsize)
{
	char raw[2 + 20 + 1 + 10 + 1 + 20], *w = raw;
	size_t n;

	memcpy(w, c->id_tail, c->id_tail_len);
	w += c->id_tail_len;
	w = fmt_put_u64(w, start_ticks);
	*w++ = ':';
	w = fmt_put_u64(w, pid);
	*w++ = ':';
	w = fmt_put_u64(w, exe_ino);
	n = (size_t)(w - raw);
	if (bufsize < c->id_b64_len + (n + 2) / 3 * 4 + 1)
		return -ENOBUFS;
	memcpy(buf, c->id_b64, c->id_b64_len);
	return (int)(c->id_b64_len + base64url((const uint8_t *)raw, n, buf + c->id_b64_len));
}

/* ---- lists and table ---- */

static void list_unlink(struct proc_list *l, struct proc_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
}

static void list_push_front(struct proc_list *l, struct proc_entry *e)
{
	e->prev = NULL;
	e->next = l->head;
	if (l->head)
		l->head->prev = e;
	l->head = e;
	if (!l->tail)
		l->tail = e;
}

static void list_push_back(struct proc_list *l, struct proc_entry *e)
{
	e->next = NULL;
	e->prev = l->tail;
	if (l->tail)
		l->tail->next = e;
	l->tail = e;
	if (!l->head)
		l->head = e;
}

static size_t bucket_of(const struct proc_cache *c, uint32_t pid)
{
	return (size_t)((pid * 0x9E3779B1u) >> 7) & (c->n_buckets - 1);
}

static size_t entry_size(const struct proc_entry *e)
{
	return sizeof(*e) + e->exec_id_len + e->parent_exec_id_len + e->binary_len + e->cwd_len +
	       e->cgroup_len + e->args_len + 6;
}

static void entry_remove(struct proc_cache *c, struct proc_entry *e)
{
	struct proc_entry **pp = &c->buckets[bucket_of(c, e->pid)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	list_unlink(e->exited ? &c->exited : &c->live, e);
	c->n--;
	c->bytes -= entry_size(e) + e->memo_bytes;
	free(e->memo);
	free(e);
}

static struct proc_entry *find(struct proc_cache *c, uint32_t pid, uint64_t ticks)
{
	for (struct proc_entry *e = c->buckets[bucket_of(c, pid)]; e; e = e->hnext)
		if (e->pid == pid && e->start_ticks == ticks)
			return e;
	return NULL;
}

static void touch(struct proc_cache *c, struct proc_entry *e)
{
	if (!e->exited && c->live.head != e) {
		list_unlink(&c->live, e);
		list_push_front(&c->live, e);
	}
}

static void evict_one(struct proc_cache *c)
{
	struct proc_entry *victim = c->exited.head ?: c->live.tail;

	if (!victim)
		return;
	entry_remove(c, victim);
	c->evictions++;
}

static char *put(char **p, const char *s, size_t len, uint16_t *ret_len16, uint32_t *ret_len32)
{
	char *start = *p;

	if (len)
		memcpy(start, s, len);
	start[len] = 0;
	*p += len + 1;
	if (ret_len16)
		*ret_len16 = (uint16_t)len;
	if (ret_len32)
		*ret_len32 = (uint32_t)len;
	return start;
}

/* Build and insert an entry, replacing one with the same key. */
static struct proc_entry *entry_insert(struct proc_cache *c, const struct entry_src *s)
{
	char exec_id[EXEC_ID_MAX];
	struct proc_entry *e, *old;
	size_t sz;
	char *p;
	int n;

	n = cache_exec_id(c, s->f.start_ticks, s->f.pid, s->f.exe_ino, exec_id, sizeof(exec_id));
	if (n < 0)
		return NULL;

	sz = sizeof(*e) + (size_t)n + s->parent_exec_id_len + s->binary_len + s->cwd_len +
	     s->cgroup_len + s->args_len + 6;
	e = malloc(sz);
	if (!e)
		return NULL;
	*e = s->f;
	e->hnext = e->prev = e->next = NULL;
	e->exited = false;
	e->memo = NULL;
	e->memo_bytes = 0;
	p = e->data;
	e->exec_id = put(&p, exec_id, (size_t)n, &e->exec_id_len, NULL);
	e->parent_exec_id =
		put(&p, s->parent_exec_id, s->parent_exec_id_len, &e->parent_exec_id_len, NULL);
	e->binary = put(&p, s->binary, s->binary_len, &e->binary_len, NULL);
	e->cwd = put(&p, s->cwd, s->cwd_len, &e->cwd_len, NULL);
	e->cgroup = put(&p, s->cgroup, s->cgroup_len, &e->cgroup_len, NULL);
	e->args = put(&p, s->args, s->args_len, NULL, &e->args_len);

	old = find(c, e->pid, e->start_ticks);
	if (old)
		entry_remove(c, old);
	while (c->n >= c->max_entries)
		evict_one(c);
	e->hnext = c->buckets[bucket_of(c, e->pid)];
	c->buckets[bucket_of(c, e->pid)] = e;
	list_push_front(&c->live, e);
	c->n++;
	c->bytes += entry_size(e);
	return e;
}

static uint32_t count_args(const char *a, size_t len)
{
	const char *p, *end, *z;
	uint32_t n = 0;

	if (len == 0)
		return 0;
	p = a;
	end = a + len;
	while (p < end && (z = memchr(p, 0, (size_t)(end - p)))) {
		n++;
		p = z + 1;
	}
	if (a[len - 1] != 0)
		n++; /* cut in the middle of the last argument */
	return n;
}

/*
 * Fill the cgroup part of s from the resolver. The resolver's path stays valid until its next
 * lookup, and entry_insert() copies it before that.
 */
static void resolve_cgroup(struct proc_cache *c, struct entry_src *s, uint64_t id, uint32_t pid)
{
	const struct cgroup_info *info;
	const char *path;

	s->f.cgroup_id = id;
	if (!c->resolver || id == 0)
		return;
	if (cgroup_resolver_lookup_info(c->resolver, id, pid, &path, &info) < 0) {
		s->cgroup = NULL;
		s->cgroup_len = 0;
		s->f.cg = (struct cgroup_info){};
		return;
	}
	s->cgroup = path;
	s->cgroup_len = strlen(path);
	s->f.cg = *info;
}

/* ---- /proc ---- */

static ssize_t read_at(int dfd, const char *name, char *buf, size_t size)
{
	_cleanup_close_ int fd = -1;
	size_t got = 0;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < size) {
		ssize_t k = read(fd, buf + got, size - got);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

/* stat field 4 (ppid) and 22 (starttime). */
static int parse_stat(const char *buf, uint32_t *ret_ppid, uint64_t *ret_ticks)
{
	const char *p = strrchr(buf, ')');
	unsigned long long v[20];
	int n;

	if (!p)
		return -EBADMSG;
	/* fields 3..22 after ") " */
	n = sscanf(p + 2,
		   "%*c %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu "
		   "%llu %llu %llu %llu",
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11],
		   &v[12], &v[13], &v[14], &v[15], &v[16], &v[17], &v[18], &v[19]);
	if (n != 19)
		return -EBADMSG;
	*ret_ppid = (uint32_t)v[1];
	*ret_ticks = v[19];
	return 0;
}

static int pid_stat(int dfd, uint32_t *ret_ppid, uint64_t *ret_ticks)
{
	char buf[1024];
	ssize_t n = read_at(dfd, "stat", buf, sizeof(buf) - 1);

	if (n < 0)
		return (int)n;
	buf[n] = 0;
	return parse_stat(buf, ret_ppid, ret_ticks);
}

static int open_pid_dir(struct proc_cache *c, uint32_t pid)
{
	char fn[PATH_MAX];

	snprintf(fn, sizeof(fn), "%s/%" PRIu32, c->proc_root, pid);
	return open(fn, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static uint64_t exe_inode(int dfd)
{
	struct stat st;

	return fstatat(dfd, "exe", &st, 0) == 0 ? (uint64_t)st.st_ino : 0;
}

static void status_ids(const char *status, const char *key, uint32_t *a, uint32_t *b)
{
	const char *p = strstr(status, key);
	unsigned x, y;

	if (p && sscanf(p + strlen(key), " %u %u", &x, &y) == 2) {
		*a = x;
		*b = y;
	}
}

/* Read /proc/<pid> into a new entry. Returns NULL if the process is gone or unreadable. */
static struct proc_entry *read_pid(struct proc_cache *c, uint32_t pid)
{
	_cleanup_close_ int dfd = -1, pdfd = -1;
	static char args[VIGIL_ARGS_MAX + 1];
	char binary[PATH_MAX], cwd[PATH_MAX], status[4096], buf[64], pexec[EXEC_ID_MAX];
	char cgpath[CGROUP_PATH_MAX + 1];
	struct entry_src s = {};
	struct proc_entry *parent;
	ssize_t n;
	int k;

	dfd = open_pid_dir(c, pid);
	if (dfd < 0)
		return NULL;
	s.f.pid = pid;
	s.f.flags = PROC_F_PROCFS;
	s.f.auid = UINT32_MAX;
	if (pid_stat(dfd, &s.f.ppid, &s.f.start_ticks) < 0)
		return NULL;
	s.f.start_boottime = s.f.start_ticks * clock_tick_ns();

	n = read_at(dfd, "status", status, sizeof(status) - 1);
	if (n > 0) {
		status[n] = 0;
		status_ids(status, "\nUid:", &s.f.uid, &s.f.euid);
		status_ids(status, "\nGid:", &s.f.gid, &s.f.egid);
	}
	n = read_at(dfd, "loginuid", buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = 0;
		s.f.auid = (uint32_t)strtoul(buf, NULL, 10);
	}

	n = readlinkat(dfd, "exe", binary, sizeof(binary));
	if (n >= 0 && (size_t)n < sizeof(binary)) {
		s.binary = binary;
		s.binary_len = (size_t)n;
		s.f.exe_ino = exe_inode(dfd);
	} else if (errno != ENOENT)
		s.f.flags |= PROC_F_ERROR_BINARY; /* ENOENT: kernel thread, no image */
	n = readlinkat(dfd, "cwd", cwd, sizeof(cwd));
	if (n >= 0 && (size_t)n < sizeof(cwd)) {
		s.cwd = cwd;
		s.cwd_len = (size_t)n;
	} else if (errno != ENOENT)
		s.f.flags |= PROC_F_ERROR_CWD;

	/* One byte more than the limit tells us whether it was cut. */
	n = read_at(dfd, "cmdline", args, (size_t)c->args_max + 1);
	if (n < 0)
		s.f.flags |= PROC_F_ERROR_ARGS;
	else {
		if ((size_t)n > c->args_max) {
			n = c->args_max;
			s.f.argv_truncated = true;
			s.f.flags |= PROC_F_TRUNC_ARGS;
		}
		s.args = args;
		s.args_len = (size_t)n;
		s.f.argc = count_args(args, (size_t)n);
	}

	if (cgroup_read_pid_path(c->proc_root, pid, cgpath, sizeof(cgpath)) >= 0) {
		s.cgroup = cgpath;
		s.cgroup_len = strlen(cgpath);
		if (cgroup_parse_path(cgpath, &s.f.cg) < 0)
			s.f.cg = (struct cgroup_info){};
		if (c->resolver)
			(void)cgroup_resolver_path_to_id(c->resolver, cgpath, &s.f.cgroup_id);
	}

	/* Parent identity: from the cache, else straight from /proc (same exec_id formula). */
	if (s.f.ppid > 0) {
		uint32_t pp;
		uint64_t pticks;

		pdfd = open_pid_dir(c, s.f.ppid);
		if (pdfd >= 0 && pid_stat(pdfd, &pp, &pticks) >= 0) {
			s.f.parent_start_ticks = pticks;
			parent = find(c, s.f.ppid, pticks);
			if (parent) {
				s.parent_exec_id = parent->exec_id;
				s.parent_exec_id_len = parent->exec_id_len;
			} else {
				k = cache_exec_id(c, pticks, s.f.ppid, exe_inode(pdfd), pexec,
						  sizeof(pexec));
				if (k > 0) {
					s.parent_exec_id = pexec;
					s.parent_exec_id_len = (size_t)k;
				}
			}
		}
	}
	/* parent_exec_id may point into a cache entry: copy it before inserting evicts it. */
	if (s.parent_exec_id && s.parent_exec_id != pexec) {
		memcpy(pexec, s.parent_exec_id, s.parent_exec_id_len);
		s.parent_exec_id = pexec;
	}
	return entry_insert(c, &s);
}

static struct proc_entry *scan_pid(struct proc_cache *c, uint32_t pid, bool *ret_new)
{
	_cleanup_close_ int dfd = -1;
	uint32_t ppid;
	uint64_t ticks;
	struct proc_entry *e;

	*ret_new = false;
	dfd = open_pid_dir(c, pid);
	if (dfd < 0 || pid_stat(dfd, &ppid, &ticks) < 0)
		return NULL;
	e = find(c, pid, ticks);
	if (e)
		return e;
	e = read_pid(c, pid);
	*ret_new = e != NULL;
	return e;
}

const struct proc_entry *proc_cache_scan_pid(struct proc_cache *c, uint32_t pid)
{
	bool added;

	return scan_pid(c, pid, &added);
}

int proc_cache_scan(struct proc_cache *c)
{
	DIR *d;
	struct dirent *de;
	int n_added = 0;

	d = opendir(c->proc_root);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid;
		bool added;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtoul(de->d_name, &end, 10);
		if (*end || pid == 0 || pid > UINT32_MAX)
			continue;
		if (scan_pid(c, (uint32_t)pid, &added) && added)
			n_added++;
	}
	closedir(d);
	return n_added;
}

/* ---- events ---- */

/* The parent's entry, read from /proc when not cached and still the same process. */
static struct proc_entry *find_parent(struct proc_cache *c, uint32_t ppid, uint64_t ticks)
{
	const struct proc_entry *e;
	size_t slot = ppid & (PARENT_MISS_SLOTS - 1);

	if (ppid == 0)
		return NULL;
	e = find(c, ppid, ticks);
	if (e)
		return (struct proc_entry *)e;
	if (c->parent_miss[slot].valid && c->parent_miss[slot].pid == ppid &&
	    c->parent_miss[slot].ticks == ticks)
		return NULL;
	e = proc_cache_scan_pid(c, ppid);
	if (e && e->start_ticks == ticks)
		return (struct proc_entry *)e;
	c->parent_miss[slot].pid = ppid;
	c->parent_miss[slot].ticks = ticks;
	c->parent_miss[slot].valid = true;
	return NULL;
}

static uint32_t exec_flags(uint32_t k)
{
	uint32_t f = PROC_F_EXECVE;

	if (k & VIGIL_EXEC_F_TRUNC_ARGS)
		f |= PROC_F_TRUNC_ARGS;
	if (k & VIGIL_EXEC_F_TRUNC_BINARY)
		f |= PROC_F_TRUNC_BINARY;
	if (k & VIGIL_EXEC_F_TRUNC_CWD)
		f |= PROC_F_TRUNC_CWD;
	if (k & VIGIL_EXEC_F_ERROR_ARGS)
		f |= PROC_F_ERROR_ARGS;
	if (k & VIGIL_EXEC_F_ERROR_BINARY)
		f |= PROC_F_ERROR_BINARY;
	if (k & VIGIL_EXEC_F_ERROR_CWD)
		f |= PROC_F_ERROR_CWD;
	if (k & VIGIL_EXEC_F_DELETED_BINARY)
		f |= PROC_F_DELETED_BINARY;
	if (k & VIGIL_EXEC_F_DELETED_CWD)
		f |= PROC_F_DELETED_CWD;
	if (k & VIGIL_EXEC_F_DETACHED_BINARY)
		f |= PROC_F_DETACHED_BINARY;
	if (k & VIGIL_EXEC_F_DETACHED_CWD)
		f |= PROC_F_DETACHED_CWD;
	return f;
}

static void set_creds(struct proc_entry *f, const struct vigil_creds *cr)
{
	f->uid = cr->uid;
	f->euid = cr->euid;
	f->gid = cr->gid;
	f->egid = cr->egid;
	f->auid = cr->auid;
}

const struct proc_entry *proc_cache_on_exec(struct proc_cache *c, const struct event_exec *x)
{
	const struct vigil_exec_event *ev = x->ev;
	char pexec[EXEC_ID_MAX];
	struct entry_src s = {};
	struct proc_entry *parent, *old;

	s.f.pid = ev->hdr.tgid;
	s.f.start_boottime = ev->start_boottime;
	s.f.start_ticks = boottime_to_ticks(ev->start_boottime);
	s.f.ppid = ev->ppid;
	s.f.parent_start_ticks = boottime_to_ticks(ev->parent_start_boottime);
	s.f.exe_ino = ev->exe_ino;
	s.f.flags = exec_flags(ev->flags);
	s.f.argv_truncated = ev->flags & VIGIL_EXEC_F_TRUNC_ARGS;
	set_creds(&s.f, &ev->creds);
	s.binary = x->binary;
	s.binary_len = MIN(x->binary_len, (size_t)UINT16_MAX);
	s.cwd = x->cwd;
	s.cwd_len = MIN(x->cwd_len, (size_t)UINT16_MAX);
	s.args = x->args;
	s.args_len = x->args_len;
	s.f.argc = count_args(x->args, x->args_len);

	parent = find_parent(c, s.f.ppid, s.f.parent_start_ticks);
	if (parent) {
		memcpy(pexec, parent->exec_id, parent->exec_id_len);
		s.parent_exec_id = pexec;
		s.parent_exec_id_len = parent->exec_id_len;
	} else {
		old = find(c, s.f.pid, s.f.start_ticks);
		if (old && old->parent_exec_id_len) {
			memcpy(pexec, old->parent_exec_id, old->parent_exec_id_len);
			s.parent_exec_id = pexec;
			s.parent_exec_id_len = old->parent_exec_id_len;
		} else if (s.f.ppid != 0)
			s.f.flags |= PROC_F_MISS;
	}
	resolve_cgroup(c, &s, ev->hdr.cgroup_id, s.f.pid);
	return entry_insert(c, &s);
}

const struct proc_entry *proc_cache_on_clone(struct proc_cache *c,
					     const struct vigil_clone_event *ev)
{
	static char args[VIGIL_ARGS_MAX + 1];
	char pexec[EXEC_ID_MAX], binary[PATH_MAX], cwd[PATH_MAX], cgpath[CGROUP_PATH_MAX + 1];
	struct entry_src s = {};
	struct proc_entry *parent;

	s.f.pid = ev->hdr.tgid;
	s.f.start_boottime = ev->start_boottime;
	s.f.start_ticks = boottime_to_ticks(ev->start_boottime);
	s.f.ppid = ev->ppid;
	s.f.parent_start_ticks = boottime_to_ticks(ev->parent_start_boottime);
	s.f.flags = PROC_F_CLONE;
	set_creds(&s.f, &ev->creds);

	parent = find_parent(c, s.f.ppid, s.f.parent_start_ticks);
	if (parent) {
		/* Copy: inserting may evict the parent. */
		memcpy(pexec, parent->exec_id, parent->exec_id_len);
		s.parent_exec_id = pexec;
		s.parent_exec_id_len = parent->exec_id_len;
		memcpy(binary, parent->binary, MIN((size_t)parent->binary_len, sizeof(binary)));
		s.binary = binary;
		s.binary_len = MIN((size_t)parent->binary_len, sizeof(binary));
		memcpy(cwd, parent->cwd, MIN((size_t)parent->cwd_len, sizeof(cwd)));
		s.cwd = cwd;
		s.cwd_len = MIN((size_t)parent->cwd_len, sizeof(cwd));
		s.args_len = MIN((size_t)parent->args_len, (size_t)VIGIL_ARGS_MAX);
		memcpy(args, parent->args, s.args_len);
		s.args = args;
		s.f.argc = parent->argc;
		s.f.argv_truncated = parent->argv_truncated;
		s.f.exe_ino = parent->exe_ino;
		s.f.flags |= parent->flags &
			     (PROC_F_TRUNC_ARGS | PROC_F_TRUNC_BINARY | PROC_F_TRUNC_CWD |
			      PROC_F_DELETED_BINARY | PROC_F_DELETED_CWD | PROC_F_DETACHED_BINARY |
			      PROC_F_DETACHED_CWD);
		/* The child starts in its parent's cgroup unless the event says otherwise. */
		memcpy(cgpath, parent->cgroup, parent->cgroup_len);
		s.cgroup = cgpath;
		s.cgroup_len = parent->cgroup_len;
		s.f.cg = parent->cg;
		s.f.cgroup_id = parent->cgroup_id;
	} else
		s.f.flags |= PROC_F_MISS;
	if (ev->hdr.cgroup_id && ev->hdr.cgroup_id != s.f.cgroup_id)
		resolve_cgroup(c, &s, ev->hdr.cgroup_id, s.f.pid);
	return entry_insert(c, &s);
}

const struct proc_entry *proc_cache_on_exit(struct proc_cache *c, const struct vigil_exit_event *ev)
{
	uint32_t pid = ev->hdr.tgid;
	uint64_t ticks = boottime_to_ticks(ev->start_boottime);
	struct proc_entry *e = find(c, pid, ticks);

	if (!e) {
		const struct proc_entry *r = proc_cache_scan_pid(c, pid);

		e = (r && r->start_ticks == ticks) ? (struct proc_entry *)r : NULL;
	}
	if (!e) {
		struct entry_src s = {};

		s.f.pid = pid;
		s.f.start_ticks = ticks;
		s.f.start_boottime = ev->start_boottime;
		s.f.ppid = ev->ppid;
		s.f.auid = UINT32_MAX;
		s.f.flags = PROC_F_MISS;
		resolve_cgroup(c, &s, ev->hdr.cgroup_id, pid);
		e = entry_insert(c, &s);
		if (!e)
			return NULL;
	}
	if (!e->exited) {
		list_unlink(&c->live, e);
		e->exited = true;
		list_push_back(&c->exited, e);
	}
	e->exit_code = ev->exit_code;
	e->exit_usec = ev->hdr.ts_ns / NSEC_PER_USEC;
	return e;
}

const struct proc_entry *proc_cache_lookup(struct proc_cache *c, uint32_t pid,
					   uint64_t start_boottime)
{
	struct proc_entry *best = NULL;

	if (start_boottime) {
		best = find(c, pid, boottime_to_ticks(start_boottime));
	} else {
		for (struct proc_entry *e = c->buckets[bucket_of(c, pid)]; e; e = e->hnext) {
			if (e->pid != pid)
				continue;
			if (!best || (best->exited && !e->exited) ||
			    (best->exited == e->exited && e->start_ticks > best->start_ticks))
				best = e;
		}
	}
	if (best)
		touch(c, best);
	return best;
}

const struct proc_entry *proc_cache_parent(struct proc_cache *c, const struct proc_entry *e)
{
	struct proc_entry *p;

	if (!e || e->ppid == 0)
		return NULL;
	p = find(c, e->ppid, e->parent_start_ticks);
	if (p)
		touch(c, p);
	return p;
}

void proc_cache_expire(struct proc_cache *c, uint64_t now_usec)
{
	while (c->exited.head && c->exited.head->exit_usec + c->grace_usec <= now_usec)
		entry_remove(c, c->exited.head);
}

void proc_cache_set_memo(struct proc_cache *c, const struct proc_entry *e, struct proc_memo *memo,
			 size_t bytes)
{
	/* Entries are allocated by the cache, never defined const: the cast is sound. */
	struct proc_entry *m = (struct proc_entry *)e;

	c->bytes -= m->memo_bytes;
	free(m->memo);
	m->memo = memo;
	m->memo_bytes = memo ? (uint32_t)bytes : 0;
	c->bytes += m->memo_bytes;
}

size_t proc_cache_size(struct proc_cache *c)
{
	return c ? c->n : 0;
}

uint64_t proc_cache_evictions(struct proc_cache *c)
{
	return c ? c->evictions : 0;
}

size_t proc_cache_bytes(struct proc_cache *c)
{
	return c ? c->bytes + c->n_buckets * sizeof(*c->buckets) : 0;
}

/* ---- lifecycle ---- */

static int read_boot_id(const char *proc_root, char out[static 9])
{
	char fn[PATH_MAX], buf[64];
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(fn, sizeof(fn), "%s/sys/kernel/random/boot_id", proc_root);
	fd = open(fn, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && !streq(proc_root, "/proc"))
		fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 8)
		return n < 0 ? -errno : -EBADMSG;
	memcpy(out, buf, 8);
	out[8] = 0;
	return 0;
}

int proc_cache_new(const struct proc_cache_options *o, struct proc_cache **ret)
{
	struct proc_cache *c;
	size_t nb = 64;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->max_entries = o && o->max_entries ? o->max_entries : 65536;
	c->grace_usec = o && o->grace_usec ? o->grace_usec : 30 * USEC_PER_SEC;
	c->args_max = o && o->args_max ? MIN(o->args_max, (uint32_t)VIGIL_ARGS_MAX) : 16384;
	c->resolver = o ? o->resolver : NULL;
	c->proc_root = strdup(o && o->proc_root ? o->proc_root : "/proc");
	if (!c->proc_root) {
		proc_cache_free(c);
		return -ENOMEM;
	}
	if (o && o->node_name)
		snprintf(c->node_name, sizeof(c->node_name), "%s", o->node_name);
	else if (gethostname(c->node_name, sizeof(c->node_name) - 1) < 0)
		snprintf(c->node_name, sizeof(c->node_name), "localhost");
	if (o && o->boot_id)
		snprintf(c->boot_id, sizeof(c->boot_id), "%s", o->boot_id);
	else {
		r = read_boot_id(c->proc_root, c->boot_id);
		if (r < 0) {
			proc_cache_free(c);
			return r;
		}
	}
	exec_id_prefix_init(c);
	while (nb < c->max_entries && nb < (1u << 22))
		nb <<= 1;
	c->n_buckets = nb;
	c->buckets = calloc(nb, sizeof(*c->buckets));
	if (!c->buckets) {
		proc_cache_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

struct proc_cache *proc_cache_free(struct proc_cache *c)
{
	if (!c)
		return NULL;
	while (c->live.head)
		entry_remove(c, c->live.head);
	while (c->exited.head)
		entry_remove(c, c->exited.head);
	free(c->buckets);
	free(c->proc_root);
	free(c);
	return NULL;
}

int proc_cache_foreach_live(struct proc_cache *c,
			    int (*fn)(struct proc_cache *c, const struct proc_entry *e,
				      void *userdata),
			    void *userdata)
{
	for (struct proc_entry *e = c->live.head; e; e = e->next) {
		int r = fn(c, e, userdata);

		if (r != 0)
			return r;
	}
	return 0;
}
