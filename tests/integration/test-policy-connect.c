/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Root-only integration test of Override on connect (bpf/net.bpf.c): the cgroup connect4 and
 * connect6 programs are attached to a fresh child cgroup of the cgroup v2 mount, so only a child
 * moved into it is affected. A connect hook denies DAddr 127.0.0.2/32 and ::1/128, DPort 9, with
 * Override argError -111 (ECONNREFUSED). Real listeners wait on those addresses: a denied
 * connect() fails with the errno and nothing reaches the listener's accept queue; another port
 * connects; the posted event carries the OVERRIDE action, the sockaddr argument and the hook id.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpf/events.h"
#include "bpf/policy.h"
#include "bpf/vigil.skel.h"
#include "tap.h"
#include "util/macro.h"

#define HOOK_SLOT    5
#define HOOK_ID	     4242
#define ADDR_SET     70
#define PORT_SET     71
#define DENIED_PORT  9
#define ERR_OVERRIDE (-111) /* -ECONNREFUSED */

struct env {
	struct vigil_bpf *skel;
	struct ring_buffer *rb;
	char cgdir[PATH_MAX];
	int cgfd;
	int fds[8]; /* listeners, closed by env_free() */
	size_t n_fds;
};

/* The environment of the running test; freed by the next env_setup() after a failed assertion. */
static struct env *live_env;

#define MAX_EVENTS 64
static struct vigil_policy_event *events_seen[MAX_EVENTS];
static size_t n_events_seen;

static int on_sample(void *userdata, void *data, size_t size)
{
	const struct vigil_event_hdr *h = data;
	struct vigil_policy_event *e;

	(void)userdata;
	if (size < sizeof(*h) || h->type != VIGIL_EV_POLICY || n_events_seen >= MAX_EVENTS)
		return 0;
	if (size < sizeof(struct vigil_policy_event) || h->size != size)
		return 0;
	e = malloc(size);
	if (!e)
		return -ENOMEM;
	memcpy(e, data, size);
	events_seen[n_events_seen++] = e;
	return 0;
}

/* The cgroup2 mount point, from /proc/self/mountinfo. */
static int cgroup2_mount(char *ret, size_t n)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (r < 0 && fgets(line, sizeof(line), f)) {
		char m[1024], type[64];
		const char *sep = strstr(line, " - ");

		if (sscanf(line, "%*s %*s %*s %*s %1023s", m) == 1 && sep &&
		    sscanf(sep + 3, "%63s", type) == 1 && streq(type, "cgroup2")) {
			snprintf(ret, n, "%s", m);
			r = 0;
		}
	}
	fclose(f);
	return r;
}

static void add_addr(struct env *e, uint32_t set_id, const char *ip, unsigned bits)
{
	struct vigil_pol_addr_key k = {.set_id = set_id};
	uint8_t one = 1;
	struct in_addr a4;

	if (inet_pton(AF_INET, ip, &a4) == 1) {
		k.addr[10] = 0xff;
		k.addr[11] = 0xff;
		memcpy(&k.addr[12], &a4, 4);
		bits += 96;
	} else {
		ASSERT_EQ(inet_pton(AF_INET6, ip, k.addr), 1);
	}
	k.prefixlen = 32 + bits;
	ASSERT_OK(bpf_map__update_elem(e->skel->maps.pol_addr_sets, &k, sizeof(k), &one,
				       sizeof(one), BPF_ANY));
}

static void add_int(struct env *e, uint32_t set_id, uint64_t value)
{
	struct vigil_pol_int_key k = {.set_id = set_id, .value = value};
	uint8_t one = 1;

	ASSERT_OK(bpf_map__update_elem(e->skel->maps.pol_int_sets, &k, sizeof(k), &one, sizeof(one),
				       BPF_ANY));
}

/*
 * connect(int fd, struct sockaddr *uservaddr, int addrlen), as the policy compiler lowers a
 * kprobe on sys_connect: one selector, DAddr + DPort, Override argError.
 */
