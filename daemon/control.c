/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket (docs/control.md). Protocol: the client sends one JSON object on one line
 * ({"command":"status"}), the daemon answers with one JSON object on one line
 * ({"ok":true,...} or {"ok":false,"error":"...","errno":"EPERM"}) and closes, except for
 * "events", where the answer is followed by one line per matching record
 * ({"seq":N,"type":"process_exec","record":"<base64 msgpack>"}) and, after records were skipped
 * for a slow reader, a notice line ({"skipped":N,"skipped_total":M}).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <time.h>

#include <json-c/json.h>

#include <vigil/plugin.h>

#include "bpf/policy.h"
#include "control.h"
#include "log.h"
#include "plugin_host.h"
#include "policy.h"
#include "policy_compile.h"
#include "policy_engine.h"
#include "plugins/common/json.h"
#include "plugins/common/record_view.h"

#define CONTROL_SOCKET_NAME    "control.sock"
#define CONTROL_MAX_CLIENTS    64
#define CONTROL_REQUEST_MAX    (64 * 1024)
#define CONTROL_BUFFER_DEFAULT (1024 * 1024)
#define FIELD_MAX	       4096
/* A client must send its request within this time (clients are few: CONTROL_MAX_CLIENTS). */
#define CONTROL_REQUEST_TIMEOUT_USEC (10 * USEC_PER_SEC)

enum client_state {
	CLIENT_REQUEST, /* reading the request line */
	CLIENT_REPLY,	/* writing the answer, then close */
	CLIENT_STREAM,	/* events subscriber */
};

struct control_client {
	struct control *ctl;
	int fd;
	sd_event_source *io;
	sd_event_source *timer; /* request timeout */
	struct ucred cred;
	bool privileged; /* root (or the daemon's own uid): may reload */
	enum client_state state;
	char *in;
	size_t in_len;
	struct vbuf out;
	size_t out_off;
	uint32_t events_armed; /* the epoll mask currently set */

	/* events filters */
	uint64_t types; /* bit per VIGIL_RECORD_* */
	bool has_binary;
	regex_t binary;
	char *unit;
	char *container;
	uint64_t skipped; /* records skipped since the last notice */
	uint64_t skipped_total;
};

struct control {
	sd_event *event;
	sd_event_source *listen_source;
	int listen_fd;
	char *path;
	gid_t gid;
	bool has_group;
	size_t buffer_max;
	struct control_ops ops;
	void *userdata;
	uint64_t start_mono_usec;
	uint64_t start_real_usec;

	struct control_client *clients[CONTROL_MAX_CLIENTS];
	size_t n_clients;
	size_t n_subscribers;
	uint64_t refused;
	struct vbuf line; /* the current record's line, built once for every subscriber */
};

