/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TracingPolicy YAML (Tetragon's cilium.io/v1alpha1) → struct policy.
 *
 * Two stages. libyaml's event API builds a small node tree per document (scalars, sequences,
 * mappings, each with its line and column); aliases are refused there, so the tree is a real
 * tree and its size is bounded by the input. Then a schema-driven walk fills struct policy,
 * logging each problem once as "FILE:LINE:COL: PATH: message". A document with any error is
 * dropped and counted in policy_set.n_errors; the other documents are kept.
 *
 * Three kinds of key problems get three different messages: a typo ("unknown key ... did you
 * mean"), a Tetragon feature vigil does not implement ("... is not supported by vigil") and a
 * Kubernetes-only feature ("... not supported until Kubernetes support lands").
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "bpf/events.h" /* bpf/policy.h needs its event header types */
#include "bpf/policy.h"
#include "daemon/config.h"
#include "log.h"
#include "policy.h"

#define POLICY_API_VERSION   "cilium.io/v1alpha1"
#define POLICY_FILE_MAX	     (4U * 1024 * 1024) /* bytes per policy file */
#define POLICY_DEPTH_MAX     64			/* YAML nesting */
#define POLICY_NODES_MAX     100000		/* YAML nodes per document */
#define POLICY_ERRORS_MAX    32			/* messages per document before going quiet */
#define POLICY_NAME_MAX	     253
#define POLICY_TAGS_MAX	     16
#define POLICY_ARG_INDEX_MAX 63 /* args[].index: tracepoint fields or syscall arguments */
#define POLICY_SEE_DOC	     "see vigil-policy(5)"

/* ---- value parsers (shared with the compiler; never log) ------------------------------------- */

int policy_parse_int(const char *s, uint64_t *ret)
{
	bool neg = false;
	uint64_t v = 0;
	unsigned base = 10;

	if (!s)
		return -EINVAL;
	if (*s == '-') {
		neg = true;
		s++;
	}
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!isxdigit((unsigned char)*s))
			return -EINVAL;
	} else if (s[0] == '0' && s[1]) {
		base = 8;
		s++;
	}
	for (; *s; s++) {
		unsigned d;

		if (isdigit((unsigned char)*s))
			d = (unsigned)(*s - '0');
		else if (base == 16 && isxdigit((unsigned char)*s))
			d = (unsigned)(tolower((unsigned char)*s) - 'a' + 10);
		else
			return -EINVAL;
		if (d >= base)
			return -EINVAL;
		if (__builtin_mul_overflow(v, base, &v) || __builtin_add_overflow(v, d, &v))
			return -EINVAL;
	}
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return -EINVAL;
		v = -v;
	}
	*ret = v;
	return 0;
}

/* Plain decimal 0..max, no sign. */
static int parse_decimal(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *s - '0', &v))
			return -EINVAL;
	}
	if (v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

int policy_parse_cidr(const char *s, uint8_t ret_addr[16], uint8_t *ret_bits)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash;
	uint64_t prefix;
	size_t n;
	uint8_t a[16] = {};

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';

	if (inet_pton(AF_INET, buf, a + 12) == 1) {
		a[10] = a[11] = 0xff;
		prefix = 32;
		if (slash && parse_decimal(slash + 1, 32, &prefix) < 0)
			return -EINVAL;
		prefix += 96;
	} else if (inet_pton(AF_INET6, buf, a) == 1) {
		prefix = 128;
		if (slash && parse_decimal(slash + 1, 128, &prefix) < 0)
			return -EINVAL;
	} else
		return -EINVAL;

	memcpy(ret_addr, a, sizeof(a));
	*ret_bits = (uint8_t)prefix;
	return 0;
}

