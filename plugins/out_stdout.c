/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * out_stdout: one line per record on fd 1, compact (default) or JSON. See docs/outputs.md.
 */
#include <poll.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <vigil/plugin.h>

#include "common/json.h"
#include "common/record_view.h"
#include "util/macro.h"

struct stdout_out {
	const struct vigil_host *host;
	bool json;
	bool is_socket; /* send(MSG_NOSIGNAL) instead of write(): no SIGPIPE */
	bool failing;
	bool skip; /* SkipJournal=yes and fd 1 is the journal stream: accept, write nothing */
	struct vbuf buf;
};

static const char *const stdout_keys[] = {"Format", "SkipJournal", NULL};

/* Plugins cannot call the daemon's config_parse_bool(); same spellings as systemd. */
static int parse_bool(const char *v)
{
	static const char *const yes[] = {"1", "yes", "y", "true", "t", "on"};
	static const char *const no[] = {"0", "no", "n", "false", "f", "off"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return -EINVAL;
}

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
		skip_journal = parse_bool(sj);
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
	s->skip = skip_journal > 0 && stdout_is_journal(&st);
	if (s->skip)
		host->log(host, LOG_INFO, 0,
			  "Standard output is the journal stream and SkipJournal=yes: this output "
			  "is inactive (records are acknowledged without being written).");
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

	if (s->skip)
		return VIGIL_OK; /* results[] are pre-filled with VIGIL_DELIVERED */

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
			struct pollfd pfd = {.fd = STDOUT_FILENO, .events = POLLOUT};
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