static uint64_t now_usec(clockid_t id)
{
	struct timespec ts;

	(void)clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

static void client_free(struct control_client *cl)
{
	struct control *c;

	if (!cl)
		return;
	c = cl->ctl;
	for (size_t i = 0; i < c->n_clients; i++)
		if (c->clients[i] == cl) {
			c->clients[i] = c->clients[--c->n_clients];
			break;
		}
	if (cl->state == CLIENT_STREAM && c->n_subscribers > 0)
		c->n_subscribers--;
	sd_event_source_disable_unref(cl->io);
	sd_event_source_disable_unref(cl->timer);
	if (cl->fd >= 0)
		(void)close(cl->fd);
	if (cl->has_binary)
		regfree(&cl->binary);
	free(cl->unit);
	free(cl->container);
	free(cl->in);
	vbuf_done(&cl->out);
	free(cl);
}

static size_t client_pending(const struct control_client *cl)
{
	return cl->out.len - cl->out_off;
}

static void client_arm(struct control_client *cl)
{
	uint32_t ev = EPOLLIN | (client_pending(cl) > 0 ? EPOLLOUT : 0);

	if (ev == cl->events_armed)
		return;
	if (sd_event_source_set_io_events(cl->io, ev) >= 0)
		cl->events_armed = ev;
}

/* Write what is pending. Returns 0 (maybe more left), or -errno when the client is gone. */
static int client_flush(struct control_client *cl)
{
	while (client_pending(cl) > 0) {
		ssize_t n = send(cl->fd, cl->out.data + cl->out_off, client_pending(cl),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -errno;
		}
		cl->out_off += (size_t)n;
	}
	if (cl->out_off == cl->out.len)
		cl->out.len = cl->out_off = 0;
	else if (cl->out_off > cl->out.len / 2) {
		memmove(cl->out.data, cl->out.data + cl->out_off, client_pending(cl));
		cl->out.len -= cl->out_off;
		cl->out_off = 0;
	}
	return 0;
}

/* Queue a JSON object (consumed) as the reply line. */
static int client_reply(struct control_client *cl, json_object *o)
{
	const char *s;
	int r;

	if (!o)
		return -ENOMEM;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	r = s ? vbuf_append_str(&cl->out, s) : -ENOMEM;
	if (r >= 0)
		r = vbuf_putc(&cl->out, '\n');
	json_object_put(o);
	return r;
}

static int client_error(struct control_client *cl, int error, const char *fmt, ...) _printf_(3, 4);
static int client_error(struct control_client *cl, int error, const char *fmt, ...)
{
	json_object *o = json_object_new_object();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "ok", json_object_new_boolean(false));
	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(o, "errno", json_object_new_string(strerrorname_np(error) ?: "EIO"));
	cl->state = CLIENT_REPLY;
	return client_reply(cl, o);
}

static json_object *json_u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

/* ---- status ---- */

static json_object *status_outputs(struct plugin_host *h)
{
	json_object *arr = json_object_new_array();
	size_t n = h ? plugin_host_n_outputs(h) : 0;

	for (size_t i = 0; arr && i < n; i++) {
		json_object *o = json_object_new_object(), *sp;
		struct output_stats st;
		const char *health;

		if (!o)
			break;
		plugin_host_stats(h, i, &st);
		health = st.abandoned ? "abandoned" : st.paused ? "paused" : "ok";
		json_object_object_add(o, "name", json_object_new_string(strempty(st.name)));
		json_object_object_add(o, "plugin", json_object_new_string(strempty(st.plugin)));
		json_object_object_add(o, "health", json_object_new_string(health));
		json_object_object_add(o, "delivered", json_u64(st.delivered));
		json_object_object_add(o, "retried", json_u64(st.retried));
		json_object_object_add(o, "dropped", json_u64(st.dropped));
		json_object_object_add(o, "queue_dropped", json_u64(st.queue_dropped));
		json_object_object_add(o, "filtered", json_u64(st.filtered));
		json_object_object_add(o, "queue", json_u64(st.in_queue));
		json_object_object_add(o, "last_error_usec", json_u64(st.last_error_usec));
		sp = json_object_new_object();
		if (sp) {
			json_object_object_add(sp, "enabled", json_object_new_boolean(st.spool));
			json_object_object_add(sp, "records", json_u64(st.spool_records));
			json_object_object_add(sp, "bytes", json_u64(st.spool_bytes));
			json_object_object_add(sp, "dropped", json_u64(st.spool_dropped));
			json_object_object_add(sp, "corrupt", json_u64(st.spool_corrupt));
		}
		json_object_object_add(o, "spool", sp);
		json_object_array_add(arr, o);
	}
	return arr;
}

static json_object *status_policies(struct policy_engine *e)
{
	static const char *const act[_VIGIL_ACT_MAX] = {
		[VIGIL_ACT_NONE] = "rate_limited", [VIGIL_ACT_POST] = "post",
		[VIGIL_ACT_NOPOST] = "nopost",	   [VIGIL_ACT_SIGKILL] = "sigkill",
		[VIGIL_ACT_SIGNAL] = "signal",	   [VIGIL_ACT_OVERRIDE] = "override",
	};
	struct policy_engine_status ps;
	json_object *o = json_object_new_object(), *a;

	if (!o)
		return NULL;
	policy_engine_status(e, &ps);
	json_object_object_add(o, "running", json_u64(ps.n_policies));
	json_object_object_add(o, "failed", json_u64(ps.n_failed));
	json_object_object_add(o, "hooks", json_u64(ps.n_hooks));
	a = json_object_new_object();
	for (size_t i = 0; a && i < _VIGIL_ACT_MAX; i++)
		if (act[i])
			json_object_object_add(a, act[i], json_u64(ps.actions[i]));
	json_object_object_add(o, "actions", a);
	return o;
}