static void install_hook(struct env *e)
{
	struct vigil_pol_hook hook = {
		.hook_id = HOOK_ID,
		.flags = VIGIL_HOOK_F_ACTIVE | VIGIL_HOOK_F_SYSCALL,
		.n_args = 3,
		.n_selectors = 1,
	};
	struct vigil_pol_selector *sel = &hook.sel[0];
	uint32_t slot = HOOK_SLOT, idx = 0, val = HOOK_SLOT + 1;

	hook.args[0] = (struct vigil_pol_arg){.offset = 16,
					      .width = 8,
					      .type = VIGIL_ARG_INT,
					      .flags = VIGIL_ARG_F_SIGNED,
					      .int_width = 4,
					      .size_arg = VIGIL_POL_NO_ARG,
					      .dirfd_arg = VIGIL_POL_NO_ARG};
	hook.args[1] = (struct vigil_pol_arg){.offset = 24,
					      .width = 8,
					      .type = VIGIL_ARG_SOCKADDR,
					      .flags = VIGIL_ARG_F_USER,
					      .size_arg = 2,
					      .dirfd_arg = VIGIL_POL_NO_ARG};
	hook.args[2] = (struct vigil_pol_arg){.offset = 32,
					      .width = 8,
					      .type = VIGIL_ARG_INT,
					      .flags = VIGIL_ARG_F_SIGNED,
					      .int_width = 4,
					      .size_arg = VIGIL_POL_NO_ARG,
					      .dirfd_arg = VIGIL_POL_NO_ARG};
	sel->n_match = 2;
	sel->match[0] =
		(struct vigil_pol_match){.arg = 1, .op = VIGIL_OP_DADDR, .set_id = ADDR_SET};
	sel->match[1] =
		(struct vigil_pol_match){.arg = 1, .op = VIGIL_OP_DPORT, .set_id = PORT_SET};
	sel->n_actions = 1;
	sel->actions[0] =
		(struct vigil_pol_action){.type = VIGIL_ACT_OVERRIDE, .arg = ERR_OVERRIDE};

	add_addr(e, ADDR_SET, "127.0.0.2", 32);
	add_addr(e, ADDR_SET, "::1", 128);
	add_int(e, PORT_SET, DENIED_PORT);
	ASSERT_OK(bpf_map__update_elem(e->skel->maps.pol_hooks, &slot, sizeof(slot), &hook,
				       sizeof(hook), BPF_ANY));
	ASSERT_OK(bpf_map__update_elem(e->skel->maps.pol_connect_hooks, &idx, sizeof(idx), &val,
				       sizeof(val), BPF_ANY));
}

static void env_free(struct env *e);
static int listener(int family, const char *ip, uint16_t port, uint16_t *ret_port);

