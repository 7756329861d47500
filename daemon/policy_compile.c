/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The TracingPolicy compiler: lowers a parsed struct policy onto this kernel's tracepoints and
 * the map values of bpf/policy.h (see daemon/policy_compile.h for the contract).
 *
 * Hooks on this host (no kprobes, no BPF-LSM):
 *   kprobes with syscall: true  -> syscalls/sys_enter_NAME (+ sys_exit_NAME when the return value
 *                                  is wanted); argument i is the i-th field after __syscall_nr,
 *                                  exactly the syscall's i-th argument (all 8 bytes wide)
 *   tracepoints                 -> SUBSYS/EVENT; argument index i counts the fields of the format
 *                                  file INCLUDING the common_* header, as Tetragon does (its
 *                                  sys_enter_lseek example uses index 5 for fd, 7 for whence)
 *   other kprobes, lsmhooks     -> -EOPNOTSUPP (they come with the VM-tested hooks)
 *
 * Argument types per field kind (anything else is -EINVAL naming the field and its type):
 *   int family   scalar field or pointer (its value)                   -> VIGIL_ARG_INT
 *   fd, sock     scalar field (the descriptor number)                  -> FD, SOCK
 *   string       pointer -> STRING; __data_loc char[] -> DATALOC; char[N] -> INLINE_STR
 *   filename     pointer of a syscall hook                             -> FILENAME (+dirfd)
 *   char_buf     pointer, with sizeArgIndex                            -> CHAR_BUF
 *   sockaddr     pointer                                               -> SOCKADDR (+length)
 *
 * Arguments a length (sizeArgIndex, the addrlen of connect) or a dirfd refers to but that the
 * policy does not list are appended after the policy's arguments with VIGIL_ARG_F_NO_CAPTURE, so
 * the kernel can read them without putting them in the event.
 *
 * Every error is logged once here as "file:line:col: path: message" with the location of the
 * node at fault; the return value says which class of error it was.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "log.h"
#include "policy_compile.h"
#include "util/macro.h"

/*
 * char_buf capture size: 256 bytes by default keeps a busy write() hook cheap (the event is
 * reserved at its maximum size); maxData: true raises it to VIGIL_POL_CHARBUF_MAX (4096).
 */
#define CHAR_BUF_DEFAULT_LEN 256

/*
 * Number of common_* fields at the start of every tracepoint record (common_type, common_flags,
 * common_preempt_count, common_pid), identical on every kernel since 4.x. struct tracefs_format
 * leaves them out, so Tetragon-style tracepoint indices are shifted by this much.
 */
static const struct tracefs_field common_fields[] = {
	{(char *)"common_type", (char *)"unsigned short", 0, 2, false},
	{(char *)"common_flags", (char *)"unsigned char", 2, 1, false},
	{(char *)"common_preempt_count", (char *)"unsigned char", 3, 1, false},
	{(char *)"common_pid", (char *)"int", 4, 4, true},
};

/* Values are parsed with the parser's policy_parse_*() (daemon/policy.h): one definition. */

/* --- syscall tables --- */

/* *at syscalls: argument index of a path -> argument index of the dirfd it is relative to. */
static const struct {
	const char *name;
	uint8_t path, dirfd;
} dirfd_table[] = {
	{"openat", 1, 0},
	{"openat2", 1, 0},
	{"mkdirat", 1, 0},
	{"mknodat", 1, 0},
	{"unlinkat", 1, 0},
	{"renameat", 1, 0},
	{"renameat", 3, 2},
	{"renameat2", 1, 0},
	{"renameat2", 3, 2},
	{"linkat", 1, 0},
	{"linkat", 3, 2},
	{"symlinkat", 2, 1},
	{"fchmodat", 1, 0},
	{"fchmodat2", 1, 0},
	{"fchownat", 1, 0},
	{"faccessat", 1, 0},
	{"faccessat2", 1, 0},
	{"newfstatat", 1, 0},
	{"fstatat64", 1, 0},
	{"statx", 1, 0},
	{"utimensat", 1, 0},
	{"futimesat", 1, 0},
	{"readlinkat", 1, 0},
	{"execveat", 1, 0},
	{"name_to_handle_at", 1, 0},
	{"open_tree", 1, 0},
	{"open_tree_attr", 1, 0},
	{"move_mount", 1, 0},
	{"move_mount", 3, 2},
	{"fspick", 1, 0},
	{"mount_setattr", 1, 0},
	{"getxattrat", 1, 0},
	{"setxattrat", 1, 0},
	{"listxattrat", 1, 0},
	{"removexattrat", 1, 0},
	{"file_getattr", 1, 0},
	{"file_setattr", 1, 0},
	{"inotify_add_watch", 1, VIGIL_POL_NO_ARG},
};

/* Syscalls with a struct sockaddr * argument: index of its length argument (by value). */
static const struct {
	const char *name;
	uint8_t addr, len;
} sockaddr_table[] = {
	{"connect", 1, 2},
	{"bind", 1, 2},
	{"sendto", 4, 5},
	{"recvfrom", 4, VIGIL_POL_NO_ARG}, /* int *addrlen */
	{"accept", 1, VIGIL_POL_NO_ARG},
	{"accept4", 1, VIGIL_POL_NO_ARG},
	{"getsockname", 1, VIGIL_POL_NO_ARG},
	{"getpeername", 1, VIGIL_POL_NO_ARG},
};

static uint8_t dirfd_for(const char *syscall, unsigned path_index)
{
	if (!syscall)
		return VIGIL_POL_NO_ARG;
	for (size_t i = 0; i < ELEMENTSOF(dirfd_table); i++)
		if (streq(dirfd_table[i].name, syscall) && dirfd_table[i].path == path_index)
			return dirfd_table[i].dirfd;
	return VIGIL_POL_NO_ARG;
}

static uint8_t addrlen_for(const char *syscall, unsigned addr_index)
{
	if (!syscall)
		return VIGIL_POL_NO_ARG;
	for (size_t i = 0; i < ELEMENTSOF(sockaddr_table); i++)
		if (streq(sockaddr_table[i].name, syscall) && sockaddr_table[i].addr == addr_index)
			return sockaddr_table[i].len;
	return VIGIL_POL_NO_ARG;
}

/* --- compiled policy --- */

static void compiled_hook_done(struct compiled_hook *h)
{
	free(h->enter_tp);
	free(h->exit_tp);
	free(h->function_name);
	free(h->subsys);
	free(h->event);
	free(h->message);
	strv_free(h->tags);
	for (size_t i = 0; i < VIGIL_POL_MAX_ARGS; i++) {
		free(h->args[i].type_name);
		free(h->args[i].label);
	}
	free(h->return_arg.type_name);
	free(h->return_arg.label);
}

struct compiled_policy *compiled_policy_free(struct compiled_policy *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n_hooks; i++)
		compiled_hook_done(&c->hooks[i]);
	free(c->hooks);
	for (size_t i = 0; i < c->n_str_sets; i++)
		strv_free(c->str_sets[i].values);
	free(c->str_sets);
	for (size_t i = 0; i < c->n_int_sets; i++)
		free(c->int_sets[i].values);
	free(c->int_sets);
	for (size_t i = 0; i < c->n_addr_sets; i++)
		free(c->addr_sets[i].cidrs);
	free(c->addr_sets);
	free(c->bin_sets);
	free(c->pid_sets);
	free(c->name);
	free(c->file);
	free(c->digest);
	free(c);
	return NULL;
}

/* Grow *array (n elements of size) by one zeroed element; returns it or NULL. */
static void *grow(void **array, size_t *n, size_t size)
{
	char *a = reallocarray(*array, *n + 1, size);

	if (!a)
		return NULL;
	*array = a;
	memset(a + *n * size, 0, size);
	return a + (*n)++ * size;
}

