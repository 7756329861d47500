/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Root-only test of the in-kernel TracingPolicy engine (bpf/policy.bpf.c, bpf/policy_eval.bpf.h):
 * loads the real skeleton, writes hooks and value sets into the policy maps by hand (what
 * daemon/policy_engine.c does from compiled policies), attaches only the two policy programs to
 * syscalls tracepoints with a one-hook group (bpf/policy.h) as cookie, triggers the syscalls and
 * checks the exact struct vigil_policy_event samples.
 *
 * Record offsets of syscalls/sys_enter_* (tracefs format): 8-byte common header, int nr, then
 * one 8-byte field per argument from offset 16.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpf/events.h"
#include "bpf/policy.h"
#include "bpf/vigil.skel.h"
#include "tap.h"

#define MAX_EVENTS 256
#define ARG(i)	   (16 + 8 * (i))

struct ev {
	struct vigil_policy_event *e;
	size_t size;
};

static struct vigil_bpf *skel;
static struct ring_buffer *rb;
static struct ev events[MAX_EVENTS];
static size_t n_events;
static pid_t children[16];
static size_t n_children;
static char tmpdir[64];
static struct bpf_link *links[4];
static size_t n_links;
static uint32_t next_hook_id = 100;
static uint64_t my_start; /* our start_boottime, learnt from the first event */

static bool is_ours(uint32_t tgid)
{
	if (tgid == (uint32_t)getpid())
		return true;
	for (size_t i = 0; i < n_children; i++)
		if ((uint32_t)children[i] == tgid)
			return true;
	return false;
}

static int on_sample(void *ctx, void *data, size_t size)
{
	const struct vigil_policy_event *e = data;

	(void)ctx;
	if (size < sizeof(*e) || e->hdr.type != VIGIL_EV_POLICY || !is_ours(e->hdr.tgid))
		return 0;
	if (n_events >= MAX_EVENTS)
		return 0;
	events[n_events].e = malloc(size);
	if (!events[n_events].e)
		return -ENOMEM;
	memcpy(events[n_events].e, data, size);
	events[n_events].size = size;
	n_events++;
	return 0;
}

static void events_reset(void)
{
	(void)ring_buffer__consume(rb);
	for (size_t i = 0; i < n_events; i++)
		free(events[i].e);
	n_events = 0;
}

/* Events of hook `id` collected so far. */
static size_t events_of(uint32_t id, struct ev **ret, size_t max)
{
	size_t n = 0;

	(void)ring_buffer__consume(rb);
	for (size_t i = 0; i < n_events && n < max; i++)
		if (events[i].e->hook_id == id)
			ret[n++] = &events[i];
	return n;
}

static const void *arg_data(const struct ev *ev, unsigned i)
{
	const struct vigil_pol_arg_desc *d =
		i == VIGIL_POL_RET_ARG ? &ev->e->ret_arg : &ev->e->args[i];

	if (sizeof(*ev->e) + d->off + d->len > ev->size)
		return NULL;
	return ev->e->data + d->off;
}

/* The string argument i as a C string (static buffer). */
static const char *arg_str(const struct ev *ev, unsigned i)
{
	static char buf[8192];
	const struct vigil_pol_arg_desc *d =
		i == VIGIL_POL_RET_ARG ? &ev->e->ret_arg : &ev->e->args[i];
	const void *p = arg_data(ev, i);

	if (!p)
		return "(out of bounds)";
	memcpy(buf, p, d->len);
	buf[d->len] = 0;
	return buf;
}

static int64_t arg_int(const struct ev *ev, unsigned i)
{
	int64_t v;
	const void *p = arg_data(ev, i);

	if (!p)
		return INT64_MIN;
	memcpy(&v, p, 8);
	return v;
}

/* ---- maps ---------------------------------------------------------------------------- */

static int str_set(uint32_t id, uint8_t kind, const char *const *values)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	struct vigil_pol_str_key k;
	uint8_t one = 1;
	int fd, r;

	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "test_str", sizeof(k), 1, 4096, &o);
	if (fd < 0)
		return -errno;
	for (; *values; values++) {
		size_t n = strlen(*values);

		memset(&k, 0, sizeof(k));
		if (kind == VIGIL_OP_POSTFIX)
			for (size_t i = 0; i < n; i++)
				k.data[i] = (*values)[n - 1 - i];
		else
			memcpy(k.data, *values, n);
		if (kind == VIGIL_OP_EQUAL)
			n++; /* the NUL */
		k.prefixlen = 8 * n;
		r = bpf_map_update_elem(fd, &k, &one, BPF_ANY);
		if (r < 0) {
			close(fd);
			return -errno;
		}
	}
	r = bpf_map_update_elem(bpf_map__fd(skel->maps.pol_str_sets), &id, &fd, BPF_ANY);
	close(fd);
	return r < 0 ? -errno : 0;
}

static int int_set(uint32_t id, uint64_t value)
{
	struct vigil_pol_int_key k = {.set_id = id, .value = value};
	uint8_t one = 1;

	return bpf_map_update_elem(bpf_map__fd(skel->maps.pol_int_sets), &k, &one, BPF_ANY) < 0
		       ? -errno
		       : 0;
}