static int handle_status(struct control *c, struct control_client *cl)
{
	struct control_snapshot s = {};
	json_object *o, *k, *f, *sens, *ev, *loss;
	struct utsname u;

	c->ops.snapshot(c->userdata, &s);
	o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "ok", json_object_new_boolean(true));
	json_object_object_add(o, "version", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(o, "node_name", json_object_new_string(strempty(s.node_name)));
	json_object_object_add(o, "pid", json_object_new_int64(getpid()));
	json_object_object_add(o, "start_time_usec", json_u64(c->start_real_usec));
	json_object_object_add(o, "uptime_usec",
			       json_u64(now_usec(CLOCK_MONOTONIC) - c->start_mono_usec));

	k = json_object_new_object();
	if (k) {
		json_object_object_add(k, "release",
				       json_object_new_string(uname(&u) >= 0 ? u.release : ""));
		f = json_object_new_object();
		if (f) {
			/* The base sensor needs BTF, tp_btf and the BPF ring buffer (bpf_loader).
			 */
			json_object_object_add(f, "btf", json_object_new_boolean(true));
			json_object_object_add(f, "ring_buffer", json_object_new_boolean(true));
			if (s.policy_env) {
				json_object_object_add(
					f, "kprobes",
					json_object_new_boolean(s.policy_env->have_kprobes));
				json_object_object_add(
					f, "bpf_lsm",
					json_object_new_boolean(s.policy_env->have_lsm));
				json_object_object_add(
					f, "cgroup_set_retval",
					json_object_new_boolean(s.policy_env->have_set_retval));
			}
		}
		json_object_object_add(k, "features", f);
		json_object_object_add(k, "ring_buffer_bytes", json_u64(s.ringbuf_size));
	}
	json_object_object_add(o, "kernel", k);

	sens = json_object_new_array();
	if (sens) {
		json_object_array_add(sens, json_object_new_string("process_exec"));
		json_object_array_add(sens, json_object_new_string("process_exit"));
		if (s.clone_events)
			json_object_array_add(sens, json_object_new_string("process_clone"));
	}
	json_object_object_add(o, "sensors", sens);

	ev = json_object_new_object();
	if (ev) {
		json_object_object_add(ev, "decoded", json_u64(s.events_in));
		json_object_object_add(ev, "records", json_u64(s.records_out));
		json_object_object_add(ev, "last_seq", json_u64(s.seq));
		json_object_object_add(ev, "process_cache", json_u64(s.procs));
	}
	json_object_object_add(o, "events", ev);

	loss = json_object_new_object();
	for (size_t i = 0; loss && i < s.n_loss; i++)
		json_object_object_add(loss, s.loss_stages[i], json_u64(s.loss[i]));
	if (loss)
		json_object_object_add(loss, "kernel_ring_buffer_now", json_u64(s.kernel_drops));
	json_object_object_add(o, "loss", loss);

	json_object_object_add(o, "policies", status_policies(s.policies));
	json_object_object_add(o, "outputs", status_outputs(s.host));

	f = json_object_new_object();
	if (f) {
		json_object_object_add(f, "clients", json_u64(c->n_clients));
		json_object_object_add(f, "subscribers", json_u64(c->n_subscribers));
		json_object_object_add(f, "refused", json_u64(c->refused));
	}
	json_object_object_add(o, "control", f);

	cl->state = CLIENT_REPLY;
	return client_reply(cl, o);
}

/* ---- policy list ---- */

/*
 * Names of the policies the engine has hooks of. The engine has no per-policy listing, so this
 * walks the hook ids (assigned in increasing order, never reused) with policy_engine_hook().
 * Hooks of a policy's previous version stay known until the next reload, so this answers "is a
 * version of this policy running". Returns a NULL-terminated array of borrowed names (valid
 * until the next apply) or NULL.
 */
