/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Installs compiled TracingPolicies into the BPF maps of bpf/policy.h and attaches them.
 *
 * Ids. The compiler numbers a policy's value sets, binary bits and pid bits locally; here each
 * gets a global id: string sets a slot of the pol_str_sets array (with its own inner LPM trie),
 * integer and address sets a never-reused 32-bit id (their entries carry it in the key), binary
 * and pid sets a bit of pol_procs, hooks a slot of pol_hooks (the BPF cookie) plus a never-reused
 * hook_id that events carry, so an event still in the ring buffer after a reload is never
 * attributed to the hook that took over the slot.
 *
 * Reload. apply() installs new and changed policies first, then removes what they replace:
 * there is no moment without the policy. Removed policies stay known (metadata only) until the
 * next apply so their last events can still be rendered.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "policy_engine.h"
#include "proc_cache.h"
#include "bpf/vigil.skel.h"

#define FOLLOW_DEPTH 64 /* ancestors examined when seeding followChildren/followForks */

enum set_kind {
	SET_NONE,
	SET_STR,
	SET_INT,
	SET_ADDR,
};

struct installed_hook {
	uint32_t slot;
	uint32_t hook_id;
	int connect_idx; /* index in pol_connect_hooks, -1 if not a connect hook */
	int enter_group; /* pol_tp_groups index, -1 if none */
	int exit_group;
};

/* One attached tracepoint: the program runs every hook listed in its pol_tp_groups entry. */
struct tp_group {
	char *tp; /* "syscalls/sys_enter_openat" */
	bool exit;
	struct bpf_link *link;
	struct vigil_pol_tp_group g;
};

struct installed_policy {
	struct compiled_policy *cp;
	uint32_t *str_ids;
	int *str_fds;
	uint32_t *int_ids;
	uint32_t *addr_ids;
	uint32_t *bin_bits;
	uint32_t *pid_bits;
	struct installed_hook *hooks; /* parallel to cp->hooks */
	/* how much of each is in the kernel (released in reverse by installed_release()) */
	size_t n_str_done, n_int_done, n_addr_done, n_bin_done, n_pid_done, n_hooks_done;
};

struct hook_ref {
	uint32_t hook_id;
	const struct compiled_hook *hook;
	const char *policy;
};

struct policy_engine {
	struct vigil_bpf *skel;
	struct policy_env env;
	char *cgroup_root;

	struct installed_policy **pols;
	size_t n_pols;
	struct installed_policy **retired;
	size_t n_retired;
	size_t n_failed;

	struct hook_ref *refs; /* sorted by hook_id: running and retired hooks */
	size_t n_refs;

	bool str_used[VIGIL_POL_MAX_STR_SETS];
	bool slot_used[VIGIL_POL_MAX_HOOKS];
	bool connect_used[VIGIL_POL_MAX_CONNECT_HOOKS];
	uint64_t bin_used, pid_used;
	uint32_t next_int_id, next_addr_id, next_hook_id;

	struct tp_group groups[VIGIL_POL_MAX_HOOKS]; /* index = cookie; tp NULL = free */

	int cgroup_fd;
	struct bpf_link *connect4, *connect6;
	unsigned connect_users;
};

static bool arg_type_is_string(uint8_t t)
{
	switch (t) {
	case VIGIL_ARG_STRING:
	case VIGIL_ARG_CHAR_BUF:
	case VIGIL_ARG_FD:
	case VIGIL_ARG_FILENAME:
	case VIGIL_ARG_DATALOC:
	case VIGIL_ARG_INLINE_STR:
		return true;
	default:
		return false;
	}
}

/* Which kind of set a condition's set_id names (the kernel's evaluator decides the same way). */
static enum set_kind match_set_kind(const struct vigil_pol_hook *h, const struct vigil_pol_match *m)
{
	uint8_t type;

	switch (m->op) {
	case VIGIL_OP_SADDR:
	case VIGIL_OP_DADDR:
	case VIGIL_OP_NOT_SADDR:
	case VIGIL_OP_NOT_DADDR:
		return SET_ADDR;
	case VIGIL_OP_SPORT:
	case VIGIL_OP_DPORT:
	case VIGIL_OP_NOT_SPORT:
	case VIGIL_OP_NOT_DPORT:
	case VIGIL_OP_PROTOCOL:
	case VIGIL_OP_FAMILY:
		return SET_INT;
	case VIGIL_OP_EQUAL:
	case VIGIL_OP_NOT_EQUAL:
	case VIGIL_OP_PREFIX:
	case VIGIL_OP_NOT_PREFIX:
	case VIGIL_OP_POSTFIX:
	case VIGIL_OP_NOT_POSTFIX:
		if (m->arg == VIGIL_POL_RET_ARG)
			type = h->ret_type;
		else if (m->arg < VIGIL_POL_MAX_ARGS)
			type = h->args[m->arg].type;
		else
			return SET_NONE;
		return arg_type_is_string(type) ? SET_STR : SET_INT;
	default:
		return SET_NONE;
	}
}

/* ---- value sets ---------------------------------------------------------------------------- */