int policy_parse_port(const char *s, uint16_t *ret)
{
	uint64_t v;

	if (parse_decimal(s, UINT16_MAX, &v) < 0)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

struct name_value {
	const char *name;
	uint16_t value;
};

static int parse_named_u16(const char *s, const struct name_value *table, size_t n, uint16_t *ret)
{
	uint64_t v;

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (streq(s, table[i].name)) {
			*ret = table[i].value;
			return 0;
		}
	if (parse_decimal(s, UINT16_MAX, &v) < 0)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

static const struct name_value families[] = {
	{"AF_UNIX", 1},
	{"AF_INET", 2},
	{"AF_INET6", 10},
};

static const struct name_value protocols[] = {
	{"IPPROTO_ICMP", 1},	{"IPPROTO_TCP", 6},    {"IPPROTO_UDP", 17},
	{"IPPROTO_ICMPV6", 58}, {"IPPROTO_SCTP", 132}, {"IPPROTO_RAW", 255},
};

int policy_parse_family(const char *s, uint16_t *ret)
{
	return parse_named_u16(s, families, ELEMENTSOF(families), ret);
}

int policy_parse_protocol(const char *s, uint16_t *ret)
{
	return parse_named_u16(s, protocols, ELEMENTSOF(protocols), ret);
}

/* ---- names -------------------------------------------------------------------------------- */

static const char *const op_names[_POLICY_OP_MAX + 1] = {
	[POLICY_OP_EQUAL] = "Equal",
	[POLICY_OP_NOT_EQUAL] = "NotEqual",
	[POLICY_OP_PREFIX] = "Prefix",
	[POLICY_OP_NOT_PREFIX] = "NotPrefix",
	[POLICY_OP_POSTFIX] = "Postfix",
	[POLICY_OP_NOT_POSTFIX] = "NotPostfix",
	[POLICY_OP_GT] = "GT",
	[POLICY_OP_LT] = "LT",
	[POLICY_OP_MASK] = "Mask",
	[POLICY_OP_SADDR] = "SAddr",
	[POLICY_OP_DADDR] = "DAddr",
	[POLICY_OP_NOT_SADDR] = "NotSAddr",
	[POLICY_OP_NOT_DADDR] = "NotDAddr",
	[POLICY_OP_SPORT] = "SPort",
	[POLICY_OP_DPORT] = "DPort",
	[POLICY_OP_NOT_SPORT] = "NotSPort",
	[POLICY_OP_NOT_DPORT] = "NotDPort",
	[POLICY_OP_PROTOCOL] = "Protocol",
	[POLICY_OP_FAMILY] = "Family",
	[POLICY_OP_IN] = "In",
	[POLICY_OP_NOT_IN] = "NotIn",
};

static const char *const action_names[_POLICY_ACTION_MAX + 1] = {
	[POLICY_ACTION_POST] = "Post",	       [POLICY_ACTION_NOPOST] = "NoPost",
	[POLICY_ACTION_SIGKILL] = "Sigkill",   [POLICY_ACTION_SIGNAL] = "Signal",
	[POLICY_ACTION_OVERRIDE] = "Override",
};

static const char *const arg_type_names[_POLICY_ARG_TYPE_MAX] = {
	[POLICY_ARG_INT] = "int",	    [POLICY_ARG_STRING] = "string",
	[POLICY_ARG_CHAR_BUF] = "char_buf", [POLICY_ARG_FD] = "fd",
	[POLICY_ARG_FILENAME] = "filename", [POLICY_ARG_SOCKADDR] = "sockaddr",
	[POLICY_ARG_SOCK] = "sock",
};

static const char *const ns_names[_POLICY_NS_MAX + 1] = {
	[POLICY_NS_UTS] = "Uts",
	[POLICY_NS_IPC] = "Ipc",
	[POLICY_NS_MNT] = "Mnt",
	[POLICY_NS_PID] = "Pid",
	[POLICY_NS_PID_FOR_CHILDREN] = "PidForChildren",
	[POLICY_NS_NET] = "Net",
	[POLICY_NS_TIME] = "Time",
	[POLICY_NS_TIME_FOR_CHILDREN] = "TimeForChildren",
	[POLICY_NS_CGROUP] = "Cgroup",
	[POLICY_NS_USER] = "User",
};

const char *policy_op_to_string(enum policy_op op)
{
	return op >= 0 && op < _POLICY_OP_MAX ? op_names[op] : NULL;
}

const char *policy_action_to_string(enum policy_action_type a)
{
	return a >= 0 && a < _POLICY_ACTION_MAX ? action_names[a] : NULL;
}

const char *policy_arg_type_to_string(enum policy_arg_type t)
{
	return t >= 0 && t < _POLICY_ARG_TYPE_MAX ? arg_type_names[t] : NULL;
}

/* Index of s in a NULL-terminated table, or -1. */
static int table_find(const char *const *table, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (table[i] && streq(table[i], s))
			return (int)i;
	return -1;
}

/* Integer type names (Tetragon's, plus the short s8..u64 forms) → width and signedness. */
static const struct {
	const char *name;
	unsigned width;
	bool is_signed;
} int_types[] = {
	{"int", 4, true},
	{"int8", 1, true},
	{"sint8", 1, true},
	{"s8", 1, true},
	{"int16", 2, true},
	{"sint16", 2, true},
	{"s16", 2, true},
	{"int32", 4, true},
	{"sint32", 4, true},
	{"s32", 4, true},
	{"int64", 8, true},
	{"sint64", 8, true},
	{"s64", 8, true},
	{"long", 8, true},
	{"uint8", 1, false},
	{"u8", 1, false},
	{"uint16", 2, false},
	{"u16", 2, false},
	{"uint32", 4, false},
	{"u32", 4, false},
	{"uint64", 8, false},
	{"u64", 8, false},
	{"ulong", 8, false},
	{"size_t", 8, false},
	{"unsigned long", 8, false},
};

/* Tetragon types that need a kernel object (kprobe/LSM hooks) rather than a syscall value. */
static const char *const kernel_only_types[] = {
	"file",		 "path",	   "dentry",
	"linux_binprm",	 "cred",	   "skb",
	"socket",	 "char_iovec",	   "const_buf",
	"bpf_attr",	 "perf_event",	   "bpf_map",
	"bpf_prog",	 "user_namespace", "capability",
	"kiocb",	 "iov_iter",	   "load_info",
	"module",	 "kernel_cap_t",   "cap_inheritable",
	"cap_permitted", "cap_effective",  "net_device",
	"syscall64",	 "int32_arr",	   NULL,
};

/* ---- YAML node tree --------------------------------------------------------------------- */

enum ynode_kind {
	YNODE_SCALAR,
	YNODE_SEQ,
	YNODE_MAP, /* items: key, value, key, value, ... */
};

struct ynode {
	enum ynode_kind kind;
	bool plain; /* scalar written without quotes (null/bool detection) */
	char *value;
	unsigned line, column; /* 1-based */
	struct ynode **items;
	size_t n_items;
};

static struct ynode *ynode_free(struct ynode *n)
{
	if (!n)
		return NULL;
	for (size_t i = 0; i < n->n_items; i++)
		ynode_free(n->items[i]);
	free(n->items);
	free(n->value);
	free(n);
	return NULL;
}

static bool ynode_is_null(const struct ynode *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

	if (!n)
		return true;
	if (n->kind != YNODE_SCALAR || !n->plain)
		return false;
	for (size_t i = 0; i < ELEMENTSOF(nulls); i++)
		if (streq(n->value, nulls[i]))
			return true;
	return false;
}

static size_t ynode_map_size(const struct ynode *n)
{
	return n && n->kind == YNODE_MAP ? n->n_items / 2 : 0;
}

static struct ynode *ynode_map_get(const struct ynode *map, const char *key)
{
	if (!map || map->kind != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < map->n_items; i += 2)
		if (map->items[i]->kind == YNODE_SCALAR && streq(map->items[i]->value, key))
			return map->items[i + 1];
	return NULL;
}

static int ynode_append(struct ynode *parent, struct ynode *child)
{
	struct ynode **t;

	t = realloc(parent->items, (parent->n_items + 1) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	parent->items = t;
	parent->items[parent->n_items++] = child;
	return 0;
}

/* ---- parse context and error reporting ------------------------------------------------------ */

struct pctx {
	const char *file; /* for messages; the policy's own copy for locs */
	char path[1024];
	size_t plen;
	unsigned n_errors; /* in the current document */
	bool oom;
	struct policy *p;
	struct policy_hook *hook; /* being parsed, for cross-field checks */
};

static size_t path_push(struct pctx *c, const char *fmt, ...) _printf_(2, 3);
static size_t path_push(struct pctx *c, const char *fmt, ...)
{
	size_t mark = c->plen;
	va_list ap;
	int n;

	if (c->plen < sizeof(c->path) - 1) {
		va_start(ap, fmt);
		n = vsnprintf(c->path + c->plen, sizeof(c->path) - c->plen, fmt, ap);
		va_end(ap);
		if (n > 0)
			c->plen = MIN(c->plen + (size_t)n, sizeof(c->path) - 1);
	}
	return mark;
}

static size_t path_key(struct pctx *c, const char *key)
{
	return c->plen == 0 ? path_push(c, "%s", key) : path_push(c, ".%s", key);
}

static size_t path_index(struct pctx *c, size_t i)
{
	return path_push(c, "[%zu]", i);
}

static void path_pop(struct pctx *c, size_t mark)
{
	c->plen = mark;
	c->path[mark] = '\0';
}

static bool pctx_quiet(const struct pctx *c)
{
	return c->n_errors >= POLICY_ERRORS_MAX;
}

static void perr(struct pctx *c, const struct ynode *n, const char *fmt, ...) _printf_(3, 4);
static void perr(struct pctx *c, const struct ynode *n, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	c->n_errors++;
	if (c->n_errors > POLICY_ERRORS_MAX)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s:%u:%u: %s%s%s", c->file, n ? n->line : 1, n ? n->column : 1, c->path,
		  c->plen ? ": " : "", msg);
	if (c->n_errors == POLICY_ERRORS_MAX)
		log_error("%s:%u:%u: too many errors in this document, not reporting more.",
			  c->file, n ? n->line : 1, n ? n->column : 1);
}

static char *pstrdup(struct pctx *c, const char *s)
{
	char *d = strdup(s);

	if (!d)
		c->oom = true;
	return d;
}

static void loc_set(struct pctx *c, struct policy_loc *loc, const struct ynode *n)
{
	loc->file = c->p->file;
	loc->line = n->line;
	loc->column = n->column;
	loc->path = pstrdup(c, c->path);
}

/* Grow *array (of *n elements of size sz) by one zeroed element; NULL on OOM. */
static void *array_add(struct pctx *c, void *array_p, size_t *n, size_t sz)
{
	void **array = array_p;
	char *t;

	t = realloc(*array, (*n + 1) * sz);
	if (!t) {
		c->oom = true;
		return NULL;
	}
	memset(t + *n * sz, 0, sz);
	*array = t;
	return t + (*n)++ * sz;
}

/* ---- typed accessors ---------------------------------------------------------------------- */

static bool expect_map(struct pctx *c, const struct ynode *n)
{
	if (n->kind == YNODE_MAP || ynode_is_null(n))
		return true;
	perr(c, n, "expected a mapping");
	return false;
}

static bool expect_seq(struct pctx *c, const struct ynode *n)
{
	if (n->kind == YNODE_SEQ || ynode_is_null(n))
		return true;
	perr(c, n, "expected a list");
	return false;
}

static size_t seq_len(const struct ynode *n)
{
	return n->kind == YNODE_SEQ ? n->n_items : 0;
}

static bool expect_scalar(struct pctx *c, const struct ynode *n)
{
	if (n->kind != YNODE_SCALAR) {
		perr(c, n, "expected a single value, not a %s",
		     n->kind == YNODE_MAP ? "mapping" : "list");
		return false;
	}
	if (ynode_is_null(n)) {
		perr(c, n, "missing value");
		return false;
	}
	return true;
}

static int get_str(struct pctx *c, const struct ynode *n, char **ret)
{
	if (!expect_scalar(c, n))
		return -EINVAL;
	free(*ret);
	*ret = pstrdup(c, n->value);
	return *ret ? 0 : -ENOMEM;
}

static int get_bool(struct pctx *c, const struct ynode *n, bool *ret)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};

	if (!expect_scalar(c, n))
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (strcasecmp(n->value, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(n->value, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	perr(c, n, "invalid boolean '%s', expected true or false", n->value);
	return -EINVAL;
}

/* Non-negative integer in [min, max]. */
static int get_uint(struct pctx *c, const struct ynode *n, uint64_t min, uint64_t max,
		    uint64_t *ret)
{
	uint64_t v;

	if (!expect_scalar(c, n))
		return -EINVAL;
	if (n->value[0] == '-' || policy_parse_int(n->value, &v) < 0) {
		perr(c, n, "invalid number '%s', expected an integer from %" PRIu64 " to %" PRIu64,
		     n->value, min, max);
		return -EINVAL;
	}
	if (v < min || v > max) {
		perr(c, n, "%s is out of range, expected %" PRIu64 " to %" PRIu64, n->value, min,
		     max);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* Signed integer in [min, max]. */
static int get_int(struct pctx *c, const struct ynode *n, int64_t min, int64_t max, int64_t *ret)
{
	uint64_t u;
	int64_t v;

	if (!expect_scalar(c, n))
		return -EINVAL;
	if (policy_parse_int(n->value, &u) < 0 || (n->value[0] != '-' && u > (uint64_t)INT64_MAX)) {
		perr(c, n, "invalid number '%s'", n->value);
		return -EINVAL;
	}
	v = (int64_t)u;
	if (v < min || v > max) {
		perr(c, n, "%s is out of range, expected %" PRId64 " to %" PRId64, n->value, min,
		     max);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* ---- key checking --------------------------------------------------------------------------- */

struct keyset {
	const char *const *known;	/* parsed */
	const char *const *unsupported; /* Tetragon features vigil does not implement */
	const char *const *k8s;		/* Kubernetes-only features */
};

static size_t strv_len(const char *const *l)
{
	size_t n = 0;

	while (l && l[n])
		n++;
	return n;
}

static bool strv_has(const char *const *l, const char *s)
{
	for (; l && *l; l++)
		if (streq(*l, s))
			return true;
	return false;
}

/*
 * Check every key of a mapping: not a scalar, duplicate, unknown (with a suggestion),
 * unsupported or Kubernetes-only. Returns false if any error was reported.
 */
static bool check_keys(struct pctx *c, const struct ynode *map, const struct keyset *ks)
{
	unsigned before = c->n_errors;

	if (map->kind != YNODE_MAP)
		return true;
	for (size_t i = 0; i + 1 < map->n_items; i += 2) {
		const struct ynode *k = map->items[i];
		size_t mark;

		if (pctx_quiet(c))
			break;
		if (k->kind != YNODE_SCALAR) {
			perr(c, k, "mapping keys must be plain names");
			continue;
		}
		mark = path_key(c, k->value);
		if (strv_has(ks->known, k->value)) {
			for (size_t j = 0; j < i; j += 2)
				if (map->items[j]->kind == YNODE_SCALAR &&
				    streq(map->items[j]->value, k->value)) {
					perr(c, k, "duplicate key '%s' (first at line %u)",
					     k->value, map->items[j]->line);
					break;
				}
		} else if (strv_has(ks->unsupported, k->value))
			perr(c, k, "'%s' is not supported by vigil", k->value);
		else if (strv_has(ks->k8s, k->value))
			perr(c, k, "'%s' is not supported until Kubernetes support lands",
			     k->value);
		else {
			size_t nk = strv_len(ks->known), nu = strv_len(ks->unsupported);
			const char *cand[nk + nu + 1];
			const char *s;

			memcpy(cand, ks->known, nk * sizeof(char *));
			if (nu)
				memcpy(cand + nk, ks->unsupported, nu * sizeof(char *));
			cand[nk + nu] = NULL;
			s = config_suggest(k->value, cand);
			if (s)
				perr(c, k, "unknown key '%s' (did you mean '%s'?)", k->value, s);
			else
				perr(c, k, "unknown key '%s'", k->value);
		}
		path_pop(c, mark);
	}
	return c->n_errors == before;
}

/* Unknown enum value message with did-you-mean over table (n entries, NULL holes allowed). */
static void perr_enum(struct pctx *c, const struct ynode *n, const char *what,
		      const char *const *table, size_t count)
{
	const char *cand[count + 1];
	size_t k = 0;
	const char *s;

	for (size_t i = 0; i < count; i++)
		if (table[i])
			cand[k++] = table[i];
	cand[k] = NULL;
	s = config_suggest(n->value, cand);
	if (s)
		perr(c, n, "unknown %s '%s' (did you mean '%s'?)", what, n->value, s);
	else
		perr(c, n, "unknown %s '%s'", what, n->value);
}

/* ---- args ------------------------------------------------------------------------------- */

static int parse_arg_type(struct pctx *c, const struct ynode *n, struct policy_arg *a)
{
	const char *t;

	if (!expect_scalar(c, n))
		return -EINVAL;
	t = n->value;
	a->type_name = pstrdup(c, t);
	for (size_t i = 0; i < ELEMENTSOF(int_types); i++)
		if (streq(t, int_types[i].name)) {
			a->type = POLICY_ARG_INT;
			a->int_width = int_types[i].width;
			a->int_signed = int_types[i].is_signed;
			return 0;
		}
	/* A tracepoint's __data_loc string: the compiler reads it from the record. */
	if (streq(t, "data_loc")) {
		a->type = POLICY_ARG_STRING;
		return 0;
	}
	for (int i = POLICY_ARG_STRING; i < _POLICY_ARG_TYPE_MAX; i++)
		if (streq(t, arg_type_names[i])) {
			a->type = i;
			return 0;
		}
	if (strv_has(kernel_only_types, t)) {
		perr(c, n,
		     "argument type '%s' needs kprobe/LSM hooks, not available (" POLICY_SEE_DOC
		     ")",
		     t);
		return -EOPNOTSUPP;
	}
	if (streq(t, "nop")) {
		perr(c, n, "argument type 'nop' is not supported by vigil");
		return -EOPNOTSUPP;
	}
	{
		const char *cand[ELEMENTSOF(int_types) + _POLICY_ARG_TYPE_MAX + 1];
		size_t k = 0;
		const char *s;

		for (size_t i = 0; i < ELEMENTSOF(int_types); i++)
			cand[k++] = int_types[i].name;
		for (int i = POLICY_ARG_STRING; i < _POLICY_ARG_TYPE_MAX; i++)
			cand[k++] = arg_type_names[i];
		cand[k] = NULL;
		s = config_suggest(t, cand);
		if (s)
			perr(c, n, "unknown argument type '%s' (did you mean '%s'?)", t, s);
		else
			perr(c, n, "unknown argument type '%s'", t);
	}
	return -EINVAL;
}

/* One args[] entry or returnArg (is_return: index optional and unused). */
static int parse_arg(struct pctx *c, const struct ynode *n, struct policy_arg *a, bool is_return)
{
	static const char *const known[] = {
		"index", "type", "sizeArgIndex", "maxData", "label", "returnCopy", NULL};
	static const char *const unsupported[] = {"resolve", "btfType", "source", NULL};
	const struct keyset ks = {known, unsupported, NULL};
	const struct ynode *v;
	unsigned before = c->n_errors;
	size_t mark;
	uint64_t u;
	bool b;

	a->size_arg_index = -1;
	a->type = _POLICY_ARG_TYPE_INVALID;
	loc_set(c, &a->loc, n);
	if (!expect_map(c, n))
		return -EINVAL;
	if (ynode_map_size(n) == 0) {
		perr(c, n, "empty argument");
		return -EINVAL;
	}
	check_keys(c, n, &ks);

	v = ynode_map_get(n, "index");
	if (v) {
		mark = path_key(c, "index");
		if (get_uint(c, v, 0, POLICY_ARG_INDEX_MAX, &u) >= 0)
			a->index = (unsigned)u;
		path_pop(c, mark);
	} else if (!is_return)
		perr(c, n, "required key 'index' is missing");

	v = ynode_map_get(n, "type");
	if (v) {
		mark = path_key(c, "type");
		(void)parse_arg_type(c, v, a);
		path_pop(c, mark);
	} else
		perr(c, n, "required key 'type' is missing");

	v = ynode_map_get(n, "sizeArgIndex");
	if (v) {
		mark = path_key(c, "sizeArgIndex");
		if (get_uint(c, v, 1, POLICY_ARG_INDEX_MAX + 1, &u) >= 0) {
			if (a->type >= 0 && a->type != POLICY_ARG_CHAR_BUF &&
			    a->type != POLICY_ARG_SOCKADDR)
				perr(c, v, "sizeArgIndex applies only to char_buf and sockaddr");
			else if (!is_return && u - 1 == a->index)
				perr(c, v,
				     "sizeArgIndex %" PRIu64
				     " names this argument itself (it is 1-based)",
				     u);
			else
				a->size_arg_index = (int)(u - 1);
		}
		path_pop(c, mark);
	} else if (a->type == POLICY_ARG_CHAR_BUF)
		perr(c, n,
		     "type char_buf needs sizeArgIndex (the 1-based index of the length argument)");

	v = ynode_map_get(n, "maxData");
	if (v) {
		mark = path_key(c, "maxData");
		if (get_bool(c, v, &b) >= 0)
			a->max_data = b;
		path_pop(c, mark);
	}

	v = ynode_map_get(n, "label");
	if (v) {
		mark = path_key(c, "label");
		(void)get_str(c, v, &a->label);
		path_pop(c, mark);
	}

	v = ynode_map_get(n, "returnCopy");
	if (v) {
		mark = path_key(c, "returnCopy");
		if (get_bool(c, v, &b) >= 0 && b)
			perr(c, v, "'returnCopy' is not supported by vigil");
		path_pop(c, mark);
	}
	return c->n_errors == before ? 0 : -EINVAL;
}

static const struct policy_arg *hook_find_arg(const struct policy_hook *h, unsigned index)
{
	for (size_t i = 0; i < h->n_args; i++)
		if (h->args[i].index == index)
			return &h->args[i];
	return NULL;
}

/* ---- selectors -------------------------------------------------------------------------- */

static bool op_is_string(enum policy_op op)
{
	return op >= POLICY_OP_EQUAL && op <= POLICY_OP_NOT_POSTFIX;
}

static bool op_fits_type(enum policy_op op, enum policy_arg_type t)
{
	switch (t) {
	case POLICY_ARG_STRING:
	case POLICY_ARG_CHAR_BUF:
	case POLICY_ARG_FILENAME:
	case POLICY_ARG_FD: /* compares the path the descriptor resolves to */
		return op_is_string(op);
	case POLICY_ARG_INT:
		return op == POLICY_OP_EQUAL || op == POLICY_OP_NOT_EQUAL || op == POLICY_OP_GT ||
		       op == POLICY_OP_LT || op == POLICY_OP_MASK;
	case POLICY_ARG_SOCKADDR:
		return (op >= POLICY_OP_SADDR && op <= POLICY_OP_NOT_DPORT) ||
		       op == POLICY_OP_FAMILY;
	case POLICY_ARG_SOCK:
		return (op >= POLICY_OP_SADDR && op <= POLICY_OP_NOT_DPORT) ||
		       op == POLICY_OP_FAMILY || op == POLICY_OP_PROTOCOL;
	default:
		return false;
	}
}

static void ops_for_type(enum policy_arg_type t, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int op = 0; op < _POLICY_OP_MAX; op++)
		if (op_fits_type(op, t) && off < size)
			off += (size_t)snprintf(buf + off, size - off, "%s%s", off ? ", " : "",
						op_names[op]);
}

/* Check one value of matchArgs/matchReturnArgs for the operator and the argument. */
static void check_match_value(struct pctx *c, const struct ynode *n, enum policy_op op,
			      const struct policy_arg *a)
{
	const char *s = n->value;
	uint8_t addr[16], bits;
	uint16_t u16;
	uint64_t u;

	if (op_is_string(op)) {
		size_t max = op == POLICY_OP_EQUAL || op == POLICY_OP_NOT_EQUAL
				     ? VIGIL_POL_STR_MAX - 1
				     : VIGIL_POL_STR_MAX;

		if (a->type == POLICY_ARG_INT)
			goto integer;
		if (strlen(s) > max)
			perr(c, n, "value is %zu bytes long, at most %zu are supported for %s",
			     strlen(s), max, op_names[op]);
		return;
	}
	switch (op) {
	case POLICY_OP_GT:
	case POLICY_OP_LT:
	case POLICY_OP_MASK:
	integer:
		if (policy_parse_int(s, &u) < 0) {
			perr(c, n, "invalid integer '%s'", s);
			return;
		}
		if (a->int_width > 0 && a->int_width < 8) {
			uint64_t umax = (1ULL << (8 * a->int_width)) - 1;
			int64_t smin = -(int64_t)(1ULL << (8 * a->int_width - 1));

			if (s[0] == '-' ? (int64_t)u < smin : u > umax)
				perr(c, n, "value %s does not fit argument type '%s'", s,
				     a->type_name ?: "int");
		}
		return;
	case POLICY_OP_SADDR:
	case POLICY_OP_DADDR:
	case POLICY_OP_NOT_SADDR:
	case POLICY_OP_NOT_DADDR:
		if (policy_parse_cidr(s, addr, &bits) < 0)
			perr(c, n, "invalid address or CIDR '%s' (e.g. 10.0.0.0/8 or fd00::/8)", s);
		return;
	case POLICY_OP_SPORT:
	case POLICY_OP_DPORT:
	case POLICY_OP_NOT_SPORT:
	case POLICY_OP_NOT_DPORT:
		if (policy_parse_port(s, &u16) < 0)
			perr(c, n, "invalid port '%s', expected 0 to 65535", s);
		return;
	case POLICY_OP_FAMILY:
		if (policy_parse_family(s, &u16) < 0)
			perr(c, n,
			     "invalid address family '%s' (AF_INET, AF_INET6, AF_UNIX or a number)",
			     s);
		return;
	case POLICY_OP_PROTOCOL:
		if (policy_parse_protocol(s, &u16) < 0)
			perr(c, n,
			     "invalid protocol '%s' (IPPROTO_TCP, IPPROTO_UDP, ... or a number)",
			     s);
		return;
	default:
		return;
	}
}

static int parse_op(struct pctx *c, const struct ynode *n, const enum policy_op *allowed,
		    size_t n_allowed, enum policy_op *ret)
{
	int op;

	if (!expect_scalar(c, n))
		return -EINVAL;
	op = table_find(op_names, _POLICY_OP_MAX, n->value);
	if (op < 0) {
		perr_enum(c, n, "operator", op_names, _POLICY_OP_MAX);
		return -EINVAL;
	}
	if (allowed) {
		char buf[256];
		size_t off = 0;
		bool ok = false;

		buf[0] = '\0';
		for (size_t i = 0; i < n_allowed; i++) {
			ok = ok || allowed[i] == (enum policy_op)op;
			if (off < sizeof(buf))
				off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s",
							i ? ", " : "", op_names[allowed[i]]);
		}
		if (!ok) {
			perr(c, n, "operator '%s' is not allowed here (use one of %s)", n->value,
			     buf);
			return -EINVAL;
		}
	}
	*ret = (enum policy_op)op;
	return 0;
}

/*
 * Parse `values:` into policy_value[]; each value must be a non-empty scalar. The caller
 * validates contents.
 */
static int parse_values(struct pctx *c, const struct ynode *parent,
			struct policy_value **ret_values, size_t *ret_n)
{
	const struct ynode *v = ynode_map_get(parent, "values");
	size_t mark;
	int r = 0;

	if (!v) {
		perr(c, parent, "required key 'values' is missing");
		return -EINVAL;
	}
	mark = path_key(c, "values");
	if (!expect_seq(c, v)) {
		r = -EINVAL;
		goto done;
	}
	if (seq_len(v) == 0) {
		perr(c, v, "at least one value is needed");
		r = -EINVAL;
		goto done;
	}
	for (size_t i = 0; i < v->n_items && !pctx_quiet(c); i++) {
		const struct ynode *e = v->items[i];
		size_t m2 = path_index(c, i);
		struct policy_value *pv;

		if (expect_scalar(c, e)) {
			pv = array_add(c, ret_values, ret_n, sizeof(*pv));
			if (pv) {
				pv->s = pstrdup(c, e->value);
				loc_set(c, &pv->loc, e);
			}
		} else
			r = -EINVAL;
		path_pop(c, m2);
	}
done:
	path_pop(c, mark);
	return r;
}

/* Find the ynode of values[i] again for messages. */
static const struct ynode *value_node(const struct ynode *parent, size_t i)
{
	const struct ynode *v = ynode_map_get(parent, "values");

	return v && v->kind == YNODE_SEQ && i < v->n_items ? v->items[i] : parent;
}

static void parse_match(struct pctx *c, const struct ynode *n, struct policy_match *m,
			bool is_return)
{
	static const char *const known[] = {"index", "operator", "values", NULL};
	static const char *const unsupported[] = {"args", NULL};
	const struct keyset ks = {known, unsupported, NULL};
	const struct policy_hook *h = c->hook;
	const struct policy_arg *a = NULL;
	struct policy_arg ret_int = {.type = POLICY_ARG_INT, .int_width = 8, .int_signed = true};
	const struct ynode *v;
	bool have_op = false;
	size_t mark;
	uint64_t u;

	loc_set(c, &m->loc, n);
	if (!expect_map(c, n))
		return;
	check_keys(c, n, &ks);

	v = ynode_map_get(n, "index");
	if (is_return) {
		if (!h->want_return)
			perr(c, n, "matchReturnArgs needs 'return: true' on the hook");
		a = h->has_return_arg ? &h->return_arg : &ret_int;
		if (v) {
			mark = path_key(c, "index");
			(void)get_uint(c, v, 0, 0, &u);
			path_pop(c, mark);
		}
		m->index = 0;
	} else if (v) {
		mark = path_key(c, "index");
		if (get_uint(c, v, 0, POLICY_ARG_INDEX_MAX, &u) >= 0) {
			m->index = (unsigned)u;
			a = hook_find_arg(h, m->index);
			if (!a)
				perr(c, v, "index %u does not name an argument declared in args",
				     m->index);
		}
		path_pop(c, mark);
	} else
		perr(c, n, "required key 'index' is missing");

	v = ynode_map_get(n, "operator");
	if (v) {
		mark = path_key(c, "operator");
		if (parse_op(c, v, NULL, 0, &m->op) >= 0) {
			have_op = true;
			if (a && a->type >= 0 && !op_fits_type(m->op, a->type)) {
				char ops[256];

				ops_for_type(a->type, ops, sizeof(ops));
				perr(c, v,
				     "operator '%s' does not apply to %s of type '%s' (use one of "
				     "%s)",
				     v->value, is_return ? "the return value" : "this argument",
				     a->type_name ?: arg_type_names[a->type], ops);
				have_op = false;
			}
		}
		path_pop(c, mark);
	} else
		perr(c, n, "required key 'operator' is missing");

	if (parse_values(c, n, &m->values, &m->n_values) < 0 || !have_op || !a || a->type < 0)
		return;
	mark = path_key(c, "values");
	if ((m->op == POLICY_OP_GT || m->op == POLICY_OP_LT || m->op == POLICY_OP_MASK) &&
	    m->n_values != 1)
		perr(c, ynode_map_get(n, "values"),
		     "operator '%s' takes exactly one value, not %zu", op_names[m->op],
		     m->n_values);
	for (size_t i = 0; i < m->n_values && !pctx_quiet(c); i++) {
		size_t m2 = path_index(c, i);

		check_match_value(c, value_node(n, i), m->op, a);
		path_pop(c, m2);
	}
	path_pop(c, mark);
}

static void parse_binaries(struct pctx *c, const struct ynode *n, struct policy_binaries *b)
{
	static const char *const known[] = {"operator", "values", "followChildren", NULL};
	const struct keyset ks = {known, NULL, NULL};
	static const enum policy_op allowed[] = {POLICY_OP_IN,	    POLICY_OP_NOT_IN,
						 POLICY_OP_PREFIX,  POLICY_OP_NOT_PREFIX,
						 POLICY_OP_POSTFIX, POLICY_OP_NOT_POSTFIX};
	const struct ynode *v;
	bool have_op = false;
	size_t mark;

	loc_set(c, &b->loc, n);
	if (!expect_map(c, n))
		return;
	check_keys(c, n, &ks);
	v = ynode_map_get(n, "operator");
	if (v) {
		mark = path_key(c, "operator");
		have_op = parse_op(c, v, allowed, ELEMENTSOF(allowed), &b->op) >= 0;
		path_pop(c, mark);
	} else
		perr(c, n, "required key 'operator' is missing");
	v = ynode_map_get(n, "followChildren");
	if (v) {
		mark = path_key(c, "followChildren");
		(void)get_bool(c, v, &b->follow_children);
		path_pop(c, mark);
	}
	if (parse_values(c, n, &b->values, &b->n_values) < 0 || !have_op)
		return;
	mark = path_key(c, "values");
	for (size_t i = 0; i < b->n_values; i++) {
		size_t max = b->op == POLICY_OP_IN || b->op == POLICY_OP_NOT_IN
				     ? VIGIL_POL_STR_MAX - 1
				     : VIGIL_POL_STR_MAX;
		size_t m2 = path_index(c, i);

		if (strlen(b->values[i].s) > max)
			perr(c, value_node(n, i),
			     "value is %zu bytes long, at most %zu are supported for %s",
			     strlen(b->values[i].s), max, op_names[b->op]);
		else if (b->values[i].s[0] == '\0')
			perr(c, value_node(n, i), "empty binary path");
		path_pop(c, m2);
	}
	path_pop(c, mark);
}

static void parse_pids(struct pctx *c, const struct ynode *n, struct policy_pids *p)
{
	static const char *const known[] = {"operator", "values", "isNamespacePID", "followForks",
					    NULL};
	const struct keyset ks = {known, NULL, NULL};
	static const enum policy_op allowed[] = {POLICY_OP_IN, POLICY_OP_NOT_IN};
	const struct ynode *v;
	size_t mark;

	loc_set(c, &p->loc, n);
	if (!expect_map(c, n))
		return;
	check_keys(c, n, &ks);
	v = ynode_map_get(n, "operator");
	if (v) {
		mark = path_key(c, "operator");
		(void)parse_op(c, v, allowed, ELEMENTSOF(allowed), &p->op);
		path_pop(c, mark);
	} else
		perr(c, n, "required key 'operator' is missing");
	v = ynode_map_get(n, "isNamespacePID");
	if (v) {
		mark = path_key(c, "isNamespacePID");
		(void)get_bool(c, v, &p->is_namespace_pid);
		path_pop(c, mark);
	}
	v = ynode_map_get(n, "followForks");
	if (v) {
		mark = path_key(c, "followForks");
		(void)get_bool(c, v, &p->follow_forks);
		path_pop(c, mark);
	}
	v = ynode_map_get(n, "values");
	if (!v) {
		perr(c, n, "required key 'values' is missing");
		return;
	}
	mark = path_key(c, "values");
	if (expect_seq(c, v)) {
		if (seq_len(v) == 0)
			perr(c, v, "at least one value is needed");
		for (size_t i = 0; i < seq_len(v) && !pctx_quiet(c); i++) {
			size_t m2 = path_index(c, i);
			uint64_t u;

			if (get_uint(c, v->items[i], 0, UINT32_MAX, &u) >= 0) {
				uint32_t *t = realloc(p->values, (p->n_values + 1) * sizeof(*t));

				if (!t)
					c->oom = true;
				else {
					p->values = t;
					t[p->n_values++] = (uint32_t)u;
				}
			}
			path_pop(c, m2);
		}
	}
	path_pop(c, mark);
}

static void parse_namespaces(struct pctx *c, const struct ynode *n, struct policy_namespaces *ns)
{
	static const char *const known[] = {"namespace", "operator", "values", NULL};
	const struct keyset ks = {known, NULL, NULL};
	static const enum policy_op allowed[] = {POLICY_OP_IN, POLICY_OP_NOT_IN};
	const struct ynode *v;
	size_t mark;
	int k;

	ns->ns = _POLICY_NS_INVALID;
	loc_set(c, &ns->loc, n);
	if (!expect_map(c, n))
		return;
	check_keys(c, n, &ks);
	v = ynode_map_get(n, "namespace");
	if (v) {
		mark = path_key(c, "namespace");
		if (expect_scalar(c, v)) {
			k = table_find(ns_names, _POLICY_NS_MAX, v->value);
			if (k < 0)
				perr_enum(c, v, "namespace", ns_names, _POLICY_NS_MAX);
			else
				ns->ns = k;
		}
		path_pop(c, mark);
	} else
		perr(c, n, "required key 'namespace' is missing");
	v = ynode_map_get(n, "operator");
	if (v) {
		mark = path_key(c, "operator");
		(void)parse_op(c, v, allowed, ELEMENTSOF(allowed), &ns->op);
		path_pop(c, mark);
	} else
		perr(c, n, "required key 'operator' is missing");
	if (parse_values(c, n, &ns->values, &ns->n_values) < 0)
		return;
	mark = path_key(c, "values");
	for (size_t i = 0; i < ns->n_values; i++) {
		size_t m2 = path_index(c, i);
		uint64_t u;

		if (!streq(ns->values[i].s, "host_ns") &&
		    (ns->values[i].s[0] == '-' || policy_parse_int(ns->values[i].s, &u) < 0 ||
		     u > UINT32_MAX))
			perr(c, value_node(n, i),
			     "invalid namespace '%s', expected an inode number or host_ns",
			     ns->values[i].s);
		path_pop(c, m2);
	}
	path_pop(c, mark);
}

static void parse_action(struct pctx *c, const struct ynode *n, struct policy_action *a)
{
	static const char *const known[] = {"action", "argSig", "argError", "rateLimit", NULL};
	static const char *const unsupported[] = {
		"argFd",    "argName",	"argUrl",	  "argFqdn",	      "argSock",
		"argIndex", "argValue", "rateLimitScope", "kernelStackTrace", "userStackTrace",
		"imaHash",  NULL,
	};
	static const char *const unsupported_actions[] = {
		"FollowFD",
		"UnfollowFD",
		"CopyFD",
		"GetUrl",
		"DnsLookup",
		"TrackSock",
		"UntrackSock",
		"NotifyEnforcer",
		"CleanupEnforcerNotification",
		"Set",
		NULL,
	};
	const struct keyset ks = {known, unsupported, NULL};
	const struct ynode *v, *sig, *err, *rl;
	size_t mark;
	int k;

	a->type = _POLICY_ACTION_INVALID;
	loc_set(c, &a->loc, n);
	if (!expect_map(c, n))
		return;
	check_keys(c, n, &ks);
	v = ynode_map_get(n, "action");
	if (v) {
		mark = path_key(c, "action");
		if (expect_scalar(c, v)) {
			k = table_find(action_names, _POLICY_ACTION_MAX, v->value);
			if (k >= 0)
				a->type = k;
			else if (strv_has(unsupported_actions, v->value))
				perr(c, v, "action '%s' is not supported by vigil", v->value);
			else
				perr_enum(c, v, "action", action_names, _POLICY_ACTION_MAX);
		}
		path_pop(c, mark);
	} else
		perr(c, n, "required key 'action' is missing");

	sig = ynode_map_get(n, "argSig");
	err = ynode_map_get(n, "argError");
	rl = ynode_map_get(n, "rateLimit");
	if (sig) {
		int64_t s;

		mark = path_key(c, "argSig");
		if (a->type >= 0 && a->type != POLICY_ACTION_SIGNAL)
			perr(c, sig, "argSig applies only to the Signal action");
		else if (get_int(c, sig, 1, 64, &s) >= 0)
			a->arg_sig = (int)s;
		path_pop(c, mark);
	} else if (a->type == POLICY_ACTION_SIGNAL)
		perr(c, n, "action Signal needs argSig (a signal number from 1 to 64)");
	if (err) {
		int64_t e;

		mark = path_key(c, "argError");
		if (a->type >= 0 && a->type != POLICY_ACTION_OVERRIDE)
			perr(c, err, "argError applies only to the Override action");
		else if (get_int(c, err, -4095, -1, &e) >= 0)
			a->arg_error = (int)e;
		path_pop(c, mark);
	} else if (a->type == POLICY_ACTION_OVERRIDE)
		perr(c, n, "action Override needs argError (a negative errno, e.g. -1 for EPERM)");
	if (rl) {
		uint64_t usec;

		mark = path_key(c, "rateLimit");
		if (a->type >= 0 && a->type != POLICY_ACTION_POST)
			perr(c, rl, "rateLimit applies only to the Post action");
		else if (expect_scalar(c, rl)) {
			if (config_parse_usec(rl->value, &usec) < 0 || usec == UINT64_MAX ||
			    usec > UINT64_MAX / NSEC_PER_USEC)
				perr(c, rl, "invalid rateLimit '%s' (e.g. 500ms, 5s, 1m, 1h)",
				     rl->value);
			else
				a->rate_limit_ns = usec * NSEC_PER_USEC;
		}
		path_pop(c, mark);
	}
}

/* Parse a list key of a selector with a limit into an array via a per-entry parser. */
#define PARSE_LIST(c, sel_node, key, limit, limit_what, arr, n_arr, ...)                           \
	do {                                                                                       \
		const struct ynode *_l = ynode_map_get(sel_node, key);                             \
		size_t _mark;                                                                      \
		if (!_l)                                                                           \
			break;                                                                     \
		_mark = path_key(c, key);                                                          \
		if (expect_seq(c, _l)) {                                                           \
			if (seq_len(_l) > (limit))                                                 \
				perr(c, _l, "too many %s (%zu), at most %u " limit_what, key,      \
				     seq_len(_l), (unsigned)(limit));                              \
			for (size_t _i = 0; _i < seq_len(_l) && _i < (limit) && !pctx_quiet(c);    \
			     _i++) {                                                               \
				size_t _m2 = path_index(c, _i);                                    \
				__typeof__(arr) _e = array_add(c, &(arr), &(n_arr), sizeof(*_e));  \
				if (_e)                                                            \
					__VA_ARGS__;                                               \
				path_pop(c, _m2);                                                  \
			}                                                                          \
		}                                                                                  \
		path_pop(c, _mark);                                                                \
	} while (0)

static void parse_selector(struct pctx *c, const struct ynode *n, struct policy_selector *s)
{
	static const char *const known[] = {"matchArgs", "matchReturnArgs", "matchBinaries",
					    "matchPIDs", "matchNamespaces", "matchActions",
					    NULL};
	static const char *const unsupported[] = {
		"matchCapabilities",
		"matchCapabilityChanges",
		"matchNamespaceChanges",
		"matchReturnActions",
		"matchData",
		"matchParentBinaries",
		NULL,
	};
	const struct keyset ks = {known, unsupported, NULL};

	loc_set(c, &s->loc, n);
	if (!expect_map(c, n))
		return;
	check_keys(c, n, &ks);

	PARSE_LIST(c, n, "matchArgs", VIGIL_POL_MAX_MATCHARGS, "per selector are supported",
		   s->match_args, s->n_match_args, parse_match(c, _l->items[_i], _e, false));
	PARSE_LIST(c, n, "matchReturnArgs", VIGIL_POL_MAX_RETARGS, "per selector are supported",
		   s->match_return_args, s->n_match_return_args,
		   parse_match(c, _l->items[_i], _e, true));
	PARSE_LIST(c, n, "matchBinaries", 1, "per selector is supported", s->binaries,
		   s->n_binaries, parse_binaries(c, _l->items[_i], _e));
	PARSE_LIST(c, n, "matchPIDs", 1, "per selector is supported", s->pids, s->n_pids,
		   parse_pids(c, _l->items[_i], _e));
	PARSE_LIST(c, n, "matchNamespaces", VIGIL_POL_MAX_NS, "per selector are supported",
		   s->namespaces, s->n_namespaces, parse_namespaces(c, _l->items[_i], _e));
	PARSE_LIST(c, n, "matchActions", VIGIL_POL_MAX_ACTIONS, "per selector are supported",
		   s->actions, s->n_actions, parse_action(c, _l->items[_i], _e));
}

/* ---- hooks ------------------------------------------------------------------------------ */

static void parse_tags(struct pctx *c, const struct ynode *v, struct policy_hook *h)
{
	size_t n;

	if (!expect_seq(c, v))
		return;
	n = seq_len(v);
	if (n > POLICY_TAGS_MAX) {
		perr(c, v, "too many tags (%zu), at most %u are supported", n, POLICY_TAGS_MAX);
		return;
	}
	if (n == 0)
		return;
	h->tags = calloc(n + 1, sizeof(char *));
	if (!h->tags) {
		c->oom = true;
		return;
	}
	for (size_t i = 0, k = 0; i < n; i++) {
		size_t m = path_index(c, i);

		if (expect_scalar(c, v->items[i]))
			h->tags[k++] = pstrdup(c, v->items[i]->value);
		path_pop(c, m);
	}
}

static void parse_hook(struct pctx *c, const struct ynode *n, enum policy_hook_kind kind,
		       struct policy_hook *h)
{
	static const char *const known_kprobe[] = {"call", "syscall",	"return", "returnArg",
						   "args", "selectors", "ignore", "message",
						   "tags", NULL};
	static const char *const unsupported_kprobe[] = {"returnArgAction", "data", NULL};
	static const char *const known_tp[] = {"subsystem", "event", "args", "selectors", "ignore",
					       "message",   "tags",  "raw",  NULL};
	static const char *const known_lsm[] = {"hook",	   "args", "selectors", "ignore",
						"message", "tags", NULL};
	static const char *const known_ignore[] = {"callNotFound", NULL};
	const struct keyset ks = {
		kind == POLICY_HOOK_KPROBE	 ? known_kprobe
		: kind == POLICY_HOOK_TRACEPOINT ? known_tp
						 : known_lsm,
		kind == POLICY_HOOK_KPROBE ? unsupported_kprobe : NULL,
		NULL,
	};
	const struct keyset ks_ignore = {known_ignore, NULL, NULL};
	const struct ynode *v;
	size_t mark;
	bool b;

	h->kind = kind;
	c->hook = h;
	loc_set(c, &h->loc, n);
	if (!expect_map(c, n))
		return;
	if (ynode_map_size(n) == 0) {
		perr(c, n, "empty hook");
		return;
	}
	check_keys(c, n, &ks);

#define REQUIRED_STR(key, field)                                                                   \
	do {                                                                                       \
		v = ynode_map_get(n, key);                                                         \
		if (!v) {                                                                          \
			perr(c, n, "required key '%s' is missing", key);                           \
			break;                                                                     \
		}                                                                                  \
		mark = path_key(c, key);                                                           \
		(void)get_str(c, v, &h->field);                                                    \
		path_pop(c, mark);                                                                 \
	} while (0)

	if (kind == POLICY_HOOK_KPROBE)
		REQUIRED_STR("call", call);
	else if (kind == POLICY_HOOK_LSM)
		REQUIRED_STR("hook", call);
	else {
		REQUIRED_STR("subsystem", subsys);
		REQUIRED_STR("event", event);
	}
#undef REQUIRED_STR

	if (kind == POLICY_HOOK_KPROBE) {
		v = ynode_map_get(n, "syscall");
		if (v) {
			mark = path_key(c, "syscall");
			(void)get_bool(c, v, &h->syscall);
			path_pop(c, mark);
		}
		v = ynode_map_get(n, "return");
		if (v) {
			mark = path_key(c, "return");
			(void)get_bool(c, v, &h->want_return);
			path_pop(c, mark);
		}
		v = ynode_map_get(n, "returnArg");
		if (v) {
			mark = path_key(c, "returnArg");
			h->has_return_arg = true;
			if (!h->want_return)
				perr(c, v, "returnArg needs 'return: true'");
			else if (parse_arg(c, v, &h->return_arg, true) < 0)
				h->return_arg.type = _POLICY_ARG_TYPE_INVALID;
			else if (h->return_arg.type == POLICY_ARG_CHAR_BUF ||
				 h->return_arg.type == POLICY_ARG_SOCKADDR)
				perr(c, v, "returnArg of type '%s' is not supported",
				     arg_type_names[h->return_arg.type]);
			path_pop(c, mark);
		}
	} else if (kind == POLICY_HOOK_TRACEPOINT) {
		v = ynode_map_get(n, "raw");
		if (v) {
			mark = path_key(c, "raw");
			if (get_bool(c, v, &b) >= 0 && b)
				perr(c, v,
				     "raw tracepoints ('raw: true') are not supported by vigil");
			path_pop(c, mark);
		}
	}

	v = ynode_map_get(n, "ignore");
	if (v) {
		mark = path_key(c, "ignore");
		if (expect_map(c, v)) {
			const struct ynode *cnf = ynode_map_get(v, "callNotFound");

			check_keys(c, v, &ks_ignore);
			if (cnf) {
				size_t m2 = path_key(c, "callNotFound");

				(void)get_bool(c, cnf, &h->ignore_call_not_found);
				path_pop(c, m2);
			}
		}
		path_pop(c, mark);
	}

	v = ynode_map_get(n, "message");
	if (v) {
		mark = path_key(c, "message");
		(void)get_str(c, v, &h->message);
		path_pop(c, mark);
	}
	v = ynode_map_get(n, "tags");
	if (v) {
		mark = path_key(c, "tags");
		parse_tags(c, v, h);
		path_pop(c, mark);
	}

	v = ynode_map_get(n, "args");
	if (v) {
		mark = path_key(c, "args");
		if (expect_seq(c, v)) {
			if (seq_len(v) > VIGIL_POL_MAX_ARGS)
				perr(c, v, "too many args (%zu), at most %u per hook are supported",
				     seq_len(v), VIGIL_POL_MAX_ARGS);
			for (size_t i = 0; i < seq_len(v) && i < VIGIL_POL_MAX_ARGS; i++) {
				size_t m2 = path_index(c, i);
				struct policy_arg *a;

				a = array_add(c, &h->args, &h->n_args, sizeof(*a));
				if (a && parse_arg(c, v->items[i], a, false) >= 0) {
					for (size_t j = 0; j + 1 < h->n_args; j++)
						if (h->args[j].index == a->index) {
							perr(c, v->items[i],
							     "argument index %u is declared twice "
							     "(args[%zu])",
							     a->index, j);
							break;
						}
				}
				path_pop(c, m2);
			}
		}
		path_pop(c, mark);
	}

	v = ynode_map_get(n, "selectors");
	if (v) {
		mark = path_key(c, "selectors");
		if (expect_seq(c, v)) {
			if (seq_len(v) > VIGIL_POL_MAX_SELECTORS)
				perr(c, v,
				     "too many selectors (%zu), at most %u per hook are supported",
				     seq_len(v), VIGIL_POL_MAX_SELECTORS);
			for (size_t i = 0;
			     i < seq_len(v) && i < VIGIL_POL_MAX_SELECTORS && !pctx_quiet(c); i++) {
				size_t m2 = path_index(c, i);
				struct policy_selector *s;

				s = array_add(c, &h->selectors, &h->n_selectors, sizeof(*s));
				if (s)
					parse_selector(c, v->items[i], s);
				path_pop(c, m2);
			}
		}
		path_pop(c, mark);
	}
	c->hook = NULL;
}

/* ---- document ----------------------------------------------------------------------------- */

static bool name_is_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > POLICY_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' ||
		      s[i] == '.'))
			return false;
	return isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[n - 1]);
}

static void parse_spec(struct pctx *c, const struct ynode *spec)
{
	static const char *const known[] = {"kprobes", "tracepoints", "lsmhooks", NULL};
	static const char *const unsupported[] = {"uprobes", "usdts",  "enforcers", "lists",
						  "options", "loader", NULL};
	static const char *const k8s[] = {"podSelector", "containerSelector", NULL};
	const struct keyset ks = {known, unsupported, k8s};
	static const struct {
		const char *key;
		enum policy_hook_kind kind;
	} lists[] = {
		{"kprobes", POLICY_HOOK_KPROBE},
		{"tracepoints", POLICY_HOOK_TRACEPOINT},
		{"lsmhooks", POLICY_HOOK_LSM},
	};
	struct policy *p = c->p;

	if (!expect_map(c, spec))
		return;
	check_keys(c, spec, &ks);
	for (size_t k = 0; k < ELEMENTSOF(lists); k++) {
		const struct ynode *l = ynode_map_get(spec, lists[k].key);
		size_t mark;

		if (!l)
			continue;
		mark = path_key(c, lists[k].key);
		if (expect_seq(c, l))
			for (size_t i = 0; i < seq_len(l) && !pctx_quiet(c); i++) {
				size_t m2 = path_index(c, i);
				struct policy_hook *h;

				if (p->n_hooks >= VIGIL_POL_MAX_HOOKS) {
					perr(c, l->items[i],
					     "too many hooks, at most %u per policy are supported",
					     VIGIL_POL_MAX_HOOKS);
					path_pop(c, m2);
					break;
				}
				h = array_add(c, &p->hooks, &p->n_hooks, sizeof(*h));
				if (h) {
					h->index = (unsigned)i;
					parse_hook(c, l->items[i], lists[k].kind, h);
				}
				path_pop(c, m2);
			}
		path_pop(c, mark);
	}
	if (p->n_hooks == 0 && c->n_errors == 0)
		perr(c, spec, "the policy defines no kprobes, tracepoints or lsmhooks");
}

static void parse_metadata(struct pctx *c, const struct ynode *md, const struct ynode *root,
			   struct policy_set *set)
{
	static const char *const known[] = {"name", "labels", "annotations",
					    /* what `kubectl get -o yaml` adds; harmless here */
					    "uid", "resourceVersion", "generation",
					    "creationTimestamp", "managedFields", "finalizers",
					    NULL};
	static const char *const k8s[] = {"namespace", NULL};
	const struct keyset ks = {known, NULL, k8s};
	const struct ynode *v;
	size_t mark;

	if (!expect_map(c, md))
		return;
	check_keys(c, md, &ks);
	v = ynode_map_get(md, "name");
	if (!v) {
		perr(c, md->kind == YNODE_MAP ? md : root, "required key 'name' is missing");
		return;
	}
	mark = path_key(c, "name");
	if (get_str(c, v, &c->p->name) >= 0) {
		if (!name_is_valid(c->p->name))
			perr(c, v,
			     "invalid policy name '%s': use lowercase letters, digits, '-' and "
			     "'.', "
			     "starting and ending with a letter or digit, at most %u characters",
			     c->p->name, POLICY_NAME_MAX);
		else
			for (size_t i = 0; i < set->n_policies; i++)
				if (streq(set->policies[i]->name, c->p->name)) {
					perr(c, v,
					     "duplicate policy name '%s', first defined at %s:%u",
					     c->p->name, set->policies[i]->file,
					     set->policies[i]->line);
					break;
				}
	}
	path_pop(c, mark);
}

static void parse_document(struct pctx *c, const struct ynode *root, struct policy_set *set)
{
	static const char *const known[] = {"apiVersion", "kind", "metadata", "spec", NULL};
	static const char *const kinds[] = {"TracingPolicy", NULL};
	const struct keyset ks = {known, NULL, NULL};
	const struct ynode *v, *md;
	size_t mark;

	if (root->kind != YNODE_MAP) {
		perr(c, root,
		     "expected a TracingPolicy mapping (apiVersion, kind, metadata, spec)");
		return;
	}
	check_keys(c, root, &ks);

	v = ynode_map_get(root, "apiVersion");
	if (!v)
		perr(c, root,
		     "required key 'apiVersion' is missing (expected '" POLICY_API_VERSION "')");
	else {
		mark = path_key(c, "apiVersion");
		if (expect_scalar(c, v) && !streq(v->value, POLICY_API_VERSION))
			perr(c, v, "unsupported apiVersion '%s', expected '" POLICY_API_VERSION "'",
			     v->value);
		path_pop(c, mark);
	}

	v = ynode_map_get(root, "kind");
	if (!v)
		perr(c, root, "required key 'kind' is missing (expected 'TracingPolicy')");
	else {
		mark = path_key(c, "kind");
		if (expect_scalar(c, v) && !streq(v->value, "TracingPolicy")) {
			if (streq(v->value, "TracingPolicyNamespaced"))
				perr(c, v,
				     "kind 'TracingPolicyNamespaced' is not supported until "
				     "Kubernetes support lands");
			else
				perr_enum(c, v, "kind", kinds, 1);
		}
		path_pop(c, mark);
	}

	md = ynode_map_get(root, "metadata");
	if (!md)
		perr(c, root, "required key 'metadata' is missing");
	else {
		mark = path_key(c, "metadata");
		parse_metadata(c, md, root, set);
		path_pop(c, mark);
	}

	v = ynode_map_get(root, "spec");
	if (!v)
		perr(c, root, "required key 'spec' is missing");
	else {
		mark = path_key(c, "spec");
		parse_spec(c, v);
		path_pop(c, mark);
	}
}

/* ---- freeing ---------------------------------------------------------------------------- */

static void loc_done(struct policy_loc *l)
{
	free(l->path);
}

static void values_free(struct policy_value *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].s);
		loc_done(&v[i].loc);
	}
	free(v);
}