/* --- per-hook compile state --- */

struct hook_ctx {
	const struct policy_env *env;
	struct compiled_policy *c;
	const struct policy_hook *ph;
	struct compiled_hook *h;
	struct tracefs_format *fmt; /* enter tracepoint */
	const char *syscall;	    /* syscall name (kprobes and syscalls/ tracepoints) or NULL */
	unsigned sys_base;	    /* argument index of the syscall's first argument */
	size_t first_arg;	    /* kprobes: index in fmt->fields of argument 0 */
	bool tetragon_index;	    /* tracepoints: index counts the common_* fields too */
	unsigned arg_index[VIGIL_POL_MAX_ARGS]; /* argument index of each args[] entry */
	bool arg_listed[VIGIL_POL_MAX_ARGS];
};

static int loc_logv(int level, int error, const struct policy_loc *loc, const char *fmt, va_list ap)
{
	_cleanup_free_ char *msg = NULL;

	if (vasprintf(&msg, fmt, ap) < 0)
		return log_oom();
	return log_full_errno(level, SYNTHETIC_ERRNO(error), "%s:%u:%u: %s: %s",
			      strempty(loc ? loc->file : NULL), loc ? loc->line : 0,
			      loc ? loc->column : 0, strempty(loc ? loc->path : NULL), msg);
}

_printf_(3, 4) static int loc_error(int error, const struct policy_loc *loc, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = loc_logv(LOG_ERR, error, loc, fmt, ap);
	va_end(ap);
	return r;
}

_printf_(2, 3) static void loc_warning(const struct policy_loc *loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)loc_logv(LOG_WARNING, 0, loc, fmt, ap);
	va_end(ap);
}

/* The tracepoint field for argument index i, or NULL when out of range. */
static const struct tracefs_field *hook_field(const struct hook_ctx *x, unsigned i)
{
	if (x->tetragon_index) {
		if (i < ELEMENTSOF(common_fields))
			return &common_fields[i];
		i -= ELEMENTSOF(common_fields);
		return i < x->fmt->n_fields ? &x->fmt->fields[i] : NULL;
	}
	return x->first_arg + i < x->fmt->n_fields ? &x->fmt->fields[x->first_arg + i] : NULL;
}

static unsigned hook_n_indices(const struct hook_ctx *x)
{
	if (x->tetragon_index)
		return (unsigned)(ELEMENTSOF(common_fields) + x->fmt->n_fields);
	return (unsigned)(x->fmt->n_fields - x->first_arg);
}

static int index_error(const struct hook_ctx *x, const struct policy_loc *loc, const char *what,
		       unsigned index)
{
	unsigned n = hook_n_indices(x);

	if (x->tetragon_index)
		return loc_error(EINVAL, loc,
				 "%s %u is beyond the fields of tracepoint '%s' (it has %u fields, "
				 "indices 0..%u, common_* fields included)",
				 what, index, x->h->enter_tp, n, n - 1);
	return loc_error(EINVAL, loc, "%s %u is beyond the arguments of syscall '%s' (it has %u)",
			 what, index, x->syscall, n);
}

static bool type_is_pointer(const char *t)
{
	size_t n = strlen(t);

	return n > 0 && t[n - 1] == '*';
}

static bool type_is_array(const char *t)
{
	size_t n = strlen(t);

	return n > 0 && t[n - 1] == ']';
}

static bool type_is_dataloc_str(const char *t)
{
	return streq(t, "__data_loc char[]") || streq(t, "__rel_loc char[]");
}

/* "char[N]" (also signed/unsigned char): returns N, or 0. */
static unsigned type_inline_str_len(const char *t, unsigned size)
{
	const char *b = strchr(t, '[');

	if (!b || !type_is_array(t) || b[1] == ']')
		return 0;
	if (strncmp(t, "char[", 5) != 0 && strncmp(t, "unsigned char[", 14) != 0 &&
	    strncmp(t, "signed char[", 12) != 0)
		return 0;
	return size;
}

static bool field_is_scalar(const struct tracefs_field *f)
{
	return !type_is_array(f->type) && !type_is_dataloc_str(f->type) &&
	       strncmp(f->type, "__data_loc", 10) != 0 && strncmp(f->type, "__rel_loc", 9) != 0 &&
	       (f->size == 1 || f->size == 2 || f->size == 4 || f->size == 8);
}

static int type_mismatch(const struct policy_arg *a, const struct tracefs_field *f, const char *why)
{
	return loc_error(EINVAL, &a->loc, "type '%s' does not fit field '%s' (tracefs type '%s')%s",
			 a->type_name ?: policy_arg_type_to_string(a->type), f->name, f->type, why);
}

/* Lower one policy argument into bpf.args[pos]. */
static int lower_arg(struct hook_ctx *x, size_t pos, const struct policy_arg *a)
{
	struct vigil_pol_arg *ba = &x->h->bpf.args[pos];
	struct compiled_arg_meta *m = &x->h->args[pos];
	bool sys = x->h->bpf.flags & VIGIL_HOOK_F_SYSCALL;
	const struct tracefs_field *f;
	unsigned n;

	f = hook_field(x, a->index);
	if (!f)
		return index_error(x, &a->loc, "argument index", a->index);

	*ba = (struct vigil_pol_arg){
		.offset = (uint16_t)f->offset,
		.width = (uint8_t)MIN(f->size, 8u),
		.size_arg = VIGIL_POL_NO_ARG,
		.dirfd_arg = VIGIL_POL_NO_ARG,
	};

	switch (a->type) {
	case POLICY_ARG_INT:
		if (!field_is_scalar(f))
			return type_mismatch(a, f, "");
		ba->type = VIGIL_ARG_INT;
		ba->int_width = (uint8_t)(a->int_width ?: f->size);
		if (a->int_signed)
			ba->flags |= VIGIL_ARG_F_SIGNED;
		break;
	case POLICY_ARG_FD:
	case POLICY_ARG_SOCK:
		if (!field_is_scalar(f) || type_is_pointer(f->type))
			return type_mismatch(a, f, ": a descriptor must be an integer field");
		ba->type = a->type == POLICY_ARG_FD ? VIGIL_ARG_FD : VIGIL_ARG_SOCK;
		ba->int_width = ba->width;
		/*
		 * With return: true every argument is read when the call returns, so a connecting
		 * socket's sock shows the local address the kernel bound.
		 */
		break;
	case POLICY_ARG_STRING:
		if (type_is_pointer(f->type) && f->size == 8) {
			ba->type = VIGIL_ARG_STRING;
			ba->max_len = VIGIL_POL_ARG_STR_MAX;
			if (sys)
				ba->flags |= VIGIL_ARG_F_USER;
		} else if (type_is_dataloc_str(f->type)) {
			ba->type = VIGIL_ARG_DATALOC;
			ba->max_len = VIGIL_POL_ARG_STR_MAX;
		} else if ((n = type_inline_str_len(f->type, f->size)) > 0) {
			ba->type = VIGIL_ARG_INLINE_STR;
			ba->max_len = (uint16_t)MIN(n, (unsigned)VIGIL_POL_ARG_STR_MAX);
			ba->width = 0; /* not a scalar */
		} else
			return type_mismatch(
				a, f,
				": a string needs a pointer, __data_loc char[] or char[N] field");
		break;
	case POLICY_ARG_FILENAME:
		if (!sys || !x->syscall)
			return type_mismatch(a, f, ": filename is only available on syscall hooks");
		if (!type_is_pointer(f->type) || f->size != 8)
			return type_mismatch(a, f, ": a filename needs a pointer field");
		ba->type = VIGIL_ARG_FILENAME;
		ba->flags |= VIGIL_ARG_F_USER;
		ba->max_len = VIGIL_POL_ARG_STR_MAX;
		break;
	case POLICY_ARG_CHAR_BUF:
		if (!type_is_pointer(f->type) || f->size != 8)
			return type_mismatch(a, f, ": a char_buf needs a pointer field");
		if (a->size_arg_index < 0)
			return loc_error(EINVAL, &a->loc,
					 "type 'char_buf' needs sizeArgIndex (the argument holding "
					 "the buffer's length)");
		ba->type = VIGIL_ARG_CHAR_BUF;
		ba->max_len = a->max_data ? VIGIL_POL_CHARBUF_MAX : CHAR_BUF_DEFAULT_LEN;
		if (sys)
			ba->flags |= VIGIL_ARG_F_USER;
		break;
	case POLICY_ARG_SOCKADDR:
		if (!type_is_pointer(f->type) || f->size != 8)
			return type_mismatch(a, f, ": a sockaddr needs a pointer field");
		ba->type = VIGIL_ARG_SOCKADDR;
		if (sys)
			ba->flags |= VIGIL_ARG_F_USER;
		break;
	default:
		return loc_error(EINVAL, &a->loc, "unsupported argument type");
	}

	m->type = a->type;
	m->int_signed = a->int_signed;
	m->int_width = a->int_width;
	m->type_name = strdup(a->type_name ?: policy_arg_type_to_string(a->type));
	if (!m->type_name)
		return log_oom();
	if (a->label) {
		m->label = strdup(a->label);
		if (!m->label)
			return log_oom();
	}
	return 0;
}

