/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "record.h"
#include "util/macro.h"

/* Worst case of "arguments": every byte escaped plus quotes and separators. */
#define ARGS_SCRATCH (4 * VIGIL_ARGS_MAX + 64)

struct record_encoder {
	msgpack_sbuffer sbuf;
	msgpack_packer pk;
	char *node_name;
	size_t node_name_len;
	bool ancestors;
	int64_t boot_offset_ns;
	char *scratch; /* arguments */
};

int record_encoder_new(const char *node_name, bool ancestors, struct record_encoder **ret)
{
	struct record_encoder *r;
	int k;

	if (!node_name || !ret)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	msgpack_sbuffer_init(&r->sbuf);
	msgpack_packer_init(&r->pk, &r->sbuf, msgpack_sbuffer_write);
	r->node_name = strdup(node_name);
	r->node_name_len = strlen(node_name);
	r->ancestors = ancestors;
	r->scratch = malloc(ARGS_SCRATCH);
	if (!r->node_name || !r->scratch) {
		record_encoder_free(r);
		return -ENOMEM;
	}
	k = clock_boot_offset(&r->boot_offset_ns);
	if (k < 0) {
		record_encoder_free(r);
		return k;
	}
	*ret = r;
	return 0;
}

struct record_encoder *record_encoder_free(struct record_encoder *r)
{
	if (!r)
		return NULL;
	msgpack_sbuffer_destroy(&r->sbuf);
	free(r->node_name);
	free(r->scratch);
	free(r);
	return NULL;
}

void record_encoder_set_boot_offset(struct record_encoder *r, int64_t offset_ns)
{
	r->boot_offset_ns = offset_ns;
}

/* ---- formatting helpers ---- */

static bool arg_needs_quotes(const char *a, size_t n)
{
	if (n == 0)
		return true; /* keep empty arguments visible */
	for (size_t i = 0; i < n; i++)
		if (a[i] == ' ' || a[i] == '"' || a[i] == '\'' || a[i] == '\t' || a[i] == '\n' ||
		    a[i] == '\\')
			return true;
	return false;
}

size_t record_format_arguments(const char *args, size_t args_len, char *buf, size_t bufsize)
{
	size_t o = 0, i = 0, idx = 0;

#define OUT(ch)                                                                                    \
	do {                                                                                       \
		if (o + 1 < bufsize)                                                               \
			buf[o++] = (ch);                                                           \
	} while (0)

	while (i < args_len) {
		const char *a = args + i;
		const char *nul = memchr(a, 0, args_len - i);
		size_t n = nul ? (size_t)(nul - a) : args_len - i;

		if (idx > 0) {
			if (idx > 1)
				OUT(' ');
			if (arg_needs_quotes(a, n)) {
				OUT('"');
				for (size_t j = 0; j < n; j++) {
					if (a[j] == '"' || a[j] == '\\')
						OUT('\\');
					OUT(a[j]);
				}
				OUT('"');
			} else
				for (size_t j = 0; j < n; j++)
					OUT(a[j]);
		}
		idx++;
		i += n + 1;
	}
#undef OUT
	if (bufsize)
		buf[o] = 0;
	return o;
}

static const struct {
	uint32_t flag;
	const char *word;
} flag_words[] = {
	{PROC_F_EXECVE, "execve"},
	{PROC_F_PROCFS, "procFS"},
	{PROC_F_CLONE, "clone"},
	{PROC_F_TRUNC_ARGS, "truncArgs"},
	{PROC_F_TRUNC_BINARY, "truncBinary"},
	{PROC_F_TRUNC_CWD, "truncCwd"},
	{PROC_F_ERROR_ARGS, "errorArgs"},
	{PROC_F_ERROR_BINARY, "errorBinary"},
	{PROC_F_ERROR_CWD, "errorCwd"},
	{PROC_F_MISS, "miss"},
};