static const char **policy_running_names(struct policy_engine *e)
{
	const char **names = NULL;
	size_t n = 0, misses = 0;

	for (uint32_t id = 1; id < (1U << 24) && misses < (1U << 20); id++) {
		const char *pname = NULL, **t;
		bool seen = false;

		if (!policy_engine_hook(e, id, &pname) || !pname) {
			misses++;
			continue;
		}
		misses = 0;
		for (size_t i = 0; i < n && !seen; i++)
			seen = names[i] == pname || streq(names[i], pname);
		if (seen)
			continue;
		t = realloc(names, (n + 2) * sizeof(*names));
		if (!t)
			break;
		names = t;
		names[n++] = pname;
		names[n] = NULL;
	}
	return names;
}

static bool names_contain(const char **names, const char *name)
{
	for (size_t i = 0; names && names[i]; i++)
		if (streq(names[i], name))
			return true;
	return false;
}

static json_object *policy_entry(const char *name, const char *file, size_t hooks,
				 const char *state, const char *error)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "name", name ? json_object_new_string(name) : NULL);
	json_object_object_add(o, "file", json_object_new_string(strempty(file)));
	json_object_object_add(o, "hooks", json_u64(hooks));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "error", error ? json_object_new_string(error) : NULL);
	return o;
}

static int handle_policy_list(struct control *c, struct control_client *cl)
{
	_cleanup_(policy_set_freep) struct policy_set *set = NULL;
	_cleanup_free_ const char **running = NULL;
	struct control_snapshot s = {};
	json_object *o, *arr;
	int r;

	c->ops.snapshot(c->userdata, &s);
	running = policy_running_names(s.policies);
	r = policy_set_load(s.policy_dir_list, &set);
	if (r < 0)
		return client_error(cl, -r, "Failed to read the policy directories: %s",
				    strerror(-r));
	o = json_object_new_object();
	arr = json_object_new_array();
	if (!o || !arr) {
		json_object_put(o);
		json_object_put(arr);
		return -ENOMEM;
	}
	for (size_t i = 0; i < set->n_policies; i++) {
		const struct policy *p = set->policies[i];
		bool is_running = names_contain(running, p->name);

		json_object_array_add(
			arr, policy_entry(p->name, p->file, p->n_hooks,
					  is_running ? "running" : "inactive",
					  is_running ? NULL
						     : "not running: rejected at the last (re)load "
						       "(see the daemon log) or added since"));
	}
	for (char **f = set->failed_files; f && *f; f++)
		json_object_array_add(arr, policy_entry(NULL, *f, 0, "invalid",
							"the file has errors: see 'vigilctl policy "
							"validate' (a running version is kept)"));
	json_object_object_add(o, "ok", json_object_new_boolean(true));
	json_object_object_add(o, "directories",
			       json_object_new_string(strempty(s.policy_dir_list)));
	json_object_object_add(o, "policies", arr);
	cl->state = CLIENT_REPLY;
	return client_reply(cl, o);
}

/* ---- reload ---- */

static int handle_reload(struct control *c, struct control_client *cl)
{
	struct control_snapshot s = {};
	json_object *o;
	int r;

	if (!cl->privileged)
		return client_error(cl, EPERM, "Only root may reload the daemon.");
	log_info("Reload requested over the control socket (pid %d, uid %u).", (int)cl->cred.pid,
		 (unsigned)cl->cred.uid);
	r = c->ops.reload(c->userdata);
	if (r < 0)
		return client_error(cl, -r, "Reload failed: %s", strerror(-r));
	c->ops.snapshot(c->userdata, &s);
	o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "ok", json_object_new_boolean(true));
	json_object_object_add(o, "policies", status_policies(s.policies));
	cl->state = CLIENT_REPLY;
	return client_reply(cl, o);
}

/* ---- events ---- */

