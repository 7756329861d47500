/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * out_journald: one journal entry per record through sd_journal_sendv(), with MESSAGE = the
 * compact line, a MESSAGE_ID per event type and VIGIL_* fields. Field list: docs/outputs.md.
 */
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
/* Source locations of this plugin are noise in event entries. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>
#include <vigil/plugin.h>

#include "common/json.h"
#include "common/record_view.h"
#include "util/macro.h"

/* sd_journal_sendv() reports success when this socket is missing, so we look first. */
#define JOURNALD_SOCKET "/run/systemd/journal/socket"

/* MESSAGE_IDs, fixed forever (generated once from /proc/sys/kernel/random/uuid). */
#define MESSAGE_ID_EXEC	      "394187e803e34d6c855efe70573fb8e1"
#define MESSAGE_ID_EXIT	      "3acb421272df4fd5bb34b878c04cc5a8"
#define MESSAGE_ID_CLONE      "c172132d0af34cd5b0f7622952d60d19"
#define MESSAGE_ID_LOSS	      "935d222cbdb44bff8b408ee8d9718484"
#define MESSAGE_ID_KPROBE     "b4f84d7a17a8465f870cb44aff85750e"
#define MESSAGE_ID_TRACEPOINT "8394c66445f04adbad1e6f4066900173"

#define ARGV_FIELDS_MAX 64

struct field {
	size_t off, len;
};

struct journald_out {
	const struct vigil_host *host;
	bool with_json;
	bool failing;	  /* inside a burst of delivery failures: logged once */
	uint64_t dropped; /* records refused as too large */
	struct vbuf buf;  /* "NAME=value" fields back to back */
	struct vbuf line; /* scratch: compact line and JSON */
	struct field *fields;
	size_t n_fields, cap_fields;
	struct iovec *iov;
};

static const char *const journald_keys[] = {"Fields", NULL};

static int add_field(struct journald_out *j, const char *name, const void *value, size_t len)
{
	size_t nl = strlen(name), off = j->buf.len;
	int r;

	if (j->n_fields == j->cap_fields) {
		size_t cap = j->cap_fields ? j->cap_fields * 2 : 64;
		struct field *f = realloc(j->fields, cap * sizeof(*f));
		struct iovec *iov = realloc(j->iov, cap * sizeof(*iov));

		if (f)
			j->fields = f;
		if (iov)
			j->iov = iov;
		if (!f || !iov)
			return -ENOMEM;
		j->cap_fields = cap;
	}
	r = vbuf_reserve(&j->buf, nl + 1 + len);
	if (r < 0)
		return r;
	memcpy(j->buf.data + j->buf.len, name, nl);
	j->buf.data[j->buf.len + nl] = '=';
	if (len)
		memcpy(j->buf.data + j->buf.len + nl + 1, value, len);
	j->buf.len += nl + 1 + len;
	j->fields[j->n_fields++] = (struct field){off, nl + 1 + len};
	return 0;
}

static int add_str(struct journald_out *j, const char *name, const char *s)
{
	return add_field(j, name, s, strlen(s));
}