size_t record_format_flags(uint32_t flags, char *buf, size_t bufsize)
{
	size_t o = 0;

	if (bufsize == 0)
		return 0;
	buf[0] = 0;
	for (size_t i = 0; i < ELEMENTSOF(flag_words); i++) {
		size_t n;

		if (!(flags & flag_words[i].flag))
			continue;
		n = strlen(flag_words[i].word);
		if (o + (o ? 1 : 0) + n + 1 > bufsize)
			break;
		if (o)
			buf[o++] = ' ';
		memcpy(buf + o, flag_words[i].word, n + 1);
		o += n;
	}
	return o;
}

/* ---- packing ---- */

static void pack_strn(msgpack_packer *pk, const char *s, size_t n)
{
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

#define pack_lit(pk, lit) pack_strn((pk), (lit), sizeof(lit) - 1)

static void pack_cstr(msgpack_packer *pk, const char *s)
{
	pack_strn(pk, s, strlen(s));
}

/* msgpack timestamp extension (-1), always the 96-bit form: u32 nsec, s64 sec, big endian. */
static void pack_time(msgpack_packer *pk, int64_t ns)
{
	int64_t sec = ns / (int64_t)NSEC_PER_SEC;
	int64_t rem = ns % (int64_t)NSEC_PER_SEC;
	uint8_t b[12];
	uint32_t nsec;
	uint64_t sec_bits;

	if (rem < 0) {
		rem += NSEC_PER_SEC;
		sec--;
	}
	nsec = (uint32_t)rem;
	sec_bits = (uint64_t)sec;
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(nsec >> (24 - 8 * i));
	for (int i = 0; i < 8; i++)
		b[4 + i] = (uint8_t)(sec_bits >> (56 - 8 * i));
	msgpack_pack_ext(pk, sizeof(b), -1);
	msgpack_pack_ext_body(pk, b, sizeof(b));
}

static void pack_span(msgpack_packer *pk, const char *base, struct cgroup_span s)
{
	pack_strn(pk, base + s.off, s.len);
}

static void pack_process(struct record_encoder *r, const struct proc_entry *p, uint32_t tid)
{
	msgpack_packer *pk = &r->pk;
	char flags[160];
	size_t flags_len, args_len;
	bool in_container = p->cg.runtime != CONTAINER_RUNTIME_NONE && p->cg.container_id.len;
	uint32_t n = 10; /* exec_id pid tid uid flags start_time auid creds argv argv_truncated */

	args_len = p->argc > 1
			   ? record_format_arguments(p->args, p->args_len, r->scratch, ARGS_SCRATCH)
			   : 0;
	flags_len = record_format_flags(p->flags, flags, sizeof(flags));
	n += p->cwd_len > 0;
	n += p->binary_len > 0;
	n += args_len > 0;
	n += in_container * 2; /* docker, container */
	n += p->parent_exec_id_len > 0;
	n += p->cg.unit.len > 0;
	n += p->cg.user_unit.len > 0;
	n += p->cg.slice.len > 0;
	n += p->cgroup_len > 0;
	n += p->cgroup_id != 0;

	msgpack_pack_map(pk, n);
	pack_lit(pk, "exec_id");
	pack_strn(pk, p->exec_id, p->exec_id_len);
	pack_lit(pk, "pid");
	msgpack_pack_uint32(pk, p->pid);
	pack_lit(pk, "tid");
	msgpack_pack_uint32(pk, tid);
	pack_lit(pk, "uid");
	msgpack_pack_uint32(pk, p->euid);
	if (p->cwd_len) {
		pack_lit(pk, "cwd");
		pack_strn(pk, p->cwd, p->cwd_len);
	}
	if (p->binary_len) {
		pack_lit(pk, "binary");
		pack_strn(pk, p->binary, p->binary_len);
	}
	if (args_len) {
		pack_lit(pk, "arguments");
		pack_strn(pk, r->scratch, args_len);
	}
	pack_lit(pk, "flags");
	pack_strn(pk, flags, flags_len);
	pack_lit(pk, "start_time");
	pack_time(pk, (int64_t)p->start_boottime + r->boot_offset_ns);
	pack_lit(pk, "auid");
	msgpack_pack_uint32(pk, p->auid);
	if (in_container) {
		pack_lit(pk, "docker");
		pack_strn(pk, p->cgroup + p->cg.container_id.off, MIN(p->cg.container_id.len, 31));
	}
	if (p->parent_exec_id_len) {
		pack_lit(pk, "parent_exec_id");
		pack_strn(pk, p->parent_exec_id, p->parent_exec_id_len);
	}
	pack_lit(pk, "process_credentials");
	msgpack_pack_map(pk, 4);
	pack_lit(pk, "uid");
	msgpack_pack_uint32(pk, p->uid);
	pack_lit(pk, "gid");
	msgpack_pack_uint32(pk, p->gid);
	pack_lit(pk, "euid");
	msgpack_pack_uint32(pk, p->euid);
	pack_lit(pk, "egid");
	msgpack_pack_uint32(pk, p->egid);

	pack_lit(pk, "argv");
	msgpack_pack_array(pk, p->argc);
	for (size_t i = 0, k = 0; i < p->args_len && k < p->argc; k++) {
		const char *a = p->args + i;
		const char *nul = memchr(a, 0, p->args_len - i);
		size_t l = nul ? (size_t)(nul - a) : p->args_len - i;

		pack_strn(pk, a, l);
		i += l + 1;
	}
	pack_lit(pk, "argv_truncated");
	if (p->argv_truncated)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);

	if (p->cg.unit.len) {
		pack_lit(pk, "unit");
		pack_span(pk, p->cgroup, p->cg.unit);
	}
	if (p->cg.user_unit.len) {
		pack_lit(pk, "user_unit");
		pack_span(pk, p->cgroup, p->cg.user_unit);
	}
	if (p->cg.slice.len) {
		pack_lit(pk, "slice");
		pack_span(pk, p->cgroup, p->cg.slice);
	}
	if (p->cgroup_len) {
		pack_lit(pk, "cgroup");
		pack_strn(pk, p->cgroup, p->cgroup_len);
	}
	if (p->cgroup_id) {
		pack_lit(pk, "cgroup_id");
		msgpack_pack_uint64(pk, p->cgroup_id);
	}
	if (in_container) {
		bool pod = p->cg.pod_uid[0] != 0;

		pack_lit(pk, "container");
		msgpack_pack_map(pk, 2 + pod);
		pack_lit(pk, "id");
		pack_span(pk, p->cgroup, p->cg.container_id);
		pack_lit(pk, "runtime");
		pack_cstr(pk, container_runtime_to_string(p->cg.runtime));
		if (pod) {
			pack_lit(pk, "pod_uid");
			pack_cstr(pk, p->cg.pod_uid);
		}
	}
}