/* Load only the connect programs, attach them to a new child cgroup, install the hook. */
static void env_setup(struct env *e, bool have_set_retval)
{
	struct bpf_program *prog;
	char mnt[PATH_MAX];
	int ncpus;

	if (live_env)
		env_free(live_env);
	memset(e, 0, sizeof(*e));
	e->cgfd = -1;
	live_env = e;
	ASSERT_OK(cgroup2_mount(mnt, sizeof(mnt)));
	ASSERT_TRUE(strlen(mnt) < sizeof(e->cgdir) - 32);
	snprintf(e->cgdir, sizeof(e->cgdir), "%s/vigil-test-XXXXXX", mnt);
	ASSERT_NOT_NULL(mkdtemp(e->cgdir));
	e->cgfd = open(e->cgdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_OK(e->cgfd);

	e->skel = vigil_bpf__open();
	ASSERT_NOT_NULL(e->skel);
	ncpus = libbpf_num_possible_cpus();
	ASSERT_GE(ncpus, 1);
	ASSERT_OK(bpf_map__set_max_entries(e->skel->maps.scratch, (uint32_t)ncpus));
	ASSERT_OK(bpf_map__set_max_entries(e->skel->maps.pol_scratch, (uint32_t)ncpus));
	ASSERT_OK(bpf_map__set_max_entries(e->skel->maps.events, 1 << 20));
	e->skel->rodata->cfg_have_set_retval = have_set_retval;
	bpf_object__for_each_program(prog, e->skel->obj) bpf_program__set_autoload(prog, false);
	bpf_program__set_autoload(e->skel->progs.handle_connect4, true);
	bpf_program__set_autoload(e->skel->progs.handle_connect6, true);
	ASSERT_OK(vigil_bpf__load(e->skel));
	e->skel->links.handle_connect4 =
		bpf_program__attach_cgroup(e->skel->progs.handle_connect4, e->cgfd);
	ASSERT_NOT_NULL(e->skel->links.handle_connect4);
	e->skel->links.handle_connect6 =
		bpf_program__attach_cgroup(e->skel->progs.handle_connect6, e->cgfd);
	ASSERT_NOT_NULL(e->skel->links.handle_connect6);
	e->rb = ring_buffer__new(bpf_map__fd(e->skel->maps.events), on_sample, NULL, NULL);
	ASSERT_NOT_NULL(e->rb);
	install_hook(e);
}

static void env_free(struct env *e)
{
	for (size_t i = 0; i < e->n_fds; i++)
		close(e->fds[i]);
	ring_buffer__free(e->rb);
	vigil_bpf__destroy(e->skel);
	if (e->cgfd >= 0)
		close(e->cgfd);
	if (e->cgdir[0])
		(void)rmdir(e->cgdir);
	for (size_t i = 0; i < n_events_seen; i++)
		free(events_seen[i]);
	n_events_seen = 0;
	memset(e, 0, sizeof(*e));
	live_env = NULL;
}

static int env_listener(struct env *e, int family, const char *ip, uint16_t port,
			uint16_t *ret_port)
{
	int fd = listener(family, ip, port, ret_port);

	if (fd >= 0 && e->n_fds < ELEMENTSOF(e->fds))
		e->fds[e->n_fds++] = fd;
	return fd;
}

static int listener(int family, const char *ip, uint16_t port, uint16_t *ret_port)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	int fd, one = 1;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		inet_pton(AF_INET, ip, &sin->sin_addr);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &sin6->sin6_addr);
		len = sizeof(*sin6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	if (ret_port)
		*ret_port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						    : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* connect() a new TCP socket; returns 0 or -errno. */
static int try_connect(int family, const char *ip, uint16_t port)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	int fd, r = 0;

	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		inet_pton(AF_INET, ip, &sin->sin_addr);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &sin6->sin6_addr);
		len = sizeof(*sin6);
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0)
		r = -errno;
	close(fd);
	return r;
}

struct attempt {
	int family;
	const char *ip;
	uint16_t port;
};

/*
 * Run the attempts in a child moved into the test cgroup; returns the child's pid and fills
 * results[] with connect()'s 0 / -errno.
 */