static int str_key_fill(uint8_t op, const char *v, struct vigil_pol_str_key *k)
{
	size_t len = strlen(v);

	memset(k, 0, sizeof(*k));
	switch (op) {
	case VIGIL_OP_EQUAL:
		if (len + 1 > VIGIL_POL_STR_MAX)
			return -E2BIG;
		memcpy(k->data, v, len); /* followed by the '\0' memset left */
		k->prefixlen = 8 * (uint32_t)(len + 1);
		return 0;
	case VIGIL_OP_PREFIX:
		if (len > VIGIL_POL_STR_MAX)
			return -E2BIG;
		memcpy(k->data, v, len);
		k->prefixlen = 8 * (uint32_t)len;
		return 0;
	case VIGIL_OP_POSTFIX:
		if (len > VIGIL_POL_STR_MAX)
			return -E2BIG;
		for (size_t i = 0; i < len; i++)
			k->data[i] = (uint8_t)v[len - 1 - i];
		k->prefixlen = 8 * (uint32_t)len;
		return 0;
	default:
		return -EINVAL;
	}
}

static int str_set_install(struct policy_engine *e, const struct compiled_str_set *s, uint32_t id,
			   int *ret_fd)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	struct vigil_pol_str_key k;
	uint8_t one = 1;
	int fd, r;

	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "vigil_pol_str", sizeof(k), sizeof(one),
			    VIGIL_POL_STR_SET_ENTRIES, &o);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < s->n_values; i++) {
		r = str_key_fill(s->op, s->values[i], &k);
		if (r < 0)
			goto fail;
		if (bpf_map_update_elem(fd, &k, &one, BPF_ANY) < 0) {
			r = -errno;
			goto fail;
		}
	}
	if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.pol_str_sets), &id, &fd, BPF_ANY) < 0) {
		r = -errno;
		goto fail;
	}
	*ret_fd = fd;
	return 0;
fail:
	close(fd);
	return r;
}

static void str_set_remove(struct policy_engine *e, uint32_t id, int fd)
{
	(void)bpf_map_delete_elem(bpf_map__fd(e->skel->maps.pol_str_sets), &id);
	if (fd >= 0)
		close(fd);
	if (id < VIGIL_POL_MAX_STR_SETS)
		e->str_used[id] = false;
}

static int int_set_write(struct policy_engine *e, const struct compiled_int_set *s, uint32_t id,
			 bool add)
{
	int fd = bpf_map__fd(e->skel->maps.pol_int_sets);
	uint8_t one = 1;

	for (size_t i = 0; i < s->n_values; i++) {
		struct vigil_pol_int_key k = {.set_id = id, .value = s->values[i]};

		if (add && bpf_map_update_elem(fd, &k, &one, BPF_ANY) < 0)
			return -errno;
		if (!add)
			(void)bpf_map_delete_elem(fd, &k);
	}
	return 0;
}

static int addr_set_write(struct policy_engine *e, const struct compiled_addr_set *s, uint32_t id,
			  bool add)
{
	int fd = bpf_map__fd(e->skel->maps.pol_addr_sets);
	uint8_t one = 1;

	for (size_t i = 0; i < s->n_cidrs; i++) {
		struct vigil_pol_addr_key k = {
			.prefixlen = 32 + s->cidrs[i].bits,
			.set_id = id,
		};

		memcpy(k.addr, s->cidrs[i].addr, sizeof(k.addr));
		if (add && bpf_map_update_elem(fd, &k, &one, BPF_ANY) < 0)
			return -errno;
		if (!add)
			(void)bpf_map_delete_elem(fd, &k);
	}
	return 0;
}

static uint32_t bits_hi(uint64_t used)
{
	return used ? 64 - (uint32_t)__builtin_clzll(used) : 0;
}

/* Tell exec and fork how many binary / pid sets to look at (none when no policy uses them). */
static void bounds_write(struct policy_engine *e)
{
	struct vigil_pol_set_bounds b = {
		.bin_hi = bits_hi(e->bin_used),
		.pid_hi = bits_hi(e->pid_used),
	};
	uint32_t zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.pol_set_bounds), &zero, &b, BPF_ANY) < 0)
		log_warning_errno(errno, "Failed to update the policy set bounds, ignoring: %m");
}

static int alloc_bit(uint64_t *used, unsigned max, uint32_t *ret)
{
	for (unsigned i = 0; i < max; i++)
		if (!(*used & (1ULL << i))) {
			*used |= 1ULL << i;
			*ret = i;
			return 0;
		}
	return -ENOSPC;
}

/* A released pol_procs bit must not linger in any process before it is handed out again. */
static void procs_clear_bits(struct policy_engine *e, uint64_t bin_mask, uint64_t pid_mask)
{
	int fd = bpf_map__fd(e->skel->maps.pol_procs);
	uint32_t key, next;
	uint32_t *prev = NULL;

	if (!bin_mask && !pid_mask)
		return;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct vigil_pol_proc v;

		if (bpf_map_lookup_elem(fd, &next, &v) == 0 &&
		    ((v.bin_bits & bin_mask) || (v.pid_bits & pid_mask))) {
			v.bin_bits &= ~bin_mask;
			v.pid_bits &= ~pid_mask;
			(void)bpf_map_update_elem(fd, &next, &v, BPF_EXIST);
		}
		key = next;
		prev = &key;
	}
}

/* ---- seeding per-process state for processes that already run --------------------------- */

static bool str_matches(uint8_t op, const char *s, char *const *values)
{
	size_t len = strlen(s);

	for (char *const *v = values; v && *v; v++) {
		size_t vl = strlen(*v);

		switch (op) {
		case VIGIL_OP_EQUAL:
			if (streq(s, *v))
				return true;
			break;
		case VIGIL_OP_PREFIX:
			if (strncmp(s, *v, vl) == 0)
				return true;
			break;
		case VIGIL_OP_POSTFIX:
			if (vl <= len && memcmp(s + len - vl, *v, vl) == 0)
				return true;
			break;
		default:
			break;
		}
	}
	return false;
}