static int addr_set(uint32_t id, const char *addr, unsigned bits)
{
	struct vigil_pol_addr_key k = {.set_id = id};
	struct in_addr a4;
	uint8_t one = 1;

	if (inet_pton(AF_INET, addr, &a4) == 1) {
		k.addr[10] = k.addr[11] = 0xff;
		memcpy(&k.addr[12], &a4, 4);
		bits += 96;
	} else if (inet_pton(AF_INET6, addr, k.addr) != 1) {
		return -EINVAL;
	}
	k.prefixlen = 32 + bits;
	return bpf_map_update_elem(bpf_map__fd(skel->maps.pol_addr_sets), &k, &one, BPF_ANY) < 0
		       ? -errno
		       : 0;
}

static uint64_t action_stat(uint32_t idx)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t vals[ncpus > 0 ? ncpus : 1], sum = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.pol_action_stats), &idx, vals) < 0)
		return 0;
	for (int i = 0; i < ncpus; i++)
		sum += vals[i];
	return sum;
}

/* Install hook h in slot and attach the programs to syscalls/sys_{enter,exit}_<sc>. */
static int hook_install(uint32_t slot, struct vigil_pol_hook *h, const char *sc)
{
	LIBBPF_OPTS(bpf_tracepoint_opts, o, .bpf_cookie = slot);
	char tp[128];
	struct bpf_link *l;

	struct vigil_pol_tp_group g = {.n = 1, .slots = {slot}};

	h->hook_id = next_hook_id++;
	h->flags |= VIGIL_HOOK_F_ACTIVE | VIGIL_HOOK_F_SYSCALL;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.pol_hooks), &slot, h, BPF_ANY) < 0)
		return -errno;
	/* one hook per tracepoint here: its group (the cookie) is numbered like its slot */
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.pol_tp_groups), &slot, &g, BPF_ANY) < 0)
		return -errno;
	snprintf(tp, sizeof(tp), "sys_enter_%s", sc);
	l = bpf_program__attach_tracepoint_opts(skel->progs.handle_policy_enter, "syscalls", tp,
						&o);
	if (!l)
		return -errno;
	links[n_links++] = l;
	if (h->flags & VIGIL_HOOK_F_RETURN) {
		snprintf(tp, sizeof(tp), "sys_exit_%s", sc);
		l = bpf_program__attach_tracepoint_opts(skel->progs.handle_policy_exit, "syscalls",
							tp, &o);
		if (!l)
			return -errno;
		links[n_links++] = l;
	}
	return 0;
}

static void hooks_remove(void)
{
	struct vigil_pol_hook h = {};

	while (n_links > 0)
		bpf_link__destroy(links[--n_links]);
	for (uint32_t slot = 0; slot < 4; slot++)
		(void)bpf_map_update_elem(bpf_map__fd(skel->maps.pol_hooks), &slot, &h, BPF_ANY);
	events_reset();
}

static struct vigil_pol_arg int_arg(unsigned i, unsigned width, bool is_signed)
{
	return (struct vigil_pol_arg){
		.offset = ARG(i),
		.width = 8,
		.type = VIGIL_ARG_INT,
		.flags = is_signed ? VIGIL_ARG_F_SIGNED : 0,
		.size_arg = VIGIL_POL_NO_ARG,
		.dirfd_arg = VIGIL_POL_NO_ARG,
		.int_width = width,
	};
}

static struct vigil_pol_arg ptr_arg(unsigned i, uint8_t type, unsigned size_arg, unsigned dirfd)
{
	return (struct vigil_pol_arg){
		.offset = ARG(i),
		.width = 8,
		.type = type,
		.flags = VIGIL_ARG_F_USER,
		.size_arg = size_arg,
		.dirfd_arg = dirfd,
		.max_len = 4096,
	};
}

/* Restrict selector s to this process with pid set `set`. */
static void only_me(struct vigil_pol_selector *s, uint32_t set)
{
	s->flags |= VIGIL_SEL_F_PID;
	s->pid_set = set;
	ASSERT_OK(int_set(set, getpid()));
}

static void touch(const char *path)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

	if (fd >= 0)
		close(fd);
}

static const struct ev *find_path(struct ev **evs, size_t n, unsigned arg, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(arg_str(evs[i], arg), path) == 0)
			return evs[i];
	return NULL;
}

/* ---- tests --------------------------------------------------------------------------- */