/* Position in args[] of an integer argument with this index; appended hidden if needed. */
static int ensure_int_arg(struct hook_ctx *x, unsigned index, const struct policy_loc *loc,
			  const char *what)
{
	struct compiled_hook *h = x->h;
	const struct tracefs_field *f;
	size_t pos;

	for (pos = 0; pos < h->bpf.n_args; pos++)
		if (x->arg_index[pos] == index && h->bpf.args[pos].type == VIGIL_ARG_INT)
			return (int)pos;
	f = hook_field(x, index);
	if (!f)
		return index_error(x, loc, what, index);
	if (!field_is_scalar(f))
		return loc_error(EINVAL, loc,
				 "%s %u: field '%s' (tracefs type '%s') is not an integer", what,
				 index, f->name, f->type);
	if (h->bpf.n_args >= VIGIL_POL_MAX_ARGS)
		return loc_error(EINVAL, loc,
				 "too many arguments: %s %u needs one more slot (at most %d)", what,
				 index, VIGIL_POL_MAX_ARGS);
	pos = h->bpf.n_args++;
	h->bpf.args[pos] = (struct vigil_pol_arg){
		.offset = (uint16_t)f->offset,
		.width = (uint8_t)f->size,
		.type = VIGIL_ARG_INT,
		.flags = VIGIL_ARG_F_NO_CAPTURE | (f->is_signed ? VIGIL_ARG_F_SIGNED : 0),
		.size_arg = VIGIL_POL_NO_ARG,
		.dirfd_arg = VIGIL_POL_NO_ARG,
		.int_width = (uint8_t)f->size,
	};
	h->args[pos].type = POLICY_ARG_INT;
	h->args[pos].int_width = f->size;
	h->args[pos].int_signed = f->is_signed;
	h->args[pos].type_name = strdup("int");
	if (!h->args[pos].type_name)
		return log_oom();
	x->arg_index[pos] = index;
	x->arg_listed[pos] = false;
	return (int)pos;
}

/* Second pass: lengths and dirfds, which may append hidden arguments. */
static int link_args(struct hook_ctx *x)
{
	const struct policy_hook *ph = x->ph;
	int r;

	for (size_t i = 0; i < ph->n_args; i++) {
		const struct policy_arg *a = &ph->args[i];
		struct vigil_pol_arg *ba = &x->h->bpf.args[i];

		if (ba->type == VIGIL_ARG_CHAR_BUF ||
		    (ba->type == VIGIL_ARG_SOCKADDR && a->size_arg_index >= 0)) {
			r = ensure_int_arg(x, (unsigned)a->size_arg_index, &a->loc, "sizeArgIndex");
			if (r < 0)
				return r;
			x->h->bpf.args[i].size_arg = (uint8_t)r;
		} else if (ba->type == VIGIL_ARG_SOCKADDR) {
			uint8_t len = addrlen_for(x->syscall, a->index - x->sys_base);

			if (len != VIGIL_POL_NO_ARG) {
				r = ensure_int_arg(x, x->sys_base + len, &a->loc,
						   "address length argument");
				if (r < 0)
					return r;
				x->h->bpf.args[i].size_arg = (uint8_t)r;
			}
		} else if (ba->type == VIGIL_ARG_FILENAME) {
			uint8_t d = dirfd_for(x->syscall, a->index - x->sys_base);

			if (d != VIGIL_POL_NO_ARG) {
				r = ensure_int_arg(x, x->sys_base + d, &a->loc, "dirfd argument");
				if (r < 0)
					return r;
				x->h->bpf.args[i].dirfd_arg = (uint8_t)r;
			}
		}
	}
	return 0;
}

/* --- value sets --- */

static int add_str_set(struct compiled_policy *c, uint8_t op, const struct policy_value *v,
		       size_t n, uint32_t *ret)
{
	size_t max = op == VIGIL_OP_EQUAL ? VIGIL_POL_STR_MAX - 1 : VIGIL_POL_STR_MAX;
	struct compiled_str_set *s;

	for (size_t i = 0; i < n; i++)
		if (!v[i].s || strlen(v[i].s) > max)
			return loc_error(
				EINVAL, &v[i].loc,
				"value is too long for an in-kernel comparison (%zu bytes, "
				"at most %zu)",
				v[i].s ? strlen(v[i].s) : 0, max);
	s = grow((void **)&c->str_sets, &c->n_str_sets, sizeof(*s));
	if (!s)
		return log_oom();
	*ret = (uint32_t)(c->n_str_sets - 1);
	s->op = op;
	s->values = calloc(n + 1, sizeof(char *));
	if (!s->values)
		return log_oom();
	for (size_t i = 0; i < n; i++) {
		s->values[i] = strdup(v[i].s);
		if (!s->values[i])
			return log_oom();
		s->n_values++;
	}
	return 0;
}

static struct compiled_int_set *add_int_set(struct compiled_policy *c, size_t n, uint32_t *ret)
{
	struct compiled_int_set *s = grow((void **)&c->int_sets, &c->n_int_sets, sizeof(*s));

	if (!s)
		return NULL;
	*ret = (uint32_t)(c->n_int_sets - 1);
	s->values = calloc(n ?: 1, sizeof(uint64_t));
	return s->values ? s : NULL;
}

enum value_kind { VAL_INT, VAL_PORT, VAL_FAMILY, VAL_PROTOCOL };

static int add_int_set_parsed(struct compiled_policy *c, enum value_kind kind,
			      const struct policy_value *v, size_t n, uint32_t *ret)
{
	static const char *const what[] = {"an integer", "a port (0..65535)",
					   "an address family (AF_INET, AF_INET6, AF_UNIX)",
					   "a protocol (IPPROTO_TCP, IPPROTO_UDP, ...)"};
	struct compiled_int_set *s = add_int_set(c, n, ret);

	if (!s)
		return log_oom();
	for (size_t i = 0; i < n; i++) {
		uint64_t u = 0;
		uint16_t w = 0;
		int r;

		switch (kind) {
		case VAL_INT:
			r = policy_parse_int(v[i].s, &u);
			break;
		case VAL_PORT:
			r = policy_parse_port(v[i].s, &w);
			u = w;
			break;
		case VAL_FAMILY:
			r = policy_parse_family(v[i].s, &w);
			u = w;
			break;
		default:
			r = policy_parse_protocol(v[i].s, &w);
			u = w;
			break;
		}
		if (r < 0)
			return loc_error(EINVAL, &v[i].loc, "invalid value '%s': expected %s",
					 strempty(v[i].s), what[kind]);
		s->values[s->n_values++] = u;
	}
	return 0;
}