static int parse_types(json_object *a, uint64_t *ret)
{
	uint64_t mask = 0;

	if (!a) {
		*ret = UINT64_MAX;
		return 0;
	}
	if (!json_object_is_type(a, json_type_array))
		return -EINVAL;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);
		int t;

		if (!json_object_is_type(e, json_type_string))
			return -EINVAL;
		t = plugin_host_event_type(json_object_get_string(e));
		if (t < 0 || t >= 64)
			return -EINVAL;
		mask |= UINT64_C(1) << t;
	}
	*ret = mask ?: UINT64_MAX;
	return 0;
}

static const char *opt_string(json_object *req, const char *key, int *r)
{
	json_object *v;

	if (!json_object_object_get_ex(req, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0 ||
	    json_object_get_string_len(v) >= FIELD_MAX) {
		*r = -EINVAL;
		return NULL;
	}
	return json_object_get_string(v);
}

static int handle_events(struct control *c, struct control_client *cl, json_object *req)
{
	const char *binary, *unit, *container;
	json_object *types = NULL, *o;
	char err[256];
	int r = 0;

	(void)json_object_object_get_ex(req, "types", &types);
	if (parse_types(types, &cl->types) < 0)
		return client_error(cl, EINVAL,
				    "'types' must be a list of event names "
				    "(process_exec, process_exit, ...).");
	binary = opt_string(req, "binary", &r);
	unit = opt_string(req, "unit", &r);
	container = opt_string(req, "container", &r);
	if (r < 0)
		return client_error(cl, EINVAL, "Filters must be non-empty strings.");
	if (binary) {
		r = regcomp(&cl->binary, binary, REG_EXTENDED | REG_NOSUB);
		if (r != 0) {
			(void)regerror(r, &cl->binary, err, sizeof(err));
			return client_error(cl, EINVAL, "Bad --binary regular expression '%s': %s",
					    binary, err);
		}
		cl->has_binary = true;
	}
	if (unit && !(cl->unit = strdup(unit)))
		return -ENOMEM;
	if (container && !(cl->container = strdup(container)))
		return -ENOMEM;

	o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "ok", json_object_new_boolean(true));
	json_object_object_add(o, "stream", json_object_new_boolean(true));
	json_object_object_add(o, "buffer_bytes", json_u64(c->buffer_max));
	r = client_reply(cl, o);
	if (r < 0)
		return r;
	cl->state = CLIENT_STREAM;
	c->n_subscribers++;
	return 0;
}

/* Fields the filters look at, read once per record. */
struct record_fields {
	bool parsed;
	char binary[FIELD_MAX];
	const char *unit, *user_unit, *container;
	size_t unit_len, user_unit_len, container_len;
};

static void record_fields_parse(const uint8_t *data, size_t size, struct record_fields *f)
{
	struct mp_span body, proc, cont;
	const char *key, *s;
	size_t klen, n;

	f->parsed = true;
	if (rv_event(data, size, &key, &klen, &body) < 0 || rv_find(body, "process", &proc) < 0)
		return;
	if (rv_get_str(proc, "binary", &s, &n) >= 0 && n < sizeof(f->binary)) {
		memcpy(f->binary, s, n);
		f->binary[n] = '\0';
	}
	(void)rv_get_str(proc, "unit", &f->unit, &f->unit_len);
	(void)rv_get_str(proc, "user_unit", &f->user_unit, &f->user_unit_len);
	if (rv_find(proc, "container", &cont) >= 0)
		(void)rv_get_str(cont, "id", &f->container, &f->container_len);
}

static bool str_is(const char *s, size_t n, const char *want)
{
	return s && n == strlen(want) && memcmp(s, want, n) == 0;
}

static bool client_matches(const struct control_client *cl, const uint8_t *data, size_t size,
			   struct record_fields *f)
{
	if (!cl->has_binary && !cl->unit && !cl->container)
		return true;
	if (!f->parsed)
		record_fields_parse(data, size, f);
	if (cl->has_binary && (!f->binary[0] || regexec(&cl->binary, f->binary, 0, NULL, 0) != 0))
		return false;
	if (cl->unit && !str_is(f->unit, f->unit_len, cl->unit) &&
	    !str_is(f->user_unit, f->user_unit_len, cl->unit))
		return false;
	/* A container id or a prefix of it (docker's 12-character short form). */
	if (cl->container && (!f->container || strlen(cl->container) > f->container_len ||
			      memcmp(f->container, cl->container, strlen(cl->container)) != 0))
		return false;
	return true;
}