/* FILENAME (absolute, cwd-relative, dirfd-relative), INT, string operators. */
TEST(openat_filename_string_ops)
{
	struct vigil_pol_hook h = {.n_args = 3, .n_selectors = 3};
	char p[PATH_MAX + 64], prefix[PATH_MAX], eq[PATH_MAX], ne[PATH_MAX], np[PATH_MAX];
	const char *prefixes[] = {prefix, NULL};
	struct ev *evs[64];
	const struct ev *e;
	char cwd[PATH_MAX];
	size_t n;
	int dfd;

	snprintf(prefix, sizeof(prefix), "%s/", tmpdir);
	snprintf(eq, sizeof(eq), "%s/eq", tmpdir);
	snprintf(ne, sizeof(ne), "%s/ne", tmpdir);
	snprintf(np, sizeof(np), "%s/np", tmpdir);
	ASSERT_OK(str_set(1, VIGIL_OP_EQUAL, (const char *[]){eq, NULL}));
	ASSERT_OK(str_set(2, VIGIL_OP_PREFIX, prefixes));
	ASSERT_OK(str_set(3, VIGIL_OP_POSTFIX, (const char *[]){".post", NULL}));
	ASSERT_OK(str_set(4, VIGIL_OP_EQUAL, (const char *[]){ne, NULL}));
	ASSERT_OK(str_set(5, VIGIL_OP_PREFIX, (const char *[]){np, NULL}));

	h.args[0] = int_arg(0, 4, true);
	h.args[1] = ptr_arg(1, VIGIL_ARG_FILENAME, VIGIL_POL_NO_ARG, 0);
	h.args[2] = int_arg(2, 4, false);
	/* sel 0: Equal eq */
	h.sel[0].n_match = 1;
	h.sel[0].match[0] = (struct vigil_pol_match){.arg = 1, .op = VIGIL_OP_EQUAL, .set_id = 1};
	/* sel 1: Prefix tmpdir/ and Postfix .post */
	h.sel[1].n_match = 2;
	h.sel[1].match[0] = (struct vigil_pol_match){.arg = 1, .op = VIGIL_OP_PREFIX, .set_id = 2};
	h.sel[1].match[1] = (struct vigil_pol_match){.arg = 1, .op = VIGIL_OP_POSTFIX, .set_id = 3};
	/* sel 2: Prefix tmpdir/, NotPostfix .post, NotEqual ne, NotPrefix np */
	h.sel[2].n_match = 4;
	h.sel[2].match[0] = (struct vigil_pol_match){.arg = 1, .op = VIGIL_OP_PREFIX, .set_id = 2};
	h.sel[2].match[1] =
		(struct vigil_pol_match){.arg = 1, .op = VIGIL_OP_NOT_POSTFIX, .set_id = 3};
	h.sel[2].match[2] =
		(struct vigil_pol_match){.arg = 1, .op = VIGIL_OP_NOT_EQUAL, .set_id = 4};
	h.sel[2].match[3] =
		(struct vigil_pol_match){.arg = 1, .op = VIGIL_OP_NOT_PREFIX, .set_id = 5};
	ASSERT_OK(hook_install(0, &h, "openat"));

	touch(eq); /* sel 0 */
	snprintf(p, sizeof(p), "%s/x.post", tmpdir);
	touch(p); /* sel 1 */
	snprintf(p, sizeof(p), "%s/eqx", tmpdir);
	touch(p);  /* sel 2 */
	touch(ne); /* none */
	snprintf(p, sizeof(p), "%s/np-file", tmpdir);
	touch(p); /* none */
	ASSERT_NOT_NULL(getcwd(cwd, sizeof(cwd)));
	ASSERT_OK(chdir(tmpdir));
	touch("rel.post"); /* sel 1, via cwd */
	ASSERT_OK(chdir(cwd));
	snprintf(p, sizeof(p), "%s/sub", tmpdir);
	(void)mkdir(p, 0700);
	dfd = open(p, O_DIRECTORY | O_RDONLY | O_CLOEXEC); /* sel 2 */
	ASSERT_GE(dfd, 0);
	close(openat(dfd, "dirrel", O_CREAT | O_WRONLY | O_CLOEXEC, 0600)); /* sel 2, via dirfd */
	close(dfd);

	n = events_of(h.hook_id, evs, 64);
	ASSERT_EQ(n, 6);
	e = find_path(evs, n, 1, eq);
	ASSERT_NOT_NULL(e);
	ASSERT_EQ(e->e->selector, 0);
	ASSERT_EQ(e->e->n_args, 3);
	ASSERT_EQ(e->e->args[0].type, VIGIL_ARG_INT);
	ASSERT_EQ(arg_int(e, 0), -100); /* AT_FDCWD, sign-extended from 4 bytes */
	ASSERT_EQ(arg_int(e, 2), O_CREAT | O_WRONLY | O_CLOEXEC);
	ASSERT_EQ(e->e->args[1].type, VIGIL_ARG_FILENAME);
	ASSERT_EQ(e->e->args[1].flags, 0);
	ASSERT_EQ(e->e->actions, 1 << VIGIL_ACT_POST);
	ASSERT_EQ(e->e->hdr.tgid, getpid());
	ASSERT_EQ(e->e->hdr.size, e->size);
	ASSERT_EQ(e->e->creds.uid, getuid());
	ASSERT_EQ(e->e->flags, 0);
	my_start = e->e->start_boottime;
	ASSERT_NE(my_start, 0);

	snprintf(p, sizeof(p), "%s/x.post", tmpdir);
	ASSERT_NOT_NULL(e = find_path(evs, n, 1, p));
	ASSERT_EQ(e->e->selector, 1);
	snprintf(p, sizeof(p), "%s/eqx", tmpdir);
	ASSERT_NOT_NULL(e = find_path(evs, n, 1, p));
	ASSERT_EQ(e->e->selector, 2);
	snprintf(p, sizeof(p), "%s/rel.post", tmpdir);
	ASSERT_NOT_NULL(e = find_path(evs, n, 1, p));
	ASSERT_EQ(e->e->selector, 1);
	ASSERT_EQ(e->e->args[1].flags, 0);
	snprintf(p, sizeof(p), "%s/sub", tmpdir);
	ASSERT_NOT_NULL(e = find_path(evs, n, 1, p));
	ASSERT_EQ(e->e->selector, 2);
	snprintf(p, sizeof(p), "%s/sub/dirrel", tmpdir);
	ASSERT_NOT_NULL(e = find_path(evs, n, 1, p));
	ASSERT_EQ(e->e->selector, 2);
	ASSERT_GE(arg_int(e, 0), 0);
	hooks_remove();
}