static int add_addr_set(struct compiled_policy *c, const struct policy_value *v, size_t n,
			uint32_t *ret)
{
	struct compiled_addr_set *s = grow((void **)&c->addr_sets, &c->n_addr_sets, sizeof(*s));

	if (!s)
		return log_oom();
	*ret = (uint32_t)(c->n_addr_sets - 1);
	s->cidrs = calloc(n ?: 1, sizeof(*s->cidrs));
	if (!s->cidrs)
		return log_oom();
	for (size_t i = 0; i < n; i++) {
		struct compiled_cidr *cd = &s->cidrs[s->n_cidrs];

		if (policy_parse_cidr(v[i].s, cd->addr, &cd->bits) < 0)
			return loc_error(EINVAL, &v[i].loc,
					 "invalid value '%s': expected an IPv4 or IPv6 address or "
					 "CIDR",
					 strempty(v[i].s));
		s->n_cidrs++;
	}
	return 0;
}

/* --- selectors --- */

static int need_values(const struct policy_match *m, bool exactly_one)
{
	if (m->n_values == 0)
		return loc_error(EINVAL, &m->loc, "operator '%s' needs at least one value",
				 policy_op_to_string(m->op));
	if (exactly_one && m->n_values != 1)
		return loc_error(EINVAL, &m->loc, "operator '%s' takes exactly one value",
				 policy_op_to_string(m->op));
	return 0;
}

/* Lower one matchArgs/matchReturnArgs condition on an argument of bpf type t. */
static int lower_match(struct hook_ctx *x, const struct policy_match *m, uint8_t t,
		       const char *tname, struct vigil_pol_match *out)
{
	struct compiled_policy *c = x->c;
	int r;

	switch (t) {
	case VIGIL_ARG_STRING:
	case VIGIL_ARG_CHAR_BUF:
	case VIGIL_ARG_FD:
	case VIGIL_ARG_FILENAME:
	case VIGIL_ARG_DATALOC:
	case VIGIL_ARG_INLINE_STR: {
		static const uint8_t set_op[] = {
			[POLICY_OP_EQUAL] = VIGIL_OP_EQUAL,
			[POLICY_OP_NOT_EQUAL] = VIGIL_OP_EQUAL,
			[POLICY_OP_PREFIX] = VIGIL_OP_PREFIX,
			[POLICY_OP_NOT_PREFIX] = VIGIL_OP_PREFIX,
			[POLICY_OP_POSTFIX] = VIGIL_OP_POSTFIX,
			[POLICY_OP_NOT_POSTFIX] = VIGIL_OP_POSTFIX,
		};

		if (m->op > POLICY_OP_NOT_POSTFIX)
			break;
		r = need_values(m, false);
		if (r < 0)
			return r;
		out->op = (uint8_t)(VIGIL_OP_EQUAL + (m->op - POLICY_OP_EQUAL));
		return add_str_set(c, set_op[m->op], m->values, m->n_values, &out->set_id);
	}
	case VIGIL_ARG_INT:
		if (m->op == POLICY_OP_EQUAL || m->op == POLICY_OP_NOT_EQUAL) {
			r = need_values(m, false);
			if (r < 0)
				return r;
			out->op = m->op == POLICY_OP_EQUAL ? VIGIL_OP_EQUAL : VIGIL_OP_NOT_EQUAL;
			return add_int_set_parsed(c, VAL_INT, m->values, m->n_values, &out->set_id);
		}
		if (m->op == POLICY_OP_GT || m->op == POLICY_OP_LT || m->op == POLICY_OP_MASK) {
			uint64_t v;

			r = need_values(m, true);
			if (r < 0)
				return r;
			if (policy_parse_int(m->values[0].s, &v) < 0)
				return loc_error(EINVAL, &m->values[0].loc,
						 "invalid value '%s': expected an integer",
						 strempty(m->values[0].s));
			out->op = m->op == POLICY_OP_GT	  ? VIGIL_OP_GT
				  : m->op == POLICY_OP_LT ? VIGIL_OP_LT
							  : VIGIL_OP_MASK;
			out->value = v;
			return 0;
		}
		break;
	case VIGIL_ARG_SOCKADDR:
	case VIGIL_ARG_SOCK:
		switch (m->op) {
		case POLICY_OP_SADDR:
		case POLICY_OP_DADDR:
		case POLICY_OP_NOT_SADDR:
		case POLICY_OP_NOT_DADDR:
			r = need_values(m, false);
			if (r < 0)
				return r;
			out->op = (uint8_t)(VIGIL_OP_SADDR + (m->op - POLICY_OP_SADDR));
			return add_addr_set(c, m->values, m->n_values, &out->set_id);
		case POLICY_OP_SPORT:
		case POLICY_OP_DPORT:
		case POLICY_OP_NOT_SPORT:
		case POLICY_OP_NOT_DPORT:
			r = need_values(m, false);
			if (r < 0)
				return r;
			out->op = (uint8_t)(VIGIL_OP_SPORT + (m->op - POLICY_OP_SPORT));
			return add_int_set_parsed(c, VAL_PORT, m->values, m->n_values,
						  &out->set_id);
		case POLICY_OP_FAMILY:
			r = need_values(m, false);
			if (r < 0)
				return r;
			out->op = VIGIL_OP_FAMILY;
			return add_int_set_parsed(c, VAL_FAMILY, m->values, m->n_values,
						  &out->set_id);
		case POLICY_OP_PROTOCOL:
			if (t != VIGIL_ARG_SOCK)
				break;
			r = need_values(m, false);
			if (r < 0)
				return r;
			out->op = VIGIL_OP_PROTOCOL;
			return add_int_set_parsed(c, VAL_PROTOCOL, m->values, m->n_values,
						  &out->set_id);
		default:
			break;
		}
		break;
	default:
		break;
	}
	return loc_error(EINVAL, &m->loc,
			 "operator '%s' does not apply to an argument of type '%s'",
			 policy_op_to_string(m->op), tname);
}

static const char *meta_type_name(const struct compiled_arg_meta *m)
{
	return m->type_name ?: policy_arg_type_to_string(m->type);
}

static uint8_t bin_set_op(enum policy_op op, bool *ret_not)
{
	*ret_not =
		op == POLICY_OP_NOT_IN || op == POLICY_OP_NOT_PREFIX || op == POLICY_OP_NOT_POSTFIX;
	switch (op) {
	case POLICY_OP_IN:
	case POLICY_OP_NOT_IN:
	case POLICY_OP_EQUAL:
	case POLICY_OP_NOT_EQUAL:
		*ret_not = *ret_not || op == POLICY_OP_NOT_EQUAL;
		return VIGIL_OP_EQUAL;
	case POLICY_OP_PREFIX:
	case POLICY_OP_NOT_PREFIX:
		return VIGIL_OP_PREFIX;
	case POLICY_OP_POSTFIX:
	case POLICY_OP_NOT_POSTFIX:
		return VIGIL_OP_POSTFIX;
	default:
		return VIGIL_OP_NONE;
	}
}

static int lower_binaries(struct hook_ctx *x, const struct policy_selector *ps,
			  struct vigil_pol_selector *s)
{
	const struct policy_binaries *b;
	struct vigil_pol_bin_set *bs;
	uint32_t str_set;
	uint8_t op;
	bool neg;
	int r;

