/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The per-output disk spool: see spool.h for the on-disk format and the recovery rules.
 *
 * In memory a spool is a sorted array of segments (start offset, file size, frame counts), a
 * write buffer in front of the newest segment, a read buffer over the segment being read, and
 * the list of offsets of records handed out by spool_read() and not yet acknowledged (so that
 * an ack can tell how many records it confirmed without reading the files again).
 *
 * Offsets are global and never reused: a segment's start is its file name, the next segment
 * starts where the previous one's file ends (torn garbage included), so the ack file's offset
 * keeps its meaning across restarts, rotations and write errors.
 */
#include <assert.h>
#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* Header-only XXH3 (libxxhash >= 0.8): inlined, nothing to link. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "log.h"
#include "spool.h"
#include "util/macro.h"

#define SEG_HDR_SIZE	   16u
#define FRAME_HDR_SIZE	   24u
#define ACK_FILE_SIZE	   32u
#define SEG_VERSION	   2u	       /* written; 1 (crc32 frames only) is still read */
#define FRAME_MAGIC	   0x324C4756u /* "VGL2" little-endian: XXH3 checksum */
#define FRAME_MAGIC_V1	   0x314C4756u /* "VGL1": CRC-32 checksum, earlier versions */
#define ACK_FILE_NAME	   "ack"
#define SEG_NAME_LEN	   24 /* 20 digits + ".seg" */
#define WBUF_SIZE	   (256u * 1024)
#define RBUF_SIZE	   (256u * 1024)
#define SEGMENT_SIZE_MIN   (256ull << 10) /* a 1 MiB cap still has 4 segments to drop one by one */
#define SEGMENT_SIZE_MAX   (64ull << 20)
#define SEGMENT_SIZE_FLOOR 4096ull /* smallest explicit segment_size (tests use small ones) */
#define ACK_INTERVAL_USEC  (100 * USEC_PER_MSEC)

static const uint8_t seg_magic[8] = {'V', 'G', 'S', 'P', 'O', 'O', 'L', '\0'};
static const uint8_t ack_magic[8] = {'V', 'G', 'A', 'C', 'K', '\0', '\0', '\0'};

struct segment {
	uint64_t start;	 /* global offset of the file's first byte; also its name */
	uint64_t size;	 /* bytes in the file (the write buffer is not included) */
	uint64_t frames; /* frames after the acknowledged offset found at open, plus appends */
	uint64_t acked;	 /* of those, acknowledged since */
};

struct spool {
	char *dir;
	int dir_fd;
	uint64_t max_size;
	uint64_t segment_size;
	enum spool_sync sync;
	bool drop_newest;

	struct segment *segs;
	size_t n_segs, cap_segs;
	uint64_t bytes;	     /* sum of segment sizes plus the write buffer */
	uint64_t end_offset; /* highest segment end ever seen: where the next segment may start */

	/* Writing: when open, the last segment is the write segment. */
	bool wopen;
	int wfd;
	uint8_t *wbuf;
	size_t wbuf_len, wbuf_cap;
	size_t wbuf_frames; /* where the frames start in wbuf (after a segment header) */
	bool wunsynced;	    /* written since the last fdatasync() */

	/* Reading. */
	uint64_t rpos;
	int rfd;
	uint64_t rfd_start; /* segment the read fd belongs to */
	uint8_t *rbuf;
	size_t rbuf_len, rbuf_cap;
	uint64_t rbuf_start; /* segment the read buffer holds data of, UINT64_MAX if none */
	uint64_t rbuf_off;   /* global offset of rbuf[0] */
	uint64_t counted_to; /* damage before this offset was counted already (rewinds) */

	/* next offsets of records handed out and not acknowledged yet, a ring, oldest first */
	uint64_t *inflight;
	size_t if_head, if_len, if_cap;

	uint64_t last_append; /* offset of the last frame appended */

	uint64_t ack;
	uint64_t ack_written;
	bool ack_dirty;
	uint64_t ack_time_usec;

	struct spool_stats st;
};