/* Return hook: FD return arg, matchReturnArgs GT / LT (signed). */
TEST(openat_return)
{
	struct vigil_pol_hook h = {.n_args = 2, .n_selectors = 2};
	char p[PATH_MAX], prefix[PATH_MAX], missing[PATH_MAX + 64];
	struct ev *evs[16];
	int fd;

	snprintf(prefix, sizeof(prefix), "%s/ret", tmpdir);
	ASSERT_OK(str_set(6, VIGIL_OP_PREFIX, (const char *[]){prefix, NULL}));
	h.flags = VIGIL_HOOK_F_RETURN;
	h.ret_type = VIGIL_ARG_FD;
	h.args[0] = int_arg(0, 4, true);
	h.args[1] = ptr_arg(1, VIGIL_ARG_FILENAME, VIGIL_POL_NO_ARG, 0);
	for (int s = 0; s < 2; s++) {
		h.sel[s].n_match = 1;
		h.sel[s].match[0] =
			(struct vigil_pol_match){.arg = 1, .op = VIGIL_OP_PREFIX, .set_id = 6};
		h.sel[s].n_ret = 1;
		h.sel[s].ret[0] = (struct vigil_pol_match){
			.arg = VIGIL_POL_RET_ARG,
			.op = s == 0 ? VIGIL_OP_GT : VIGIL_OP_LT,
			.value = s == 0 ? (uint64_t)-1 : (uint64_t)-2,
		};
	}
	ASSERT_OK(hook_install(0, &h, "openat"));

	snprintf(p, sizeof(p), "%s/ret-ok", tmpdir);
	fd = open(p, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	snprintf(missing, sizeof(missing), "%s/ret-missing", tmpdir);
	ASSERT_EQ(open(missing, O_RDONLY), -1); /* -ENOENT = -2: not < -2 */
	snprintf(missing, sizeof(missing), "%s/ret-notdir/x", p);
	ASSERT_EQ(open(missing, O_RDONLY), -1); /* -ENOTDIR = -20: LT -2 */

	ASSERT_EQ(events_of(h.hook_id, evs, 16), 2);
	ASSERT_EQ(evs[0]->e->selector, 0);
	ASSERT_EQ(evs[0]->e->flags, VIGIL_POLEV_F_RETURN);
	ASSERT_EQ(evs[0]->e->ret, fd);
	ASSERT_EQ(evs[0]->e->ret_arg.type, VIGIL_ARG_FD);
	ASSERT_STREQ(arg_str(evs[0], VIGIL_POL_RET_ARG), p);
	ASSERT_STREQ(arg_str(evs[0], 1), p);
	ASSERT_EQ(evs[1]->e->selector, 1);
	ASSERT_EQ(evs[1]->e->ret, -ENOTDIR);
	ASSERT_EQ(evs[1]->e->ret_arg.flags, VIGIL_PARG_F_ERROR);
	ASSERT_STREQ(arg_str(evs[1], 1), missing);
	close(fd);
	hooks_remove();
}

/* FD and CHAR_BUF arguments, Mask, TRUNC. */
TEST(write_fd_charbuf)
{
	struct vigil_pol_hook h = {.n_args = 3, .n_selectors = 2};
	char p[PATH_MAX + 64], prefix[PATH_MAX], big[40];
	struct ev *evs[16];
	int fd;

	snprintf(prefix, sizeof(prefix), "%s/", tmpdir);
	ASSERT_OK(str_set(7, VIGIL_OP_PREFIX, (const char *[]){prefix, NULL}));
	h.args[0] = int_arg(0, 4, true);
	h.args[0].type = VIGIL_ARG_FD;
	h.args[1] = ptr_arg(1, VIGIL_ARG_CHAR_BUF, 2, VIGIL_POL_NO_ARG);
	h.args[1].max_len = 16;
	h.args[2] = int_arg(2, 8, false);
	h.sel[0].n_match = 2;
	h.sel[0].match[0] = (struct vigil_pol_match){.arg = 0, .op = VIGIL_OP_PREFIX, .set_id = 7};
	h.sel[0].match[1] = (struct vigil_pol_match){.arg = 2, .op = VIGIL_OP_MASK, .value = 0x20};
	h.sel[1].n_match = 1;
	h.sel[1].match[0] = (struct vigil_pol_match){.arg = 0, .op = VIGIL_OP_PREFIX, .set_id = 7};
	only_me(&h.sel[0], 8);
	only_me(&h.sel[1], 8);
	ASSERT_OK(hook_install(0, &h, "write"));

	snprintf(p, sizeof(p), "%s/written", tmpdir);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "hello", 5), 5);
	memset(big, 'A', sizeof(big));
	memcpy(big, "0123456789abcdefXYZ", 19);
	ASSERT_EQ(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	close(fd);

	ASSERT_EQ(events_of(h.hook_id, evs, 16), 2);
	ASSERT_EQ(evs[0]->e->selector, 1); /* 5 & 0x20 == 0 */
	ASSERT_EQ(evs[0]->e->args[0].type, VIGIL_ARG_FD);
	ASSERT_STREQ(arg_str(evs[0], 0), p);
	ASSERT_EQ(evs[0]->e->args[1].type, VIGIL_ARG_CHAR_BUF);
	ASSERT_EQ(evs[0]->e->args[1].flags, 0);
	ASSERT_STREQ(arg_str(evs[0], 1), "hello");
	ASSERT_EQ(arg_int(evs[0], 2), 5);
	ASSERT_EQ(evs[1]->e->selector, 0); /* 40 & 0x20 */
	ASSERT_EQ(evs[1]->e->args[1].flags, VIGIL_PARG_F_TRUNC);
	ASSERT_STREQ(arg_str(evs[1], 1), "0123456789abcdef");
	hooks_remove();
}