static void arg_done(struct policy_arg *a)
{
	free(a->type_name);
	free(a->label);
	loc_done(&a->loc);
}

static void match_done(struct policy_match *m)
{
	values_free(m->values, m->n_values);
	loc_done(&m->loc);
}

static void selector_done(struct policy_selector *s)
{
	for (size_t i = 0; i < s->n_match_args; i++)
		match_done(&s->match_args[i]);
	free(s->match_args);
	for (size_t i = 0; i < s->n_match_return_args; i++)
		match_done(&s->match_return_args[i]);
	free(s->match_return_args);
	for (size_t i = 0; i < s->n_binaries; i++) {
		values_free(s->binaries[i].values, s->binaries[i].n_values);
		loc_done(&s->binaries[i].loc);
	}
	free(s->binaries);
	for (size_t i = 0; i < s->n_pids; i++) {
		free(s->pids[i].values);
		loc_done(&s->pids[i].loc);
	}
	free(s->pids);
	for (size_t i = 0; i < s->n_namespaces; i++) {
		values_free(s->namespaces[i].values, s->namespaces[i].n_values);
		loc_done(&s->namespaces[i].loc);
	}
	free(s->namespaces);
	for (size_t i = 0; i < s->n_actions; i++)
		loc_done(&s->actions[i].loc);
	free(s->actions);
	loc_done(&s->loc);
}