static bool int_set_has(const struct compiled_int_set *s, uint64_t v)
{
	for (size_t i = 0; i < s->n_values; i++)
		if (s->values[i] == v)
			return true;
	return false;
}

struct seed_ctx {
	struct policy_engine *e;
	const struct installed_policy *ip;
	int fd;
};

static int seed_one(struct proc_cache *c, const struct proc_entry *p, void *userdata)
{
	struct seed_ctx *s = userdata;
	const struct compiled_policy *cp = s->ip->cp;
	struct vigil_pol_proc v = {};
	uint64_t bin = 0, pid = 0;

	for (size_t i = 0; i < cp->n_bin_sets; i++) {
		const struct vigil_pol_bin_set *b = &cp->bin_sets[i];
		const struct compiled_str_set *ss = &cp->str_sets[b->str_set];
		const struct proc_entry *a = p;

		for (unsigned depth = 0; a && depth < FOLLOW_DEPTH; depth++) {
			if (str_matches(b->op, a->binary, ss->values)) {
				bin |= 1ULL << s->ip->bin_bits[i];
				break;
			}
			if (!b->follow)
				break;
			a = proc_cache_parent(c, a);
		}
	}
	for (size_t i = 0; i < cp->n_pid_sets; i++) {
		const struct compiled_int_set *is = &cp->int_sets[cp->pid_sets[i].int_set];
		const struct proc_entry *a = proc_cache_parent(c, p);

		/* followForks: the process itself is matched directly; ancestors through the bit */
		for (unsigned depth = 0; a && depth < FOLLOW_DEPTH; depth++) {
			if (int_set_has(is, a->pid)) {
				pid |= 1ULL << s->ip->pid_bits[i];
				break;
			}
			a = proc_cache_parent(c, a);
		}
	}
	if (!bin && !pid)
		return 0;
	if (bpf_map_lookup_elem(s->fd, &p->pid, &v) < 0 || v.start_boottime != p->start_boottime)
		v = (struct vigil_pol_proc){.start_boottime = p->start_boottime};
	v.bin_bits |= bin;
	v.pid_bits |= pid;
	(void)bpf_map_update_elem(s->fd, &p->pid, &v, BPF_ANY);
	return 0;
}

/* ---- hooks --------------------------------------------------------------------------------- */

static int hook_patch(const struct installed_policy *ip, struct vigil_pol_hook *h)
{
	const struct compiled_policy *cp = ip->cp;

	for (unsigned s = 0; s < h->n_selectors && s < VIGIL_POL_MAX_SELECTORS; s++) {
		struct vigil_pol_selector *sel = &h->sel[s];
		struct vigil_pol_match *lists[2] = {sel->match, sel->ret};
		unsigned counts[2] = {sel->n_match, sel->n_ret};
		unsigned limits[2] = {VIGIL_POL_MAX_MATCHARGS, VIGIL_POL_MAX_RETARGS};

		for (unsigned l = 0; l < 2; l++)
			for (unsigned i = 0; i < counts[l] && i < limits[l]; i++) {
				struct vigil_pol_match *m = &lists[l][i];

				switch (match_set_kind(h, m)) {
				case SET_STR:
					if (m->set_id >= cp->n_str_sets)
						return -EINVAL;
					m->set_id = ip->str_ids[m->set_id];
					break;
				case SET_INT:
					if (m->set_id >= cp->n_int_sets)
						return -EINVAL;
					m->set_id = ip->int_ids[m->set_id];
					break;
				case SET_ADDR:
					if (m->set_id >= cp->n_addr_sets)
						return -EINVAL;
					m->set_id = ip->addr_ids[m->set_id];
					break;
				case SET_NONE:
					break;
				}
			}
		for (unsigned i = 0; i < sel->n_ns && i < VIGIL_POL_MAX_NS; i++) {
			if (sel->ns[i].set_id >= cp->n_int_sets)
				return -EINVAL;
			sel->ns[i].set_id = ip->int_ids[sel->ns[i].set_id];
		}
		if (sel->flags & VIGIL_SEL_F_PID) {
			if (sel->pid_set >= cp->n_int_sets)
				return -EINVAL;
			sel->pid_set = ip->int_ids[sel->pid_set];
		}
		if (sel->flags & VIGIL_SEL_F_PID_FOLLOW) {
			if (sel->pid_bit >= cp->n_pid_sets)
				return -EINVAL;
			sel->pid_bit = (uint8_t)ip->pid_bits[sel->pid_bit];
		}
		if (sel->flags & VIGIL_SEL_F_BIN) {
			if (sel->bin_bit >= cp->n_bin_sets)
				return -EINVAL;
			sel->bin_bit = (uint8_t)ip->bin_bits[sel->bin_bit];
		}
	}
	return 0;
}

/* By name: bpf_program__attach_*() fail with EINVAL on NULL, which the callers report. */
static struct bpf_program *prog(struct policy_engine *e, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(e->skel->obj, name);

	if (!p)
		errno = ENOENT;
	return p;
}

static int split_tp(const char *tp, char **ret_cat, const char **ret_name)
{
	const char *slash = strchr(tp, '/');

	if (!slash)
		return -EINVAL;
	*ret_cat = strndup(tp, (size_t)(slash - tp));
	if (!*ret_cat)
		return -ENOMEM;
	*ret_name = slash + 1;
	return 0;
}

