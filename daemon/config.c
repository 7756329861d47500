/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Config discovery and parsing with systemd standard-conf semantics (STYLE.md §3.10):
 *
 *   main file     the first of {/etc,/run,/usr/local/lib,/usr/lib}/vigil/vigild.conf that exists
 *   drop-ins      vigild.conf.d/X.conf from all four; same basename: higher directory wins;
 *                 a symlink to /dev/null masks; survivors sorted by basename (strcmp)
 *   outputs       outputs.d/NAME.conf per instance, same rules, plus outputs.d/NAME.conf.d/X.conf
 *
 * Files are first read into a flat list of assignments (struct vigil_kv), then applied in order
 * through a table of known keys, so "last assignment wins" and "empty assignment resets" fall out
 * of plain sequential application.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bpf/events.h"
#include "config.h"
#include "log.h"
#include "util/macro.h"

#define MAIN_CONF      "vigild.conf"
#define DROPIN_DIR     "vigild.conf.d"
#define OUTPUTS_DIR    "outputs.d"
#define POLICY_DIR     "policy.d"
#define LINE_MAX_BYTES (1024 * 1024) /* one logical line, continuations included */
#define WHITESPACE     " \t\n\r"

/* The standard hierarchy, highest precedence first. */
static const char *const standard_dirs[] = {
	"/etc/vigil",
	"/run/vigil",
	"/usr/local/lib/vigil",
	"/usr/lib/vigil",
};

static const char *const event_names[] = {
	"process_exec",	      "process_exit", "process_clone", "vigil_loss", "process_kprobe",
	"process_tracepoint", NULL,
};

/* ---- small string helpers ---------------------------------------------------------------- */

static char *path_join(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		return NULL;
	return p;
}

static bool endswith(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && streq(s + ls - lx, suffix);
}

/* Trim leading and trailing whitespace in place; returns the start of the trimmed string. */
static char *strstrip(char *s)
{
	size_t n;

	s += strspn(s, WHITESPACE);
	n = strlen(s);
	while (n > 0 && strchr(WHITESPACE, s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Append s (taking ownership) to a NULL-terminated vector. */
static int strv_consume(char ***l, char *s)
{
	size_t n = 0;
	char **t;

	if (!s)
		return -ENOMEM;
	for (char **i = *l; i && *i; i++)
		n++;
	t = realloc(*l, (n + 2) * sizeof(char *));
	if (!t) {
		free(s);
		return -ENOMEM;
	}
	t[n] = s;
	t[n + 1] = NULL;
	*l = t;
	return 0;
}

static bool in_charset(const char *s, const char *extra)
{
	if (isempty(s))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      (extra && strchr(extra, *s))))
			return false;
	return true;
}

/* [a-z0-9_]+: plugin names become file names (out_NAME.so), so nothing else is allowed. */
static bool plugin_name_is_valid(const char *s)
{
	return in_charset(s, NULL);
}

static bool instance_name_is_valid(const char *s)
{
	return in_charset(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-");
}

/* ---- value parsers (public) -------------------------------------------------------------- */

/* Plain decimal digits only: strtoull() would accept "-1", " 1" and "0x1". */
static int parse_digits(const char **p, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *s - '0', &v))
			return -ERANGE;
	}
	*p = s;
	*ret = v;
	return 0;
}

static const struct {
	const char *suffix;
	uint64_t usec;
} time_units[] = {
	{"us", 1},
	{"usec", 1},
	{"ms", USEC_PER_MSEC},
	{"msec", USEC_PER_MSEC},
	{"s", USEC_PER_SEC},
	{"sec", USEC_PER_SEC},
	{"second", USEC_PER_SEC},
	{"seconds", USEC_PER_SEC},
	{"m", 60 * USEC_PER_SEC},
	{"min", 60 * USEC_PER_SEC},
	{"minute", 60 * USEC_PER_SEC},
	{"minutes", 60 * USEC_PER_SEC},
	{"h", 3600 * USEC_PER_SEC},
	{"hr", 3600 * USEC_PER_SEC},
	{"hour", 3600 * USEC_PER_SEC},
	{"hours", 3600 * USEC_PER_SEC},
	{"d", 86400 * USEC_PER_SEC},
	{"day", 86400 * USEC_PER_SEC},
	{"days", 86400 * USEC_PER_SEC},
	{"w", 7 * 86400 * USEC_PER_SEC},
	{"week", 7 * 86400 * USEC_PER_SEC},
	{"weeks", 7 * 86400 * USEC_PER_SEC},
};

/*
 * systemd.time(7) time spans: one or more "<number>[.<fraction>][unit]" terms, optionally
 * separated by whitespace and summed ("1min 30s"); a term without a unit is in seconds;
 * "infinity" is UINT64_MAX. Returns -EINVAL if malformed, -ERANGE on overflow.
 */
int config_parse_usec(const char *s, uint64_t *ret)
{
	uint64_t total = 0;
	const char *p;

	if (!s)
		return -EINVAL;
	p = s + strspn(s, WHITESPACE);
	if (strncmp(p, "infinity", 8) == 0 && p[8 + strspn(p + 8, WHITESPACE)] == '\0') {
		*ret = UINT64_MAX;
		return 0;
	}
	if (*p == '\0')
		return -EINVAL;

	while (*p) {
		uint64_t whole, mult = USEC_PER_SEC, term;
		const char *frac = NULL, *u;
		size_t ulen, nfrac = 0;
		int r;

		r = parse_digits(&p, &whole);
		if (r < 0)
			return r;
		if (*p == '.') {
			frac = ++p;
			while (isdigit((unsigned char)*p))
				p++;
			nfrac = (size_t)(p - frac);
			if (nfrac == 0)
				return -EINVAL;
		}
		p += strspn(p, " \t");
		u = p;
		while (isalpha((unsigned char)*p))
			p++;
		ulen = (size_t)(p - u);
		if (ulen > 0) {
			size_t i;

			for (i = 0; i < ELEMENTSOF(time_units); i++)
				if (strlen(time_units[i].suffix) == ulen &&
				    strncmp(time_units[i].suffix, u, ulen) == 0)
					break;
			if (i >= ELEMENTSOF(time_units))
				return -EINVAL;
			mult = time_units[i].usec;
		}
		if (__builtin_mul_overflow(whole, mult, &term))
			return -ERANGE;
		/* Fractions below one microsecond are dropped. */
		for (size_t i = 0, m = mult / 10; i < nfrac && m > 0; i++, m /= 10)
			term += (uint64_t)(frac[i] - '0') * m;
		if (__builtin_add_overflow(total, term, &total))
			return -ERANGE;
		p += strspn(p, WHITESPACE);
	}
	*ret = total;
	return 0;
}