static int listener(int family, uint16_t *ret_port)
{
	struct sockaddr_storage ss = {.ss_family = family};
	socklen_t len = sizeof(ss);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	if (bind(fd, (struct sockaddr *)&ss,
		 family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) <
		    0 ||
	    listen(fd, 8) < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	*ret_port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					    : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static int connect_to(int family, uint16_t port)
{
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s6.sin6_addr = in6addr_loopback;
	if (fd < 0)
		return -1;
	if (family == AF_INET ? connect(fd, (struct sockaddr *)&s4, sizeof(s4))
			      : connect(fd, (struct sockaddr *)&s6, sizeof(s6)))
		return -1;
	return fd;
}

/* SOCKADDR and SOCK arguments with the address, port, family and protocol operators. */
TEST(connect_sockaddr_sock)
{
	struct vigil_pol_hook h = {.n_args = 3, .n_selectors = 3, .flags = VIGIL_HOOK_F_RETURN};
	uint16_t port4, port4b, port6;
	int l4, l4b, l6, c4, c4b, c6;
	struct ev *evs[16];
	const struct vigil_pol_sockaddr *sa;
	const struct vigil_pol_sock *so;
	uint8_t lo6[16] = {[15] = 1};

	l4 = listener(AF_INET, &port4);
	l4b = listener(AF_INET, &port4b);
	l6 = listener(AF_INET6, &port6);
	ASSERT_OK(l4);
	ASSERT_OK(l4b);
	ASSERT_OK(l6);

	ASSERT_OK(addr_set(10, "127.0.0.0", 8));
	ASSERT_OK(int_set(11, port4));
	ASSERT_OK(int_set(12, AF_INET));
	ASSERT_OK(addr_set(13, "::1", 128));
	ASSERT_OK(int_set(14, IPPROTO_TCP));
	ASSERT_OK(int_set(15, AF_INET6));
	ASSERT_OK(addr_set(16, "10.0.0.0", 8));
	ASSERT_OK(addr_set(17, "127.0.0.1", 32));
	ASSERT_OK(int_set(18, port4b));

	h.args[0] = int_arg(0, 4, true);
	h.args[0].type = VIGIL_ARG_SOCK;
	h.args[1] = ptr_arg(1, VIGIL_ARG_SOCKADDR, 2, VIGIL_POL_NO_ARG);
	h.args[2] = int_arg(2, 4, false);
	/* sel 0: sockaddr DAddr 127/8, DPort port4, Family inet; sock (after connect) SAddr
	 * 127.0.0.1/32, NotSPort port4, DAddr 127/8 */
	h.sel[0].n_match = 6;
	h.sel[0].match[0] = (struct vigil_pol_match){.arg = 1, .op = VIGIL_OP_DADDR, .set_id = 10};
	h.sel[0].match[1] = (struct vigil_pol_match){.arg = 1, .op = VIGIL_OP_DPORT, .set_id = 11};
	h.sel[0].match[2] = (struct vigil_pol_match){.arg = 1, .op = VIGIL_OP_FAMILY, .set_id = 12};
	h.sel[0].match[3] = (struct vigil_pol_match){.arg = 0, .op = VIGIL_OP_SADDR, .set_id = 17};
	h.sel[0].match[4] =
		(struct vigil_pol_match){.arg = 0, .op = VIGIL_OP_NOT_SPORT, .set_id = 11};
	h.sel[0].match[5] = (struct vigil_pol_match){.arg = 0, .op = VIGIL_OP_DADDR, .set_id = 10};
	/* sel 1: sockaddr DAddr ::1, sock Protocol tcp, Family inet6, SPort not port4 */
	h.sel[1].n_match = 3;
	h.sel[1].match[0] = (struct vigil_pol_match){.arg = 1, .op = VIGIL_OP_DADDR, .set_id = 13};
	h.sel[1].match[1] =
		(struct vigil_pol_match){.arg = 0, .op = VIGIL_OP_PROTOCOL, .set_id = 14};
	h.sel[1].match[2] = (struct vigil_pol_match){.arg = 0, .op = VIGIL_OP_FAMILY, .set_id = 15};
	/* sel 2: NotDAddr 10/8, NotDPort port4, SPort port4b (sockaddr: S and D both apply),
	 * sock NotSAddr 10/8 */
	h.sel[2].n_match = 4;
	h.sel[2].match[0] =
		(struct vigil_pol_match){.arg = 1, .op = VIGIL_OP_NOT_DADDR, .set_id = 16};
	h.sel[2].match[1] =
		(struct vigil_pol_match){.arg = 1, .op = VIGIL_OP_NOT_DPORT, .set_id = 11};
	h.sel[2].match[2] = (struct vigil_pol_match){.arg = 1, .op = VIGIL_OP_SPORT, .set_id = 18};
	/* and the socket's local address (127.0.0.1) is not in 10/8 */
	h.sel[2].match[3] =
		(struct vigil_pol_match){.arg = 0, .op = VIGIL_OP_NOT_SADDR, .set_id = 16};
	for (int s = 0; s < 3; s++)
		only_me(&h.sel[s], 19);
	ASSERT_OK(hook_install(0, &h, "connect"));

	c4 = connect_to(AF_INET, port4);
	c6 = connect_to(AF_INET6, port6);
	c4b = connect_to(AF_INET, port4b);
	ASSERT_GE(c4, 0);
	ASSERT_GE(c6, 0);
	ASSERT_GE(c4b, 0);

	ASSERT_EQ(events_of(h.hook_id, evs, 16), 3);
	ASSERT_EQ(evs[0]->e->selector, 0);
	ASSERT_EQ(evs[0]->e->ret, 0);
	ASSERT_EQ(evs[0]->e->args[1].type, VIGIL_ARG_SOCKADDR);
	ASSERT_EQ(evs[0]->e->args[1].len, sizeof(*sa));
	sa = arg_data(evs[0], 1);
	ASSERT_NOT_NULL(sa);
	ASSERT_EQ(sa->family, AF_INET);
	ASSERT_EQ(sa->port, port4);
	ASSERT_MEMEQ(sa->addr, "\x7f\0\0\x01", 4);
	ASSERT_EQ(arg_int(evs[0], 2), sizeof(struct sockaddr_in));
	so = arg_data(evs[0], 0);
	ASSERT_NOT_NULL(so);
	ASSERT_EQ(evs[0]->e->args[0].type, VIGIL_ARG_SOCK);
	ASSERT_EQ(so->family, AF_INET);
	ASSERT_EQ(so->type, SOCK_STREAM);
	ASSERT_EQ(so->protocol, IPPROTO_TCP);
	ASSERT_EQ(so->dport, port4);
	ASSERT_NE(so->sport, 0);
	ASSERT_MEMEQ(so->daddr, "\x7f\0\0\x01", 4);
	ASSERT_MEMEQ(so->saddr, "\x7f\0\0\x01", 4);

	ASSERT_EQ(evs[1]->e->selector, 1);
	sa = arg_data(evs[1], 1);
	ASSERT_EQ(sa->family, AF_INET6);
	ASSERT_EQ(sa->port, port6);
	ASSERT_MEMEQ(sa->addr, lo6, 16);
	so = arg_data(evs[1], 0);
	ASSERT_EQ(so->family, AF_INET6);
	ASSERT_EQ(so->dport, port6);
	ASSERT_MEMEQ(so->daddr, lo6, 16);

	ASSERT_EQ(evs[2]->e->selector, 2);
	sa = arg_data(evs[2], 1);
	ASSERT_EQ(sa->port, port4b);
	close(c4);
	close(c6);
	close(c4b);
	close(l4);
	close(l4b);
	close(l6);
	hooks_remove();
}

static uint64_t ns_inode(const char *name)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/self/ns/%s", name);
	return stat(p, &st) < 0 ? 0 : st.st_ino;
}

/* matchPIDs In/NotIn/namespace pid, matchNamespaces, matchBinaries bits, Equal on ints. */
TEST(setuid_pids_namespaces_binaries)
{
	struct vigil_pol_hook h = {.n_args = 1, .n_selectors = 5};
	struct vigil_pol_proc proc = {.start_boottime = my_start, .bin_bits = 1 << 3};
	uint32_t tgid = getpid();
	struct ev *evs[16];

	ASSERT_NE(my_start, 0);
	ASSERT_OK(int_set(20, getpid()));
	ASSERT_OK(int_set(21, getuid()));
	ASSERT_OK(int_set(22, ns_inode("pid")));
	ASSERT_OK(int_set(23, ns_inode("mnt")));
	ASSERT_OK(int_set(24, 1)); /* pid 1: not us */
	h.args[0] = int_arg(0, 4, false);
	/* sel 0: binary bit 3 NotIn (we have it): no */
	h.sel[0].flags = VIGIL_SEL_F_BIN | VIGIL_SEL_F_BIN_NOT;
	h.sel[0].bin_bit = 3;
	/* sel 1: pid NotIn {us}: no */
	h.sel[1].flags = VIGIL_SEL_F_PID | VIGIL_SEL_F_PID_NOT;
	h.sel[1].pid_set = 20;
	/* sel 2: pid In {1} (namespace pid): no */
	h.sel[2].flags = VIGIL_SEL_F_PID | VIGIL_SEL_F_PID_NS;
	h.sel[2].pid_set = 24;
	/* sel 3: pid NS In {us}, binary bit 3, host pid+mnt ns, uid Equal, NotIn mnt ns: no */
	h.sel[3].flags = VIGIL_SEL_F_PID | VIGIL_SEL_F_PID_NS | VIGIL_SEL_F_BIN;
	h.sel[3].pid_set = 20;
	h.sel[3].bin_bit = 3;
	h.sel[3].n_ns = 3;
	h.sel[3].ns[0] =
		(struct vigil_pol_ns_match){.ns = VIGIL_NS_PID, .op = VIGIL_OP_EQUAL, .set_id = 22};
	h.sel[3].ns[1] =
		(struct vigil_pol_ns_match){.ns = VIGIL_NS_MNT, .op = VIGIL_OP_EQUAL, .set_id = 23};
	h.sel[3].ns[2] = (struct vigil_pol_ns_match){
		.ns = VIGIL_NS_MNT, .op = VIGIL_OP_NOT_EQUAL, .set_id = 23};
	/* sel 4: the same without the NotIn namespace: yes */
	h.sel[4] = h.sel[3];
	h.sel[4].n_ns = 2;
	h.sel[4].n_match = 1;
	h.sel[4].match[0] = (struct vigil_pol_match){.arg = 0, .op = VIGIL_OP_EQUAL, .set_id = 21};
	ASSERT_OK(bpf_map_update_elem(bpf_map__fd(skel->maps.pol_procs), &tgid, &proc, BPF_ANY));
	ASSERT_OK(hook_install(0, &h, "setuid"));

	ASSERT_OK(setuid(getuid()));
	ASSERT_EQ(events_of(h.hook_id, evs, 16), 1);
	ASSERT_EQ(evs[0]->e->selector, 4);
	ASSERT_EQ(arg_int(evs[0], 0), getuid());

	/* without the binary bit, sel 4 fails and sel 0 (NotIn) matches */
	proc.bin_bits = 0;
	ASSERT_OK(bpf_map_update_elem(bpf_map__fd(skel->maps.pol_procs), &tgid, &proc, BPF_ANY));
	events_reset();
	ASSERT_OK(setuid(getuid()));
	ASSERT_EQ(events_of(h.hook_id, evs, 16), 1);
	ASSERT_EQ(evs[0]->e->selector, 0);
	ASSERT_OK(bpf_map_delete_elem(bpf_map__fd(skel->maps.pol_procs), &tgid));
	hooks_remove();
}

/* Post rateLimit and NoPost. */
TEST(ratelimit_nopost)
{
	struct vigil_pol_hook h = {.n_args = 1, .n_selectors = 2};
	uint64_t limited = action_stat(0), nopost = action_stat(VIGIL_ACT_NOPOST);
	struct ev *evs[16];
	int status;
	pid_t pid;

	h.args[0] = int_arg(0, 4, false);
	ASSERT_OK(int_set(30, getuid()));
	ASSERT_OK(int_set(31, 4242424));
	only_me(&h.sel[0], 32);
	h.sel[0].n_match = 1;
	h.sel[0].match[0] = (struct vigil_pol_match){.arg = 0, .op = VIGIL_OP_EQUAL, .set_id = 30};
	h.sel[0].n_actions = 1;
	h.sel[0].actions[0] = (struct vigil_pol_action){.type = VIGIL_ACT_POST,
							.rate_limit_ns = 3600ULL * 1000000000};
	h.sel[1].n_match = 1;
	h.sel[1].match[0] = (struct vigil_pol_match){.arg = 0, .op = VIGIL_OP_EQUAL, .set_id = 31};
	h.sel[1].n_actions = 1;
	h.sel[1].actions[0] = (struct vigil_pol_action){.type = VIGIL_ACT_NOPOST};
	ASSERT_OK(hook_install(0, &h, "setuid"));

	ASSERT_OK(setuid(getuid()));
	ASSERT_OK(setuid(getuid())); /* same args within the limit */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		(void)setuid(4242424); /* sel 1: NoPost */
		_exit(0);
	}
	children[n_children++] = pid;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(events_of(h.hook_id, evs, 16), 1);
	ASSERT_EQ(evs[0]->e->selector, 0);
	ASSERT_EQ(evs[0]->e->actions, 1 << VIGIL_ACT_POST);
	ASSERT_EQ(action_stat(0), limited + 1);
	ASSERT_EQ(action_stat(VIGIL_ACT_NOPOST), nopost + 1);
	hooks_remove();
}