static struct bpf_link *attach_tp(struct bpf_program *prog, const char *tp, uint32_t cookie)
{
	LIBBPF_OPTS(bpf_tracepoint_opts, o, .bpf_cookie = cookie);
	_cleanup_free_ char *cat = NULL;
	const char *name;
	int r;

	if (!prog) {
		errno = ENOENT;
		return NULL;
	}
	r = split_tp(tp, &cat, &name);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	return bpf_program__attach_tracepoint_opts(prog, cat, name, &o);
}

static int group_write(struct policy_engine *e, uint32_t id)
{
	if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.pol_tp_groups), &id, &e->groups[id].g,
				BPF_ANY) < 0)
		return -errno;
	return 0;
}

/* Add slot to the group of tracepoint tp (attaching the program on first use). */
static int group_add(struct policy_engine *e, const char *tp, bool exit, uint32_t slot,
		     int *ret_group)
{
	struct tp_group *g = NULL;
	uint32_t id = UINT32_MAX;
	int r;

	for (uint32_t i = 0; i < VIGIL_POL_MAX_HOOKS; i++) {
		if (e->groups[i].tp && e->groups[i].exit == exit && streq(e->groups[i].tp, tp)) {
			id = i;
			break;
		}
		if (!e->groups[i].tp && id == UINT32_MAX)
			id = i;
	}
	if (id == UINT32_MAX)
		return -ENOSPC;
	g = &e->groups[id];
	if (g->tp && g->g.n >= VIGIL_POL_GROUP_MAX)
		return log_error_errno(SYNTHETIC_ERRNO(ENOSPC),
				       "More than %u hooks on tracepoint '%s'.",
				       VIGIL_POL_GROUP_MAX, tp);
	if (!g->tp) {
		struct tp_group ng = {.exit = exit};

		ng.tp = strdup(tp);
		if (!ng.tp)
			return -ENOMEM;
		*g = ng;
		r = group_write(e, id); /* empty list first: the program may fire at once */
		if (r >= 0) {
			g->link = attach_tp(
				prog(e, exit ? "handle_policy_exit" : "handle_policy_enter"), tp,
				id);
			r = g->link ? 0 : -errno;
		}
		if (r < 0) {
			free(g->tp);
			*g = (struct tp_group){};
			return r;
		}
	}
	g->g.slots[g->g.n++] = slot;
	r = group_write(e, id);
	if (r < 0) {
		g->g.n--;
		return r;
	}
	*ret_group = (int)id;
	return 0;
}

static void group_del(struct policy_engine *e, int id, uint32_t slot)
{
	struct tp_group *g;

	if (id < 0 || id >= VIGIL_POL_MAX_HOOKS || !e->groups[id].tp)
		return;
	g = &e->groups[id];
	for (uint32_t i = 0; i < g->g.n; i++)
		if (g->g.slots[i] == slot) {
			g->g.slots[i] = g->g.slots[--g->g.n];
			break;
		}
	(void)group_write(e, (uint32_t)id);
	if (g->g.n == 0) {
		bpf_link__destroy(g->link);
		free(g->tp);
		*g = (struct tp_group){};
	}
}

