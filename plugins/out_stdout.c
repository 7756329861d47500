/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * out_stdout: one line per record on fd 1, compact (default) or JSON. See docs/outputs.md.
 */
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <vigil/plugin.h>

#include "common/json.h"
#include "common/record_view.h"
#include "common/cfg.h"
#include "util/macro.h"

struct stdout_out {
	const struct vigil_host *host;
	bool json;
	bool is_socket; /* send(MSG_NOSIGNAL) instead of write(): no SIGPIPE */
	bool failing;
	bool is_regular; /* a regular file never blocks: no poll() */
	bool skip;	 /* SkipJournal=yes and fd 1 is the journal stream: accept, write nothing */
	struct vbuf buf;
	struct vbuf tail; /* rest of a line a timed-out emit() left half written */
	size_t *ends;	  /* end offset of each record's line in buf */
};

static const char *const stdout_keys[] = {"Format", "SkipJournal", NULL};

/*
 * Is fd 1 the journal's stream socket? systemd sets $JOURNAL_STREAM to "DEV:INO" of the
 * stream it connected to stdout/stderr (systemd.exec(5)); it only counts when fd 1 is that
 * very file, not when a child inherited the variable but got another stdout.
 */
static bool stdout_is_journal(const struct stat *st)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	char *end;

	if (!e || !*e)
		return false;
	errno = 0;
	dev = strtoull(e, &end, 10);
	if (errno != 0 || end == e || *end != ':')
		return false;
	e = end + 1;
	ino = strtoull(e, &end, 10);
	if (errno != 0 || end == e || *end != '\0')
		return false;
	return (unsigned long long)st->st_dev == dev && (unsigned long long)st->st_ino == ino;
}

static int stdout_init(const struct vigil_host *host, void **ret)
{
	static const char key[] = "SkipJournal";
	struct stdout_out *s;
	const char *v, *sj;
	struct stat st;
	int skip_journal = 0;

	sj = host->cfg_get(host, "Stdout", key);
	if (sj) {
		skip_journal = cfg_parse_bool(sj);
		if (skip_journal < 0)
			return host->log(host, LOG_ERR, EINVAL,
					 "%s: [Stdout] SkipJournal='%s' is not a boolean",
					 strempty(host->cfg_location(host, "Stdout", key)), sj);
	}
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
	s->is_regular = S_ISREG(st.st_mode);
	s->skip = skip_journal > 0 && stdout_is_journal(&st);
	if (s->skip)
		host->log(host, LOG_INFO, 0,
			  "Standard output is the journal stream and SkipJournal=yes: this output "
			  "is inactive (records are acknowledged without being written).");
	*ret = s;
	return 0;
}

/* How long one emit() may wait for a reader before giving the batch back to the host. */
#define STDOUT_WAIT_MSEC 1000