static int client_notice(struct control_client *cl)
{
	return vbuf_printf(&cl->out, "{\"skipped\":%" PRIu64 ",\"skipped_total\":%" PRIu64 "}\n",
			   cl->skipped, cl->skipped_total);
}

static void client_queue_record(struct control *c, struct control_client *cl)
{
	size_t need = c->line.len + (cl->skipped > 0 ? 64 : 0);

	if (client_pending(cl) + need > c->buffer_max) {
		cl->skipped++;
		cl->skipped_total++;
		return;
	}
	if (cl->skipped > 0) {
		if (client_notice(cl) < 0)
			return;
		cl->skipped = 0;
	}
	if (vbuf_append(&cl->out, c->line.data, c->line.len) < 0) {
		cl->skipped++;
		cl->skipped_total++;
		return;
	}
	client_arm(cl);
}

void control_publish(struct control *c, uint32_t type, uint64_t seq, const uint8_t *data,
		     size_t size)
{
	struct record_fields f;
	bool built = false;
	const char *name;

	if (!c || c->n_subscribers == 0)
		return;
	f.parsed = false;
	f.binary[0] = '\0';
	f.unit = f.user_unit = f.container = NULL;
	f.unit_len = f.user_unit_len = f.container_len = 0;
	for (size_t i = 0; i < c->n_clients; i++) {
		struct control_client *cl = c->clients[i];

		if (cl->state != CLIENT_STREAM || type >= 64 ||
		    !(cl->types & (UINT64_C(1) << type)))
			continue;
		if (!client_matches(cl, data, size, &f))
			continue;
		if (!built) {
			name = plugin_host_event_name(type);
			c->line.len = 0;
			if (vbuf_printf(&c->line,
					"{\"seq\":%" PRIu64 ",\"type\":\"%s\",\"record\":\"", seq,
					name ?: "unknown") < 0 ||
			    json_append_base64(&c->line, data, size) < 0 ||
			    vbuf_append_str(&c->line, "\"}\n") < 0)
				return;
			built = true;
		}
		client_queue_record(c, cl);
	}
}

/* ---- connection handling ---- */

static int client_dispatch(struct control *c, struct control_client *cl, const char *line)
{
	json_object *req, *cmd;
	const char *name;
	int r;

	req = json_tokener_parse(line);
	if (!req || !json_object_is_type(req, json_type_object) ||
	    !json_object_object_get_ex(req, "command", &cmd) ||
	    !json_object_is_type(cmd, json_type_string)) {
		json_object_put(req);
		return client_error(cl, EBADMSG,
				    "Malformed request: expected one JSON object with "
				    "a \"command\" string.");
	}
	name = json_object_get_string(cmd);
	if (streq(name, "status"))
		r = handle_status(c, cl);
	else if (streq(name, "events"))
		r = handle_events(c, cl, req);
	else if (streq(name, "policy-list"))
		r = handle_policy_list(c, cl);
	else if (streq(name, "reload"))
		r = handle_reload(c, cl);
	else if (streq(name, "ping")) {
		json_object *o = json_object_new_object();

		if (o)
			json_object_object_add(o, "ok", json_object_new_boolean(true));
		cl->state = CLIENT_REPLY;
		r = client_reply(cl, o);
	} else
		r = client_error(cl, EOPNOTSUPP, "Unknown command '%s'.", name);
	json_object_put(req);
	return r;
}