/*
 * Opens the top-level map and the event map and writes process, parent and ancestors; the
 * caller appends `extra` more keys to the event map, then calls finish().
 */
static void begin_process_event(struct record_encoder *r, const char *key, size_t key_len,
				uint32_t tid, struct proc_cache *c, const struct proc_entry *p,
				uint32_t extra)
{
	const struct proc_entry *anc[RECORD_ANCESTORS_MAX];
	const struct proc_entry *parent = c ? proc_cache_parent(c, p) : NULL;
	msgpack_packer *pk = &r->pk;
	size_t n_anc = 0;

	if (r->ancestors && parent) {
		const struct proc_entry *a = parent;

		while (n_anc < RECORD_ANCESTORS_MAX) {
			a = proc_cache_parent(c, a);
			if (!a || a == p)
				break;
			anc[n_anc++] = a;
		}
	}

	msgpack_sbuffer_clear(&r->sbuf);
	msgpack_pack_map(pk, 3);
	pack_strn(pk, key, key_len);
	msgpack_pack_map(pk, 1 + (parent != NULL) + (n_anc > 0) + extra);
	pack_lit(pk, "process");
	pack_process(r, p, tid);
	if (parent) {
		pack_lit(pk, "parent");
		pack_process(r, parent, parent->pid);
	}
	if (n_anc > 0) {
		pack_lit(pk, "ancestors");
		msgpack_pack_array(pk, n_anc);
		for (size_t i = 0; i < n_anc; i++)
			pack_process(r, anc[i], anc[i]->pid);
	}
}