static void hook_done(struct policy_hook *h)
{
	free(h->call);
	free(h->subsys);
	free(h->event);
	arg_done(&h->return_arg);
	free(h->message);
	strv_free(h->tags);
	for (size_t i = 0; i < h->n_args; i++)
		arg_done(&h->args[i]);
	free(h->args);
	for (size_t i = 0; i < h->n_selectors; i++)
		selector_done(&h->selectors[i]);
	free(h->selectors);
	loc_done(&h->loc);
}

struct policy *policy_free(struct policy *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->n_hooks; i++)
		hook_done(&p->hooks[i]);
	free(p->hooks);
	free(p->name);
	free(p->file);
	free(p->digest);
	free(p);
	return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct policy *, policy_free)

struct policy_set *policy_set_new(void)
{
	return calloc(1, sizeof(struct policy_set));
}

struct policy_set *policy_set_free(struct policy_set *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n_policies; i++)
		policy_free(s->policies[i]);
	free(s->policies);
	strv_free(s->files);
	strv_free(s->failed_files);
	free(s);
	return NULL;
}

/* Count a rejected document (or unreadable file) and remember its file for reload decisions. */
static void set_fail(struct policy_set *set, const char *file)
{
	size_t n = 0;
	char **t;

	set->n_errors++;
	for (char **f = set->failed_files; f && *f; f++, n++)
		if (streq(*f, file))
			return;
	t = realloc(set->failed_files, (n + 2) * sizeof(*t));
	if (!t)
		return;
	set->failed_files = t;
	t[n] = strdup(file);
	t[n + (t[n] != NULL)] = NULL;
}

