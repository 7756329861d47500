/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * out_stdout: one line per record on fd 1, compact (default) or JSON. See docs/outputs.md.
 */
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <vigil/plugin.h>

#include "common/json.h"
#include "common/record_view.h"
#include "util/macro.h"

struct stdout_out {
	const struct vigil_host *host;
	bool json;
	bool is_socket; /* send(MSG_NOSIGNAL) instead of write(): no SIGPIPE */
	bool failing;
	struct vbuf buf;
};

static const char *const stdout_keys[] = { "Format", NULL };

static int stdout_init(const struct vigil_host *host, void **ret)
{
	struct stdout_out *s;
	const char *v;
	struct stat st;

	v = host->cfg_get(host, "Stdout", "Format");
	if (v && !streq(v, "json") && !streq(v, "compact"))
		return host->log(host, LOG_ERR, EINVAL,
				 "%s: [Stdout] Format='%s' is invalid, expected json or compact",
				 strempty(host->cfg_location(host, "Stdout", "Format")), v);
	if (fstat(STDOUT_FILENO, &st) < 0)
		return host->log(host, LOG_ERR, errno, "Standard output is not usable: %m");

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = host;
	s->json = v && streq(v, "json");
	s->is_socket = S_ISSOCK(st.st_mode);
	*ret = s;
	return 0;
}

static enum vigil_status stdout_emit(void *instance, const struct vigil_batch *batch,
				     uint8_t *results)
{
	struct stdout_out *s = instance;
	const char *p;
	size_t left;
	int r;

	s->buf.len = 0;
	for (uint32_t i = 0; i < batch->n_records; i++) {
		const struct vigil_record *rec = &batch->records[i];

		r = s->json ? json_render(rec->data, rec->size, &s->buf)
			    : compact_render(rec->data, rec->size, &s->buf);
		if (r == -ENOMEM)
			return VIGIL_RETRY;
		if (r < 0) {
			results[i] = VIGIL_DROP;
			continue;
		}
		if (vbuf_putc(&s->buf, '\n') < 0)
			return VIGIL_RETRY;
	}

	p = s->buf.data;
	left = s->buf.len;
	while (left > 0) {
		ssize_t n = s->is_socket ? send(STDOUT_FILENO, p, left, MSG_NOSIGNAL)
					 : write(STDOUT_FILENO, p, left);
		if (n >= 0) {
			p += n;
			left -= (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && left == s->buf.len)
			return VIGIL_RETRY; /* nothing written yet: the host re-offers the batch */
		if (errno == EAGAIN) {
			/* Part of the batch is out: finish it rather than duplicate lines. */
			struct pollfd pfd = { .fd = STDOUT_FILENO, .events = POLLOUT };
			(void)poll(&pfd, 1, 1000);
			continue;
		}
		r = -errno;
		if (!s->failing)
			s->host->log(s->host, LOG_ERR, r, "Cannot write to standard output: %m");
		s->failing = true;
		/* EPIPE: the reader went away for good; everything else may be transient. */
		return r == -EPIPE ? VIGIL_FATAL : VIGIL_RETRY;
	}
	s->failing = false;
	return VIGIL_OK;
}

static enum vigil_status stdout_flush(void *instance, uint64_t timeout_usec)
{
	return VIGIL_OK; /* nothing buffered: emit() writes the whole batch */
}

static void stdout_fini(void *instance)
{
	struct stdout_out *s = instance;

	if (!s)
		return;
	vbuf_done(&s->buf);
	free(s);
}

VIGIL_PLUGIN_DEFINE(.kind = VIGIL_PLUGIN_OUTPUT, .name = "stdout",
		    .description = "One line per event on standard output", .section = "Stdout",
		    .keys = stdout_keys, .init = stdout_init, .emit = stdout_emit,
		    .flush = stdout_flush, .fini = stdout_fini);