static int connect_attach(struct policy_engine *e)
{
	if (e->connect_users++ > 0)
		return 0;
	if (!e->cgroup_root) {
		e->connect_users--;
		return log_error_errno(
			SYNTHETIC_ERRNO(EOPNOTSUPP),
			"Override on connect needs a cgroup v2 hierarchy, none is mounted.");
	}
	if (e->cgroup_fd < 0) {
		e->cgroup_fd = open(e->cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (e->cgroup_fd < 0) {
			e->connect_users--;
			return log_error_errno(errno, "Failed to open the cgroup v2 root '%s': %m",
					       e->cgroup_root);
		}
	}
	if (!prog(e, "handle_connect4") || !prog(e, "handle_connect6"))
		goto fail;
	if (bpf_program__fd(prog(e, "handle_connect4")) < 0) {
		e->connect_users--;
		return log_error_errno(SYNTHETIC_ERRNO(EPERM),
				       "Override on connect needs CAP_NET_ADMIN (cgroup connect "
				       "programs), which vigild does not have.");
	}
	e->connect4 = bpf_program__attach_cgroup(prog(e, "handle_connect4"), e->cgroup_fd);
	if (!e->connect4)
		goto fail;
	e->connect6 = bpf_program__attach_cgroup(prog(e, "handle_connect6"), e->cgroup_fd);
	if (!e->connect6)
		goto fail;
	return 0;
fail:
	e->connect_users--;
	{
		int r = -errno;

		bpf_link__destroy(e->connect4);
		e->connect4 = NULL;
		return log_error_errno(r, "Failed to attach the connect programs to '%s': %m",
				       e->cgroup_root);
	}
}

static void connect_detach(struct policy_engine *e)
{
	if (e->connect_users == 0 || --e->connect_users > 0)
		return;
	bpf_link__destroy(e->connect4);
	bpf_link__destroy(e->connect6);
	e->connect4 = e->connect6 = NULL;
}

static void hook_remove(struct policy_engine *e, struct installed_hook *ih)
{
	struct vigil_pol_hook off = {};

	/* Deactivate first: an invocation racing with the detach sees an inactive slot. */
	(void)bpf_map_update_elem(bpf_map__fd(e->skel->maps.pol_hooks), &ih->slot, &off, BPF_ANY);
	group_del(e, ih->enter_group, ih->slot);
	group_del(e, ih->exit_group, ih->slot);
	ih->enter_group = ih->exit_group = -1;
	if (ih->connect_idx >= 0) {
		uint32_t idx = (uint32_t)ih->connect_idx, zero = 0;

		(void)bpf_map_update_elem(bpf_map__fd(e->skel->maps.pol_connect_hooks), &idx, &zero,
					  BPF_ANY);
		e->connect_used[idx] = false;
		connect_detach(e);
		ih->connect_idx = -1;
	}
	e->slot_used[ih->slot] = false;
}

static int hook_install(struct policy_engine *e, struct installed_policy *ip,
			const struct compiled_hook *ch, struct installed_hook *ih)
{
	struct vigil_pol_hook h = ch->bpf;
	uint32_t slot = UINT32_MAX;
	int r;

	*ih = (struct installed_hook){.connect_idx = -1};
	for (uint32_t i = 0; i < VIGIL_POL_MAX_HOOKS; i++)
		if (!e->slot_used[i]) {
			slot = i;
			break;
		}
	if (slot == UINT32_MAX)
		return log_error_errno(SYNTHETIC_ERRNO(ENOSPC),
				       "Policy '%s': all %u hook slots are in use.", ip->cp->name,
				       VIGIL_POL_MAX_HOOKS);
	r = hook_patch(ip, &h);
	if (r < 0)
		return log_error_errno(r, "Policy '%s': inconsistent compiled hook.", ip->cp->name);
	e->slot_used[slot] = true;
	ih->slot = slot;
	ih->hook_id = ++e->next_hook_id;
	h.hook_id = ih->hook_id;
	/* Connect hooks run from their own programs: active at once. Others: see below. */
	if (ch->connect_override)
		h.flags |= VIGIL_HOOK_F_ACTIVE;
	if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.pol_hooks), &slot, &h, BPF_ANY) < 0) {
		r = -errno;
		e->slot_used[slot] = false;
		return log_error_errno(r, "Policy '%s': failed to write hook: %m", ip->cp->name);
	}

	if (ch->connect_override) {
		uint32_t idx = UINT32_MAX, val = slot + 1;

		for (uint32_t i = 0; i < VIGIL_POL_MAX_CONNECT_HOOKS; i++)
			if (!e->connect_used[i]) {
				idx = i;
				break;
			}
		if (idx == UINT32_MAX) {
			hook_remove(e, ih);
			return log_error_errno(SYNTHETIC_ERRNO(ENOSPC),
					       "Policy '%s': more than %u connect Override hooks.",
					       ip->cp->name, VIGIL_POL_MAX_CONNECT_HOOKS);
		}
		r = connect_attach(e);
		if (r < 0) {
			hook_remove(e, ih);
			return r;
		}
		e->connect_used[idx] = true;
		ih->connect_idx = (int)idx;
		if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.pol_connect_hooks), &idx, &val,
					BPF_ANY) < 0) {
			r = -errno;
			hook_remove(e, ih);
			return log_error_errno(r, "Policy '%s': failed to enable connect hook: %m",
					       ip->cp->name);
		}
		return 0;
	}

	/* The exit side first: an entry recorded before its exit program exists would linger. */
	if (ch->exit_tp) {
		r = group_add(e, ch->exit_tp, true, slot, &ih->exit_group);
		if (r < 0) {
			hook_remove(e, ih);
			return log_error_errno(
				r, "Policy '%s': failed to attach to tracepoint '%s': %m",
				ip->cp->name, ch->exit_tp);
		}
	}
	r = group_add(e, ch->enter_tp, false, slot, &ih->enter_group);
	if (r < 0) {
		hook_remove(e, ih);
		return log_error_errno(r, "Policy '%s': failed to attach to tracepoint '%s': %m",
				       ip->cp->name, ch->enter_tp);
	}
	/*
	 * Activate only now, naming the groups (cookies) the hook may run from: a program that
	 * reads a group list while another hook is being removed from it can never run this
	 * hook on another tracepoint's record.
	 */
	h.enter_group = (uint16_t)(ih->enter_group + 1);
	h.exit_group = ih->exit_group >= 0 ? (uint16_t)(ih->exit_group + 1) : 0;
	h.flags |= VIGIL_HOOK_F_ACTIVE;
	if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.pol_hooks), &slot, &h, BPF_ANY) < 0) {
		r = -errno;
		hook_remove(e, ih);
		return log_error_errno(r, "Policy '%s': failed to activate hook: %m", ip->cp->name);
	}
	return 0;
}

/* ---- policies ------------------------------------------------------------------------------ */

