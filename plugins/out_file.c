/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * out_file: JSON lines (or compact lines) appended to a file, one write() per batch, size-based
 * rotation keeping Keep= files, reopen() for logrotate. See docs/outputs.md.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <syslog.h>
#include <vigil/plugin.h>

#include "common/json.h"
#include "common/record_view.h"
#include "common/cfg.h"
#include "util/macro.h"

struct file_out {
	const struct vigil_host *host;
	char *path;
	bool compact;
	uint64_t max_size; /* 0: never rotate */
	unsigned keep;
	mode_t mode;
	int fd;
	uint64_t size; /* current file size */
	bool regular;  /* a regular file: Mode= and rotation apply */
	bool told_special;
	uint64_t rotate_after; /* CLOCK_MONOTONIC usec: no rotation attempt before (failures) */
	bool rotate_failing;   /* inside a burst of rotation failures: logged once */
	bool failing;	       /* inside a burst of write errors: logged once */
	uint64_t failures;
	struct vbuf buf;
};

#define ROTATE_RETRY_SEC 10U

static const char *const file_keys[] = {"Path", "Format", "MaxSize", "Keep", "Mode", NULL};

/*
 * Open Path=. A symbolic link is refused (O_NOFOLLOW: root must not be steered into appending
 * to, chmod()ing or rotating whatever the link points at). Mode= and rotation apply only to a
 * regular file: a FIFO or a character device such as /dev/null is written to as it is, never
 * chmod()ed or renamed.
 */