static int add_uint(struct journald_out *j, const char *name, uint64_t v)
{
	char tmp[24];
	return add_field(j, name, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%" PRIu64, v));
}

static int copy_str(struct journald_out *j, const char *name, struct mp_span map, const char *key)
{
	const char *s;
	size_t n;

	if (rv_get_str(map, key, &s, &n) < 0)
		return 0;
	return add_field(j, name, s, n);
}

static int copy_uint(struct journald_out *j, const char *name, struct mp_span map, const char *key)
{
	uint64_t v;

	if (rv_get_uint(map, key, &v) < 0)
		return 0;
	return add_uint(j, name, v);
}

static int add_process(struct journald_out *j, struct mp_span proc)
{
	struct mp_span v;
	int r = 0;

	r = r ?: copy_uint(j, "VIGIL_PID", proc, "pid");
	r = r ?: copy_uint(j, "VIGIL_TID", proc, "tid");
	r = r ?: copy_str(j, "VIGIL_EXEC_ID", proc, "exec_id");
	r = r ?: copy_str(j, "VIGIL_PARENT_EXEC_ID", proc, "parent_exec_id");
	r = r ?: copy_str(j, "VIGIL_BINARY", proc, "binary");
	r = r ?: copy_str(j, "VIGIL_ARGV", proc, "arguments");
	r = r ?: copy_str(j, "VIGIL_CWD", proc, "cwd");
	r = r ?: copy_uint(j, "VIGIL_UID", proc, "uid");
	r = r ?: copy_uint(j, "VIGIL_AUID", proc, "auid");
	r = r ?: copy_str(j, "VIGIL_UNIT", proc, "unit");
	r = r ?: copy_str(j, "VIGIL_CGROUP", proc, "cgroup");
	r = r ?: copy_str(j, "VIGIL_FLAGS", proc, "flags");
	if (r == 0 && rv_find(proc, "container", &v) >= 0)
		r = copy_str(j, "VIGIL_CONTAINER_ID", v, "id");
	if (r == 0 && rv_find(proc, "argv", &v) >= 0) {
		struct rv_iter it;
		const char *s;
		size_t n;
		unsigned i = 0;

		if (rv_array_open(v, &it) >= 0) {
			uint32_t argc = it.left;

			r = add_uint(j, "VIGIL_ARGC", argc);
			for (; r == 0 && i < ARGV_FIELDS_MAX && rv_array_next_str(&it, &s, &n) >= 0;
			     i++) {
				char name[24];
				snprintf(name, sizeof(name), "VIGIL_ARGV%u", i);
				r = add_field(j, name, s, n);
			}
		}
	}
	return r;
}

/* An enforcement (Sigkill, Signal, Override) was taken: the entry is a warning. */
static bool policy_enforced(struct mp_span body)
{
	const char *s;
	size_t n;

	if (rv_get_str(body, "action", &s, &n) < 0)
		return false;
	return !((n == 18 && memcmp(s, "KPROBE_ACTION_POST", 18) == 0) ||
		 (n == 20 && memcmp(s, "KPROBE_ACTION_NOPOST", 20) == 0));
}

static int add_policy(struct journald_out *j, struct mp_span body, bool kprobe)
{
	struct mp_span tags;
	int r = 0;

	r = r ?: copy_str(j, "VIGIL_POLICY", body, "policy_name");
	if (kprobe)
		r = r ?: copy_str(j, "VIGIL_FUNCTION", body, "function_name");
	else {
		r = r ?: copy_str(j, "VIGIL_SUBSYS", body, "subsys");
		/* VIGIL_EVENT already names the record type */
		r = r ?: copy_str(j, "VIGIL_TRACEPOINT", body, "event");
	}
	r = r ?: copy_str(j, "VIGIL_ACTION", body, "action");
	r = r ?: copy_str(j, "VIGIL_SIGNAL", body, "signal");
	r = r ?: copy_str(j, "VIGIL_POLICY_MESSAGE", body, "message");
	if (r == 0 && rv_find(body, "tags", &tags) >= 0) {
		struct rv_iter it;
		const char *s;
		size_t n;

		if (rv_array_open(tags, &it) >= 0)
			while (r == 0 && rv_array_next_str(&it, &s, &n) >= 0)
				r = add_field(j, "VIGIL_TAG", s, n);
	}
	return r;
}

/* Build the fields of one record. */
static int build(struct journald_out *j, const struct vigil_record *rec, bool with_json)
{
	struct mp_span body, proc, parent;
	const char *key, *msgid = NULL;
	size_t klen;
	uint32_t type;
	int64_t sec;
	uint32_t nsec;
	int r;

	j->buf.len = 0;
	j->n_fields = 0;

	r = rv_event(rec->data, rec->size, &key, &klen, &body);
	if (r < 0)
		return -EBADMSG;
	type = rv_event_type(key, klen);

	j->line.len = 0;
	r = compact_render(rec->data, rec->size, &j->line);
	if (r < 0)
		return r;
	r = add_field(j, "MESSAGE", j->line.data, j->line.len);
	if (type == VIGIL_RECORD_PROCESS_KPROBE || type == VIGIL_RECORD_PROCESS_TRACEPOINT)
		r = r ?: add_str(j, "PRIORITY", policy_enforced(body) ? "4" : "5");
	else
		r = r ?: add_str(j, "PRIORITY", type == VIGIL_RECORD_VIGIL_LOSS ? "4" : "6");
	r = r ?: add_str(j, "SYSLOG_IDENTIFIER", "vigil");
	switch (type) {
	case VIGIL_RECORD_PROCESS_EXEC:
		msgid = MESSAGE_ID_EXEC;
		break;
	case VIGIL_RECORD_PROCESS_EXIT:
		msgid = MESSAGE_ID_EXIT;
		break;
	case VIGIL_RECORD_PROCESS_CLONE:
		msgid = MESSAGE_ID_CLONE;
		break;
	case VIGIL_RECORD_VIGIL_LOSS:
		msgid = MESSAGE_ID_LOSS;
		break;
	case VIGIL_RECORD_PROCESS_KPROBE:
		msgid = MESSAGE_ID_KPROBE;
		break;
	case VIGIL_RECORD_PROCESS_TRACEPOINT:
		msgid = MESSAGE_ID_TRACEPOINT;
		break;
	}
	if (r == 0 && msgid)
		r = add_str(j, "MESSAGE_ID", msgid);
	r = r ?: add_field(j, "VIGIL_EVENT", key, klen);
	r = r ?: add_uint(j, "VIGIL_SEQ", rec->seq);
	r = r
		    ?: copy_str(j, "VIGIL_NODE_NAME", (struct mp_span){rec->data, rec->size},
				"node_name");
	if (r == 0 &&
	    rv_get_timestamp((struct mp_span){rec->data, rec->size}, "time", &sec, &nsec) >= 0) {
		j->line.len = 0;
		r = json_append_rfc3339(&j->line, sec, nsec);
		r = r ?: add_field(j, "VIGIL_TIME", j->line.data, j->line.len);
	}

	if (r == 0 && rv_find(body, "process", &proc) >= 0)
		r = add_process(j, proc);
	if (r == 0 && rv_find(body, "parent", &parent) >= 0) {
		r = copy_uint(j, "VIGIL_PPID", parent, "pid");
		r = r ?: copy_str(j, "VIGIL_PARENT_BINARY", parent, "binary");
	}
	if (r == 0 && type == VIGIL_RECORD_PROCESS_EXIT) {
		r = copy_uint(j, "VIGIL_STATUS", body, "status");
		r = r ?: copy_str(j, "VIGIL_SIGNAL", body, "signal");
	}
	if (r == 0 &&
	    (type == VIGIL_RECORD_PROCESS_KPROBE || type == VIGIL_RECORD_PROCESS_TRACEPOINT))
		r = add_policy(j, body, type == VIGIL_RECORD_PROCESS_KPROBE);
	if (r == 0 && type == VIGIL_RECORD_VIGIL_LOSS) {
		r = copy_str(j, "VIGIL_LOSS_STAGE", body, "stage");
		r = r ?: copy_uint(j, "VIGIL_LOSS_COUNT", body, "count");
		r = r ?: copy_uint(j, "VIGIL_LOSS_TOTAL", body, "total");
		r = r ?: copy_str(j, "VIGIL_LOSS_REASON", body, "reason");
		r = r ?: copy_str(j, "VIGIL_LOSS_OUTPUT", body, "output");
	}
	if (r == 0 && with_json) {
		j->line.len = 0;
		r = json_render(rec->data, rec->size, &j->line);
		r = r ?: add_field(j, "VIGIL_JSON", j->line.data, j->line.len);
	}
	if (r < 0)
		return r;

	for (size_t i = 0; i < j->n_fields; i++)
		j->iov[i] = (struct iovec){.iov_base = j->buf.data + j->fields[i].off,
					   .iov_len = j->fields[i].len};
	return 0;
}

static void journald_free(struct journald_out *j)
{
	if (!j)
		return;
	vbuf_done(&j->buf);
	vbuf_done(&j->line);
	free(j->fields);
	free(j->iov);
	free(j);
}

static int journald_init(const struct vigil_host *host, void **ret)
{
	struct journald_out *j;
	const char *v;

	v = host->cfg_get(host, "Journald", "Fields");
	if (v && !streq(v, "json") && !streq(v, "default"))
		return host->log(host, LOG_ERR, EINVAL,
				 "%s: [Journald] Fields='%s' is invalid, expected default or json",
				 strempty(host->cfg_location(host, "Journald", "Fields")), v);
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->host = host;
	j->with_json = v && streq(v, "json");
	*ret = j;
	return 0;
}

static enum vigil_status fail(struct journald_out *j, const struct vigil_batch *batch, uint32_t i,
			      uint8_t *results, int error, const char *why)
{
	if (!j->failing)
		j->host->log(j->host, LOG_WARNING, error,
			     "journald unreachable (%s), will retry: %m", why);
	j->failing = true;
	if (i == 0)
		return VIGIL_RETRY;
	/* Some records are in the journal already: re-send only the rest. */
	for (; i < batch->n_records; i++)
		if (results[i] == VIGIL_DELIVERED)
			results[i] = VIGIL_REDO;
	return VIGIL_OK;
}

static enum vigil_status journald_emit(void *instance, const struct vigil_batch *batch,
				       uint8_t *results)
{
	struct journald_out *j = instance;
	struct stat st;

	if (stat(JOURNALD_SOCKET, &st) < 0 || !S_ISSOCK(st.st_mode))
		return fail(j, batch, 0, results, errno ?: ENOTSOCK, JOURNALD_SOCKET " missing");

	for (uint32_t i = 0; i < batch->n_records; i++) {
		const struct vigil_record *rec = &batch->records[i];
		int r;

		r = build(j, rec, j->with_json);
		if (r == -ENOMEM)
			return fail(j, batch, i, results, r, "out of memory");
		if (r < 0) {
			results[i] = VIGIL_DROP;
			continue;
		}
		r = sd_journal_sendv(j->iov, (int)j->n_fields);
		if (r == -EMSGSIZE && j->with_json) {
			/* Too large for the socket: the whole record as JSON is the expendable
			 * part. */
			r = build(j, rec, false);
			if (r >= 0)
				r = sd_journal_sendv(j->iov, (int)j->n_fields);
		}
		if (r == -EMSGSIZE) {
			j->dropped++;
			j->host->log(j->host, LOG_WARNING, r,
				     "Record %" PRIu64 " too large for journald, dropped (%" PRIu64
				     " so far): %m",
				     rec->seq, j->dropped);
			results[i] = VIGIL_DROP;
			continue;
		}
		if (r < 0)
			return fail(j, batch, i, results, r, "send failed");
	}
	if (j->failing)
		j->host->log(j->host, LOG_INFO, 0, "journald reachable again");
	j->failing = false;
	return VIGIL_OK;
}

static enum vigil_status journald_flush(void *instance, uint64_t timeout_usec)
{
	return VIGIL_OK; /* every entry is sent synchronously in emit() */
}

static enum vigil_status journald_probe(void *instance)
{
	struct stat st;

	return stat(JOURNALD_SOCKET, &st) >= 0 && S_ISSOCK(st.st_mode) ? VIGIL_OK : VIGIL_RETRY;
}

static void journald_fini(void *instance)
{
	journald_free(instance);
}

VIGIL_PLUGIN_DEFINE(.kind = VIGIL_PLUGIN_OUTPUT, .name = "journald",
		    .description = "systemd journal entries with VIGIL_* fields",
		    .section = "Journald", .keys = journald_keys, .init = journald_init,
		    .emit = journald_emit, .flush = journald_flush, .probe = journald_probe,
		    .fini = journald_fini);