/* One frame header as read from disk. */
struct frame_hdr {
	uint32_t magic;
	uint32_t size;
	uint32_t type;
	uint32_t crc;
	uint64_t seq;
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

/* "VGL1" frames: zlib CRC-32 over the 8 little-endian bytes of seq, then the payload. */
static uint32_t frame_crc_v1(const uint8_t seq_le[8], const void *data, uint32_t size)
{
	uLong crc = crc32(0L, seq_le, 8);

	if (size > 0)
		crc = crc32(crc, data, size);
	return (uint32_t)crc;
}

/*
 * "VGL2" frames: the low 32 bits of XXH3-64 of the payload, seeded with seq ^ (type << 32), so
 * a damaged seq or type fails the check too. Several times faster than CRC-32 (profiled: the
 * CRC was ~7 % of the CPU of a spooled Kafka output, computed once to write, once to read).
 */
static uint32_t frame_sum(uint64_t seq, uint32_t type, const void *data, uint32_t size)
{
	return (uint32_t)XXH3_64bits_withSeed(data, size, seq ^ ((uint64_t)type << 32));
}

static void frame_hdr_parse(const uint8_t *p, struct frame_hdr *ret)
{
	ret->magic = get_le32(p);
	ret->size = get_le32(p + 4);
	ret->type = get_le32(p + 8);
	ret->crc = get_le32(p + 12);
	ret->seq = get_le64(p + 16);
}

static void seg_name(uint64_t start, char ret[static SEG_NAME_LEN + 1])
{
	(void)snprintf(ret, SEG_NAME_LEN + 1, "%020" PRIu64 ".seg", start);
}

static bool seg_name_parse(const char *name, uint64_t *ret)
{
	uint64_t v = 0;

	if (strlen(name) != SEG_NAME_LEN || !streq(name + 20, ".seg"))
		return false;
	for (size_t i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	*ret = v;
	return true;
}

static uint64_t seg_end(const struct segment *seg)
{
	return seg->start + seg->size;
}

static bool is_write_seg(const struct spool *s, size_t i)
{
	return s->wopen && i == s->n_segs - 1;
}

/* Largest payload a frame may claim: anything longer is damage, not a record. */
static uint64_t frame_size_max(const struct spool *s)
{
	return MAX(s->segment_size, SEGMENT_SIZE_MAX);
}

static int mkdir_parents(const char *path)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *c = p + 1;; c++) {
		if (*c != '/' && *c != '\0')
			continue;
		char saved = *c;

		*c = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -errno;
		*c = saved;
		if (saved == '\0')
			break;
	}
	return 0;
}

/* The damaged bytes [from, to) of the segment starting at @seg_start are skipped. */
static void spool_count_damage(struct spool *s, uint64_t seg_start, uint64_t from, uint64_t to,
			       bool count)
{
	char name[SEG_NAME_LEN + 1];

	if (!count || to <= from || from < s->counted_to)
		return;
	s->counted_to = to;
	s->st.corrupt++;
	s->st.corrupt_bytes += to - from;
	seg_name(seg_start, name);
	log_ratelimited(LOG_WARNING,
			"Spool '%s': damaged data in '%s' at byte %" PRIu64 " (%" PRIu64
			" bytes), skipping.",
			s->dir, name, from - seg_start, to - from);
}

static void rbuf_invalidate(struct spool *s)
{
	s->rbuf_start = UINT64_MAX;
	s->rbuf_len = 0;
}

static void rfd_close(struct spool *s)
{
	if (s->rfd >= 0)
		(void)close(s->rfd);
	s->rfd = -1;
	s->rfd_start = UINT64_MAX;
}

/* Remove segment @i from the list (the file is the caller's business). */
static void seg_remove(struct spool *s, size_t i)
{
	assert(i < s->n_segs);
	assert(!is_write_seg(s, i));

	if (s->rfd_start == s->segs[i].start)
		rfd_close(s);
	if (s->rbuf_start == s->segs[i].start)
		rbuf_invalidate(s);
	s->bytes -= MIN(s->bytes, s->segs[i].size);
	memmove(s->segs + i, s->segs + i + 1, (s->n_segs - i - 1) * sizeof(*s->segs));
	s->n_segs--;
}

/* Unlink segment @i and forget it. */
static void seg_delete(struct spool *s, size_t i)
{
	char name[SEG_NAME_LEN + 1];

	seg_name(s->segs[i].start, name);
	if (unlinkat(s->dir_fd, name, 0) < 0 && errno != ENOENT) {
		s->st.write_errors++;
		log_warning_errno(errno, "Spool '%s': failed to delete '%s', ignoring: %m", s->dir,
				  name);
	}
	seg_remove(s, i);
}