static pid_t run_in_cgroup(struct env *e, const struct attempt *a, size_t n, int *results)
{
	int go[2], res[2];
	char path[PATH_MAX + 32], buf[32];
	pid_t pid;
	int fd;

	ASSERT_OK(pipe2(go, O_CLOEXEC));
	ASSERT_OK(pipe2(res, O_CLOEXEC));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		char c;

		close(go[1]);
		close(res[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		for (size_t i = 0; i < n; i++) {
			int r = try_connect(a[i].family, a[i].ip, a[i].port);

			if (write(res[1], &r, sizeof(r)) != sizeof(r))
				_exit(2);
		}
		_exit(0);
	}
	close(go[0]);
	close(res[1]);
	snprintf(path, sizeof(path), "%s/cgroup.procs", e->cgdir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ASSERT_OK(fd);
	snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	ASSERT_EQ(write(fd, buf, strlen(buf)), (ssize_t)strlen(buf));
	close(fd);
	ASSERT_EQ(write(go[1], "x", 1), 1);
	close(go[1]);
	for (size_t i = 0; i < n; i++)
		ASSERT_EQ(read(res[0], &results[i], sizeof(int)), (ssize_t)sizeof(int));
	close(res[0]);
	ASSERT_EQ(waitpid(pid, NULL, 0), pid);
	return pid;
}

/* Nothing waits in the accept queue. */
static bool queue_empty(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return false;
	}
	return errno == EAGAIN || errno == EWOULDBLOCK;
}

/* One connection waits in the accept queue (taken out). */
static bool queue_has_one(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return queue_empty(lfd);
}

static const struct vigil_policy_event *find_event(pid_t tgid, uint16_t family)
{
	for (size_t i = 0; i < n_events_seen; i++) {
		const struct vigil_policy_event *ev = events_seen[i];
		const struct vigil_pol_sockaddr *sa;

		if (ev->hdr.tgid != (uint32_t)tgid || ev->hdr.size < sizeof(*ev) + ev->data_len)
			continue;
		if (ev->n_args < 2 || ev->args[1].type != VIGIL_ARG_SOCKADDR ||
		    ev->args[1].len < sizeof(*sa) || ev->args[1].off + sizeof(*sa) > ev->data_len)
			continue;
		sa = (const struct vigil_pol_sockaddr *)&ev->data[ev->args[1].off];
		if (sa->family == family)
			return ev;
	}
	return NULL;
}

static size_t count_events(pid_t tgid)
{
	size_t n = 0;

	for (size_t i = 0; i < n_events_seen; i++)
		if (events_seen[i]->hdr.tgid == (uint32_t)tgid)
			n++;
	return n;
}

static int64_t int_arg(const struct vigil_policy_event *ev, unsigned i)
{
	int64_t v;

	if (ev->args[i].type != VIGIL_ARG_INT || ev->args[i].len != 8 ||
	    ev->args[i].off + 8u > ev->data_len)
		return INT64_MIN;
	memcpy(&v, &ev->data[ev->args[i].off], 8);
	return v;
}

static uint64_t action_count(struct env *e, uint32_t type)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t vals[ncpus > 0 ? ncpus : 1], sum = 0;

	if (bpf_map__lookup_elem(e->skel->maps.pol_action_stats, &type, sizeof(type), vals,
				 sizeof(vals), 0) < 0)
		return 0;
	for (int i = 0; i < ncpus; i++)
		sum += vals[i];
	return sum;
}

static void check_denied_event(const struct vigil_policy_event *ev, uint16_t family,
			       const uint8_t *addr, size_t alen)
{
	const struct vigil_pol_sockaddr *sa;

	ASSERT_NOT_NULL(ev);
	ASSERT_EQ(ev->hdr.type, VIGIL_EV_POLICY);
	ASSERT_EQ(ev->hook_id, HOOK_ID);
	ASSERT_EQ(ev->selector, 0);
	ASSERT_TRUE(ev->actions & (1u << VIGIL_ACT_OVERRIDE));
	ASSERT_EQ(ev->n_args, 3);
	sa = (const struct vigil_pol_sockaddr *)&ev->data[ev->args[1].off];
	ASSERT_EQ(sa->family, family);
	ASSERT_EQ(sa->port, DENIED_PORT);
	ASSERT_TRUE(memcmp(sa->addr, addr, alen) == 0);
	/* The fd is not known in a cgroup connect program; the length follows the family. */
	ASSERT_EQ(int_arg(ev, 0), -1);
	ASSERT_TRUE(ev->args[0].flags & VIGIL_PARG_F_ERROR);
	ASSERT_EQ(int_arg(ev, 2), family == AF_INET ? 16 : 28);
	ASSERT_FALSE(ev->args[2].flags & VIGIL_PARG_F_ERROR);
}

