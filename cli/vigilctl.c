/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vigilctl: talk to a running vigild over its control socket (docs/control.md), and check
 * configuration and policy files without it. Exit codes are documented in vigilctl(1).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bpf_loader.h"
#include "config.h"
#include "log.h"
#include "plugin_host.h"
#include "policy.h"
#include "policy_compile.h"
#include "policy_engine.h"
#include "plugins/common/json.h"
#include "plugins/common/record_view.h"

/* Exit codes (vigilctl(1) EXIT STATUS; sysexits.h values). */
#define EXIT_USAGE	 64 /* EX_USAGE */
#define EXIT_UNAVAILABLE 69 /* EX_UNAVAILABLE: vigild not running */
#define EXIT_NOPERM	 77 /* EX_NOPERM */
#define EXIT_CONFIG	 78 /* EX_CONFIG: configuration or policy invalid */

#define DEFAULT_SOCKET "/run/vigil/control.sock"

static const char *arg_socket;
static bool arg_json;
static bool arg_compact;
static const char *arg_binary;
static const char *arg_unit;
static const char *arg_container;
static char **arg_types;
static size_t n_arg_types;
static uint64_t arg_count;
static const char *arg_config_dir;
static const char *arg_plugin_dir = PLUGINDIR;

static void help(void)
{
	printf("Usage: vigilctl [OPTIONS] COMMAND ...\n\n"
	       "Control and inspect a running vigild.\n\n"
	       "Commands:\n"
	       "  status                  Version, uptime, kernel features, sensors, policies,\n"
	       "                          outputs with their health, loss counters\n"
	       "  events                  Stream live events (filters below)\n"
	       "  policy list             Policies of the policy.d directories and their state\n"
	       "  policy validate FILE... Parse and compile policy files without loading them\n"
	       "  reload                  Reload like SIGHUP (root only)\n"
	       "  config cat              Print the merged configuration files\n"
	       "  config validate         Check the configuration, outputs and policies\n\n"
	       "Options:\n"
	       "  -s, --socket PATH       Control socket (default $VIGIL_CONTROL_SOCKET or\n"
	       "                          " DEFAULT_SOCKET ")\n"
	       "      --json              Machine-readable output\n"
	       "  -o, --output json|compact  events: one JSON record per line, or one human line\n"
	       "                          (default: compact on a terminal, json otherwise)\n"
	       "  -t, --type TYPE[,TYPE]  events: only these types (exec, exit, clone, kprobe,\n"
	       "                          tracepoint, loss or the full process_exec, ...)\n"
	       "      --binary REGEX      events: process.binary matches this extended regex\n"
	       "      --unit UNIT         events: process.unit or user_unit is UNIT\n"
	       "      --container ID      events: container id starts with ID\n"
	       "  -n, --count N           events: exit after N events\n"
	       "      --config-dir DIR    config, policy validate: read DIR like vigild "
	       "--config-dir\n"
	       "      --plugin-dir DIR    config validate: plugins from DIR (default %s)\n"
	       "  -h, --help              Show this help\n"
	       "      --version           Print the version\n\n"
	       "See vigilctl(1).\n",
	       PLUGINDIR);
}

static const char *type_alias(const char *t)
{
	static const char *const map[][2] = {
		{"exec", "process_exec"},     {"exit", "process_exit"},
		{"clone", "process_clone"},   {"fork", "process_clone"},
		{"kprobe", "process_kprobe"}, {"tracepoint", "process_tracepoint"},
		{"loss", "vigil_loss"},
	};

	for (size_t i = 0; i < ELEMENTSOF(map); i++)
		if (streq(t, map[i][0]))
			return map[i][1];
	return t;
}

static int add_types(const char *list)
{
	_cleanup_free_ char *copy = strdup(list);
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		const char *name = type_alias(t);
		char **n;

		if (plugin_host_event_type(name) < 0) {
			fprintf(stderr, "vigilctl: unknown event type '%s'.\n", t);
			return -EINVAL;
		}
		n = realloc(arg_types, (n_arg_types + 2) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		arg_types = n;
		if (!(arg_types[n_arg_types] = strdup(name)))
			return -ENOMEM;
		arg_types[++n_arg_types] = NULL;
	}
	return 0;
}