/* ---- driver: libyaml events → trees → policies -------------------------------------------- */

static uint64_t fnv1a64(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Validate one document tree and append the policy to set if it has no error. */
static int policy_document_finish(const char *name, const struct ynode *root, unsigned doc,
				  unsigned line, const char *text, size_t n, struct policy_set *set)
{
	_cleanup_(policy_freep) struct policy *p = NULL;
	struct pctx c = {.file = name};
	struct policy **t;
	char digest[17];

	p = calloc(1, sizeof(*p));
	if (!p)
		return log_oom();
	p->file = strdup(name);
	if (!p->file)
		return log_oom();
	p->line = line;
	p->doc = doc;
	(void)snprintf(digest, sizeof(digest), "%016" PRIx64, fnv1a64(text, n));
	p->digest = strdup(digest);
	if (!p->digest)
		return log_oom();
	c.p = p;
	parse_document(&c, root, set);
	if (c.oom)
		return log_oom();
	if (c.n_errors > 0) {
		set_fail(set, name);
		return 0;
	}
	t = realloc(set->policies, (set->n_policies + 1) * sizeof(*t));
	if (!t)
		return log_oom();
	set->policies = t;
	set->policies[set->n_policies++] = TAKE_PTR(p);
	return 0;
}

struct builder {
	struct ynode *root;
	struct ynode *stack[POLICY_DEPTH_MAX];
	unsigned depth;
	unsigned n_nodes;
	const char *error; /* first structural problem: the document is rejected */
	unsigned err_line, err_col;
};

static void builder_reset(struct builder *b)
{
	b->root = ynode_free(b->root);
	b->depth = 0;
	b->n_nodes = 0;
	b->error = NULL;
}

static void builder_fail(struct builder *b, const yaml_event_t *e, const char *msg)
{
	if (b->error)
		return;
	b->error = msg;
	b->err_line = (unsigned)e->start_mark.line + 1;
	b->err_col = (unsigned)e->start_mark.column + 1;
}

/* Add a node for event e; push it when it is a collection. */
static int builder_add(struct builder *b, const yaml_event_t *e)
{
	struct ynode *n;
	int r;

	if (b->error)
		return 0;
	if (++b->n_nodes > POLICY_NODES_MAX) {
		builder_fail(b, e, "document too large");
		return 0;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->line = (unsigned)e->start_mark.line + 1;
	n->column = (unsigned)e->start_mark.column + 1;
	if (e->type == YAML_SCALAR_EVENT) {
		n->kind = YNODE_SCALAR;
		n->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (memchr(e->data.scalar.value, '\0', e->data.scalar.length)) {
			free(n);
			builder_fail(b, e, "strings must not contain NUL bytes");
			return 0;
		}
		n->value = strndup((const char *)e->data.scalar.value, e->data.scalar.length);
		if (!n->value) {
			free(n);
			return -ENOMEM;
		}
	} else
		n->kind = e->type == YAML_SEQUENCE_START_EVENT ? YNODE_SEQ : YNODE_MAP;

	if (b->depth == 0) {
		ynode_free(b->root);
		b->root = n;
	} else {
		r = ynode_append(b->stack[b->depth - 1], n);
		if (r < 0) {
			ynode_free(n);
			return r;
		}
	}
	if (n->kind != YNODE_SCALAR) {
		if (b->depth >= POLICY_DEPTH_MAX) {
			builder_fail(b, e, "nesting too deep");
			return 0;
		}
		b->stack[b->depth++] = n;
	}
	return 0;
}

static int parse_buffer(const char *name, const char *text, size_t len, struct policy_set *set)
{
	yaml_parser_t parser;
	struct builder b = {};
	size_t doc_start = 0;
	unsigned doc = 0, doc_line = 1;
	bool done = false;
	int r = 0;

	if (!yaml_parser_initialize(&parser))
		return log_oom();
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);

	while (!done) {
		yaml_event_t e;

		if (!yaml_parser_parse(&parser, &e)) {
			if (parser.error == YAML_MEMORY_ERROR) {
				r = log_oom();
				break;
			}
			log_error("%s:%zu:%zu: YAML syntax error: %s%s%s%s", name,
				  parser.problem_mark.line + 1, parser.problem_mark.column + 1,
				  parser.problem ?: "unknown error", parser.context ? " (" : "",
				  parser.context ?: "", parser.context ? ")" : "");
			set_fail(set, name);
			r = -EINVAL;
			break;
		}
		switch (e.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			builder_reset(&b);
			doc_start = e.start_mark.index;
			doc_line = (unsigned)e.start_mark.line + 1;
			break;
		case YAML_DOCUMENT_END_EVENT:
			if (b.error) {
				log_error("%s:%u:%u: %s", name, b.err_line, b.err_col, b.error);
				set_fail(set, name);
			} else if (b.root && !ynode_is_null(b.root)) {
				size_t end = MIN((size_t)e.end_mark.index, len);

				r = policy_document_finish(
					name, b.root, doc, doc_line, text + doc_start,
					end > doc_start ? end - doc_start : 0, set);
			}
			builder_reset(&b);
			doc++;
			break;
		case YAML_ALIAS_EVENT:
			builder_fail(&b, &e, "YAML aliases (*name) are not supported in policies");
			break;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			r = builder_add(&b, &e);
			if (r < 0)
				r = log_oom();
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (!b.error && b.depth > 0)
				b.depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&e);
		if (r == -ENOMEM)
			break;
	}
	builder_reset(&b);
	yaml_parser_delete(&parser);
	return r;
}

int policy_parse_string(const char *name, const char *yaml, size_t len, struct policy_set *set)
{
	if (!name || !set || (!yaml && len > 0))
		return -EINVAL;
	return parse_buffer(name, yaml ?: "", len, set);
}

static int read_file(const char *path, char **ret, size_t *ret_len)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t n;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fstat(fileno(f), &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADFD;
	if ((uint64_t)st.st_size > POLICY_FILE_MAX)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	n = fread(buf, 1, (size_t)st.st_size + 1, f);
	if (ferror(f))
		return -EIO;
	if (n > (size_t)st.st_size) /* grew while reading */
		return -EFBIG;
	buf[n] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = n;
	return 0;
}

int policy_parse_file(const char *path, struct policy_set *set)
{
	_cleanup_free_ char *text = NULL;
	char **t;
	size_t len = 0, n = 0;
	int r;

	if (!path || !set)
		return -EINVAL;
	while (set->files && set->files[n])
		n++;
	t = realloc(set->files, (n + 2) * sizeof(char *));
	if (!t)
		return log_oom();
	set->files = t;
	t[n] = strdup(path);
	t[n + 1] = NULL;
	if (!t[n])
		return log_oom();

	r = read_file(path, &text, &len);
	if (r == -ENOMEM)
		return log_oom();
	if (r == -EFBIG) {
		set_fail(set, path);
		return log_error_errno(r, "%s: Policy file is larger than %u bytes, refusing.",
				       path, POLICY_FILE_MAX);
	}
	if (r < 0) {
		set_fail(set, path);
		return log_error_errno(r, "%s: Failed to read policy file: %m", path);
	}
	return parse_buffer(path, text, len, set);
}

int policy_set_load(const char *dir_list, struct policy_set **ret)
{
	_cleanup_(policy_set_freep) struct policy_set *set = NULL;
	_cleanup_strv_free_ char **yaml = NULL, **yml = NULL;
	_cleanup_free_ const char **all = NULL;
	size_t ny = 0, nm = 0, n = 0;
	int r;

	if (!ret)
		return -EINVAL;
	set = policy_set_new();
	if (!set)
		return log_oom();
	r = config_collect_files(dir_list, ".yaml", &yaml);
	if (r < 0)
		return r;
	r = config_collect_files(dir_list, ".yml", &yml);
	if (r < 0)
		return r;

	/* Both suffixes in one lexical order by basename, as drop-ins are. */
	while (yaml && yaml[ny])
		ny++;
	while (yml && yml[nm])
		nm++;
	all = calloc(ny + nm + 1, sizeof(char *));
	if (!all)
		return log_oom();
	for (size_t i = 0, j = 0; i < ny || j < nm;) {
		const char *a = i < ny ? yaml[i] : NULL, *b = j < nm ? yml[j] : NULL;

		if (a && (!b || strcmp(strrchr(a, '/') ? strrchr(a, '/') + 1 : a,
				       strrchr(b, '/') ? strrchr(b, '/') + 1 : b) <= 0)) {
			all[n++] = a;
			i++;
		} else {
			all[n++] = b;
			j++;
		}
	}

	for (size_t i = 0; i < n; i++) {
		r = policy_parse_file(all[i], set);
		if (r == -ENOMEM)
			return r;
	}
	*ret = TAKE_PTR(set);
	return 0;
}