static int client_read(struct control *c, struct control_client *cl)
{
	char buf[4096], *nl;
	ssize_t n;

	/* Bounded: a client that keeps writing must not hold the main loop (the rest waits for the
	 * next iteration; the socket stays readable). */
	for (unsigned i = 0; i < 64; i++) {
		n = recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (n == 0)
			return -ECONNRESET;
		if (cl->state != CLIENT_REQUEST)
			continue; /* only the request line is read; the rest is ignored */
		if (cl->in_len + (size_t)n >= CONTROL_REQUEST_MAX)
			return client_error(cl, E2BIG, "Request too long.");
		memcpy(cl->in + cl->in_len, buf, (size_t)n);
		cl->in_len += (size_t)n;
		cl->in[cl->in_len] = '\0';
		nl = memchr(cl->in + cl->in_len - (size_t)n, '\n', (size_t)n);
		if (nl) {
			*nl = '\0'; /* an embedded NUL just truncates the request: it then fails */
			return client_dispatch(c, cl, cl->in);
		}
	}
	return 0;
}

static int on_client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control_client *cl = userdata;
	struct control *c = cl->ctl;
	int r = 0;

	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		r = client_read(c, cl);
	if (r >= 0 && client_pending(cl) > 0)
		r = client_flush(cl);
	if (r == -ECONNRESET && cl->state == CLIENT_REPLY && client_pending(cl) > 0)
		r = client_flush(cl); /* the peer shut its write side: still answer */
	if (r < 0 || (cl->state == CLIENT_REPLY && client_pending(cl) == 0)) {
		if (r < 0 && r != -ECONNRESET && r != -EPIPE)
			log_debug("Control client (pid %d) closed: %s", (int)cl->cred.pid,
				  strerror(-r));
		client_free(cl);
		return 0;
	}
	client_arm(cl);
	return 0;
}

static int on_client_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct control_client *cl = userdata;

	if (cl->state == CLIENT_REQUEST) {
		log_debug("Control client (pid %d) sent no request in time, closing.",
			  (int)cl->cred.pid);
		client_free(cl);
	}
	return 0;
}

static bool client_in_group(const struct control *c, int fd, const struct ucred *cred)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);

	if (!c->has_group)
		return false;
	if (cred->gid == c->gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == c->gid)
			return true;
	return false;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control *c = userdata;
	struct control_client *cl;
	socklen_t len = sizeof(struct ucred);
	int cfd, r;

	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_ratelimited(LOG_WARNING, "Failed to accept a control connection: %m");
		return 0;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl || !(cl->in = malloc(CONTROL_REQUEST_MAX))) {
		free(cl);
		(void)close(cfd);
		return 0;
	}
	cl->ctl = c;
	cl->fd = cfd;
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cl->cred, &len) < 0) {
		log_ratelimited(LOG_WARNING, "Failed to read control client credentials: %m");
		goto refuse_silently;
	}
	cl->privileged = cl->cred.uid == 0 || cl->cred.uid == geteuid();
	if (c->n_clients >= CONTROL_MAX_CLIENTS) {
		log_ratelimited(LOG_WARNING, "Too many control clients (%d), refusing pid %d.",
				CONTROL_MAX_CLIENTS, (int)cl->cred.pid);
		goto refuse_silently;
	}
	r = sd_event_add_io(c->event, &cl->io, cfd, EPOLLIN, on_client_io, cl);
	if (r < 0)
		goto refuse_silently;
	cl->events_armed = EPOLLIN;
	c->clients[c->n_clients++] = cl;
	r = sd_event_add_time_relative(c->event, &cl->timer, CLOCK_MONOTONIC,
				       CONTROL_REQUEST_TIMEOUT_USEC, USEC_PER_SEC,
				       on_client_timeout, cl);
	if (r < 0) {
		client_free(cl);
		return 0;
	}
	if (!cl->privileged && !client_in_group(c, cfd, &cl->cred)) {
		c->refused++;
		log_ratelimited(LOG_NOTICE, "Refused control client pid %d uid %u: not root%s.",
				(int)cl->cred.pid, (unsigned)cl->cred.uid,
				c->has_group ? " and not in SocketGroup=" : "");
		(void)client_error(cl, EACCES,
				   "Permission denied: the control socket is for root%s.",
				   c->has_group ? " and members of SocketGroup=" : "");
		client_arm(cl);
	}
	return 0;