/* Returns 1 to continue, 0 to exit successfully, -EINVAL on bad usage. */
static int parse_argv(int argc, char *argv[])
{
	enum {
		ARG_JSON = 0x100,
		ARG_BINARY,
		ARG_UNIT,
		ARG_CONTAINER,
		ARG_CONFIG_DIR,
		ARG_PLUGIN_DIR,
		ARG_VERSION,
	};
	static const struct option options[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, ARG_JSON},
		{"output", required_argument, NULL, 'o'},
		{"type", required_argument, NULL, 't'},
		{"binary", required_argument, NULL, ARG_BINARY},
		{"unit", required_argument, NULL, ARG_UNIT},
		{"container", required_argument, NULL, ARG_CONTAINER},
		{"count", required_argument, NULL, 'n'},
		{"config-dir", required_argument, NULL, ARG_CONFIG_DIR},
		{"plugin-dir", required_argument, NULL, ARG_PLUGIN_DIR},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, ARG_VERSION},
		{}};
	bool output_set = false;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "s:o:t:n:h", options, NULL)) >= 0) {
		switch (c) {
		case 's':
			arg_socket = optarg;
			break;
		case ARG_JSON:
			arg_json = true;
			break;
		case 'o':
			if (streq(optarg, "json"))
				arg_compact = false;
			else if (streq(optarg, "compact"))
				arg_compact = true;
			else {
				fprintf(stderr, "vigilctl: --output must be json or compact.\n");
				return -EINVAL;
			}
			output_set = true;
			break;
		case 't':
			if (add_types(optarg) < 0)
				return -EINVAL;
			break;
		case ARG_BINARY:
			arg_binary = optarg;
			break;
		case ARG_UNIT:
			arg_unit = optarg;
			break;
		case ARG_CONTAINER:
			arg_container = optarg;
			break;
		case 'n':
			errno = 0;
			arg_count = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || arg_count == 0) {
				fprintf(stderr, "vigilctl: --count needs a positive number.\n");
				return -EINVAL;
			}
			break;
		case ARG_CONFIG_DIR:
			arg_config_dir = optarg;
			break;
		case ARG_PLUGIN_DIR:
			arg_plugin_dir = optarg;
			break;
		case 'h':
			help();
			return 0;
		case ARG_VERSION:
			printf("vigilctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (!output_set)
		arg_compact = !arg_json && isatty(STDOUT_FILENO);
	if (!arg_socket)
		arg_socket = getenv("VIGIL_CONTROL_SOCKET") ?: DEFAULT_SOCKET;
	return 1;
}

/* ---- the socket ---- */

struct conn {
	int fd;
	FILE *in;
};

static void conn_close(struct conn *c)
{
	if (c->in)
		(void)fclose(c->in); /* closes fd */
	else if (c->fd >= 0)
		(void)close(c->fd);
	c->in = NULL;
	c->fd = -1;
}

/* Connect and send the request. Returns 0 or an exit code. */
static int conn_open(struct conn *c, json_object *req)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *s;
	size_t len;

	c->fd = -1;
	c->in = NULL;
	if (strlen(arg_socket) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vigilctl: socket path '%s' is too long.\n", arg_socket);
		return EXIT_USAGE;
	}
	strcpy(sa.sun_path, arg_socket);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return fprintf(stderr, "vigilctl: socket(): %m\n"), EXIT_FAILURE;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		fprintf(stderr, "vigilctl: cannot connect to '%s': %s%s\n", arg_socket, strerror(e),
			e == ENOENT || e == ECONNREFUSED ? " (is vigild running?)"
			: e == EACCES || e == EPERM	 ? " (run as root or as a member of "
							   "SocketGroup=)"
							 : "");
		conn_close(c);
		return e == EACCES || e == EPERM ? EXIT_NOPERM : EXIT_UNAVAILABLE;
	}
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	len = strlen(s);
	/* EPIPE: the daemon refused us before reading the request; its answer is still queued. */
	if ((send(c->fd, s, len, MSG_NOSIGNAL) != (ssize_t)len ||
	     send(c->fd, "\n", 1, MSG_NOSIGNAL) != 1) &&
	    errno != EPIPE) {
		fprintf(stderr, "vigilctl: sending the request failed: %m\n");
		conn_close(c);
		return EXIT_UNAVAILABLE;
	}
	c->in = fdopen(c->fd, "r");
	if (!c->in) {
		conn_close(c);
		return EXIT_FAILURE;
	}
	return 0;
}