	if (ps->n_binaries == 0)
		return 0;
	b = &ps->binaries[0];
	if (ps->n_binaries > 1)
		return loc_error(EINVAL, &ps->binaries[1].loc,
				 "only one matchBinaries entry per selector is supported");
	op = bin_set_op(b->op, &neg);
	if (op == VIGIL_OP_NONE)
		return loc_error(EINVAL, &b->loc, "operator '%s' does not apply to matchBinaries",
				 policy_op_to_string(b->op));
	if (b->n_values == 0)
		return loc_error(EINVAL, &b->loc, "matchBinaries needs at least one value");
	if (x->c->n_bin_sets >= VIGIL_POL_MAX_BIN_SETS)
		return loc_error(EINVAL, &b->loc, "too many matchBinaries sets (at most %d)",
				 VIGIL_POL_MAX_BIN_SETS);
	r = add_str_set(x->c, op, b->values, b->n_values, &str_set);
	if (r < 0)
		return r;
	bs = grow((void **)&x->c->bin_sets, &x->c->n_bin_sets, sizeof(*bs));
	if (!bs)
		return log_oom();
	*bs = (struct vigil_pol_bin_set){
		.op = op, .follow = b->follow_children, .active = 1, .str_set = str_set};
	s->bin_bit = (uint8_t)(x->c->n_bin_sets - 1);
	s->flags |= VIGIL_SEL_F_BIN | (neg ? VIGIL_SEL_F_BIN_NOT : 0);
	return 0;
}

static int lower_pids(struct hook_ctx *x, const struct policy_selector *ps,
		      struct vigil_pol_selector *s)
{
	const struct policy_pids *p;
	struct compiled_int_set *is;
	uint32_t set;

	if (ps->n_pids == 0)
		return 0;
	p = &ps->pids[0];
	if (ps->n_pids > 1)
		return loc_error(EINVAL, &ps->pids[1].loc,
				 "only one matchPIDs entry per selector is supported");
	if (p->op != POLICY_OP_IN && p->op != POLICY_OP_NOT_IN)
		return loc_error(EINVAL, &p->loc, "operator '%s' does not apply to matchPIDs",
				 policy_op_to_string(p->op));
	if (p->n_values == 0)
		return loc_error(EINVAL, &p->loc, "matchPIDs needs at least one value");
	is = add_int_set(x->c, p->n_values, &set);
	if (!is)
		return log_oom();
	for (size_t i = 0; i < p->n_values; i++)
		is->values[is->n_values++] = p->values[i];
	s->pid_set = set;
	s->flags |= VIGIL_SEL_F_PID;
	if (p->op == POLICY_OP_NOT_IN)
		s->flags |= VIGIL_SEL_F_PID_NOT;
	if (p->is_namespace_pid)
		s->flags |= VIGIL_SEL_F_PID_NS;
	if (p->follow_forks) {
		struct vigil_pol_pid_set *pset;

		if (x->c->n_pid_sets >= VIGIL_POL_MAX_PID_SETS)
			return loc_error(EINVAL, &p->loc,
					 "too many matchPIDs followForks sets (at most %d)",
					 VIGIL_POL_MAX_PID_SETS);
		pset = grow((void **)&x->c->pid_sets, &x->c->n_pid_sets, sizeof(*pset));
		if (!pset)
			return log_oom();
		*pset = (struct vigil_pol_pid_set){
			.int_set = set, .active = 1, .ns_pid = p->is_namespace_pid};
		s->pid_bit = (uint8_t)(x->c->n_pid_sets - 1);
		s->flags |= VIGIL_SEL_F_PID_FOLLOW;
	}
	return 0;
}

static int lower_namespaces(struct hook_ctx *x, const struct policy_selector *ps,
			    struct vigil_pol_selector *s)
{
	if (ps->n_namespaces > VIGIL_POL_MAX_NS)
		return loc_error(EINVAL, &ps->namespaces[VIGIL_POL_MAX_NS].loc,
				 "too many matchNamespaces entries (at most %d)", VIGIL_POL_MAX_NS);
	for (size_t i = 0; i < ps->n_namespaces; i++) {
		const struct policy_namespaces *n = &ps->namespaces[i];
		struct compiled_int_set *is;
		uint32_t set;

		if (n->ns < 0 || n->ns >= _POLICY_NS_MAX)
			return loc_error(EINVAL, &n->loc, "unknown namespace");
		if (n->op != POLICY_OP_IN && n->op != POLICY_OP_NOT_IN)
			return loc_error(EINVAL, &n->loc,
					 "operator '%s' does not apply to matchNamespaces",
					 policy_op_to_string(n->op));
		if (n->n_values == 0)
			return loc_error(EINVAL, &n->loc,
					 "matchNamespaces needs at least one value");
		is = add_int_set(x->c, n->n_values, &set);
		if (!is)
			return log_oom();
		for (size_t j = 0; j < n->n_values; j++) {
			const struct policy_value *v = &n->values[j];
			uint64_t ino;

			if (streq_ptr(v->s, "host_ns")) {
				ino = x->env->host_ns[n->ns];
				if (ino == 0)
					return loc_error(
						EINVAL, &v->loc,
						"'host_ns': the host's namespace of this "
						"kind is unknown (missing in /proc/self/ns)");
			} else if (policy_parse_int(v->s, &ino) < 0 || *v->s == '-' || ino == 0)
				return loc_error(EINVAL, &v->loc,
						 "invalid value '%s': expected a namespace inode "
						 "number or 'host_ns'",
						 strempty(v->s));
			is->values[is->n_values++] = ino;
		}
		s->ns[i] = (struct vigil_pol_ns_match){
			.ns = (uint8_t)n->ns,
			.op = n->op == POLICY_OP_IN ? VIGIL_OP_EQUAL : VIGIL_OP_NOT_EQUAL,
			.set_id = set,
		};
	}
	s->n_ns = (uint8_t)ps->n_namespaces;
	return 0;
}

static bool hook_wants_return(const struct policy_hook *ph);

/* Override is possible only where the hook runs as cgroup connect4/connect6 programs. */
static int check_connect_override(struct hook_ctx *x, const struct policy_action *act)
{
	const struct policy_hook *ph = x->ph;

	if (ph->kind != POLICY_HOOK_KPROBE || !ph->syscall || !streq_ptr(x->syscall, "connect"))
		return loc_error(EOPNOTSUPP, &act->loc,
				 "Override needs BPF-LSM or kprobe override, not available on this "
				 "kernel; on this kernel it works for connect (cgroup "
				 "connect4/connect6 hooks)");
	if (hook_wants_return(ph))
		return loc_error(EOPNOTSUPP, &ph->loc,
				 "Override on connect runs as a cgroup connect4/connect6 hook, "
				 "before the call: return, returnArg and matchReturnArgs are not "
				 "available");
	for (size_t i = 0; i < ph->n_args; i++) {
		const struct policy_arg *a = &ph->args[i];

		if (!((a->index == 0 && a->type == POLICY_ARG_INT) ||
		      (a->index == 1 && a->type == POLICY_ARG_SOCKADDR)))
			return loc_error(EOPNOTSUPP, &a->loc,
					 "Override on connect runs as a cgroup connect4/connect6 "
					 "hook: only args index 0 (type int, the fd) and index 1 "
					 "(type sockaddr) are available");
	}
	if (act->arg_error != 0 && act->arg_error != -EPERM && !x->env->have_set_retval)
		return loc_error(EOPNOTSUPP, &act->loc,
				 "Override with argError %d needs bpf_set_retval() in cgroup "
				 "programs, not available on this kernel (only -1, EPERM, is)",
				 act->arg_error);
	return 0;
}