static int file_open(struct file_out *f)
{
	struct stat st;
	int fd;

	/*
	 * O_NONBLOCK only for the open: a FIFO without a reader then fails with ENXIO (retried
	 * later) instead of blocking this thread. Writes are blocking again; a reader that stalls
	 * for good is handled by the host's stop deadline.
	 */
	fd = open(f->path,
		  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK,
		  f->mode);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || fcntl(fd, F_SETFL, O_APPEND) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	f->regular = S_ISREG(st.st_mode);
	/* Mode= applies to the file whatever the umask or a previous owner left. */
	if (f->regular && fchmod(fd, f->mode) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	if (!f->regular && !f->told_special) {
		f->host->log(f->host, LOG_INFO, 0,
			     "'%s' is not a regular file: writing to it as it is, without "
			     "Mode= or rotation",
			     f->path);
		f->told_special = true;
	}
	if (f->fd >= 0)
		close(f->fd);
	f->fd = fd;
	f->size = f->regular ? (uint64_t)st.st_size : 0;
	return 0;
}

/*
 * path.N-1 → path.N … path → path.1, then a fresh path. Keep=0 just starts over. rename()
 * replaces its target, so the oldest file goes only when the chain moves. If a rename fails,
 * nothing more is moved and the current file stays open (the caller keeps appending and tries
 * again later). If the fresh file cannot be opened after the renames, f->fd is closed (it is
 * path.1 now) and set to -1, so the next attempt only opens, never rotates again.
 */
static int file_rotate(struct file_out *f)
{
	size_t n = strlen(f->path) + 16;
	_cleanup_free_ char *from = malloc(n), *to = malloc(n);
	int r;

	if (!from || !to)
		return -ENOMEM;
	if (f->keep == 0) {
		if (unlink(f->path) < 0 && errno != ENOENT)
			return -errno;
	} else {
		for (unsigned i = f->keep; i > 1; i--) {
			snprintf(from, n, "%s.%u", f->path, i - 1);
			snprintf(to, n, "%s.%u", f->path, i);
			if (rename(from, to) < 0 && errno != ENOENT)
				return -errno;
		}
		snprintf(to, n, "%s.1", f->path);
		if (rename(f->path, to) < 0 && errno != ENOENT)
			return -errno;
	}
	r = file_open(f);
	if (r < 0) {
		close(f->fd);
		f->fd = -1;
	}
	return r;
}

static uint64_t mono_usec(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void file_free(struct file_out *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	vbuf_done(&f->buf);
	free(f);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct file_out *, file_free)

static int file_init(const struct vigil_host *host, void **ret)
{
	_cleanup_(file_freep) struct file_out *f = NULL;
	const char *v;
	uint64_t u;
	int r;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->host = host;
	f->fd = -1;
	f->max_size = 100ULL << 20;
	f->keep = 5;
	f->mode = 0600;

	v = host->cfg_get(host, "File", "Path");
	if (isempty(v))
		return host->log(host, LOG_ERR, EINVAL, "%s: [File] Path= is required",
				 strempty(host->cfg_location(host, "File", "Path")));
	if (v[0] != '/')
		return host->log(host, LOG_ERR, EINVAL, "%s: [File] Path='%s' is not absolute",
				 strempty(host->cfg_location(host, "File", "Path")), v);
	f->path = strdup(v);
	if (!f->path)
		return -ENOMEM;

	v = host->cfg_get(host, "File", "Format");
	if (v && !streq(v, "json") && !streq(v, "compact"))
		return host->log(host, LOG_ERR, EINVAL,
				 "%s: [File] Format='%s' is invalid, expected json or compact",
				 strempty(host->cfg_location(host, "File", "Format")), v);
	f->compact = v && streq(v, "compact");

	v = host->cfg_get(host, "File", "MaxSize");
	if (v && cfg_parse_size(v, &f->max_size) < 0)
		return host->log(
			host, LOG_ERR, EINVAL,
			"%s: [File] MaxSize='%s' is invalid, expected bytes with K, M or G",
			strempty(host->cfg_location(host, "File", "MaxSize")), v);

	v = host->cfg_get(host, "File", "Keep");
	if (v) {
		char *end;
		errno = 0;
		u = strtoull(v, &end, 10);
		if (errno || end == v || *end || u > 1000)
			return host->log(host, LOG_ERR, EINVAL,
					 "%s: [File] Keep='%s' is invalid, expected 0-1000",
					 strempty(host->cfg_location(host, "File", "Keep")), v);
		f->keep = (unsigned)u;
	}

	v = host->cfg_get(host, "File", "Mode");
	if (v) {
		char *end;
		errno = 0;
		u = strtoull(v, &end, 8);
		if (errno || end == v || *end || u > 07777)
			return host->log(
				host, LOG_ERR, EINVAL,
				"%s: [File] Mode='%s' is invalid, expected octal like 0600",
				strempty(host->cfg_location(host, "File", "Mode")), v);
		f->mode = (mode_t)u;
	}

	r = file_open(f);
	if (r == -ENXIO) {
		/* A FIFO nobody reads yet: not an error, the first emit() opens it. */
		host->log(host, LOG_NOTICE, 0, "'%s' has no reader yet, will open it later",
			  f->path);
		r = 0;
	}
	if (r == -ELOOP)
		return host->log(host, LOG_ERR, r,
				 "%s: [File] Path='%s' is a symbolic link, refusing to follow it; "
				 "name the file itself",
				 strempty(host->cfg_location(host, "File", "Path")), f->path);
	if (r < 0)
		return host->log(host, LOG_ERR, r, "Cannot open output file '%s': %m", f->path);

	*ret = TAKE_PTR(f);
	return 0;
}

static enum vigil_status file_emit(void *instance, const struct vigil_batch *batch,
				   uint8_t *results)
{
	struct file_out *f = instance;
	const char *p;
	size_t left;
	int r;

	f->buf.len = 0;
	for (uint32_t i = 0; i < batch->n_records; i++) {
		const struct vigil_record *rec = &batch->records[i];

		r = f->compact ? compact_render(rec->data, rec->size, &f->buf)
			       : json_render(rec->data, rec->size, &f->buf);
		if (r == -ENOMEM)
			return VIGIL_RETRY;
		if (r < 0) {
			/* Malformed record: resending cannot help. Counted by the host. */
			results[i] = VIGIL_DROP;
			continue;
		}
		if (vbuf_putc(&f->buf, '\n') < 0)
			return VIGIL_RETRY;
	}
	if (f->buf.len == 0)
		return VIGIL_OK;

	if (f->fd < 0) {
		r = file_open(f);
		if (r < 0)
			goto fail;
	} else if (f->regular && f->max_size > 0 && f->size > 0 &&
		   f->size + f->buf.len > f->max_size && mono_usec() >= f->rotate_after) {
		r = file_rotate(f);
		if (r < 0 && f->fd < 0)
			goto fail; /* renamed, but no fresh file: the next attempt opens */
		if (r < 0) {
			/* Nothing lost: keep appending to the current file, try again later. */
			if (!f->rotate_failing)
				f->host->log(f->host, LOG_WARNING, r,
					     "Cannot rotate '%s', appending to it and retrying "
					     "every %u s: %m",
					     f->path, ROTATE_RETRY_SEC);
			f->rotate_failing = true;
			f->rotate_after = mono_usec() + ROTATE_RETRY_SEC * 1000000ULL;
		} else if (f->rotate_failing) {
			f->host->log(f->host, LOG_INFO, 0, "Rotating '%s' works again", f->path);
			f->rotate_failing = false;
		}
	}

	p = f->buf.data;
	left = f->buf.len;
	while (left > 0) {
		ssize_t n = write(f->fd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			/* Take back a partial batch, so the retry does not duplicate records. */
			if (left != f->buf.len)
				(void)ftruncate(f->fd, (off_t)f->size);
			goto fail;
		}
		p += n;
		left -= (size_t)n;
	}
	f->size += f->buf.len;
	if (f->failing) {
		f->host->log(f->host, LOG_INFO, 0,
			     "Writing to '%s' works again after %" PRIu64 " failed attempts",
			     f->path, f->failures);
		f->failing = false;
		f->failures = 0;
	}
	return VIGIL_OK;

fail:
	f->failures++;
	if (!f->failing) {
		/* Once per burst: the host counts every retry anyway. */
		f->host->log(f->host, LOG_WARNING, r, "Cannot write to '%s', will retry: %m",
			     f->path);
		f->failing = true;
	}
	return VIGIL_RETRY;
}

static enum vigil_status file_flush(void *instance, uint64_t timeout_usec)
{
	struct file_out *f = instance;

	/* Records are written in emit(); flush only asks the kernel to persist them. */
	if (f->fd >= 0 && fdatasync(f->fd) < 0 && errno != EINVAL)
		return VIGIL_RETRY;
	return VIGIL_OK;
}

static enum vigil_status file_reopen(void *instance)
{
	struct file_out *f = instance;
	int r;

	r = file_open(f);
	if (r < 0) {
		f->host->log(f->host, LOG_WARNING, r, "Cannot reopen '%s', will retry: %m",
			     f->path);
		if (f->fd >= 0)
			close(f->fd);
		f->fd = -1; /* emit() tries again */
		return VIGIL_RETRY;
	}
	return VIGIL_OK;
}

static void file_fini(void *instance)
{
	file_free(instance);
}

VIGIL_PLUGIN_DEFINE(.kind = VIGIL_PLUGIN_OUTPUT, .name = "file",
		    .description = "JSON lines file with size-based rotation", .section = "File",
		    .keys = file_keys, .init = file_init, .emit = file_emit, .flush = file_flush,
		    .reopen = file_reopen, .fini = file_fini);