/* Read one JSON line; NULL at EOF or on garbage (reported). */
static json_object *conn_read(struct conn *c)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	json_object *o;

	if (getline(&line, &cap, c->in) < 0)
		return NULL;
	o = json_tokener_parse(line);
	if (!o || !json_object_is_type(o, json_type_object)) {
		fprintf(stderr, "vigilctl: malformed answer from vigild.\n");
		json_object_put(o);
		return NULL;
	}
	return o;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	return json_object_get_string(v);
}

static uint64_t ju64(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	return json_object_get_uint64(v);
}

static bool jbool(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && v && json_object_get_boolean(v);
}

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	(void)json_object_object_get_ex(o, key, &v);
	return v;
}

/* An {"ok":false} answer: print it and map its errno to an exit code. */
static int answer_error(json_object *o)
{
	const char *e = jstr(o, "errno");

	fprintf(stderr, "vigilctl: %s\n", jstr(o, "error") ?: "request failed");
	if (e && (streq(e, "EACCES") || streq(e, "EPERM")))
		return EXIT_NOPERM;
	return EXIT_FAILURE;
}

/* One request, one answer. Returns 0 or an exit code; *ret gets the answer when ok. */
static int request(const char *command, json_object **ret)
{
	json_object *req = json_object_new_object(), *ans;
	struct conn c;
	int r;

	if (!req)
		return EXIT_FAILURE;
	json_object_object_add(req, "command", json_object_new_string(command));
	r = conn_open(&c, req);
	json_object_put(req);
	if (r != 0)
		return r;
	ans = conn_read(&c);
	conn_close(&c);
	if (!ans) {
		fprintf(stderr, "vigilctl: vigild closed the connection without an answer.\n");
		return EXIT_UNAVAILABLE;
	}
	if (!jbool(ans, "ok")) {
		r = answer_error(ans);
		json_object_put(ans);
		return r;
	}
	*ret = ans;
	return 0;
}