static int64_t mono_msec(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Write @len bytes, waiting at most until @until (mono_msec()) for the reader: a full pipe or
 * socket must not hold the worker (and so SIGTERM) forever. fd 1 is shared with whoever
 * started us, so it is never switched to O_NONBLOCK: sockets use MSG_DONTWAIT, anything else
 * gets poll() first and then at most PIPE_BUF bytes, which a pipe that polls writable takes
 * without blocking. Returns the bytes written (< @len on timeout) or -errno.
 */
static ssize_t stdout_write(struct stdout_out *s, const char *p, size_t len, int64_t until)
{
	size_t done = 0;

	while (done < len) {
		struct pollfd pfd = {.fd = STDOUT_FILENO, .events = POLLOUT};
		int64_t left = until - mono_msec();
		ssize_t n;

		if (!s->is_regular) {
			int k = poll(&pfd, 1, left > 0 ? (int)left : 0);

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return -errno;
			if (k == 0)
				break; /* timed out */
		}
		n = s->is_socket
			    ? send(STDOUT_FILENO, p + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT)
			    : write(STDOUT_FILENO, p + done,
				    s->is_regular ? len - done : MIN(len - done, PIPE_BUF));
		if (n >= 0) {
			done += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			if (mono_msec() >= until)
				break;
			if (s->is_regular || s->is_socket)
				(void)poll(&pfd, 1, (int)MAX(until - mono_msec(), (int64_t)0));
			continue;
		}
		if (done > 0)
			break; /* report what went out; the error comes back on the next call */
		return -errno;
	}
	return (ssize_t)done;
}

static enum vigil_status stdout_failed(struct stdout_out *s, int r)
{
	if (!s->failing)
		s->host->log(s->host, LOG_ERR, r, "Cannot write to standard output: %m");
	s->failing = true;
	/* EPIPE: the reader went away for good; everything else may be transient. */
	return r == -EPIPE ? VIGIL_FATAL : VIGIL_RETRY;
}

static enum vigil_status stdout_emit(void *instance, const struct vigil_batch *batch,
				     uint8_t *results)
{
	struct stdout_out *s = instance;
	int64_t until = mono_msec() + STDOUT_WAIT_MSEC;
	size_t *ends;
	ssize_t n;
	int r;

	if (s->skip)
		return VIGIL_OK; /* results[] are pre-filled with VIGIL_DELIVERED */

	/* First the rest of a line a timed-out call left half written: lines stay whole. */
	if (s->tail.len > 0) {
		n = stdout_write(s, s->tail.data, s->tail.len, until);
		if (n < 0)
			return stdout_failed(s, (int)n);
		memmove(s->tail.data, s->tail.data + n, s->tail.len - (size_t)n);
		s->tail.len -= (size_t)n;
		if (s->tail.len > 0)
			return VIGIL_RETRY; /* nothing of this batch went out */
	}

	ends = realloc(s->ends, MAX(batch->n_records, 1U) * sizeof(*ends));
	if (!ends)
		return VIGIL_RETRY;
	s->ends = ends;
	s->buf.len = 0;
	for (uint32_t i = 0; i < batch->n_records; i++) {
		const struct vigil_record *rec = &batch->records[i];

		ends[i] = s->buf.len;
		r = s->json ? json_render(rec->data, rec->size, &s->buf)
			    : compact_render(rec->data, rec->size, &s->buf);
		if (r == -ENOMEM)
			return VIGIL_RETRY;
		if (r < 0) {
			s->buf.len = ends[i];
			results[i] = VIGIL_DROP;
			continue;
		}
		if (vbuf_putc(&s->buf, '\n') < 0)
			return VIGIL_RETRY;
		ends[i] = s->buf.len;
	}
	if (s->buf.len == 0)
		return VIGIL_OK;

	n = stdout_write(s, s->buf.data, s->buf.len, until);
	if (n < 0)
		return stdout_failed(s, (int)n);
	if (n == 0)
		return VIGIL_RETRY; /* nothing written: the host re-offers the batch later */
	if ((size_t)n < s->buf.len) {
		/*
		 * Timed out part way. Records fully out are delivered; the one cut in the middle
		 * is delivered too, its rest kept for the start of the next call; the others go
		 * back to the host (REDO) rather than be written twice.
		 */
		size_t start = 0;

		for (uint32_t i = 0; i < batch->n_records; i++) {
			if (results[i] == VIGIL_DROP)
				continue;
			if (ends[i] > (size_t)n && start < (size_t)n) {
				s->tail.len = 0;
				if (vbuf_append(&s->tail, s->buf.data + n, ends[i] - (size_t)n) < 0)
					results[i] = VIGIL_REDO; /* rare: the line stays cut */
			} else if (start >= (size_t)n)
				results[i] = VIGIL_REDO;
			start = ends[i];
		}
		return VIGIL_OK;
	}
	s->failing = false;
	return VIGIL_OK;
}

static enum vigil_status stdout_flush(void *instance, uint64_t timeout_usec)
{
	struct stdout_out *s = instance;
	ssize_t n;

	if (s->tail.len == 0)
		return VIGIL_OK;
	/* Only the rest of a half-written line is ever buffered. */
	n = stdout_write(s, s->tail.data, s->tail.len,
			 mono_msec() + (int64_t)MIN(timeout_usec / 1000, (uint64_t)INT32_MAX));
	if (n < 0)
		return VIGIL_RETRY;
	memmove(s->tail.data, s->tail.data + n, s->tail.len - (size_t)n);
	s->tail.len -= (size_t)n;
	return s->tail.len == 0 ? VIGIL_OK : VIGIL_RETRY;
}

static void stdout_fini(void *instance)
{
	struct stdout_out *s = instance;

	if (!s)
		return;
	vbuf_done(&s->buf);
	vbuf_done(&s->tail);
	free(s->ends);
	free(s);
}

VIGIL_PLUGIN_DEFINE(.kind = VIGIL_PLUGIN_OUTPUT, .name = "stdout",
		    .description = "One line per event on standard output", .section = "Stdout",
		    .keys = stdout_keys, .init = stdout_init, .emit = stdout_emit,
		    .flush = stdout_flush, .fini = stdout_fini);