/* Sigkill / Signal: the child dies of the signal; the event records it. */
static void check_signal(uint8_t type, int sig)
{
	struct vigil_pol_hook h = {.n_args = 1, .n_selectors = 1};
	int go[2], status;
	struct ev *evs[16];
	pid_t pid;
	char c = 0;

	ASSERT_OK(pipe2(go, O_CLOEXEC));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		(void)setuid(getuid());
		_exit(0);
	}
	close(go[0]);
	children[n_children++] = pid;
	h.args[0] = int_arg(0, 4, false);
	h.sel[0].flags = VIGIL_SEL_F_PID;
	h.sel[0].pid_set = 40 + type;
	ASSERT_OK(int_set(40 + type, pid));
	h.sel[0].n_actions = 2;
	h.sel[0].actions[0] = (struct vigil_pol_action){.type = type, .arg = sig};
	h.sel[0].actions[1] = (struct vigil_pol_action){.type = VIGIL_ACT_NOPOST};
	ASSERT_OK(hook_install(0, &h, "setuid"));
	ASSERT_EQ(write(go[1], "x", 1), 1);
	close(go[1]);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(WTERMSIG(status), sig);
	/* every enforcement is an event, even with NoPost */
	ASSERT_EQ(events_of(h.hook_id, evs, 16), 1);
	ASSERT_EQ(evs[0]->e->hdr.tgid, pid);
	ASSERT_EQ(evs[0]->e->signal, sig);
	ASSERT_EQ(evs[0]->e->action_err, 0);
	ASSERT_EQ(evs[0]->e->actions, (1 << type) | (1 << VIGIL_ACT_NOPOST));
	hooks_remove();
}