static void print_json(json_object *o)
{
	json_object_object_del(o, "ok");
	printf("%s\n",
	       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* ---- status ---- */

static void format_duration(uint64_t usec, char *buf, size_t size)
{
	uint64_t s = usec / USEC_PER_SEC;

	if (s >= 86400)
		snprintf(buf, size, "%" PRIu64 "d %" PRIu64 "h %" PRIu64 "min", s / 86400,
			 s % 86400 / 3600, s % 3600 / 60);
	else if (s >= 3600)
		snprintf(buf, size, "%" PRIu64 "h %" PRIu64 "min", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, size, "%" PRIu64 "min %" PRIu64 "s", s / 60, s % 60);
	else
		snprintf(buf, size, "%" PRIu64 "s", s);
}

static const char *yesno(bool b)
{
	return b ? "yes" : "no";
}

static int cmd_status(void)
{
	json_object *o = NULL, *k, *f, *ev, *p, *loss, *outs, *sens, *ctl;
	char up[64];
	int r;

	r = request("status", &o);
	if (r != 0)
		return r;
	if (arg_json) {
		print_json(o);
		json_object_put(o);
		return 0;
	}
	k = jget(o, "kernel");
	f = jget(k, "features");
	ev = jget(o, "events");
	p = jget(o, "policies");
	loss = jget(o, "loss");
	outs = jget(o, "outputs");
	sens = jget(o, "sensors");
	ctl = jget(o, "control");
	format_duration(ju64(o, "uptime_usec"), up, sizeof(up));

	printf("vigild %s on node '%s' (pid %" PRIu64 "), up %s\n", strempty(jstr(o, "version")),
	       strempty(jstr(o, "node_name")), ju64(o, "pid"), up);
	printf("Kernel:    %s; ring buffer %" PRIu64 " KiB; kprobes: %s, BPF-LSM: %s, cgroup "
	       "set_retval: %s\n",
	       strempty(jstr(k, "release")), ju64(k, "ring_buffer_bytes") / 1024,
	       yesno(jbool(f, "kprobes")), yesno(jbool(f, "bpf_lsm")),
	       yesno(jbool(f, "cgroup_set_retval")));
	printf("Sensors:  ");
	for (size_t i = 0; sens && i < json_object_array_length(sens); i++)
		printf(" %s", json_object_get_string(json_object_array_get_idx(sens, i)));
	printf("\n");
	printf("Events:    %" PRIu64 " decoded, %" PRIu64 " records (last seq %" PRIu64
	       "), process cache %" PRIu64 "\n",
	       ju64(ev, "decoded"), ju64(ev, "records"), ju64(ev, "last_seq"),
	       ju64(ev, "process_cache"));
	printf("Policies:  %" PRIu64 " running (%" PRIu64 " hooks), %" PRIu64
	       " failed; actions: sigkill=%" PRIu64 " signal=%" PRIu64 " override=%" PRIu64 "\n",
	       ju64(p, "running"), ju64(p, "hooks"), ju64(p, "failed"),
	       ju64(jget(p, "actions"), "sigkill"), ju64(jget(p, "actions"), "signal"),
	       ju64(jget(p, "actions"), "override"));
	printf("Loss:      kernel=%" PRIu64 " decode=%" PRIu64 " queue=%" PRIu64 " spool=%" PRIu64
	       " output=%" PRIu64 "\n",
	       ju64(loss, "kernel"), ju64(loss, "decode"), ju64(loss, "queue"), ju64(loss, "spool"),
	       ju64(loss, "output"));
	printf("Outputs:   %zu\n", outs ? json_object_array_length(outs) : (size_t)0);
	if (outs && json_object_array_length(outs) > 0) {
		printf("  %-16s %-14s %-9s %10s %8s %8s %7s %9s\n", "NAME", "PLUGIN", "HEALTH",
		       "DELIVERED", "RETRIED", "DROPPED", "QUEUE", "SPOOLED");
		for (size_t i = 0; i < json_object_array_length(outs); i++) {
			json_object *x = json_object_array_get_idx(outs, i), *sp = jget(x, "spool");
			char spooled[32] = "-";

			if (jbool(sp, "enabled"))
				snprintf(spooled, sizeof(spooled), "%" PRIu64, ju64(sp, "records"));
			printf("  %-16s %-14s %-9s %10" PRIu64 " %8" PRIu64 " %8" PRIu64
			       " %7" PRIu64 " %9s\n",
			       strempty(jstr(x, "name")), strempty(jstr(x, "plugin")),
			       strempty(jstr(x, "health")), ju64(x, "delivered"),
			       ju64(x, "retried"), ju64(x, "dropped"), ju64(x, "queue"), spooled);
		}
	}
	printf("Control:   %" PRIu64 " client(s), %" PRIu64 " event subscriber(s), %" PRIu64
	       " refused\n",
	       ju64(ctl, "clients"), ju64(ctl, "subscribers"), ju64(ctl, "refused"));
	json_object_put(o);
	return 0;
}

/* ---- events ---- */

static int b64_value(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Decode standard base64 with padding into out (at least 3/4 of n bytes). Returns the length
 * or -EBADMSG. */
static ssize_t b64_decode(const char *s, size_t n, uint8_t *out)
{
	size_t o = 0;

	if (n % 4)
		return -EBADMSG;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		size_t pad = 0;

		for (size_t j = 0; j < 4; j++) {
			if (s[i + j] == '=' && i + 4 == n && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad)
				return -EBADMSG;
			v[j] = b64_value((unsigned char)s[i + j]);
			if (v[j] < 0)
				return -EBADMSG;
		}
		out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (uint8_t)(v[1] << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (uint8_t)(v[2] << 6 | v[3]);
	}
	return (ssize_t)o;
}

static int cmd_events(void)
{
	_cleanup_free_ uint8_t *rec = NULL;
	json_object *req = json_object_new_object(), *ans;
	struct vbuf out = {};
	size_t rec_cap = 0;
	uint64_t shown = 0;
	struct conn c;
	int r;

	if (!req)
		return EXIT_FAILURE;
	json_object_object_add(req, "command", json_object_new_string("events"));
	if (n_arg_types > 0) {
		json_object *a = json_object_new_array();

		for (size_t i = 0; a && i < n_arg_types; i++)
			json_object_array_add(a, json_object_new_string(arg_types[i]));
		json_object_object_add(req, "types", a);
	}
	if (arg_binary)
		json_object_object_add(req, "binary", json_object_new_string(arg_binary));
	if (arg_unit)
		json_object_object_add(req, "unit", json_object_new_string(arg_unit));
	if (arg_container)
		json_object_object_add(req, "container", json_object_new_string(arg_container));
	r = conn_open(&c, req);
	json_object_put(req);
	if (r != 0)
		return r;
	ans = conn_read(&c);
	if (!ans) {
		conn_close(&c);
		fprintf(stderr, "vigilctl: vigild closed the connection without an answer.\n");
		return EXIT_UNAVAILABLE;
	}
	if (!jbool(ans, "ok")) {
		r = answer_error(ans);
		json_object_put(ans);
		conn_close(&c);
		return r;
	}
	json_object_put(ans);

	for (;;) {
		json_object *line = conn_read(&c);
		const char *b64;
		ssize_t n;
		size_t len;

		if (!line) {
			fprintf(stderr, "vigilctl: vigild closed the event stream.\n");
			r = EXIT_UNAVAILABLE;
			break;
		}
		if (jget(line, "skipped")) {
			fprintf(stderr,
				"vigilctl: skipped %" PRIu64 " events: this client read too slowly "
				"(%" PRIu64 " skipped in total).\n",
				ju64(line, "skipped"), ju64(line, "skipped_total"));
			json_object_put(line);
			continue;
		}
		b64 = jstr(line, "record");
		len = b64 ? strlen(b64) : 0;
		if (len / 4 * 3 + 3 > rec_cap) {
			uint8_t *p = realloc(rec, len / 4 * 3 + 3);

			if (!p) {
				json_object_put(line);
				r = EXIT_FAILURE;
				break;
			}
			rec = p;
			rec_cap = len / 4 * 3 + 3;
		}
		n = b64 ? b64_decode(b64, len, rec) : -EBADMSG;
		json_object_put(line);
		if (n < 0) {
			fprintf(stderr, "vigilctl: malformed event line, skipping it.\n");
			continue;
		}
		out.len = 0;
		r = arg_compact ? compact_render(rec, (size_t)n, &out)
				: json_render(rec, (size_t)n, &out);
		if (r < 0 || vbuf_putc(&out, '\n') < 0) {
			fprintf(stderr, "vigilctl: cannot render an event: %s\n", strerror(-r));
			continue;
		}
		if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
			r = 0; /* stdout closed (| head): done */
			break;
		}
		if (arg_count && ++shown >= arg_count) {
			r = 0;
			break;
		}
	}
	vbuf_done(&out);
	conn_close(&c);
	return r;
}

/* ---- policy ---- */

static int cmd_policy_list(void)
{
	json_object *o = NULL, *arr;
	int r;

	r = request("policy-list", &o);
	if (r != 0)
		return r;
	if (arg_json) {
		print_json(o);
		json_object_put(o);
		return 0;
	}
	arr = jget(o, "policies");
	if (!arr || json_object_array_length(arr) == 0)
		printf("No policies in %s.\n", strempty(jstr(o, "directories")));
	else {
		printf("%-32s %-9s %5s  %s\n", "NAME", "STATE", "HOOKS", "FILE");
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			json_object *p = json_object_array_get_idx(arr, i);
			const char *err = jstr(p, "error");

			printf("%-32s %-9s %5" PRIu64 "  %s\n", jstr(p, "name") ?: "-",
			       strempty(jstr(p, "state")), ju64(p, "hooks"),
			       strempty(jstr(p, "file")));
			if (err)
				printf("  %s\n", err);
		}
	}
	json_object_put(o);
	return 0;
}

/* Every policy in files parsed, then compiled against this kernel when tracefs is readable. */
static int cmd_policy_validate(char **files, size_t n_files)
{
	_cleanup_(policy_set_freep) struct policy_set *set = policy_set_new();
	struct policy_env env;
	unsigned failed;
	bool io_error = false, compile;

	if (!set)
		return EXIT_FAILURE;
	if (n_files == 0) {
		fprintf(stderr, "vigilctl: policy validate needs at least one FILE.\n");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < n_files; i++) {
		/* A file that cannot be read is an I/O error (exit 1), not an invalid policy. */
		if (access(files[i], R_OK) < 0) {
			fprintf(stderr, "vigilctl: %s: %m\n", files[i]);
			io_error = true;
			continue;
		}
		/* Errors are logged with file:line:col and counted in n_errors. */
		(void)policy_parse_file(files[i], set);
	}
	failed = set->n_errors;
	(void)bpf_ensure_fs_mounts();
	compile = policy_env_probe(&env) >= 0 && access(env.tracefs, R_OK | X_OK) >= 0;
	if (!compile)
		log_notice("tracefs is not readable: policies were parsed but not checked against "
			   "this kernel's tracepoints (run as root for the full check).");
	for (size_t i = 0; i < set->n_policies; i++) {
		_cleanup_(compiled_policy_freep) struct compiled_policy *cp = NULL;
		const struct policy *p = set->policies[i];

		if (compile && policy_compile(p, &env, &cp) < 0) {
			failed++;
			continue;
		}
		printf("%s: policy '%s' OK (%zu hooks%s).\n", p->file, p->name,
		       cp ? cp->n_hooks : p->n_hooks, compile ? "" : ", parsed only");
	}
	if (io_error)
		return EXIT_FAILURE;
	if (failed > 0) {
		log_error("%u policy document(s) failed validation.", failed);
		return EXIT_CONFIG;
	}
	return 0;
}

/* ---- reload ---- */

static int cmd_reload(void)
{
	json_object *o = NULL, *p;
	int r;

	r = request("reload", &o);
	if (r != 0)
		return r;
	if (arg_json)
		print_json(o);
	else {
		p = jget(o, "policies");
		printf("Reloaded: %" PRIu64 " policies running (%" PRIu64 " hooks), %" PRIu64
		       " failed.\n",
		       ju64(p, "running"), ju64(p, "hooks"), ju64(p, "failed"));
	}
	json_object_put(o);
	return 0;
}

/* ---- config (what vigild --cat-config and --validate do) ---- */

static int cmd_config_cat(void)
{
	struct config_source src = {.config_dir = arg_config_dir};

	return config_cat(&src, stdout) < 0 ? EXIT_FAILURE : 0;
}

static int cmd_config_validate(void)
{
	struct config_source src = {.config_dir = arg_config_dir};
	_cleanup_(policy_set_freep) struct policy_set *set = NULL;
	struct plugin_host_options pho;
	unsigned warnings, plugin_warnings = 0, policy_errors = 0;
	struct vigil_config *cfg = NULL;
	struct policy_env env;
	int r, rp;

	r = config_load(&src, &cfg);
	if (r == -EINVAL)
		return EXIT_CONFIG;
	if (r < 0)
		return EXIT_FAILURE;
	pho = (struct plugin_host_options){
		.plugin_dir = arg_plugin_dir,
		.node_name = cfg->node_name,
		.check_owner = true,
	};
	warnings = cfg->n_warnings;
	r = plugin_host_validate(&pho, cfg->outputs, cfg->n_outputs, &plugin_warnings);
	rp = policy_set_load(cfg->policy_dir_list, &set);
	if (rp < 0)
		policy_errors = 1;
	else {
		policy_errors = set->n_errors;
		(void)bpf_ensure_fs_mounts();
		if (policy_env_probe(&env) >= 0 && access(env.tracefs, R_OK | X_OK) >= 0)
			policy_errors = policy_validate_set(set, &env);
		else
			log_notice("tracefs is not readable: policies were parsed but not checked "
				   "against this kernel's tracepoints (run as root for the full "
				   "check).");
	}
	config_free(cfg);
	if (policy_errors > 0) {
		log_error("%u policy document(s) failed validation.", policy_errors);
		return EXIT_CONFIG;
	}
	if (r == -EINVAL)
		return EXIT_CONFIG;
	if (r < 0)
		return EXIT_FAILURE;
	warnings += plugin_warnings;
	if (warnings > 0) {
		log_error("Configuration has %u warning(s).", warnings);
		return EXIT_FAILURE;
	}
	printf("Configuration OK.\n");
	return 0;
}

static int run(int argc, char *argv[])
{
	char **args;
	size_t n;
	int r;

	log_setup();
	log_set_ident("vigilctl");
	r = parse_argv(argc, argv);
	if (r <= 0)
		return r < 0 ? EXIT_USAGE : 0;
	args = argv + optind;
	n = (size_t)(argc - optind);
	if (n == 0) {
		fprintf(stderr, "vigilctl: missing command. See --help.\n");
		return EXIT_USAGE;
	}
	if (streq(args[0], "status") && n == 1)
		return cmd_status();
	if (streq(args[0], "events") && n == 1)
		return cmd_events();
	if (streq(args[0], "reload") && n == 1)
		return cmd_reload();
	if (streq(args[0], "policy") && n == 2 && streq(args[1], "list"))
		return cmd_policy_list();
	if (streq(args[0], "policy") && n >= 2 && streq(args[1], "validate"))
		return cmd_policy_validate(args + 2, n - 2);
	if (streq(args[0], "config") && n == 2 && streq(args[1], "cat"))
		return cmd_config_cat();
	if (streq(args[0], "config") && n == 2 && streq(args[1], "validate"))
		return cmd_config_validate();
	fprintf(stderr, "vigilctl: unknown command or arguments '%s'. See --help.\n", args[0]);
	return EXIT_USAGE;
}

int main(int argc, char *argv[])
{
	int r = run(argc, argv);

	strv_free(arg_types);
	return r;
}