static int seg_append_slot(struct spool *s, struct segment **ret)
{
	if (s->n_segs == s->cap_segs) {
		size_t cap = MAX(s->cap_segs * 2, (size_t)16);
		struct segment *n = reallocarray(s->segs, cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->segs = n;
		s->cap_segs = cap;
	}
	*ret = &s->segs[s->n_segs++];
	**ret = (struct segment){};
	return 0;
}

static int inflight_push(struct spool *s, uint64_t next)
{
	if (s->if_len == s->if_cap) {
		size_t cap = MAX(s->if_cap * 2, (size_t)1024);
		uint64_t *n = malloc(cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		for (size_t i = 0; i < s->if_len; i++)
			n[i] = s->inflight[(s->if_head + i) % s->if_cap];
		free(s->inflight);
		s->inflight = n;
		s->if_head = 0;
		s->if_cap = cap;
	}
	s->inflight[(s->if_head + s->if_len) % s->if_cap] = next;
	s->if_len++;
	return 0;
}

static uint64_t inflight_front(const struct spool *s)
{
	return s->inflight[s->if_head];
}

static uint64_t inflight_back(const struct spool *s)
{
	return s->inflight[(s->if_head + s->if_len - 1) % s->if_cap];
}

static void inflight_pop_front(struct spool *s)
{
	s->if_head = (s->if_head + 1) % s->if_cap;
	s->if_len--;
}

/*
 * Make [off, off + need) of segment @seg available in the read buffer; reads ahead up to
 * @limit (the readable end). -ENODATA if the file is shorter than we believed.
 */
static int rbuf_fill(struct spool *s, const struct segment *seg, uint64_t off, size_t need,
		     uint64_t limit, const uint8_t **ret)
{
	size_t want, got = 0;

	assert(off + need <= limit);

	if (s->rbuf_start == seg->start && off >= s->rbuf_off &&
	    off + need <= s->rbuf_off + s->rbuf_len) {
		*ret = s->rbuf + (off - s->rbuf_off);
		return 0;
	}

	want = (size_t)MIN((uint64_t)MAX(need, (size_t)RBUF_SIZE), limit - off);
	if (want > s->rbuf_cap) {
		size_t cap = MAX(want, (size_t)RBUF_SIZE);
		uint8_t *n = malloc(cap);

		if (!n)
			return -ENOMEM;
		free(s->rbuf);
		s->rbuf = n;
		s->rbuf_cap = cap;
	}
	rbuf_invalidate(s);

	if (s->rfd_start != seg->start) {
		char name[SEG_NAME_LEN + 1];

		rfd_close(s);
		seg_name(seg->start, name);
		s->rfd = openat(s->dir_fd, name, O_RDONLY | O_CLOEXEC);
		if (s->rfd < 0)
			return -errno;
		s->rfd_start = seg->start;
	}

	while (got < want) {
		ssize_t n =
			pread(s->rfd, s->rbuf + got, want - got, (off_t)(off - seg->start + got));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	s->rbuf_start = seg->start;
	s->rbuf_off = off;
	s->rbuf_len = got;
	if (got < need)
		return -ENODATA;
	*ret = s->rbuf;
	return 0;
}

/*
 * Is there a whole, intact frame at @off (readable end @limit)? 1 and @ret filled, 0 if not,
 * -errno on I/O errors.
 */
static int frame_check(struct spool *s, const struct segment *seg, uint64_t off, uint64_t limit,
		       struct spool_rec *ret)
{
	struct frame_hdr h;
	const uint8_t *p;
	int r;

	if (limit - off < FRAME_HDR_SIZE)
		return 0;
	r = rbuf_fill(s, seg, off, FRAME_HDR_SIZE, limit, &p);
	if (r == -ENODATA)
		return 0;
	if (r < 0)
		return r;
	frame_hdr_parse(p, &h);
	if ((h.magic != FRAME_MAGIC && h.magic != FRAME_MAGIC_V1) || h.size > frame_size_max(s) ||
	    h.size > limit - off - FRAME_HDR_SIZE)
		return 0;

	r = rbuf_fill(s, seg, off, FRAME_HDR_SIZE + (size_t)h.size, limit, &p);
	if (r == -ENODATA)
		return 0;
	if (r < 0)
		return r;
	if ((h.magic == FRAME_MAGIC ? frame_sum(h.seq, h.type, p + FRAME_HDR_SIZE, h.size)
				    : frame_crc_v1(p + 16, p + FRAME_HDR_SIZE, h.size)) != h.crc)
		return 0;

	*ret = (struct spool_rec){
		.offset = off,
		.next = off + FRAME_HDR_SIZE + h.size,
		.seq = h.seq,
		.type = h.type,
		.size = h.size,
		.data = p + FRAME_HDR_SIZE,
	};
	return 1;
}

/*
 * Resynchronise: the first offset after @from where an intact frame starts, or @limit. Returns
 * 0 or -errno.
 */
static int frame_resync(struct spool *s, const struct segment *seg, uint64_t from, uint64_t limit,
			uint64_t *ret)
{
	/* "VGL1" or "VGL2": frame_check() tells them apart. */
	static const uint8_t m[3] = {'V', 'G', 'L'};
	uint64_t p = from + 1;

	while (p < limit && limit - p >= FRAME_HDR_SIZE) {
		size_t len = (size_t)MIN(limit - p, (uint64_t)RBUF_SIZE);
		const uint8_t *buf, *hit;
		struct spool_rec rec;
		int r;

		r = rbuf_fill(s, seg, p, len, limit, &buf);
		if (r == -ENODATA)
			break;
		if (r < 0)
			return r;
		hit = memmem(buf, len, m, sizeof(m));
		if (!hit) {
			/* A magic may straddle the window's end. */
			p += len > 3 ? len - 3 : len;
			continue;
		}
		p += (uint64_t)(hit - buf);
		r = frame_check(s, seg, p, limit, &rec);
		if (r < 0)
			return r;
		if (r > 0) {
			*ret = p;
			return 0;
		}
		p++;
	}
	*ret = limit;
	return 0;
}

/*
 * The next intact frame at or after *pos, skipping damage (counted when @count); advances *pos
 * past it. 1 with @ret, 0 at the end, -errno on I/O errors (*pos stays at a safe place).
 */
static int spool_next(struct spool *s, uint64_t *pos, bool count, struct spool_rec *ret)
{
	for (;;) {
		struct segment *seg = NULL;
		uint64_t limit, to;
		const uint8_t *p;
		size_t i;
		int r;

		for (i = 0; i < s->n_segs; i++)
			if (seg_end(&s->segs[i]) > *pos)
				break;
		if (i == s->n_segs)
			return 0;
		seg = &s->segs[i];
		limit = seg_end(seg);
		if (*pos < seg->start)
			*pos = seg->start;

		if (*pos == seg->start) {
			bool good = false;

			if (limit - *pos >= SEG_HDR_SIZE) {
				r = rbuf_fill(s, seg, *pos, SEG_HDR_SIZE, limit, &p);
				if (r == -ENOENT) {
					/* Deleted behind our back: nothing left to read there. */
					spool_count_damage(s, seg->start, seg->start, limit, count);
					if (!is_write_seg(s, i))
						seg_remove(s, i);
					else
						*pos = limit;
					continue;
				}
				if (r < 0 && r != -ENODATA)
					return r;
				good = r == 0 && memcmp(p, seg_magic, sizeof(seg_magic)) == 0 &&
				       (get_le32(p + 8) == SEG_VERSION || get_le32(p + 8) == 1);
			}
			if (good) {
				*pos += SEG_HDR_SIZE;
				continue;
			}
			r = frame_resync(s, seg, *pos, limit, &to);
			if (r < 0)
				return r;
			spool_count_damage(s, seg->start, *pos, to, count);
			*pos = to;
			continue;
		}

		r = frame_check(s, seg, *pos, limit, ret);
		if (r == -ENOENT) {
			spool_count_damage(s, seg->start, *pos, limit, count);
			if (!is_write_seg(s, i))
				seg_remove(s, i);
			else
				*pos = limit;
			continue;
		}
		if (r < 0)
			return r;
		if (r > 0) {
			*pos = ret->next;
			return 1;
		}
		r = frame_resync(s, seg, *pos, limit, &to);
		if (r < 0)
			return r;
		spool_count_damage(s, seg->start, *pos, to, count);
		*pos = to;
	}
}

static int ack_file_read(struct spool *s, uint64_t *ret)
{
	_cleanup_close_ int fd = -1;
	uint8_t b[ACK_FILE_SIZE];
	ssize_t n;

	fd = openat(s->dir_fd, ACK_FILE_NAME, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = pread(fd, b, sizeof(b), 0);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(b) || memcmp(b, ack_magic, sizeof(ack_magic)) != 0 ||
	    get_le32(b + 24) != (uint32_t)crc32(0L, b, 24)) {
		log_warning("Spool '%s': ack file is damaged, replaying from the oldest record.",
			    s->dir);
		return 0;
	}
	*ret = get_le64(b + 8);
	return 1;
}

static int ack_file_write(struct spool *s)
{
	_cleanup_close_ int fd = -1;
	uint8_t b[ACK_FILE_SIZE] = {};
	ssize_t n;

	memcpy(b, ack_magic, sizeof(ack_magic));
	put_le64(b + 8, s->ack);
	put_le32(b + 24, (uint32_t)crc32(0L, b, 24));

	fd = openat(s->dir_fd, ACK_FILE_NAME, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	n = pwrite(fd, b, sizeof(b), 0);
	if (n < 0)
		goto fail;
	if (n != (ssize_t)sizeof(b)) {
		errno = EIO;
		goto fail;
	}
	if (s->sync == SPOOL_SYNC_BATCH && fdatasync(fd) < 0)
		goto fail;

	s->ack_written = s->ack;
	s->ack_dirty = false;
	s->ack_time_usec = now_usec();
	return 0;

fail:
	s->st.write_errors++;
	return log_warning_errno(errno, "Spool '%s': failed to write the ack file: %m", s->dir);
}

static int write_full(int fd, const uint8_t *p, size_t n, size_t *ret_written)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = write(fd, p + done, n - done);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			*ret_written = done;
			return -errno;
		}
		if (k == 0) {
			*ret_written = done;
			return -EIO;
		}
		done += (size_t)k;
	}
	*ret_written = done;
	return 0;
}

/*
 * Close the write segment after a failed write: its torn tail stays as counted damage for the
 * reader and the next append starts a new segment. An empty file is removed.
 */
static void wseg_abandon(struct spool *s)
{
	size_t i = s->n_segs - 1;

	assert(s->wopen);
	(void)close(s->wfd);
	s->wfd = -1;
	s->wopen = false;
	s->wunsynced = false;
	s->wbuf_len = 0;
	s->wbuf_frames = 0;
	if (s->segs[i].size == 0)
		seg_delete(s, i);
}

/* write() the buffer; on error count and drop what did not reach the file. */
static int wbuf_flush(struct spool *s)
{
	struct segment *seg;
	size_t written;
	int r;

	if (!s->wopen || s->wbuf_len == 0)
		return 0;

	seg = &s->segs[s->n_segs - 1];
	r = write_full(s->wfd, s->wbuf, s->wbuf_len, &written);
	seg->size += written;
	s->end_offset = MAX(s->end_offset, seg_end(seg));
	if (r < 0) {
		uint64_t lost = 0;
		char name[SEG_NAME_LEN + 1];

		/* Frames wholly written are readable; the others are not in the spool. */
		for (size_t off = s->wbuf_frames; off < s->wbuf_len;) {
			size_t len = FRAME_HDR_SIZE + get_le32(s->wbuf + off + 4);

			if (off + len > written)
				lost++;
			off += len;
		}
		seg->frames -= MIN(seg->frames, lost);
		s->st.refused += lost;
		s->st.write_errors++;
		s->bytes -= MIN(s->bytes, s->wbuf_len - written);
		seg_name(seg->start, name);
		log_ratelimited(LOG_WARNING,
				"Spool '%s': failed to write '%s', %" PRIu64
				" records not spooled, continuing in a new segment: %s",
				s->dir, name, lost, strerror(-r));
		wseg_abandon(s);
		return r;
	}
	s->wbuf_len = 0;
	s->wbuf_frames = 0;
	s->wunsynced = true;
	if (s->wbuf_cap > WBUF_SIZE) {
		/* A huge record grew the buffer: give the memory back. */
		uint8_t *n = malloc(WBUF_SIZE);

		if (n) {
			free(s->wbuf);
			s->wbuf = n;
			s->wbuf_cap = WBUF_SIZE;
		}
	}
	return 0;
}

int spool_commit(struct spool *s)
{
	int r;

	if (!s)
		return 0;
	r = wbuf_flush(s);
	if (r < 0)
		return r;
	if (!s->wopen || s->sync != SPOOL_SYNC_BATCH || !s->wunsynced)
		return 0;
	if (fdatasync(s->wfd) < 0) {
		/* After a failed fdatasync() the page cache state is unknown: start afresh. */
		r = -errno;
		s->st.write_errors++;
		log_ratelimited(LOG_WARNING, "Spool '%s': fdatasync() failed: %s", s->dir,
				strerror(-r));
		wseg_abandon(s);
		return r;
	}
	s->wunsynced = false;
	return 0;
}

static int wseg_create(struct spool *s)
{
	char name[SEG_NAME_LEN + 1];
	struct segment *seg;
	uint64_t start;
	int fd, r;

	assert(!s->wopen);

	start = MAX(s->end_offset, s->ack);
	if (s->n_segs > 0)
		start = MAX(start, seg_end(&s->segs[s->n_segs - 1]));
	seg_name(start, name);
	fd = openat(s->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		s->st.write_errors++;
		log_ratelimited(LOG_WARNING, "Spool '%s': failed to create '%s': %s", s->dir, name,
				strerror(-r));
		return r;
	}
	r = seg_append_slot(s, &seg);
	if (r < 0) {
		(void)close(fd);
		(void)unlinkat(s->dir_fd, name, 0);
		return r;
	}
	seg->start = start;
	s->wfd = fd;
	s->wopen = true;
	s->end_offset = MAX(s->end_offset, start);
	if (s->sync == SPOOL_SYNC_BATCH)
		(void)fsync(s->dir_fd); /* the new name must survive a power loss too */

	/* The header goes out with the first frames. */
	memcpy(s->wbuf, seg_magic, sizeof(seg_magic));
	put_le32(s->wbuf + 8, SEG_VERSION);
	put_le32(s->wbuf + 12, 0);
	s->wbuf_len = SEG_HDR_SIZE;
	s->wbuf_frames = SEG_HDR_SIZE;
	s->bytes += SEG_HDR_SIZE;
	return 0;
}

/* Number of handed-out, unacknowledged records inside segment @i. */
static uint64_t inflight_in_seg(const struct spool *s, size_t i)
{
	uint64_t n = 0;

	for (size_t k = 0; k < s->if_len; k++) {
		uint64_t v = s->inflight[(s->if_head + k) % s->if_cap];

		if (v > s->segs[i].start && v <= seg_end(&s->segs[i]))
			n++;
	}
	return n;
}

/* Drop-oldest: delete the oldest segment, counting its unread records. */
static uint64_t spool_drop_oldest(struct spool *s)
{
	struct segment *seg = &s->segs[0];
	uint64_t unread, end = seg_end(seg), next;
	char name[SEG_NAME_LEN + 1];

	assert(!is_write_seg(s, 0));

	unread = seg->frames - MIN(seg->frames, seg->acked + inflight_in_seg(s, 0));
	s->st.dropped += unread;
	seg_name(seg->start, name);
	log_ratelimited(LOG_WARNING,
			"Spool '%s' is full, dropping '%s' with %" PRIu64 " unsent records.",
			s->dir, name, unread);

	/* Records handed out from it can no longer be re-read; their acks become no-ops. */
	while (s->if_len > 0 && inflight_front(s) <= end)
		inflight_pop_front(s);
	seg_delete(s, 0);

	next = s->n_segs > 0 ? s->segs[0].start : end;
	if (s->ack < next) {
		s->ack = next;
		s->ack_dirty = true;
	}
	s->rpos = MAX(s->rpos, next);
	return unread;
}

int spool_append(struct spool *s, uint32_t type, uint64_t seq, const void *data, uint32_t size,
		 uint64_t *ret_dropped)
{
	uint64_t frame_len = FRAME_HDR_SIZE + (uint64_t)size, dropped = 0, need;
	uint8_t *f;
	int r;

	assert(s);
	assert(data || size == 0);

	if (ret_dropped)
		*ret_dropped = 0;

	if (SEG_HDR_SIZE + frame_len > s->segment_size) {
		s->st.refused++;
		return -ENOBUFS;
	}

	/* Rotate when the record does not fit in the write segment any more. */
	if (s->wopen && s->segs[s->n_segs - 1].size + s->wbuf_len + frame_len > s->segment_size) {
		r = spool_commit(s);
		if (r < 0) {
			s->st.refused++;
			return r;
		}
		if (s->wopen) {
			(void)close(s->wfd);
			s->wfd = -1;
			s->wopen = false;
		}
	}

	need = frame_len + (s->wopen ? 0 : SEG_HDR_SIZE);
	while (s->bytes + need > s->max_size) {
		if (s->drop_newest || s->n_segs == 0 || is_write_seg(s, 0)) {
			s->st.refused++;
			return -ENOBUFS;
		}
		dropped += spool_drop_oldest(s);
	}
	if (ret_dropped)
		*ret_dropped = dropped;

	if (!s->wopen) {
		r = wseg_create(s);
		if (r < 0) {
			s->st.refused++;
			return r;
		}
	}

	if (s->wbuf_len + frame_len > s->wbuf_cap) {
		r = wbuf_flush(s);
		if (r < 0) {
			s->st.refused++;
			return r;
		}
		if (frame_len > s->wbuf_cap) {
			uint8_t *n = malloc(frame_len);

			if (!n) {
				s->st.refused++;
				return -ENOMEM;
			}
			free(s->wbuf);
			s->wbuf = n;
			s->wbuf_cap = frame_len;
		}
	}

	f = s->wbuf + s->wbuf_len;
	s->last_append = seg_end(&s->segs[s->n_segs - 1]) + s->wbuf_len;
	put_le32(f, FRAME_MAGIC);
	put_le32(f + 4, size);
	put_le32(f + 8, type);
	put_le64(f + 16, seq);
	if (size > 0)
		memcpy(f + FRAME_HDR_SIZE, data, size);
	put_le32(f + 12, frame_sum(seq, type, f + FRAME_HDR_SIZE, size));
	s->wbuf_len += frame_len;
	s->bytes += frame_len;
	s->segs[s->n_segs - 1].frames++;
	s->st.appended++;
	return 0;
}

int spool_read(struct spool *s, struct spool_rec *ret)
{
	uint64_t pos;
	int r;

	assert(s);
	assert(ret);

	/* A failed commit is counted and reported by the appends it concerns; read on. */
	(void)spool_commit(s);

	pos = s->rpos;
	r = spool_next(s, &pos, /* count= */ true, ret);
	if (r < 0) {
		log_ratelimited(LOG_WARNING, "Spool '%s': failed to read: %s", s->dir,
				strerror(-r));
		return r;
	}
	if (r > 0) {
		int k = inflight_push(s, ret->next);

		if (k < 0)
			return k;
	}
	/* Even at the end: damage skipped on the way stays skipped. */
	s->rpos = pos;
	return r;
}

uint64_t spool_read_offset(const struct spool *s)
{
	assert(s);
	return s->rpos;
}

uint64_t spool_append_offset(const struct spool *s)
{
	assert(s);
	return s->last_append;
}

int spool_read_held(struct spool *s, uint64_t offset, uint32_t size)
{
	uint64_t next = offset + FRAME_HDR_SIZE + size;
	size_t i;
	int r;

	assert(s);

	(void)spool_commit(s); /* a failed write shows as a frame missing from its segment */
	for (i = 0; i < s->n_segs; i++)
		if (offset >= s->segs[i].start + SEG_HDR_SIZE && offset < seg_end(&s->segs[i]))
			break;
	if (i == s->n_segs || next > seg_end(&s->segs[i]))
		return 0;
	/*
	 * Nothing spool_read() could return lies between the cursor and the frame: either the
	 * cursor is on it, or the frame is the first of its segment and the cursor is at the
	 * start of that segment or past everything before it.
	 */
	if (s->rpos != offset &&
	    !(offset == s->segs[i].start + SEG_HDR_SIZE && s->rpos <= s->segs[i].start &&
	      (i == 0 || s->rpos >= seg_end(&s->segs[i - 1]))))
		return 0;
	r = inflight_push(s, next);
	if (r < 0)
		return r;
	s->rpos = next;
	return 1;
}

int spool_rewind(struct spool *s, uint64_t offset)
{
	assert(s);

	if (offset < s->ack || offset > s->rpos)
		return -EINVAL;
	while (s->if_len > 0 && inflight_back(s) > offset)
		s->if_len--;
	s->rpos = offset;
	return 0;
}

int spool_ack(struct spool *s, uint64_t offset, bool force)
{
	assert(s);

	if (offset > s->rpos)
		return -EINVAL;
	if (offset > s->ack) {
		size_t i = 0;

		while (s->if_len > 0 && inflight_front(s) <= offset) {
			uint64_t v = inflight_front(s);

			/* Acks come in order: the segment index only moves forward. */
			while (i < s->n_segs && v > seg_end(&s->segs[i]))
				i++;
			if (i < s->n_segs && v > s->segs[i].start)
				s->segs[i].acked++;
			inflight_pop_front(s);
		}
		s->ack = offset;
		s->ack_dirty = true;

		while (s->n_segs > 0 && !is_write_seg(s, 0) && seg_end(&s->segs[0]) <= offset)
			seg_delete(s, 0);
	}

	if (s->ack_dirty && s->ack != s->ack_written &&
	    (force || now_usec() - s->ack_time_usec >= ACK_INTERVAL_USEC))
		return ack_file_write(s);
	return 0;
}

uint64_t spool_ack_offset(const struct spool *s)
{
	assert(s);
	return s->ack;
}

void spool_stats(const struct spool *s, struct spool_stats *ret)
{
	assert(s);
	assert(ret);

	*ret = s->st;
	ret->bytes = s->bytes;
	ret->segments = s->n_segs;
	ret->records = 0;
	ret->unread_bytes = 0;
	for (size_t i = 0; i < s->n_segs; i++) {
		const struct segment *seg = &s->segs[i];
		uint64_t end = seg_end(seg) + (is_write_seg(s, i) ? s->wbuf_len : 0);

		ret->records += seg->frames - MIN(seg->frames, seg->acked);
		if (end > s->rpos)
			ret->unread_bytes += end - MAX(seg->start, s->rpos);
	}
}

static int seg_cmp(const void *a, const void *b)
{
	const struct segment *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* List the segment files, sorted; empty ones (a crash right after creation) are removed. */
static int spool_load_segments(struct spool *s)
{
	_cleanup_close_ int fd = -1;
	DIR *d;
	struct dirent *de;
	int r = 0;

	fd = openat(s->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d)
		return -errno;
	TAKE_FD(fd);

	/* errno is reset per call: a failed fstatat()/unlinkat() in the loop is no readdir() error.
	 */
	while ((errno = 0, de = readdir(d))) {
		struct segment *seg;
		struct stat st;
		uint64_t start;

		if (!seg_name_parse(de->d_name, &start))
			continue;
		if (fstatat(s->dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (st.st_size == 0) {
			(void)unlinkat(s->dir_fd, de->d_name, 0);
			continue;
		}
		r = seg_append_slot(s, &seg);
		if (r < 0)
			break;
		seg->start = start;
		seg->size = (uint64_t)st.st_size;
		s->bytes += seg->size;
		s->end_offset = MAX(s->end_offset, seg_end(seg));
	}
	if (r == 0 && errno != 0)
		r = -errno;
	(void)closedir(d);
	if (r < 0)
		return r;

	if (s->n_segs > 1)
		qsort(s->segs, s->n_segs, sizeof(*s->segs), seg_cmp);
	return 0;
}

/* Count the frames after the acknowledged offset, validating them as the reader will. */
static int spool_scan(struct spool *s)
{
	uint64_t pos = s->rpos;
	struct spool_rec rec;
	int r;

	while ((r = spool_next(s, &pos, /* count= */ false, &rec)) > 0) {
		/* spool_next() may forget a vanished segment: look the index up every time. */
		for (size_t i = 0; i < s->n_segs; i++)
			if (rec.offset < seg_end(&s->segs[i])) {
				s->segs[i].frames++;
				break;
			}
		s->st.recovered++;
	}
	return r;
}

struct spool *spool_close(struct spool *s)
{
	if (!s)
		return NULL;

	(void)spool_commit(s);
	if (s->dir_fd >= 0 && s->ack_dirty && s->ack != s->ack_written)
		(void)ack_file_write(s);
	if (s->wopen)
		(void)close(s->wfd);
	rfd_close(s);
	if (s->dir_fd >= 0)
		(void)close(s->dir_fd);
	free(s->segs);
	free(s->wbuf);
	free(s->rbuf);
	free(s->inflight);
	free(s->dir);
	free(s);
	return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct spool *, spool_close)

int spool_open(const struct spool_options *o, struct spool **ret)
{
	_cleanup_(spool_closep) struct spool *s = NULL;
	uint64_t ack = 0;
	int r;

	assert(o);
	assert(o->dir);
	assert(ret);

	s = calloc(1, sizeof(*s));
	if (!s)
		return log_oom();
	s->dir_fd = s->wfd = s->rfd = -1;
	s->rfd_start = UINT64_MAX;
	rbuf_invalidate(s);
	s->sync = o->sync;
	s->drop_newest = o->drop_newest;
	s->max_size = o->max_size > 0 ? o->max_size : UINT64_MAX;
	if (o->segment_size > 0)
		s->segment_size = MAX(o->segment_size, SEGMENT_SIZE_FLOOR);
	else
		s->segment_size = MIN(MAX(s->max_size / 16, SEGMENT_SIZE_MIN), SEGMENT_SIZE_MAX);
	s->segment_size = MIN(s->segment_size, s->max_size);

	s->dir = strdup(o->dir);
	s->wbuf = malloc(WBUF_SIZE);
	if (!s->dir || !s->wbuf)
		return log_oom();
	s->wbuf_cap = WBUF_SIZE;

	r = mkdir_parents(o->dir);
	if (r < 0)
		return log_error_errno(r, "Failed to create spool directory '%s': %m", o->dir);
	s->dir_fd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0)
		return log_error_errno(errno, "Failed to open spool directory '%s': %m", o->dir);
	/* One user per spool: a second vigild (or a second instance configured onto the same
	 * directory) would interleave appends and acks. Released when the descriptor closes. */
	if (flock(s->dir_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return log_error_errno(SYNTHETIC_ERRNO(EBUSY),
					       "Spool directory '%s' is in use by another process "
					       "(another vigild?).",
					       o->dir);
		return log_error_errno(errno, "Failed to lock spool directory '%s': %m", o->dir);
	}

	r = spool_load_segments(s);
	if (r == -ENOMEM)
		return log_oom();
	if (r < 0)
		return log_error_errno(r, "Failed to read spool directory '%s': %m", o->dir);

	r = ack_file_read(s, &ack);
	if (r < 0)
		log_warning_errno(r,
				  "Spool '%s': failed to read the ack file, replaying from the "
				  "oldest record: %m",
				  o->dir);
	if (r <= 0)
		ack = 0;
	if (s->n_segs > 0)
		ack = MAX(ack, s->segs[0].start);
	s->ack = s->ack_written = ack;
	s->rpos = ack;
	s->end_offset = MAX(s->end_offset, ack);

	/* Segments wholly before the ack offset were confirmed: a crash kept them. */
	while (s->n_segs > 0 && seg_end(&s->segs[0]) <= ack)
		seg_delete(s, 0);

	r = spool_scan(s);
	if (r == -ENOMEM)
		return log_oom();
	if (r < 0)
		/* The reader will report it again; what was counted so far stands. */
		log_warning_errno(r, "Spool '%s': failed to scan the segments: %m", o->dir);
	if (s->st.recovered > 0)
		log_info("Spool '%s': %" PRIu64 " records to replay in %zu segments.", o->dir,
			 s->st.recovered, s->n_segs);

	*ret = TAKE_PTR(s);
	return 0;
}