/* Bytes with an optional 1024-based suffix: "512", "512B", "64K", "8M", "1G", "2T". */
int config_parse_size(const char *s, uint64_t *ret)
{
	uint64_t v, mult = 1;
	const char *p;
	int r;

	if (!s)
		return -EINVAL;
	p = s + strspn(s, WHITESPACE);
	r = parse_digits(&p, &v);
	if (r < 0)
		return r;
	p += strspn(p, " \t");
	switch (*p) {
	case 'K':
	case 'k':
		mult = 1ULL << 10;
		p++;
		break;
	case 'M':
		mult = 1ULL << 20;
		p++;
		break;
	case 'G':
		mult = 1ULL << 30;
		p++;
		break;
	case 'T':
		mult = 1ULL << 40;
		p++;
		break;
	case 'B':
		p++;
		break;
	default:
		break;
	}
	if (p[strspn(p, WHITESPACE)] != '\0')
		return -EINVAL;
	if (__builtin_mul_overflow(v, mult, &v))
		return -ERANGE;
	*ret = v;
	return 0;
}

int config_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = {"1", "yes", "y", "true", "t", "on"};
	static const char *const no[] = {"0", "no", "n", "false", "f", "off"};

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Optimal string alignment distance (Levenshtein + adjacent transposition), ASCII case-blind. */
#define SUGGEST_MAX_LEN 64
static unsigned edit_distance(const char *a, const char *b)
{
	unsigned d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];
	size_t la = strlen(a), lb = strlen(b);

	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = tolower((unsigned char)a[i - 1]) !=
					tolower((unsigned char)b[j - 1]);
			unsigned v = MIN(d[i - 1][j] + 1, d[i][j - 1] + 1);

			v = MIN(v, d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 &&
			    tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]))
				v = MIN(v, d[i - 2][j - 2] + 1);
			d[i][j] = v;
		}
	return d[la][lb];
}

const char *config_suggest(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	unsigned best_d = UINT_MAX;

	if (isempty(word) || !candidates || strlen(word) > SUGGEST_MAX_LEN)
		return NULL;
	for (const char *const *c = candidates; *c; c++) {
		size_t maxlen;
		unsigned d, limit;

		if (strlen(*c) > SUGGEST_MAX_LEN)
			continue;
		d = edit_distance(word, *c);
		/* "Close" = at most a third of the longer word differs, and never more than 3. */
		maxlen = MAX(strlen(word), strlen(*c));
		limit = (unsigned)MAX(1, MIN(3, maxlen / 3));
		if (d <= limit && d < best_d) {
			best = *c;
			best_d = d;
		}
	}
	return best;
}

/* ---- discovery ---------------------------------------------------------------------------- */

struct conf_entry {
	char *name; /* basename, the key for precedence, masking and order */
	char *path; /* winning file */
	bool masked;
};

struct conf_list {
	struct conf_entry *entries;
	size_t n;
};

struct found_output {
	char *name; /* basename without .conf */
	char *path;
	struct conf_list dropins;
};

struct discovery {
	char **dirs; /* NULL-terminated, highest precedence first */
	char *main;  /* NULL if none exists or it is masked */
	struct conf_list dropins;
	struct found_output *outputs;
	size_t n_outputs;
};

static void conf_list_done(struct conf_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->entries[i].name);
		free(l->entries[i].path);
	}
	free(l->entries);
	*l = (struct conf_list){};
}

static void discovery_done(struct discovery *d)
{
	strv_free(d->dirs);
	free(d->main);
	conf_list_done(&d->dropins);
	for (size_t i = 0; i < d->n_outputs; i++) {
		free(d->outputs[i].name);
		free(d->outputs[i].path);
		conf_list_done(&d->outputs[i].dropins);
	}
	free(d->outputs);
	*d = (struct discovery){};
}

/* A symlink to /dev/null (or /dev/null itself) masks a file of that name. */
static bool stat_is_devnull(const struct stat *st)
{
	static dev_t devnull_rdev;
	struct stat dn;

	if (!S_ISCHR(st->st_mode))
		return false;
	if (devnull_rdev == 0)
		devnull_rdev = stat("/dev/null", &dn) == 0 && S_ISCHR(dn.st_mode) ? dn.st_rdev
										  : makedev(1, 3);
	return st->st_rdev == devnull_rdev;
}

static int conf_entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct conf_entry *)a)->name, ((const struct conf_entry *)b)->name);
}

/*
 * Collect DIR/subdir/ *.conf over all dirs: the first directory that has a basename owns it
 * (even when that file is a mask), then masked names are dropped and the rest sorted.
 */
static int conf_list_collect_suffix(char *const *dirs, const char *subdir, const char *suffix,
				    struct conf_list *ret)
{
	struct conf_list l = {};
	int r = 0;

	for (char *const *d = dirs; *d; d++) {
		_cleanup_free_ char *dir = *subdir ? path_join(*d, subdir) : strdup(*d);
		DIR *dh;
		struct dirent *de;

		if (!dir) {
			r = -ENOMEM;
			goto fail;
		}
		dh = opendir(dir);
		if (!dh) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			r = log_error_errno(errno, "Failed to open directory '%s': %m", dir);
			goto fail;
		}
		while ((de = readdir(dh))) {
			struct conf_entry *t;
			struct stat st;
			bool dup = false;

			if (de->d_name[0] == '.' || !endswith(de->d_name, suffix))
				continue;
			for (size_t i = 0; i < l.n && !dup; i++)
				dup = streq(l.entries[i].name, de->d_name);
			if (dup)
				continue;
			if (fstatat(dirfd(dh), de->d_name, &st, 0) < 0) {
				log_warning_errno(errno, "%s/%s: Cannot access file, ignoring: %m",
						  dir, de->d_name);
				continue;
			}
			if (!S_ISREG(st.st_mode) && !stat_is_devnull(&st)) {
				log_debug("%s/%s: Not a regular file, ignoring.", dir, de->d_name);
				continue;
			}
			t = realloc(l.entries, (l.n + 1) * sizeof(*t));
			if (!t) {
				closedir(dh);
				r = -ENOMEM;
				goto fail;
			}
			l.entries = t;
			t[l.n] = (struct conf_entry){
				.name = strdup(de->d_name),
				.path = path_join(dir, de->d_name),
				.masked = stat_is_devnull(&st),
			};
			l.n++;
			if (!t[l.n - 1].name || !t[l.n - 1].path) {
				closedir(dh);
				r = -ENOMEM;
				goto fail;
			}
		}
		closedir(dh);
	}

	for (size_t i = 0; i < l.n;) {
		if (l.entries[i].masked) {
			log_debug("%s: Masked.", l.entries[i].path);
			free(l.entries[i].name);
			free(l.entries[i].path);
			l.entries[i] = l.entries[--l.n];
		} else
			i++;
	}
	if (l.n > 1)
		qsort(l.entries, l.n, sizeof(*l.entries), conf_entry_cmp);
	*ret = l;
	return 0;