static int lower_actions(struct hook_ctx *x, size_t si, const struct policy_selector *ps,
			 struct vigil_pol_selector *s)
{
	if (ps->n_actions > VIGIL_POL_MAX_ACTIONS)
		return loc_error(EINVAL, &ps->actions[VIGIL_POL_MAX_ACTIONS].loc,
				 "too many matchActions (at most %d)", VIGIL_POL_MAX_ACTIONS);
	for (size_t i = 0; i < ps->n_actions; i++) {
		const struct policy_action *act = &ps->actions[i];
		struct vigil_pol_action *ba = &s->actions[i];
		int r;

		*ba = (struct vigil_pol_action){};
		switch (act->type) {
		case POLICY_ACTION_POST:
			ba->type = VIGIL_ACT_POST;
			ba->rate_limit_ns = act->rate_limit_ns;
			break;
		case POLICY_ACTION_NOPOST:
			ba->type = VIGIL_ACT_NOPOST;
			break;
		case POLICY_ACTION_SIGKILL:
			ba->type = VIGIL_ACT_SIGKILL;
			ba->arg = 9;
			break;
		case POLICY_ACTION_SIGNAL:
			if (act->arg_sig < 1 || act->arg_sig > 64)
				return loc_error(EINVAL, &act->loc,
						 "Signal needs argSig between 1 and 64");
			ba->type = VIGIL_ACT_SIGNAL;
			ba->arg = act->arg_sig;
			break;
		case POLICY_ACTION_OVERRIDE:
			r = check_connect_override(x, act);
			if (r < 0)
				return r;
			ba->type = VIGIL_ACT_OVERRIDE;
			/* Tetragon's argError is a negative errno; accept a positive one too. */
			ba->arg = act->arg_error == 0  ? -EPERM
				  : act->arg_error < 0 ? act->arg_error
						       : -act->arg_error;
			x->h->connect_override = true;
			break;
		default:
			return loc_error(EINVAL, &act->loc, "unsupported action");
		}
	}
	s->n_actions = (uint8_t)ps->n_actions;
	return 0;
}

static int arg_pos(const struct hook_ctx *x, unsigned index)
{
	for (size_t pos = 0; pos < x->h->bpf.n_args; pos++)
		if (x->arg_listed[pos] && x->arg_index[pos] == index)
			return (int)pos;
	return -1;
}

/*
 * Every condition of a selector must hold, so their order is free: evaluate the cheap ones first
 * (integers, addresses, ports: a map lookup or a compare) and the string ones after (an LPM key
 * to build), Postfix last (the string is reversed byte by byte). A Mask on the open flags then
 * rejects most calls before their path is looked at.
 */
static unsigned condition_cost(const struct compiled_hook *h, const struct vigil_pol_match *m)
{
	uint8_t type = m->arg < VIGIL_POL_MAX_ARGS ? h->bpf.args[m->arg].type : VIGIL_ARG_INT;
	bool str = type == VIGIL_ARG_STRING || type == VIGIL_ARG_CHAR_BUF || type == VIGIL_ARG_FD ||
		   type == VIGIL_ARG_FILENAME || type == VIGIL_ARG_DATALOC ||
		   type == VIGIL_ARG_INLINE_STR;

	if (!str)
		return 0;
	return m->op == VIGIL_OP_POSTFIX || m->op == VIGIL_OP_NOT_POSTFIX ? 2 : 1;
}

static void sort_conditions(const struct compiled_hook *h, struct vigil_pol_match *m, size_t n)
{
	/* insertion sort, stable: at most VIGIL_POL_MAX_MATCHARGS entries */
	for (size_t i = 1; i < n; i++) {
		struct vigil_pol_match t = m[i];
		size_t j = i;

		while (j > 0 && condition_cost(h, &m[j - 1]) > condition_cost(h, &t)) {
			m[j] = m[j - 1];
			j--;
		}
		m[j] = t;
	}
}

static int lower_selector(struct hook_ctx *x, size_t si, const struct policy_selector *ps)
{
	struct vigil_pol_selector *s = &x->h->bpf.sel[si];
	int r;

	if (ps->n_match_args > VIGIL_POL_MAX_MATCHARGS)
		return loc_error(EINVAL, &ps->match_args[VIGIL_POL_MAX_MATCHARGS].loc,
				 "too many matchArgs (at most %d)", VIGIL_POL_MAX_MATCHARGS);
	if (ps->n_match_return_args > VIGIL_POL_MAX_RETARGS)
		return loc_error(EINVAL, &ps->match_return_args[VIGIL_POL_MAX_RETARGS].loc,
				 "too many matchReturnArgs (at most %d)", VIGIL_POL_MAX_RETARGS);

	for (size_t i = 0; i < ps->n_match_args; i++) {
		const struct policy_match *m = &ps->match_args[i];
		int pos = arg_pos(x, m->index);

		if (pos < 0)
			return loc_error(EINVAL, &m->loc,
					 "matchArgs index %u is not one of the hook's args",
					 m->index);
		s->match[i].arg = (uint8_t)pos;
		r = lower_match(x, m, x->h->bpf.args[pos].type, meta_type_name(&x->h->args[pos]),
				&s->match[i]);
		if (r < 0)
			return r;
	}
	s->n_match = (uint8_t)ps->n_match_args;
	sort_conditions(x->h, s->match, s->n_match);

	for (size_t i = 0; i < ps->n_match_return_args; i++) {
		const struct policy_match *m = &ps->match_return_args[i];

		s->ret[i].arg = VIGIL_POL_RET_ARG;
		r = lower_match(x, m, x->h->bpf.ret_type,
				x->h->has_return_arg ? meta_type_name(&x->h->return_arg) : "int",
				&s->ret[i]);
		if (r < 0)
			return r;
	}
	s->n_ret = (uint8_t)ps->n_match_return_args;

	r = lower_binaries(x, ps, s);
	if (r < 0)
		return r;
	r = lower_pids(x, ps, s);
	if (r < 0)
		return r;
	r = lower_namespaces(x, ps, s);
	if (r < 0)
		return r;
	return lower_actions(x, si, ps, s);
}

/* --- hooks --- */

/* "sys_openat", "__x64_sys_openat", "__se_sys_openat", ... -> "openat" */
static const char *syscall_name(const char *call)
{
	static const char *const prefixes[] = {
		"__x64_sys_",  "__ia32_sys_", "__arm64_sys_", "__riscv_sys_", "__s390x_sys_",
		"__s390_sys_", "__se_sys_",   "__do_sys_",    "sys_",
	};

	for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
		if (strncmp(call, prefixes[i], strlen(prefixes[i])) == 0)
			return call + strlen(prefixes[i]);
	return call;
}