static void run_connect_test(bool have_set_retval)
{
	int l4, l4o, l6, l6o;
	uint16_t p4o = 0, p6o = 0;
	struct attempt a[4];
	int res[4], want = have_set_retval ? ERR_OVERRIDE : -EPERM;
	const struct vigil_policy_event *ev;
	struct in_addr lo2;
	uint64_t overrides;
	static struct env e;
	pid_t pid;

	env_setup(&e, have_set_retval);
	l4 = env_listener(&e, AF_INET, "127.0.0.2", DENIED_PORT, NULL);
	ASSERT_OK(l4);
	l4o = env_listener(&e, AF_INET, "127.0.0.2", 0, &p4o);
	ASSERT_OK(l4o);
	l6 = env_listener(&e, AF_INET6, "::1", DENIED_PORT, NULL);
	ASSERT_OK(l6);
	l6o = env_listener(&e, AF_INET6, "::1", 0, &p6o);
	ASSERT_OK(l6o);

	a[0] = (struct attempt){AF_INET, "127.0.0.2", DENIED_PORT};
	a[1] = (struct attempt){AF_INET, "127.0.0.2", p4o};
	a[2] = (struct attempt){AF_INET6, "::1", DENIED_PORT};
	a[3] = (struct attempt){AF_INET6, "::1", p6o};
	pid = run_in_cgroup(&e, a, ELEMENTSOF(a), res);

	ASSERT_EQ(res[0], want);
	ASSERT_TRUE(queue_empty(l4));
	ASSERT_EQ(res[1], 0);
	ASSERT_TRUE(queue_has_one(l4o));
	ASSERT_EQ(res[2], want);
	ASSERT_TRUE(queue_empty(l6));
	ASSERT_EQ(res[3], 0);
	ASSERT_TRUE(queue_has_one(l6o));

	/* Outside the cgroup nothing is denied: the listeners themselves work. */
	ASSERT_EQ(try_connect(AF_INET, "127.0.0.2", DENIED_PORT), 0);
	ASSERT_TRUE(queue_has_one(l4));
	ASSERT_EQ(try_connect(AF_INET6, "::1", DENIED_PORT), 0);
	ASSERT_TRUE(queue_has_one(l6));

	ASSERT_OK(ring_buffer__consume(e.rb));
	/* One event per denied connect, none for the allowed ones (the selector did not match). */
	ASSERT_EQ(count_events(pid), 2);
	ASSERT_OK(inet_pton(AF_INET, "127.0.0.2", &lo2));
	ev = find_event(pid, AF_INET);
	check_denied_event(ev, AF_INET, (const uint8_t *)&lo2, 4);
	ev = find_event(pid, AF_INET6);
	check_denied_event(ev, AF_INET6, in6addr_loopback.s6_addr, 16);
	overrides = action_count(&e, VIGIL_ACT_OVERRIDE);
	ASSERT_EQ(overrides, 2);
	env_free(&e);
}

TEST(override_sets_errno)
{
	run_connect_test(true);
}

TEST(override_without_set_retval_is_eperm)
{
	run_connect_test(false);
}

/* An inactive hook slot, or an unused pol_connect_hooks entry, denies nothing. */
TEST(inactive_hook_allows)
{
	struct vigil_pol_hook hook;
	uint32_t slot = HOOK_SLOT;
	struct attempt a = {AF_INET, "127.0.0.2", DENIED_PORT};
	static struct env e;
	int res, l4;

	env_setup(&e, true);
	ASSERT_OK(bpf_map__lookup_elem(e.skel->maps.pol_hooks, &slot, sizeof(slot), &hook,
				       sizeof(hook), 0));
	hook.flags &= ~VIGIL_HOOK_F_ACTIVE;
	ASSERT_OK(bpf_map__update_elem(e.skel->maps.pol_hooks, &slot, sizeof(slot), &hook,
				       sizeof(hook), BPF_ANY));
	l4 = env_listener(&e, AF_INET, "127.0.0.2", DENIED_PORT, NULL);
	ASSERT_OK(l4);
	run_in_cgroup(&e, &a, 1, &res);
	ASSERT_EQ(res, 0);
	ASSERT_TRUE(queue_has_one(l4));
	ASSERT_EQ(action_count(&e, VIGIL_ACT_OVERRIDE), 0);
	env_free(&e);
}

int main(void)
{
	if (geteuid() != 0)
		tap_skip_all("needs root to load BPF programs");
	if (getenv("VIGIL_SKIP_ROOT_TESTS"))
		tap_skip_all("VIGIL_SKIP_ROOT_TESTS is set");
	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0)
		tap_skip_all("kernel has no BTF (/sys/kernel/btf/vmlinux)");
	return tap_run();
}