static int finish(struct record_encoder *r, uint64_t time_ns, const uint8_t **ret_data,
		  size_t *ret_size)
{
	msgpack_packer *pk = &r->pk;

	pack_lit(pk, "node_name");
	pack_strn(pk, r->node_name, r->node_name_len);
	pack_lit(pk, "time");
	pack_time(pk, (int64_t)time_ns);
	/* msgpack_sbuffer_write() reports allocation failure by leaving data NULL */
	if (!r->sbuf.data)
		return -ENOMEM;
	*ret_data = (const uint8_t *)r->sbuf.data;
	*ret_size = r->sbuf.size;
	return 0;
}

int record_encode_exec(struct record_encoder *r, uint64_t time_ns, uint32_t tid,
		       struct proc_cache *c, const struct proc_entry *p, const uint8_t **ret_data,
		       size_t *ret_size)
{
	if (!r || !p)
		return -EINVAL;
	begin_process_event(r, "process_exec", strlen("process_exec"), tid, c, p, 0);
	return finish(r, time_ns, ret_data, ret_size);
}

int record_encode_clone(struct record_encoder *r, uint64_t time_ns, uint32_t tid,
			struct proc_cache *c, const struct proc_entry *p, const uint8_t **ret_data,
			size_t *ret_size)
{
	if (!r || !p)
		return -EINVAL;
	begin_process_event(r, "process_clone", strlen("process_clone"), tid, c, p, 0);
	return finish(r, time_ns, ret_data, ret_size);
}

int record_encode_exit(struct record_encoder *r, uint64_t time_ns, uint32_t tid,
		       struct proc_cache *c, const struct proc_entry *p, uint32_t exit_code,
		       const uint8_t **ret_data, size_t *ret_size)
{
	msgpack_packer *pk;
	uint32_t sig = exit_code & 0x7f, status = 0;
	char signame[32] = "";

	if (!r || !p)
		return -EINVAL;
	pk = &r->pk;
	if (sig == 0)
		status = (exit_code >> 8) & 0xff;
	else {
		const char *abbrev = sigabbrev_np((int)sig);

		if (abbrev)
			snprintf(signame, sizeof(signame), "SIG%s", abbrev);
		else
			snprintf(signame, sizeof(signame), "SIG%u", sig);
	}

	begin_process_event(r, "process_exit", strlen("process_exit"), tid, c, p, 3);
	pack_lit(pk, "status");
	msgpack_pack_uint32(pk, status);
	pack_lit(pk, "signal");
	pack_cstr(pk, signame);
	pack_lit(pk, "code");
	msgpack_pack_uint32(pk, exit_code);
	return finish(r, time_ns, ret_data, ret_size);
}

static const char *loss_reason(const char *stage)
{
	if (streq(stage, "kernel"))
		return "ring buffer full";
	if (streq(stage, "decode"))
		return "malformed event";
	if (streq(stage, "queue"))
		return "output queue full";
	if (streq(stage, "spool"))
		return "spool full";
	return "";
}

int record_encode_loss(struct record_encoder *r, uint64_t time_ns, const char *stage,
		       const char *output, uint64_t count, uint64_t total, const uint8_t **ret_data,
		       size_t *ret_size)
{
	msgpack_packer *pk;

	if (!r || !stage)
		return -EINVAL;
	pk = &r->pk;
	msgpack_sbuffer_clear(&r->sbuf);
	msgpack_pack_map(pk, 3);
	pack_lit(pk, "vigil_loss");
	msgpack_pack_map(pk, 4 + (output != NULL));
	pack_lit(pk, "stage");
	pack_cstr(pk, stage);
	pack_lit(pk, "count");
	msgpack_pack_uint64(pk, count);
	pack_lit(pk, "total");
	msgpack_pack_uint64(pk, total);
	pack_lit(pk, "reason");
	pack_cstr(pk, loss_reason(stage));
	if (output) {
		pack_lit(pk, "output");
		pack_cstr(pk, output);
	}
	return finish(r, time_ns, ret_data, ret_size);
}