/* Undo everything a policy put into the kernel; its metadata (cp, hook ids) stays. */
static void installed_release(struct policy_engine *e, struct installed_policy *ip)
{
	const struct compiled_policy *cp = ip->cp;
	uint64_t bin_mask = 0, pid_mask = 0;

	for (size_t i = 0; i < ip->n_hooks_done; i++)
		hook_remove(e, &ip->hooks[i]);
	ip->n_hooks_done = 0;
	for (size_t i = 0; i < ip->n_bin_done; i++) {
		struct vigil_pol_bin_set off = {};

		(void)bpf_map_update_elem(bpf_map__fd(e->skel->maps.pol_bin_sets), &ip->bin_bits[i],
					  &off, BPF_ANY);
		bin_mask |= 1ULL << ip->bin_bits[i];
	}
	for (size_t i = 0; i < ip->n_pid_done; i++) {
		struct vigil_pol_pid_set off = {};

		(void)bpf_map_update_elem(bpf_map__fd(e->skel->maps.pol_pid_sets), &ip->pid_bits[i],
					  &off, BPF_ANY);
		pid_mask |= 1ULL << ip->pid_bits[i];
	}
	procs_clear_bits(e, bin_mask, pid_mask);
	e->bin_used &= ~bin_mask;
	e->pid_used &= ~pid_mask;
	if (bin_mask || pid_mask)
		bounds_write(e);
	ip->n_bin_done = ip->n_pid_done = 0;
	for (size_t i = 0; i < ip->n_int_done; i++)
		(void)int_set_write(e, &cp->int_sets[i], ip->int_ids[i], false);
	ip->n_int_done = 0;
	for (size_t i = 0; i < ip->n_addr_done; i++)
		(void)addr_set_write(e, &cp->addr_sets[i], ip->addr_ids[i], false);
	ip->n_addr_done = 0;
	for (size_t i = 0; i < ip->n_str_done; i++)
		str_set_remove(e, ip->str_ids[i], ip->str_fds[i]);
	ip->n_str_done = 0;
}

static struct installed_policy *installed_free(struct policy_engine *e, struct installed_policy *ip)
{
	if (!ip)
		return NULL;
	if (ip->cp)
		installed_release(e, ip);
	free(ip->str_ids);
	free(ip->str_fds);
	free(ip->int_ids);
	free(ip->addr_ids);
	free(ip->bin_bits);
	free(ip->pid_bits);
	free(ip->hooks);
	compiled_policy_free(ip->cp);
	free(ip);
	return NULL;
}

/* Release the kernel side but keep the metadata: its hooks may still have events queued. */
static void installed_retire(struct policy_engine *e, struct installed_policy *ip)
{
	struct installed_policy **t;

	installed_release(e, ip);
	t = realloc(e->retired, (e->n_retired + 1) * sizeof(*t));
	if (!t) {
		installed_free(e, ip);
		return;
	}
	e->retired = t;
	e->retired[e->n_retired++] = ip;
}

/* Takes ownership of cp (freed on failure). */
static int installed_new(struct policy_engine *e, struct compiled_policy *cp,
			 struct installed_policy **ret)
{
	struct installed_policy *ip;
	int r;

	ip = calloc(1, sizeof(*ip));
	if (!ip) {
		compiled_policy_free(cp);
		return log_oom();
	}
	ip->cp = cp;
	ip->str_ids = calloc(cp->n_str_sets + 1, sizeof(*ip->str_ids));
	ip->str_fds = calloc(cp->n_str_sets + 1, sizeof(*ip->str_fds));
	ip->int_ids = calloc(cp->n_int_sets + 1, sizeof(*ip->int_ids));
	ip->addr_ids = calloc(cp->n_addr_sets + 1, sizeof(*ip->addr_ids));
	ip->bin_bits = calloc(cp->n_bin_sets + 1, sizeof(*ip->bin_bits));
	ip->pid_bits = calloc(cp->n_pid_sets + 1, sizeof(*ip->pid_bits));
	ip->hooks = calloc(cp->n_hooks + 1, sizeof(*ip->hooks));
	if (!ip->str_ids || !ip->str_fds || !ip->int_ids || !ip->addr_ids || !ip->bin_bits ||
	    !ip->pid_bits || !ip->hooks) {
		r = log_oom();
		goto fail;
	}

	for (size_t i = 0; i < cp->n_str_sets; i++) {
		uint32_t id = UINT32_MAX;

		for (uint32_t j = 0; j < VIGIL_POL_MAX_STR_SETS; j++)
			if (!e->str_used[j]) {
				id = j;
				break;
			}
		if (id == UINT32_MAX) {
			r = log_error_errno(SYNTHETIC_ERRNO(ENOSPC),
					    "Policy '%s': all %u string value sets are in use.",
					    cp->name, VIGIL_POL_MAX_STR_SETS);
			goto fail;
		}
		r = str_set_install(e, &cp->str_sets[i], id, &ip->str_fds[i]);
		if (r < 0) {
			log_error_errno(r, "Policy '%s': failed to create a string value set: %m",
					cp->name);
			goto fail;
		}
		e->str_used[id] = true;
		ip->str_ids[i] = id;
		ip->n_str_done++;
	}
	for (size_t i = 0; i < cp->n_int_sets; i++) {
		ip->int_ids[i] = ++e->next_int_id;
		ip->n_int_done++;
		r = int_set_write(e, &cp->int_sets[i], ip->int_ids[i], true);
		if (r < 0) {
			log_error_errno(r, "Policy '%s': failed to write an integer set: %m",
					cp->name);
			goto fail;
		}
	}
	for (size_t i = 0; i < cp->n_addr_sets; i++) {
		ip->addr_ids[i] = ++e->next_addr_id;
		ip->n_addr_done++;
		r = addr_set_write(e, &cp->addr_sets[i], ip->addr_ids[i], true);
		if (r < 0) {
			log_error_errno(r, "Policy '%s': failed to write an address set: %m",
					cp->name);
			goto fail;
		}
	}
	for (size_t i = 0; i < cp->n_bin_sets; i++) {
		struct vigil_pol_bin_set b = cp->bin_sets[i];

		r = alloc_bit(&e->bin_used, VIGIL_POL_MAX_BIN_SETS, &ip->bin_bits[i]);
		if (r < 0) {
			log_error("Policy '%s': more than %u matchBinaries sets over all policies.",
				  cp->name, VIGIL_POL_MAX_BIN_SETS);
			goto fail;
		}
		ip->n_bin_done++;
		b.str_set = ip->str_ids[b.str_set];
		b.active = 1;
		if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.pol_bin_sets), &ip->bin_bits[i],
					&b, BPF_ANY) < 0) {
			r = log_error_errno(errno, "Policy '%s': failed to write a binary set: %m",
					    cp->name);
			goto fail;
		}
	}
	for (size_t i = 0; i < cp->n_pid_sets; i++) {
		struct vigil_pol_pid_set p = cp->pid_sets[i];

		r = alloc_bit(&e->pid_used, VIGIL_POL_MAX_PID_SETS, &ip->pid_bits[i]);
		if (r < 0) {
			log_error("Policy '%s': more than %u followForks matchPIDs over all "
				  "policies.",
				  cp->name, VIGIL_POL_MAX_PID_SETS);
			goto fail;
		}
		ip->n_pid_done++;
		p.int_set = ip->int_ids[p.int_set];
		p.active = 1;
		if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.pol_pid_sets), &ip->pid_bits[i],
					&p, BPF_ANY) < 0) {
			r = log_error_errno(errno, "Policy '%s': failed to write a pid set: %m",
					    cp->name);
			goto fail;
		}
	}
	if (cp->n_bin_sets || cp->n_pid_sets)
		bounds_write(e);
	*ret = ip;
	return 0;