static bool valid_tp_name(const char *s)
{
	if (isempty(s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

static int read_format(struct hook_ctx *x, const char *subsys, const char *event,
		       struct tracefs_format **ret)
{
	int r = -ENOENT;

	if (valid_tp_name(subsys) && valid_tp_name(event))
		r = tracefs_format_read(x->env->tracefs, subsys, event, ret);
	return r;
}

static bool hook_wants_return(const struct policy_hook *ph)
{
	if (ph->want_return || ph->has_return_arg)
		return true;
	for (size_t i = 0; i < ph->n_selectors; i++)
		if (ph->selectors[i].n_match_return_args > 0)
			return true;
	return false;
}

static bool str_in_set2(const char *s, const char *a, const char *b)
{
	return s && (streq(s, a) || streq(s, b));
}
#define STR_IN_SET(s, a, b) str_in_set2(s, a, b)

/* Returns 1 when the hook is skipped (ignore.callNotFound), 0 when set up, <0 on error. */
static int setup_syscall_hook(struct hook_ctx *x)
{
	const struct policy_hook *ph = x->ph;
	struct compiled_hook *h = x->h;
	_cleanup_free_ char *enter = NULL, *exit_ev = NULL;
	int r;

	x->syscall = syscall_name(ph->call);
	if (asprintf(&enter, "sys_enter_%s", x->syscall) < 0 ||
	    asprintf(&exit_ev, "sys_exit_%s", x->syscall) < 0)
		return log_oom();
	r = read_format(x, "syscalls", enter, &x->fmt);
	if (r == -ENOENT) {
		if (ph->ignore_call_not_found) {
			loc_warning(&ph->loc,
				    "no such syscall '%s' on this kernel (no tracepoint "
				    "syscalls/%s), ignoring the hook (ignore.callNotFound).",
				    ph->call, enter);
			return 1;
		}
		return loc_error(EINVAL, &ph->loc,
				 "no such syscall '%s' on this kernel (no tracepoint syscalls/%s)",
				 ph->call, enter);
	}
	if (r < 0)
		return loc_error(-r, &ph->loc,
				 "cannot read the format of tracepoint syscalls/%s: %s", enter,
				 strerror(-r));

	for (x->first_arg = 0; x->first_arg < x->fmt->n_fields; x->first_arg++)
		if (streq(x->fmt->fields[x->first_arg].name, "__syscall_nr"))
			break;
	if (x->first_arg >= x->fmt->n_fields)
		return loc_error(
			EINVAL, &ph->loc,
			"tracepoint syscalls/%s has no __syscall_nr field: unexpected format",
			enter);
	x->first_arg++;

	h->bpf.flags |= VIGIL_HOOK_F_SYSCALL;
	if (asprintf(&h->enter_tp, "syscalls/%s", enter) < 0 ||
	    asprintf(&h->function_name, "%s%s", strempty(x->env->syscall_prefix), x->syscall) < 0)
		return log_oom();

	if (hook_wants_return(ph)) {
		_cleanup_(tracefs_format_freep) struct tracefs_format *xf = NULL;

		/*
		 * A return hook reads its arguments when the call returns: exit never returns,
		 * and after a successful execve the caller's memory (its path and argv) is gone.
		 */
		if (STR_IN_SET(x->syscall, "exit", "exit_group"))
			return loc_error(
				EINVAL, &ph->loc,
				"'%s' never returns: return, returnArg and matchReturnArgs "
				"cannot be used",
				ph->call);
		if (STR_IN_SET(x->syscall, "execve", "execveat"))
			for (size_t i = 0; i < ph->n_args; i++)
				if (ph->args[i].type != POLICY_ARG_INT &&
				    ph->args[i].type != POLICY_ARG_FD)
					return loc_error(
						EINVAL, &ph->args[i].loc,
						"with return: true the arguments of '%s' are read "
						"when it returns, when the caller's memory is "
						"gone: "
						"drop return, or capture only int/fd arguments",
						ph->call);

		r = read_format(x, "syscalls", exit_ev, &xf);
		if (r < 0)
			return loc_error(
				r == -ENOENT ? EINVAL : -r, &ph->loc,
				"the return value of '%s' needs tracepoint syscalls/%s: %s",
				ph->call, exit_ev, strerror(-r));
		h->bpf.flags |= VIGIL_HOOK_F_RETURN;
		if (asprintf(&h->exit_tp, "syscalls/%s", exit_ev) < 0)
			return log_oom();
	}
	return 0;
}

static int setup_tracepoint_hook(struct hook_ctx *x)
{
	const struct policy_hook *ph = x->ph;
	struct compiled_hook *h = x->h;
	int r;

	r = read_format(x, ph->subsys, ph->event, &x->fmt);
	if (r == -ENOENT) {
		if (ph->ignore_call_not_found) {
			loc_warning(&ph->loc,
				    "no such tracepoint '%s/%s' on this kernel, ignoring the hook "
				    "(ignore.callNotFound).",
				    strempty(ph->subsys), strempty(ph->event));
			return 1;
		}
		return loc_error(EINVAL, &ph->loc, "no such tracepoint '%s/%s' on this kernel",
				 strempty(ph->subsys), strempty(ph->event));
	}
	if (r < 0)
		return loc_error(-r, &ph->loc, "cannot read the format of tracepoint %s/%s: %s",
				 ph->subsys, ph->event, strerror(-r));

	x->tetragon_index = true;
	if (streq(ph->subsys, "syscalls")) {
		h->bpf.flags |= VIGIL_HOOK_F_SYSCALL;
		for (size_t i = 0; i < x->fmt->n_fields; i++)
			if (streq(x->fmt->fields[i].name, "__syscall_nr")) {
				/* Tetragon numbering: common_* fields, __syscall_nr, arguments */
				x->sys_base = (unsigned)(ELEMENTSOF(common_fields) + i + 1);
				if (strncmp(ph->event, "sys_enter_", 10) == 0)
					x->syscall = ph->event + 10;
				break;
			}
	}
	if (hook_wants_return(ph))
		return loc_error(EINVAL, &ph->loc,
				 "return values (return, returnArg, matchReturnArgs) are only "
				 "available on kprobes");
	if (asprintf(&h->enter_tp, "%s/%s", ph->subsys, ph->event) < 0)
		return log_oom();
	h->subsys = strdup(ph->subsys);
	h->event = strdup(ph->event);
	if (!h->subsys || !h->event)
		return log_oom();
	return 0;
}

static int compile_hook(struct hook_ctx *x)
{
	const struct policy_hook *ph = x->ph;
	struct compiled_hook *h = x->h;
	int r;

	switch (ph->kind) {
	case POLICY_HOOK_KPROBE:
		if (!ph->syscall) {
			if (!x->env->have_kprobes)
				return loc_error(
					EOPNOTSUPP, &ph->loc,
					"kprobes are not available on this kernel: cannot "
					"hook '%s'; use syscall: true or a tracepoint; "
					"kprobe/fentry/LSM support comes with the VM-tested "
					"hooks",
					strempty(ph->call));
			return loc_error(
				EOPNOTSUPP, &ph->loc,
				"kprobes on kernel functions are not supported yet: cannot "
				"hook '%s'; use syscall: true or a tracepoint; "
				"kprobe/fentry/LSM support comes with the VM-tested hooks",
				strempty(ph->call));
		}
		if (isempty(ph->call))
			return loc_error(EINVAL, &ph->loc, "kprobe without call");
		r = setup_syscall_hook(x);
		break;
	case POLICY_HOOK_TRACEPOINT:
		r = setup_tracepoint_hook(x);
		break;
	case POLICY_HOOK_LSM:
		/* BPF-LSM is probed (env->have_lsm) once the LSM hooks exist ([E]). */
		return loc_error(EOPNOTSUPP, &ph->loc,
				 "lsmhooks need BPF-LSM, not available on this kernel: cannot hook "
				 "'%s'; kprobe/fentry/LSM support comes with the VM-tested hooks",
				 strempty(ph->call));
	default:
		return loc_error(EINVAL, &ph->loc, "unknown hook kind");
	}
	if (r != 0)
		return r;

	h->kind = ph->kind;
	h->bpf.flags |= VIGIL_HOOK_F_ACTIVE;
	if (ph->message) {
		h->message = strdup(ph->message);
		if (!h->message)
			return log_oom();
	}
	if (ph->tags) {
		size_t n = 0;

		while (ph->tags[n])
			n++;
		h->tags = calloc(n + 1, sizeof(char *));
		if (!h->tags)
			return log_oom();
		for (size_t i = 0; i < n; i++) {
			h->tags[i] = strdup(ph->tags[i]);
			if (!h->tags[i])
				return log_oom();
		}
	}

	/* Return value. */
	if (h->bpf.flags & VIGIL_HOOK_F_RETURN) {
		h->bpf.ret_type = VIGIL_ARG_INT;
		if (ph->has_return_arg) {
			const struct policy_arg *ra = &ph->return_arg;

			switch (ra->type) {
			case POLICY_ARG_INT:
				h->bpf.ret_type = VIGIL_ARG_INT;
				break;
			case POLICY_ARG_FD:
				h->bpf.ret_type = VIGIL_ARG_FD;
				break;
			case POLICY_ARG_SOCK:
				h->bpf.ret_type = VIGIL_ARG_SOCK;
				break;
			default:
				return loc_error(
					EINVAL, &ra->loc,
					"returnArg type '%s' is not supported here (int, fd "
					"or sock)",
					ra->type_name ?: policy_arg_type_to_string(ra->type));
			}
			h->has_return_arg = true;
			h->return_arg.type = ra->type;
			h->return_arg.int_signed = ra->int_signed;
			h->return_arg.int_width = ra->int_width;
			h->return_arg.type_name =
				strdup(ra->type_name ?: policy_arg_type_to_string(ra->type));
			if (!h->return_arg.type_name)
				return log_oom();
			if (ra->label) {
				h->return_arg.label = strdup(ra->label);
				if (!h->return_arg.label)
					return log_oom();
			}
		}
	}

	/* Arguments, in the policy's order; then the hidden ones they refer to. */
	if (ph->n_args > VIGIL_POL_MAX_ARGS)
		return loc_error(EINVAL, &ph->args[VIGIL_POL_MAX_ARGS].loc,
				 "too many arguments (at most %d)", VIGIL_POL_MAX_ARGS);
	for (size_t i = 0; i < ph->n_args; i++) {
		r = lower_arg(x, i, &ph->args[i]);
		if (r < 0)
			return r;
		x->arg_index[i] = ph->args[i].index;
		x->arg_listed[i] = true;
		h->bpf.n_args = (uint8_t)(i + 1);
	}
	r = link_args(x);
	if (r < 0)
		return r;

	if (ph->n_selectors > VIGIL_POL_MAX_SELECTORS)
		return loc_error(EINVAL, &ph->selectors[VIGIL_POL_MAX_SELECTORS].loc,
				 "too many selectors (at most %d)", VIGIL_POL_MAX_SELECTORS);
	for (size_t i = 0; i < ph->n_selectors; i++) {
		r = lower_selector(x, i, &ph->selectors[i]);
		if (r < 0)
			return r;
	}
	h->bpf.n_selectors = (uint8_t)ph->n_selectors;

	if (h->connect_override)
		for (size_t i = 0; i < ph->n_args; i++)
			if (h->bpf.args[i].type == VIGIL_ARG_SOCK)
				return loc_error(EOPNOTSUPP, &ph->args[i].loc,
						 "Override on connect runs as a cgroup "
						 "connect4/connect6 hook: type 'sock' is not "
						 "available");
	/* cgroup programs cannot send signals (bpf_send_signal() is for tracing programs). */
	if (h->connect_override)
		for (size_t i = 0; i < ph->n_selectors; i++)
			for (size_t j = 0; j < ph->selectors[i].n_actions; j++) {
				const struct policy_action *a = &ph->selectors[i].actions[j];

				if (a->type == POLICY_ACTION_SIGKILL ||
				    a->type == POLICY_ACTION_SIGNAL)
					return loc_error(EOPNOTSUPP, &a->loc,
							 "a connect hook with Override runs as a "
							 "cgroup connect4/connect6 hook, which "
							 "cannot send signals: use Override alone");
			}
	return 0;
}

int policy_compile(const struct policy *p, const struct policy_env *env,
		   struct compiled_policy **ret)
{
	_cleanup_(compiled_policy_freep) struct compiled_policy *c = NULL;

	if (!p || !env || !ret)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return log_oom();
	c->name = strdup(strempty(p->name));
	c->file = strdup(strempty(p->file));
	c->digest = p->digest ? strdup(p->digest) : NULL;
	if (!c->name || !c->file || (p->digest && !c->digest))
		return log_oom();
	if (p->n_hooks > 0) {
		c->hooks = calloc(p->n_hooks, sizeof(*c->hooks));
		if (!c->hooks)
			return log_oom();
	}

	for (size_t i = 0; i < p->n_hooks; i++) {
		struct hook_ctx x = {
			.env = env,
			.c = c,
			.ph = &p->hooks[i],
			.h = &c->hooks[c->n_hooks],
		};
		int r;

		/* Counted first so a half-built hook is freed with the policy. */
		c->n_hooks++;
		x.h->hook_index = (unsigned)i;
		r = compile_hook(&x);
		tracefs_format_free(x.fmt);
		if (r < 0)
			return r;
		if (r > 0) {
			/* skipped (ignore.callNotFound) */
			compiled_hook_done(x.h);
			memset(x.h, 0, sizeof(*x.h));
			c->n_hooks--;
		}
	}
	*ret = TAKE_PTR(c);
	return 0;
}

/* --- environment --- */

static bool dir_exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int policy_env_probe(struct policy_env *ret)
{
	static const char *const ns_names[_POLICY_NS_MAX] = {
		[POLICY_NS_UTS] = "uts",
		[POLICY_NS_IPC] = "ipc",
		[POLICY_NS_MNT] = "mnt",
		[POLICY_NS_PID] = "pid",
		[POLICY_NS_PID_FOR_CHILDREN] = "pid_for_children",
		[POLICY_NS_NET] = "net",
		[POLICY_NS_TIME] = "time",
		[POLICY_NS_TIME_FOR_CHILDREN] = "time_for_children",
		[POLICY_NS_CGROUP] = "cgroup",
		[POLICY_NS_USER] = "user",
	};
	struct policy_env env = {};
	int r = 0;

	if (!ret)
		return -EINVAL;

	if (dir_exists("/sys/kernel/tracing/events"))
		env.tracefs = "/sys/kernel/tracing";
	else if (dir_exists("/sys/kernel/debug/tracing/events"))
		env.tracefs = "/sys/kernel/debug/tracing";
	else {
		env.tracefs = "/sys/kernel/tracing";
		r = log_warning_errno(SYNTHETIC_ERRNO(ENOENT),
				      "tracefs not found at /sys/kernel/tracing or "
				      "/sys/kernel/debug/tracing (mount -t tracefs nodev "
				      "/sys/kernel/tracing): policies cannot be compiled.");
	}

#if defined(__x86_64__)
	env.syscall_prefix = "__x64_sys_";
#elif defined(__aarch64__)
	env.syscall_prefix = "__arm64_sys_";
#else
	env.syscall_prefix = "sys_";
#endif

	env.have_kprobes = dir_exists("/sys/bus/event_source/devices/kprobe");
	/* BPF-LSM probing comes with the LSM hooks ([E]); until then lsmhooks are refused. */
	env.have_lsm = false;
	env.have_set_retval = libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
						      BPF_FUNC_set_retval, NULL) > 0;

	for (size_t i = 0; i < _POLICY_NS_MAX; i++) {
		char path[64];
		struct stat st;

		/*
		 * The host's namespaces are those of PID 1 (vigild may run sandboxed in its own
		 * mount or UTS namespace); in a container where PID 1's are not readable, ours.
		 */
		snprintf(path, sizeof(path), "/proc/1/ns/%s", ns_names[i]);
		if (stat(path, &st) < 0) {
			snprintf(path, sizeof(path), "/proc/self/ns/%s", ns_names[i]);
			if (stat(path, &st) < 0)
				st.st_ino = 0;
		}
		env.host_ns[i] = (uint64_t)st.st_ino;
	}

	*ret = env;
	return r;
}