fail:
	conf_list_done(&l);
	return r == -ENOMEM ? log_oom() : r;
}

/*
 * VIGIL_CONFIG_ROOT is for tests only: it is prefixed to the four standard directories (and the
 * policy.d ones) so a test can build a fake hierarchy under a temporary directory. It is read
 * with secure_getenv(), so it is ignored in set-uid/capability-raised contexts.
 */
static int conf_list_collect(char *const *dirs, const char *subdir, struct conf_list *ret)
{
	return conf_list_collect_suffix(dirs, subdir, ".conf", ret);
}

int config_collect_files(const char *dir_list, const char *suffix, char ***ret_paths)
{
	_cleanup_strv_free_ char **dirs = NULL, **paths = NULL;
	struct conf_list l = {};
	int r;

	for (const char *p = dir_list; p && *p;) {
		size_t n = strcspn(p, ":");

		r = strv_consume(&dirs, strndup(p, n));
		if (r < 0)
			return log_oom();
		p += n;
		if (*p == ':')
			p++;
	}
	if (!dirs)
		return 0;
	r = conf_list_collect_suffix(dirs, "", suffix, &l);
	if (r < 0)
		return r;
	for (size_t i = 0; i < l.n; i++) {
		r = strv_consume(&paths, TAKE_PTR(l.entries[i].path));
		if (r < 0) {
			conf_list_done(&l);
			return log_oom();
		}
	}
	conf_list_done(&l);
	*ret_paths = TAKE_PTR(paths);
	return 0;
}

static int config_dirs(const struct config_source *src, char ***ret)
{
	_cleanup_strv_free_ char **dirs = NULL;
	const char *root;
	int r;

	if (src && src->config_dir) {
		struct stat st;

		/* An explicit directory must exist: a typo must not run with built-in defaults. */
		if (stat(src->config_dir, &st) < 0)
			return log_error_errno(errno, "Config directory '%s' is not accessible: %m",
					       src->config_dir);
		if (!S_ISDIR(st.st_mode))
			return log_error_errno(SYNTHETIC_ERRNO(ENOTDIR),
					       "Config directory '%s' is not a directory.",
					       src->config_dir);
		r = strv_consume(&dirs, strdup(src->config_dir));
		if (r < 0)
			return log_oom();
	} else {
		root = secure_getenv("VIGIL_CONFIG_ROOT");
		for (size_t i = 0; i < ELEMENTSOF(standard_dirs); i++) {
			char *p;

			if (asprintf(&p, "%s%s", strempty(root), standard_dirs[i]) < 0)
				return log_oom();
			r = strv_consume(&dirs, p);
			if (r < 0)
				return log_oom();
		}
	}
	*ret = TAKE_PTR(dirs);
	return 0;
}

static int discover(const struct config_source *src, struct discovery *ret)
{
	struct discovery d = {};
	struct conf_list outs = {};
	int r;

	r = config_dirs(src, &d.dirs);
	if (r < 0)
		return r;

	/* Main file: the first location that has one, and only that one. */
	for (char **dir = d.dirs; *dir; dir++) {
		_cleanup_free_ char *p = path_join(*dir, MAIN_CONF);
		struct stat st;

		if (!p) {
			r = log_oom();
			goto fail;
		}
		if (lstat(p, &st) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			r = log_error_errno(errno, "Failed to access '%s': %m", p);
			goto fail;
		}
		if (stat(p, &st) < 0) {
			r = log_error_errno(errno, "Failed to access '%s': %m", p);
			goto fail;
		}
		if (stat_is_devnull(&st))
			log_debug("%s: Masked.", p);
		else
			d.main = TAKE_PTR(p);
		break;
	}

	r = conf_list_collect(d.dirs, DROPIN_DIR, &d.dropins);
	if (r < 0)
		goto fail;

	r = conf_list_collect(d.dirs, OUTPUTS_DIR, &outs);
	if (r < 0)
		goto fail;
	d.outputs = calloc(outs.n ?: 1, sizeof(*d.outputs));
	if (!d.outputs) {
		r = log_oom();
		goto fail;
	}
	for (size_t i = 0; i < outs.n; i++) {
		struct found_output *o = &d.outputs[d.n_outputs++];
		_cleanup_free_ char *sub = NULL;

		o->path = TAKE_PTR(outs.entries[i].path);
		o->name = strndup(outs.entries[i].name, strlen(outs.entries[i].name) - 5);
		if (!o->name || asprintf(&sub, "%s/%s.d", OUTPUTS_DIR, outs.entries[i].name) < 0) {
			sub = NULL;
			r = log_oom();
			goto fail;
		}
		r = conf_list_collect(d.dirs, sub, &o->dropins);
		if (r < 0)
			goto fail;
	}
	conf_list_done(&outs);
	*ret = d;
	return 0;
fail:
	conf_list_done(&outs);
	discovery_done(&d);
	return r;
}

/* ---- INI reader ---------------------------------------------------------------------------- */

struct kv_list {
	struct vigil_kv *kvs;
	size_t n;
};

static void kv_done(struct vigil_kv *kv)
{
	free(kv->section);
	free(kv->key);
	free(kv->value);
	free(kv->file);
}