fail:
	installed_free(e, ip); /* releases what was done and frees cp */
	return r;
}

static int installed_attach(struct policy_engine *e, struct installed_policy *ip,
			    struct proc_cache *procs)
{
	const struct compiled_policy *cp = ip->cp;
	int r;

	if (procs && (cp->n_bin_sets || cp->n_pid_sets)) {
		struct seed_ctx s = {
			.e = e,
			.ip = ip,
			.fd = bpf_map__fd(e->skel->maps.pol_procs),
		};

		(void)proc_cache_foreach_live(procs, seed_one, &s);
	}
	for (size_t i = 0; i < cp->n_hooks; i++) {
		r = hook_install(e, ip, &cp->hooks[i], &ip->hooks[i]);
		if (r < 0)
			return r;
		ip->n_hooks_done++;
	}
	return 0;
}

/* ---- lookup table ------------------------------------------------------------------------- */

static int ref_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct hook_ref *)a)->hook_id,
		 y = ((const struct hook_ref *)b)->hook_id;

	return x < y ? -1 : x > y;
}

static int refs_add(struct hook_ref **refs, size_t *n, const struct installed_policy *ip)
{
	for (size_t i = 0; i < ip->cp->n_hooks; i++) {
		struct hook_ref *t;

		if (ip->hooks[i].hook_id == 0)
			continue;
		t = realloc(*refs, (*n + 1) * sizeof(*t));
		if (!t)
			return -ENOMEM;
		*refs = t;
		t[(*n)++] = (struct hook_ref){
			.hook_id = ip->hooks[i].hook_id,
			.hook = &ip->cp->hooks[i],
			.policy = ip->cp->name,
		};
	}
	return 0;
}

static int refs_rebuild(struct policy_engine *e)
{
	struct hook_ref *refs = NULL;
	size_t n = 0;

	for (size_t i = 0; i < e->n_pols; i++)
		if (refs_add(&refs, &n, e->pols[i]) < 0)
			goto oom;
	for (size_t i = 0; i < e->n_retired; i++)
		if (refs_add(&refs, &n, e->retired[i]) < 0)
			goto oom;
	if (n > 1)
		qsort(refs, n, sizeof(*refs), ref_cmp);
	free(e->refs);
	e->refs = refs;
	e->n_refs = n;
	return 0;
oom:
	free(refs);
	return log_oom();
}

const struct compiled_hook *policy_engine_hook(struct policy_engine *e, uint32_t hook_id,
					       const char **ret_policy_name)
{
	struct hook_ref key = {.hook_id = hook_id}, *f;

	if (!e || e->n_refs == 0)
		return NULL;
	f = bsearch(&key, e->refs, e->n_refs, sizeof(*e->refs), ref_cmp);
	if (!f)
		return NULL;
	if (ret_policy_name)
		*ret_policy_name = f->policy;
	return f->hook;
}

/* ---- public -------------------------------------------------------------------------------- */

int policy_engine_new(struct vigil_bpf *skel, const struct policy_env *env, const char *cgroup_root,
		      struct policy_engine **ret)
{
	struct policy_engine *e;

	if (!skel || !env || !ret)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return log_oom();
	e->skel = skel;
	e->env = *env;
	e->cgroup_fd = -1;
	if (cgroup_root) {
		e->cgroup_root = strdup(cgroup_root);
		if (!e->cgroup_root) {
			free(e);
			return log_oom();
		}
	}
	*ret = e;
	return 0;
}

struct policy_engine *policy_engine_free(struct policy_engine *e)
{
	if (!e)
		return NULL;
	for (size_t i = 0; i < e->n_pols; i++)
		installed_free(e, e->pols[i]);
	for (size_t i = 0; i < e->n_retired; i++)
		installed_free(e, e->retired[i]);
	free(e->pols);
	free(e->retired);
	free(e->refs);
	for (size_t i = 0; i < VIGIL_POL_MAX_HOOKS; i++)
		if (e->groups[i].tp) {
			bpf_link__destroy(e->groups[i].link);
			free(e->groups[i].tp);
		}
	bpf_link__destroy(e->connect4);
	bpf_link__destroy(e->connect6);
	if (e->cgroup_fd >= 0)
		close(e->cgroup_fd);
	free(e->cgroup_root);
	free(e);
	return NULL;
}