TEST(sigkill)
{
	uint64_t before = action_stat(VIGIL_ACT_SIGKILL);

	check_signal(VIGIL_ACT_SIGKILL, SIGKILL);
	ASSERT_EQ(action_stat(VIGIL_ACT_SIGKILL), before + 1);
}

TEST(signal)
{
	check_signal(VIGIL_ACT_SIGNAL, SIGUSR1);
}

/* Programs' verified size, for the report. */
TEST(program_sizes)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);
	struct bpf_program *progs[] = {skel->progs.handle_policy_enter,
				       skel->progs.handle_policy_exit};

	for (size_t i = 0; i < 2; i++) {
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		ASSERT_OK(bpf_obj_get_info_by_fd(bpf_program__fd(progs[i]), &info, &len));
		printf("# %s: %u xlated bytes (%u insns), %u verified insns\n",
		       bpf_program__name(progs[i]), info.xlated_prog_len, info.xlated_prog_len / 8,
		       info.verified_insns);
		ASSERT_TRUE(info.xlated_prog_len > 0);
	}
}

static int setup(void)
{
	int ncpus = libbpf_num_possible_cpus(), r;
	struct bpf_program *p;

	skel = vigil_bpf__open();
	if (!skel)
		return -errno;
	bpf_object__for_each_program(p, skel->obj) bpf_program__set_autoload(
		p, p == skel->progs.handle_policy_enter || p == skel->progs.handle_policy_exit);
	r = bpf_map__set_max_entries(skel->maps.scratch, ncpus);
	if (r < 0)
		return r;
	r = bpf_map__set_max_entries(skel->maps.pol_scratch, ncpus);
	if (r < 0)
		return r;
	r = vigil_bpf__load(skel);
	if (r < 0)
		return r;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_sample, NULL, NULL);
	return rb ? 0 : -errno;
}

int main(void)
{
	char tmpl[] = "/tmp/vigil-engine-XXXXXX";
	int r;

	if (geteuid() != 0)
		tap_skip_all("needs root to load BPF programs");
	if (getenv("VIGIL_SKIP_ROOT_TESTS"))
		tap_skip_all("VIGIL_SKIP_ROOT_TESTS is set");
	if (!mkdtemp(tmpl)) {
		printf("# mkdtemp: %m\n");
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	r = setup();
	if (r < 0) {
		printf("1..1\nnot ok 1 - setup # cannot load the BPF object: %s\n", strerror(-r));
		return 1;
	}
	r = tap_run();
	ring_buffer__free(rb);
	vigil_bpf__destroy(skel);
	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		(void)!system(cmd);
	}
	return r;
}