static int kv_append(struct kv_list *l, const char *section, const char *key, const char *value,
		     const char *file, unsigned line)
{
	struct vigil_kv *t = realloc(l->kvs, (l->n + 1) * sizeof(*t));

	if (!t)
		return -ENOMEM;
	l->kvs = t;
	t[l->n] = (struct vigil_kv){
		.section = strdup(section),
		.key = strdup(key),
		.value = strdup(value),
		.file = strdup(file),
		.line = line,
	};
	if (!t[l->n].section || !t[l->n].key || !t[l->n].value || !t[l->n].file) {
		kv_done(&t[l->n]);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

/* Called for each section header; returns false if the section is unknown (already warned). */
typedef bool (*section_check_t)(struct vigil_config *c, const char *file, unsigned line,
				const char *section);

/* Handle one logical line. Returns 0, -EINVAL for a syntax error (logged), -ENOMEM. */
static int parse_line(struct vigil_config *c, const char *file, unsigned line, char *l,
		      char **section, bool *section_known, section_check_t check,
		      struct kv_list *out)
{
	char *eq, *key, *value;

	l = strstrip(l);
	if (*l == '\0' || *l == '#' || *l == ';')
		return 0;

	if (*l == '[') {
		size_t n = strlen(l);
		char *s;

		if (n < 3 || l[n - 1] != ']' || memchr(l + 1, ']', n - 2) ||
		    memchr(l + 1, '[', n - 2)) {
			log_error("%s:%u: Invalid section header '%s'.", file, line, l);
			return -EINVAL;
		}
		s = strndup(l + 1, n - 2);
		if (!s)
			return -ENOMEM;
		free(*section);
		*section = s;
		*section_known = check ? check(c, file, line, s) : true;
		return 0;
	}

	eq = strchr(l, '=');
	if (!eq) {
		log_error("%s:%u: Missing '=', line is neither a [Section], a Key=Value assignment "
			  "nor a comment.",
			  file, line);
		return -EINVAL;
	}
	*eq = '\0';
	key = strstrip(l);
	value = strstrip(eq + 1);
	if (*key == '\0') {
		log_error("%s:%u: Missing key name before '='.", file, line);
		return -EINVAL;
	}
	if (!*section) {
		log_warning("%s:%u: Assignment '%s=' outside of any section, ignoring.", file, line,
			    key);
		c->n_warnings++;
		return 0;
	}
	if (!*section_known)
		return 0;
	return kv_append(out, *section, key, value, file, line) < 0 ? -ENOMEM : 0;
}

/*
 * Read one INI file into out. Comment lines, blank lines, [Section] and Key=Value; a line ending
 * in an odd number of backslashes continues on the next one (the backslash becomes a space, and
 * comment lines in between are skipped, as in systemd). Syntax errors are logged and remembered:
 * parsing continues so every problem is reported, then -EINVAL is returned.
 */
static int parse_file(struct vigil_config *c, const char *path, section_check_t check,
		      struct kv_list *out)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *buf = NULL, *cont = NULL, *section = NULL;
	size_t bufsz = 0, cont_len = 0;
	unsigned line = 0, cont_line = 0;
	bool section_known = false;
	ssize_t n;
	int r = 0, q;

	f = fopen(path, "re");
	if (!f)
		return log_error_errno(errno, "Failed to open '%s': %m", path);

	while ((n = getline(&buf, &bufsz, f)) >= 0) {
		size_t len = (size_t)n, bs = 0;
		char *l;

		line++;
		if (strlen(buf) != len) {
			log_error("%s:%u: Line contains a NUL byte.", path, line);
			return -EINVAL;
		}
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = '\0';

		l = buf + strspn(buf, WHITESPACE);
		if (cont && (*l == '#' || *l == ';'))
			continue;

		while (bs < len && buf[len - 1 - bs] == '\\')
			bs++;
		if (bs % 2 == 1) {
			char *t;

			buf[len - 1] = ' ';
			if (cont_len + len > LINE_MAX_BYTES) {
				log_error("%s:%u: Line too long.", path, line);
				return -EINVAL;
			}
			t = realloc(cont, cont_len + len + 1);
			if (!t)
				return log_oom();
			memcpy(t + cont_len, buf, len + 1);
			cont = t;
			if (cont_len == 0)
				cont_line = line;
			cont_len += len;
			continue;
		}

		if (cont) {
			char *t;

			if (cont_len + len > LINE_MAX_BYTES) {
				log_error("%s:%u: Line too long.", path, line);
				return -EINVAL;
			}
			t = realloc(cont, cont_len + len + 1);
			if (!t)
				return log_oom();
			memcpy(t + cont_len, buf, len + 1);
			q = parse_line(c, path, cont_line, t, &section, &section_known, check, out);
			free(t);
			cont = NULL;
			cont_len = 0;
		} else
			q = parse_line(c, path, line, buf, &section, &section_known, check, out);
		if (q == -ENOMEM)
			return log_oom();
		if (q < 0)
			r = q;
	}
	if (ferror(f))
		return log_error_errno(EIO, "Failed to read '%s': %m", path);
	if (cont) {
		/* A file ending in a continuation: use what we have, like systemd. */
		q = parse_line(c, path, cont_line, cont, &section, &section_known, check, out);
		if (q == -ENOMEM)
			return log_oom();
		if (q < 0)
			r = q;
	}
	return r;
}

/* ---- applying assignments ------------------------------------------------------------------ */

/*
 * A parser gets the value, the field to fill and the same field in the defaults, so an empty
 * assignment can reset a single-valued key to its default. On a bad value it returns -EINVAL and
 * sets *reason (completes "Invalid value 'x' for Key=: <reason>").
 */
typedef int (*value_parser_t)(const char *value, void *field, const void *dflt, size_t size,
			      const char **reason);

struct config_key {
	const char *section;
	const char *key;
	value_parser_t parse;
	size_t offset;
	size_t size;
};

static int parse_item_usec(const char *v, void *field, const void *dflt, size_t size,
			   const char **reason)
{
	uint64_t u;

	if (*v == '\0') {
		memcpy(field, dflt, size);
		return 0;
	}
	if (config_parse_usec(v, &u) < 0) {
		*reason = "expected a time span such as \"30s\", \"5min\", \"250ms\"";
		return -EINVAL;
	}
	*(uint64_t *)field = u;
	return 0;
}

/*
 * Time spans with per-key bounds: values that parse but break the daemon (a 0 s status timer that
 * re-arms at now + 0, an "infinity" retry that wraps now + retry) are rejected here, never
 * clamped. "infinity" is out of every range below.
 */
static int parse_usec_bounded(const char *v, void *field, const void *dflt, size_t size,
			      uint64_t min, uint64_t max, const char *range, const char **reason)
{
	uint64_t u;
	int r;

	r = parse_item_usec(v, &u, dflt, size, reason);
	if (r < 0)
		return r;
	if (u < min || u > max) {
		*reason = range;
		return -EINVAL;
	}
	*(uint64_t *)field = u;
	return 0;
}

static int parse_item_status_interval(const char *v, void *field, const void *dflt, size_t size,
				      const char **reason)
{
	return parse_usec_bounded(v, field, dflt, size, USEC_PER_SEC, 3600 * USEC_PER_SEC,
				  "must be a time span between 1s and 1h", reason);
}

static int parse_item_poll_interval(const char *v, void *field, const void *dflt, size_t size,
				    const char **reason)
{
	return parse_usec_bounded(v, field, dflt, size, 0, USEC_PER_SEC,
				  "must be a time span between 0 and 1s", reason);
}

static int parse_item_retry_max(const char *v, void *field, const void *dflt, size_t size,
				const char **reason)
{
	return parse_usec_bounded(v, field, dflt, size, 100 * USEC_PER_MSEC, 86400 * USEC_PER_SEC,
				  "must be a time span between 100ms and 1d", reason);
}

static int parse_item_exit_grace(const char *v, void *field, const void *dflt, size_t size,
				 const char **reason)
{
	/* Not 0: exited entries resolve late events and de-duplicate exits (manager.c). */
	return parse_usec_bounded(v, field, dflt, size, 100 * USEC_PER_MSEC, 86400 * USEC_PER_SEC,
				  "must be a time span between 100ms and 1d", reason);
}

static int parse_item_bool(const char *v, void *field, const void *dflt, size_t size,
			   const char **reason)
{
	if (*v == '\0') {
		memcpy(field, dflt, size);
		return 0;
	}
	if (config_parse_bool(v, (bool *)field) < 0) {
		*reason = "expected a boolean (yes/no, true/false, on/off, 1/0)";
		return -EINVAL;
	}
	return 0;
}

static int parse_item_ringbuf(const char *v, void *field, const void *dflt, size_t size,
			      const char **reason)
{
	uint64_t sz;

	if (*v == '\0') {
		memcpy(field, dflt, size);
		return 0;
	}
	if (config_parse_size(v, &sz) < 0 || sz < 4096 || sz > (1ULL << 30) || (sz & (sz - 1))) {
		*reason = "must be a power of two between 4K and 1G";
		return -EINVAL;
	}
	*(uint32_t *)field = (uint32_t)sz;
	return 0;
}

static int parse_item_argv_max(const char *v, void *field, const void *dflt, size_t size,
			       const char **reason)
{
	uint64_t sz;

	if (*v == '\0') {
		memcpy(field, dflt, size);
		return 0;
	}
	if (config_parse_size(v, &sz) < 0 || sz < 256 || sz > VIGIL_ARGS_MAX) {
		*reason = "must be a size between 256 and 32K bytes";
		return -EINVAL;
	}
	*(uint32_t *)field = (uint32_t)sz;
	return 0;
}

/* A count >= 1 that fits in 32 bits (both uint32_t and unsigned fields). */
static int parse_item_count(const char *v, void *field, const void *dflt, size_t size,
			    const char **reason)
{
	const char *p = v;
	uint64_t n;

	if (*v == '\0') {
		memcpy(field, dflt, size);
		return 0;
	}
	if (parse_digits(&p, &n) < 0 || *p != '\0' || n < 1 || n > UINT32_MAX) {
		*reason = "must be an integer between 1 and 4294967295";
		return -EINVAL;
	}
	if (size == sizeof(uint32_t))
		*(uint32_t *)field = (uint32_t)n;
	else
		*(unsigned *)field = (unsigned)n;
	return 0;
}

static int parse_item_node_name(const char *v, void *field, const void *dflt, size_t size,
				const char **reason)
{
	char **s = field, *t = NULL;

	if (*v != '\0') {
		if (strlen(v) > 253) {
			*reason = "must be at most 253 characters";
			return -EINVAL;
		}
		for (const char *p = v; *p; p++)
			if ((unsigned char)*p <= ' ' || *p == 0x7f) {
				*reason = "must not contain whitespace or control characters";
				return -EINVAL;
			}
		t = strdup(v);
		if (!t)
			return -ENOMEM;
	}
	/* NULL = the default, filled in from gethostname() after all files are applied. */
	free(*s);
	*s = t;
	return 0;
}

/* "IPv4:port" or "[IPv6]:port", port 1-65535; or no/off/false to disable. */
static int parse_item_metrics_listen(const char *v, void *field, const void *dflt, size_t size,
				     const char **reason)
{
	char **s = field, host[INET6_ADDRSTRLEN + 2], *t;
	const char *colon, *p;
	unsigned char addr[sizeof(struct in6_addr)];
	uint64_t port;
	bool b;

	if (*v == '\0') {
		t = NULL;
	} else if (config_parse_bool(v, &b) >= 0 && !b) {
		t = strdup("");
		if (!t)
			return -ENOMEM;
	} else {
		colon = strrchr(v, ':');
		*reason = "expected IPv4:PORT, [IPv6]:PORT or no";
		if (!colon || (size_t)(colon - v) >= sizeof(host))
			return -EINVAL;
		memcpy(host, v, (size_t)(colon - v));
		host[colon - v] = '\0';
		p = colon + 1;
		if (parse_digits(&p, &port) < 0 || *p != '\0' || port < 1 || port > 65535) {
			*reason = "the port must be between 1 and 65535";
			return -EINVAL;
		}
		if (host[0] == '[') {
			size_t n = strlen(host);

			if (n < 3 || host[n - 1] != ']')
				return -EINVAL;
			host[n - 1] = '\0';
			if (inet_pton(AF_INET6, host + 1, addr) != 1)
				return -EINVAL;
		} else if (inet_pton(AF_INET, host, addr) != 1) {
			return -EINVAL;
		}
		t = strdup(v);
		if (!t)
			return -ENOMEM;
	}
	free(*s);
	*s = t;
	return 0;
}

/* A group name (as useradd accepts it) or a number; resolved when the socket is created. */
static int parse_item_group(const char *v, void *field, const void *dflt, size_t size,
			    const char **reason)
{
	char **s = field, *t = NULL;

	if (*v != '\0') {
		if (strlen(v) > 32 || !(isalnum((unsigned char)v[0]) || v[0] == '_')) {
			*reason = "expected a group name or number";
			return -EINVAL;
		}
		for (const char *p = v; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') {
				*reason = "expected a group name or number";
				return -EINVAL;
			}
		t = strdup(v);
		if (!t)
			return -ENOMEM;
	}
	free(*s);
	*s = t;
	return 0;
}

static int parse_item_plugin(const char *v, void *field, const void *dflt, size_t size,
			     const char **reason)
{
	char **s = field, *t = NULL;

	if (*v != '\0') {
		if (!plugin_name_is_valid(v)) {
			*reason = "plugin names consist of [a-z0-9_] only";
			return -EINVAL;
		}
		t = strdup(v);
		if (!t)
			return -ENOMEM;
	}
	free(*s);
	*s = t;
	return 0;
}

static int parse_item_full_policy(const char *v, void *field, const void *dflt, size_t size,
				  const char **reason)
{
	enum vigil_full_policy *p = field;

	if (*v == '\0')
		memcpy(field, dflt, size);
	else if (streq(v, "drop-oldest"))
		*p = VIGIL_FULL_DROP_OLDEST;
	else if (streq(v, "drop-newest"))
		*p = VIGIL_FULL_DROP_NEWEST;
	else {
		*reason = "expected drop-oldest or drop-newest";
		return -EINVAL;
	}
	return 0;
}

static int parse_item_spool(const char *v, void *field, const void *dflt, size_t size,
			    const char **reason)
{
	enum vigil_spool_mode *m = field;
	bool b;

	if (*v == '\0')
		memcpy(field, dflt, size);
	else if (streq(v, "auto"))
		*m = VIGIL_SPOOL_AUTO;
	else if (config_parse_bool(v, &b) >= 0)
		*m = b ? VIGIL_SPOOL_ON : VIGIL_SPOOL_OFF;
	else {
		*reason = "expected auto or a boolean (yes/no)";
		return -EINVAL;
	}
	return 0;
}

static int parse_item_spool_size(const char *v, void *field, const void *dflt, size_t size,
				 const char **reason)
{
	uint64_t sz;

	if (*v == '\0') {
		memcpy(field, dflt, size);
		return 0;
	}
	if (config_parse_size(v, &sz) < 0 || sz < (1ULL << 20) || sz > (1ULL << 50)) {
		*reason = "must be a size between 1M and 1P";
		return -EINVAL;
	}
	*(uint64_t *)field = sz;
	return 0;
}

static int parse_item_spool_sync(const char *v, void *field, const void *dflt, size_t size,
				 const char **reason)
{
	if (*v == '\0')
		memcpy(field, dflt, size);
	else if (streq(v, "none"))
		*(bool *)field = false;
	else if (streq(v, "batch"))
		*(bool *)field = true;
	else {
		*reason = "expected none or batch";
		return -EINVAL;
	}
	return 0;
}

#define MAIN_KEY(sec, k, parser, field)                                                            \
	{                                                                                          \
		sec, k, parser, offsetof(struct vigil_config, field),                              \
			sizeof(((struct vigil_config *)0)->field)                                  \
	}
#define OUTPUT_KEY(k, parser, field)                                                               \
	{                                                                                          \
		"Output", k, parser, offsetof(struct vigil_output_config, field),                  \
			sizeof(((struct vigil_output_config *)0)->field)                           \
	}

static const struct config_key main_keys[] = {
	MAIN_KEY("Daemon", "NodeName", parse_item_node_name, node_name),
	MAIN_KEY("Daemon", "StatusIntervalSec", parse_item_status_interval, status_interval_usec),
	MAIN_KEY("Daemon", "MetricsListen", parse_item_metrics_listen, metrics_listen),
	MAIN_KEY("Daemon", "SocketGroup", parse_item_group, socket_group),
	MAIN_KEY("Sensor", "RingBufferSize", parse_item_ringbuf, ringbuf_size),
	MAIN_KEY("Sensor", "ArgvMaxBytes", parse_item_argv_max, argv_max),
	MAIN_KEY("Sensor", "CloneEvents", parse_item_bool, clone_events),
	MAIN_KEY("Sensor", "PollIntervalSec", parse_item_poll_interval, poll_interval_usec),
	MAIN_KEY("ProcessCache", "MaxEntries", parse_item_count, cache_max_entries),
	MAIN_KEY("ProcessCache", "ExitGraceSec", parse_item_exit_grace, cache_grace_usec),
	MAIN_KEY("ProcessCache", "Ancestors", parse_item_bool, ancestors),
};

/* Events= and Filters= are list-valued and handled apart. */
static const struct config_key output_keys[] = {
	OUTPUT_KEY("Plugin", parse_item_plugin, plugin),
	OUTPUT_KEY("Enabled", parse_item_bool, enabled),
	OUTPUT_KEY("QueueSize", parse_item_count, queue_size),
	OUTPUT_KEY("BatchSize", parse_item_count, batch_size),
	OUTPUT_KEY("RetryMaxSec", parse_item_retry_max, retry_max_usec),
	OUTPUT_KEY("QueueFullPolicy", parse_item_full_policy, full_policy),
	OUTPUT_KEY("FullPolicy", parse_item_full_policy, full_policy),
	OUTPUT_KEY("Spool", parse_item_spool, spool),
	OUTPUT_KEY("SpoolMaxSize", parse_item_spool_size, spool_max_size),
	OUTPUT_KEY("SpoolSync", parse_item_spool_sync, spool_sync),
};

static const char *const main_sections[] = {"Daemon", "Sensor", "ProcessCache", NULL};

static const struct vigil_config config_defaults = {
	.status_interval_usec = 10 * USEC_PER_SEC,
	.ringbuf_size = 4U << 20,
	.argv_max = 16384,
	.clone_events = false,
	.poll_interval_usec = 50 * USEC_PER_MSEC,
	.cache_max_entries = 65536,
	.cache_grace_usec = 30 * USEC_PER_SEC,
	.ancestors = false,
};

static const struct vigil_output_config output_defaults = {
	.enabled = true,
	.queue_size = 8192,
	.batch_size = 512,
	.retry_max_usec = 30 * USEC_PER_SEC,
	.spool_max_size = 1ULL << 30,
	.full_policy = VIGIL_FULL_DROP_OLDEST,
};

/* Warn about an unknown key, suggesting a known key of the same section. */
static void warn_unknown_key(struct vigil_config *c, const struct vigil_kv *kv,
			     const struct config_key *table, size_t n, const char *extra1,
			     const char *extra2)
{
	const char *cand[16], *s;
	size_t k = 0;

	for (size_t i = 0; i < n && k < ELEMENTSOF(cand) - 3; i++)
		if (streq(table[i].section, kv->section))
			cand[k++] = table[i].key;
	if (extra1)
		cand[k++] = extra1;
	if (extra2)
		cand[k++] = extra2;
	cand[k] = NULL;
	s = config_suggest(kv->key, cand);
	log_warning("%s:%u: Unknown key '%s' in section [%s], ignoring.%s%s%s", kv->file, kv->line,
		    kv->key, kv->section, s ? " Did you mean '" : "", s ?: "", s ? "'?" : "");
	c->n_warnings++;
}

/* Apply one assignment through a key table. Returns 0, -EINVAL (logged) or -ENOMEM. */
static int apply_kv(struct vigil_config *c, const struct vigil_kv *kv,
		    const struct config_key *table, size_t n, void *obj, const void *dflt)
{
	for (size_t i = 0; i < n; i++) {
		const char *reason = "invalid value";
		int r;

		if (!streq(table[i].section, kv->section) || !streq(table[i].key, kv->key))
			continue;
		r = table[i].parse(kv->value, (char *)obj + table[i].offset,
				   (const char *)dflt + table[i].offset, table[i].size, &reason);
		if (r == -EINVAL)
			log_error("%s:%u: Invalid value '%s' for %s=: %s.", kv->file, kv->line,
				  kv->value, kv->key, reason);
		return r;
	}
	return 1; /* unknown */
}

static bool main_section_check(struct vigil_config *c, const char *file, unsigned line,
			       const char *section)
{
	const char *s;

	for (const char *const *k = main_sections; *k; k++)
		if (streq(*k, section))
			return true;
	s = config_suggest(section, main_sections);
	log_warning("%s:%u: Unknown section [%s], ignoring.%s%s%s", file, line, section,
		    s ? " Did you mean [" : "", s ?: "", s ? "]?" : "");
	c->n_warnings++;
	return false;
}

/*
 * A list-valued key: whitespace-separated entries appended in order, an empty assignment clears
 * what has been collected so far. check() validates one entry, logging "file:line: Invalid
 * value ..." itself; the bad entries are skipped and the result is -EINVAL.
 */
typedef int (*list_check_t)(const struct vigil_kv *kv, const char *w);

static int apply_list(const struct vigil_kv *kv, char ***list, list_check_t check)
{
	_cleanup_free_ char *copy = NULL;
	char *save = NULL;
	int r = 0;

	if (kv->value[0] == '\0') {
		strv_free(*list);
		*list = NULL;
		return 0;
	}
	copy = strdup(kv->value);
	if (!copy)
		return -ENOMEM;
	for (char *w = strtok_r(copy, WHITESPACE, &save); w;
	     w = strtok_r(NULL, WHITESPACE, &save)) {
		if (check(kv, w) < 0) {
			r = -EINVAL;
			continue;
		}
		if (strv_consume(list, strdup(w)) < 0)
			return -ENOMEM;
	}
	return r;
}

/* Events=: a known event type. */
static int check_event_name(const struct vigil_kv *kv, const char *w)
{
	const char *s;

	for (const char *const *e = event_names; *e; e++)
		if (streq(*e, w))
			return 0;
	s = config_suggest(w, event_names);
	log_error("%s:%u: Invalid value '%s' for %s=: unknown event type (known: process_exec "
		  "process_exit process_clone vigil_loss process_kprobe process_tracepoint).%s%s%s",
		  kv->file, kv->line, w, kv->key, s ? " Did you mean '" : "", s ?: "",
		  s ? "'?" : "");
	return -EINVAL;
}

/* Filters=: a valid plugin name. */
static int check_filter_name(const struct vigil_kv *kv, const char *w)
{
	if (plugin_name_is_valid(w))
		return 0;
	log_error("%s:%u: Invalid value '%s' for %s=: filter names consist of [a-z0-9_] only.",
		  kv->file, kv->line, w, kv->key);
	return -EINVAL;
}

/* ---- outputs ------------------------------------------------------------------------------- */

static void output_done(struct vigil_output_config *o)
{
	free(o->name);
	free(o->path);
	free(o->plugin);
	strv_free(o->events);
	strv_free(o->filters);
	for (size_t i = 0; i < o->n_kvs; i++)
		kv_done(&o->kvs[i]);
	free(o->kvs);
}

/*
 * Parse main (if any) and then every drop-in, in order, into kvs, recording each file for
 * --cat-config. Returns 0, -EINVAL if some file had an error (all were still parsed, so every
 * error is reported), or another -errno that stopped parsing.
 */
static int parse_files(struct vigil_config *c, const char *main, const struct conf_list *dropins,
		       section_check_t check, struct kv_list *kvs)
{
	int r = 0, q;

	for (size_t i = 0; i <= dropins->n; i++) {
		const char *path = i == 0 ? main : dropins->entries[i - 1].path;

		if (!path)
			continue;
		if (strv_consume(&c->files, strdup(path)) < 0)
			return -ENOMEM;
		q = parse_file(c, path, check, kvs);
		if (q < 0 && q != -EINVAL)
			return q;
		if (q < 0)
			r = q;
	}
	return r;
}

static int output_load(struct vigil_config *c, const struct found_output *f,
		       struct vigil_output_config *o)
{
	struct kv_list kvs = {};
	bool plugin_bad = false;
	int r = 0, q;

	*o = output_defaults;
	o->name = strdup(f->name);
	o->path = strdup(f->path);
	if (!o->name || !o->path)
		return -ENOMEM;

	if (!instance_name_is_valid(f->name)) {
		log_error("%s: Invalid output instance name '%s': file names in %s/ must match "
			  "[A-Za-z0-9_.-]+.conf.",
			  f->path, f->name, OUTPUTS_DIR);
		r = -EINVAL;
	}

	q = parse_files(c, f->path, &f->dropins, NULL, &kvs);
	if (q < 0 && q != -EINVAL)
		goto out;
	if (q < 0)
		r = q;

	for (size_t i = 0; i < kvs.n; i++) {
		const struct vigil_kv *kv = &kvs.kvs[i];

		/* Plugin sections are validated by the plugin host against the plugin's keys. */
		if (!streq(kv->section, "Output"))
			continue;
		if (streq(kv->key, "Events"))
			q = apply_list(kv, &o->events, check_event_name);
		else if (streq(kv->key, "Filters"))
			q = apply_list(kv, &o->filters, check_filter_name);
		else {
			q = apply_kv(c, kv, output_keys, ELEMENTSOF(output_keys), o,
				     &output_defaults);
			if (q > 0) {
				warn_unknown_key(c, kv, output_keys, ELEMENTSOF(output_keys),
						 "Events", "Filters");
				q = 0;
			}
			if (q == -EINVAL && streq(kv->key, "Plugin"))
				plugin_bad = true;
		}
		if (q == -ENOMEM)
			goto out;
		if (q < 0)
			r = q;
	}

	/* After a rejected Plugin= value, "missing" would only repeat the error. */
	if (!o->plugin && !plugin_bad) {
		log_error("%s: Missing [Output] Plugin=, every output instance needs one.",
			  f->path);
		r = -EINVAL;
	}
	q = r;
out:
	o->kvs = kvs.kvs;
	o->n_kvs = kvs.n;
	return q;
}

const struct vigil_kv *config_output_get(const struct vigil_output_config *o, const char *section,
					 const char *key)
{
	if (!o || !section || !key)
		return NULL;
	for (size_t i = o->n_kvs; i > 0; i--) {
		const struct vigil_kv *kv = &o->kvs[i - 1];

		if (streq(kv->section, section) && streq(kv->key, key))
			/* An empty last assignment resets the key to its default: unset. */
			return kv->value[0] ? kv : NULL;
	}
	return NULL;
}

int config_output_get_list(const struct vigil_output_config *o, const char *section,
			   const char *key, char ***ret)
{
	_cleanup_strv_free_ char **l = NULL;
	size_t start = 0;
	int n = 0;

	if (!o || !section || !key || !ret)
		return -EINVAL;
	for (size_t i = 0; i < o->n_kvs; i++)
		if (streq(o->kvs[i].section, section) && streq(o->kvs[i].key, key) &&
		    o->kvs[i].value[0] == '\0')
			start = i + 1;
	l = calloc(1, sizeof(char *));
	if (!l)
		return -ENOMEM;
	for (size_t i = start; i < o->n_kvs; i++) {
		if (!streq(o->kvs[i].section, section) || !streq(o->kvs[i].key, key))
			continue;
		if (strv_consume(&l, strdup(o->kvs[i].value)) < 0)
			return -ENOMEM;
		n++;
	}
	*ret = TAKE_PTR(l);
	return n;
}

/* ---- load / free / cat ----------------------------------------------------------------------- */

struct vigil_config *config_free(struct vigil_config *c)
{
	if (!c)
		return NULL;
	free(c->node_name);
	free(c->metrics_listen);
	free(c->socket_group);
	for (size_t i = 0; i < c->n_outputs; i++)
		output_done(&c->outputs[i]);
	free(c->outputs);
	free(c->policy_dir_list);
	strv_free(c->exclude_binaries);
	strv_free(c->exclude_cgroups);
	strv_free(c->files);
	free(c);
	return NULL;
}

/*
 * [Sensor] ExcludeBinaries= (absolute path prefixes) and ExcludeCgroups= (cgroup directory
 * names: units such as cron.service, slices, container ids). Limits follow the kernel-side
 * matching (VIGIL_FILTER_PREFIX_MAX, VIGIL_FILTER_NAME_MAX in bpf/events.h).
 */
static int check_exclude_binary(const struct vigil_kv *kv, const char *w)
{
	if (w[0] == '/' && strlen(w) <= VIGIL_FILTER_PREFIX_MAX)
		return 0;
	log_error("%s:%u: Invalid value '%s' for %s=: expected an absolute path prefix of at "
		  "most %u bytes.",
		  kv->file, kv->line, w, kv->key, VIGIL_FILTER_PREFIX_MAX);
	return -EINVAL;
}

static int check_exclude_cgroup(const struct vigil_kv *kv, const char *w)
{
	if (!strchr(w, '/') && strlen(w) < VIGIL_FILTER_NAME_MAX && !streq(w, ".") &&
	    !streq(w, ".."))
		return 0;
	log_error("%s:%u: Invalid value '%s' for %s=: expected a cgroup name (a unit such as "
		  "cron.service, a slice, or a container id) of less than %u bytes, without '/'.",
		  kv->file, kv->line, w, kv->key, VIGIL_FILTER_NAME_MAX);
	return -EINVAL;
}

static int load_main(struct vigil_config *c, const struct discovery *d)
{
	struct kv_list kvs = {};
	int r = 0, q = 0;

	q = parse_files(c, d->main, &d->dropins, main_section_check, &kvs);
	if (q < 0 && q != -EINVAL)
		goto out;
	if (q < 0)
		r = q;
	for (size_t i = 0; i < kvs.n; i++) {
		const struct vigil_kv *kv = &kvs.kvs[i];

		if (streq(kv->section, "Sensor") && streq(kv->key, "ExcludeBinaries"))
			q = apply_list(kv, &c->exclude_binaries, check_exclude_binary);
		else if (streq(kv->section, "Sensor") && streq(kv->key, "ExcludeCgroups"))
			q = apply_list(kv, &c->exclude_cgroups, check_exclude_cgroup);
		else
			q = apply_kv(c, kv, main_keys, ELEMENTSOF(main_keys), c, &config_defaults);
		if (q > 0) {
			warn_unknown_key(c, &kvs.kvs[i], main_keys, ELEMENTSOF(main_keys),
					 streq(kv->section, "Sensor") ? "ExcludeBinaries" : NULL,
					 streq(kv->section, "Sensor") ? "ExcludeCgroups" : NULL);
			q = 0;
		}
		if (q == -ENOMEM)
			goto out;
		if (q < 0)
			r = q;
	}
	q = r;
out:
	for (size_t i = 0; i < kvs.n; i++)
		kv_done(&kvs.kvs[i]);
	free(kvs.kvs);
	return q;
}

static int policy_dirs(const struct discovery *d, char **ret)
{
	char *s = NULL;

	for (char **dir = d->dirs; *dir; dir++) {
		char *t;

		if (asprintf(&t, "%s%s%s/%s", strempty(s), s ? ":" : "", *dir, POLICY_DIR) < 0) {
			free(s);
			return -ENOMEM;
		}
		free(s);
		s = t;
	}
	*ret = s;
	return 0;
}

int config_load(const struct config_source *src, struct vigil_config **ret)
{
	_cleanup_(config_freep) struct vigil_config *c = NULL;
	struct discovery d = {};
	int r = 0, q;

	if (!ret)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return log_oom();
	*c = config_defaults;
	c->files = calloc(1, sizeof(char *));
	if (!c->files)
		return log_oom();

	q = discover(src, &d);
	if (q < 0)
		return q;

	q = load_main(c, &d);
	if (q == -ENOMEM)
		q = log_oom();
	if (q < 0 && q != -EINVAL)
		goto out;
	if (q < 0)
		r = q;

	c->outputs = calloc(d.n_outputs ?: 1, sizeof(*c->outputs));
	if (!c->outputs) {
		q = log_oom();
		goto out;
	}
	for (size_t i = 0; i < d.n_outputs; i++) {
		q = output_load(c, &d.outputs[i], &c->outputs[i]);
		c->n_outputs++;
		if (q == -ENOMEM)
			q = log_oom();
		if (q < 0 && q != -EINVAL)
			goto out;
		if (q < 0)
			r = q;
	}

	if (!c->node_name) {
		char host[256] = "";

		if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
			snprintf(host, sizeof(host), "localhost");
		c->node_name = strdup(host);
		if (!c->node_name) {
			q = log_oom();
			goto out;
		}
	}
	if (policy_dirs(&d, &c->policy_dir_list) < 0) {
		q = log_oom();
		goto out;
	}

	q = r;
	if (q == 0)
		*ret = TAKE_PTR(c);
out:
	discovery_done(&d);
	return q;
}

static int cat_file(const char *path, FILE *out, bool *first)
{
	_cleanup_fclose_ FILE *f = NULL;
	char buf[4096];
	size_t n;
	int last = '\n';

	f = fopen(path, "re");
	if (!f)
		return log_error_errno(errno, "Failed to open '%s': %m", path);
	fprintf(out, "%s# %s\n", *first ? "" : "\n", path);
	*first = false;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		fwrite(buf, 1, n, out);
		last = buf[n - 1];
	}
	if (ferror(f))
		return log_error_errno(EIO, "Failed to read '%s': %m", path);
	if (last != '\n')
		fputc('\n', out);
	return 0;
}

int config_cat(const struct config_source *src, FILE *out)
{
	struct discovery d = {};
	bool first = true;
	int r;

	r = discover(src, &d);
	if (r < 0)
		return r;
	if (d.main) {
		r = cat_file(d.main, out, &first);
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < d.dropins.n; i++) {
		r = cat_file(d.dropins.entries[i].path, out, &first);
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < d.n_outputs; i++) {
		r = cat_file(d.outputs[i].path, out, &first);
		if (r < 0)
			goto out;
		for (size_t j = 0; j < d.outputs[i].dropins.n; j++) {
			r = cat_file(d.outputs[i].dropins.entries[j].path, out, &first);
			if (r < 0)
				goto out;
		}
	}
	r = fflush(out) == 0 ? 0 : -errno;
out:
	discovery_done(&d);
	return r;
}