static struct installed_policy *find_running(struct policy_engine *e, const char *name)
{
	for (size_t i = 0; i < e->n_pols; i++)
		if (streq(e->pols[i]->cp->name, name))
			return e->pols[i];
	return NULL;
}

static bool strv_contains(char *const *l, const char *s)
{
	for (; l && *l; l++)
		if (streq(*l, s))
			return true;
	return false;
}

static bool set_has_name(const struct policy_set *set, const char *name)
{
	for (size_t i = 0; i < set->n_policies; i++)
		if (streq(set->policies[i]->name, name))
			return true;
	return false;
}

int policy_engine_apply(struct policy_engine *e, const struct policy_set *set,
			struct proc_cache *procs)
{
	_cleanup_free_ struct installed_policy **next = NULL;
	size_t n_next = 0;
	unsigned failed = 0;

	if (!e || !set)
		return -EINVAL;

	/* Policies retired at the previous apply have had their grace: free them now. */
	for (size_t i = 0; i < e->n_retired; i++)
		installed_free(e, e->retired[i]);
	e->n_retired = 0;

	next = calloc(set->n_policies + e->n_pols + 1, sizeof(*next));
	if (!next)
		return log_oom();

	for (size_t i = 0; i < set->n_policies; i++) {
		const struct policy *p = set->policies[i];
		struct installed_policy *old = find_running(e, p->name), *ip = NULL;
		struct compiled_policy *cp = NULL;
		int r;

		if (old && old->cp->digest && p->digest && streq(old->cp->digest, p->digest)) {
			next[n_next++] = old; /* unchanged: untouched */
			continue;
		}
		r = policy_compile(p, &e->env, &cp);
		if (r >= 0)
			r = installed_new(e, TAKE_PTR(cp), &ip);
		if (r >= 0) {
			r = installed_attach(e, ip, procs);
			if (r < 0) {
				/*
				 * Hooks attached before the failure may already have acted (a
				 * Sigkill): keep their metadata so those events still render.
				 */
				installed_retire(e, ip);
				ip = NULL;
			}
		}
		if (r < 0) {
			failed++;
			if (old) {
				log_warning(
					"%s: policy '%s' not changed: the new version failed, the "
					"running one stays.",
					p->file, p->name);
				next[n_next++] = old;
			} else
				log_error("%s: policy '%s' not loaded.", p->file, p->name);
			continue;
		}
		log_info("%s: policy '%s' %s (%zu hooks).", p->file, p->name,
			 old ? "updated" : "loaded", ip->cp->n_hooks);
		next[n_next++] = ip;
	}

	/* Everything running that is not carried over retires: replaced, removed from disk. */
	for (size_t i = 0; i < e->n_pols; i++) {
		bool kept = false;

		for (size_t j = 0; j < n_next && !kept; j++)
			kept = next[j] == e->pols[i];
		/*
		 * A policy whose file now has an error is kept as it runs: an edit that does not
		 * parse must not silently unload it (the error is logged, --validate reports it).
		 */
		if (!kept && !set_has_name(set, e->pols[i]->cp->name) &&
		    strv_contains(set->failed_files, e->pols[i]->cp->file)) {
			log_warning("%s: policy '%s' kept as it runs: its file has errors.",
				    e->pols[i]->cp->file, e->pols[i]->cp->name);
			next[n_next++] = e->pols[i];
			kept = true;
		}
		if (kept)
			continue;
		if (!set_has_name(set, e->pols[i]->cp->name))
			log_info("Policy '%s' removed.", e->pols[i]->cp->name);
		installed_retire(e, e->pols[i]);
	}
	free(e->pols);
	e->pols = TAKE_PTR(next);
	e->n_pols = n_next;
	e->n_failed = failed + set->n_errors;
	(void)refs_rebuild(e);
	return (int)e->n_failed;
}

void policy_engine_detach(struct policy_engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n_pols; i++)
		installed_retire(e, e->pols[i]);
	e->n_pols = 0;
	(void)refs_rebuild(e);
}

void policy_engine_status(struct policy_engine *e, struct policy_engine_status *ret)
{
	int ncpus = libbpf_num_possible_cpus();

	*ret = (struct policy_engine_status){};
	if (!e)
		return;
	ret->n_policies = e->n_pols;
	ret->n_failed = e->n_failed;
	for (size_t i = 0; i < e->n_pols; i++)
		ret->n_hooks += e->pols[i]->n_hooks_done;
	if (ncpus <= 0)
		return;
	for (uint32_t a = 0; a < _VIGIL_ACT_MAX; a++) {
		_cleanup_free_ uint64_t *v = calloc((size_t)ncpus, sizeof(*v));

		if (!v ||
		    bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.pol_action_stats), &a, v) < 0)
			continue;
		for (int c = 0; c < ncpus; c++)
			ret->actions[a] += v[c];
	}
}

unsigned policy_validate_set(const struct policy_set *set, const struct policy_env *env)
{
	unsigned failed = set->n_errors;

	for (size_t i = 0; i < set->n_policies; i++) {
		_cleanup_(compiled_policy_freep) struct compiled_policy *cp = NULL;

		if (policy_compile(set->policies[i], env, &cp) < 0)
			failed++;
	}
	return failed;
}