refuse_silently:
	c->refused++;
	free(cl->in);
	free(cl);
	(void)close(cfd);
	return 0;
}

static int resolve_group(const char *name, gid_t *ret)
{
	struct group grp, *res = NULL;
	char buf[16384], *end;
	unsigned long v;

	errno = 0;
	v = strtoul(name, &end, 10);
	if (*name && !*end && errno == 0 && v < UINT32_MAX) {
		*ret = (gid_t)v;
		return 0;
	}
	if (getgrnam_r(name, &grp, buf, sizeof(buf), &res) != 0 || !res)
		return -ESRCH;
	*ret = res->gr_gid;
	return 0;
}

int control_new(sd_event *event, const struct control_options *o, const struct control_ops *ops,
		void *userdata, struct control **ret)
{
	_cleanup_(control_freep) struct control *c = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old_umask;
	int r;

	if (!event || !o || !o->runtime_dir || !ops || !ops->snapshot || !ops->reload || !ret)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return log_oom();
	c->listen_fd = -1;
	c->event = sd_event_ref(event);
	c->ops = *ops;
	c->userdata = userdata;
	c->buffer_max = o->client_buffer ?: CONTROL_BUFFER_DEFAULT;
	c->start_mono_usec = now_usec(CLOCK_MONOTONIC);
	c->start_real_usec = now_usec(CLOCK_REALTIME);

	if (!isempty(o->socket_group)) {
		r = resolve_group(o->socket_group, &c->gid);
		if (r < 0)
			return log_error_errno(r, "SocketGroup=%s: no such group.",
					       o->socket_group);
		c->has_group = true;
	}

	if (asprintf(&c->path, "%s/" CONTROL_SOCKET_NAME, o->runtime_dir) < 0) {
		c->path = NULL;
		return log_oom();
	}
	if (strlen(c->path) >= sizeof(sa.sun_path))
		return log_error_errno(SYNTHETIC_ERRNO(ENAMETOOLONG),
				       "Control socket path '%s' is too long.", c->path);
	strcpy(sa.sun_path, c->path);

	if (mkdir(o->runtime_dir, 0755) < 0 && errno != EEXIST)
		return log_error_errno(errno, "Failed to create runtime directory '%s': %m",
				       o->runtime_dir);

	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0)
		return log_error_errno(errno, "Failed to create the control socket: %m");
	/* A socket left by a previous run (kill -9) is stale: we hold the only pid file there is.
	 */
	if (unlink(c->path) < 0 && errno != ENOENT)
		return log_error_errno(errno, "Failed to remove stale '%s': %m", c->path);
	/* Created 0600 from the start: no window in which others could connect. */
	old_umask = umask(0177);
	r = bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	(void)umask(old_umask);
	if (r < 0)
		return log_error_errno(errno, "Failed to bind the control socket '%s': %m",
				       c->path);
	if (c->has_group) {
		if (chown(c->path, (uid_t)-1, c->gid) < 0 || chmod(c->path, 0660) < 0)
			return log_error_errno(errno, "Failed to give '%s' to group %s: %m",
					       c->path, o->socket_group);
	}
	if (listen(c->listen_fd, 16) < 0)
		return log_error_errno(errno, "Failed to listen on '%s': %m", c->path);
	r = sd_event_add_io(event, &c->listen_source, c->listen_fd, EPOLLIN, on_accept, c);
	if (r < 0)
		return log_error_errno(r, "Failed to watch the control socket: %m");
	log_debug("Control socket listening on '%s'.", c->path);
	*ret = TAKE_PTR(c);
	return 0;
}

struct control *control_free(struct control *c)
{
	if (!c)
		return NULL;
	while (c->n_clients > 0)
		client_free(c->clients[c->n_clients - 1]);
	sd_event_source_disable_unref(c->listen_source);
	if (c->listen_fd >= 0) {
		(void)close(c->listen_fd);
		if (c->path)
			(void)unlink(c->path);
	}
	free(c->path);
	vbuf_done(&c->line);
	sd_event_unref(c->event);
	free(c);
	return NULL;
}
