/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VIGIL_SPOOL_H
#define VIGIL_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The per-output disk spool (ARCHITECTURE.md §7, docs/delivery.md): an append-only log of
 * records under <state>/spool/<instance>/ that a record leaves only when the sink confirmed it.
 *
 * On disk:
 *   - segments "<20-digit offset>.seg": the number is the global byte offset of the segment's
 *     first byte; a segment is a 16-byte file header (magic "VGSPOOL\0", u32 version = 2,
 *     u32 zero) followed by frames. Global offsets grow monotonically over the life of the
 *     spool; a new segment starts at the previous segment's start + its file size, so torn
 *     garbage at a tail still has an offset and is never reused.
 *   - a frame: u32 magic 0x324C4756 ("VGL2" little-endian), u32 payload length, u32 record
 *     type, u32 checksum, u64 seq, the payload (the msgpack record). All integers
 *     little-endian. The checksum is the low 32 bits of XXH3-64 (libxxhash) of the payload
 *     with the seed seq ^ ((u64)type << 32). A frame's offset is the global offset of its
 *     magic; the record's spool position is that offset.
 *   - version 1 (vigil before the XXH3 change) wrote frames with magic 0x314C4756 ("VGL1")
 *     whose checksum is the zlib CRC-32 of the 8-byte seq followed by the payload. Both
 *     segment versions and both frame kinds are read, so a spool left by an older vigild is
 *     replayed after an upgrade; new segments are always version 2.
 *   - "ack": 32 bytes, magic "VGACK\0\0\0", u64 acknowledged offset (every record before it
 *     was confirmed), u64 reserved, u32 CRC-32 of the first 24 bytes, u32 zero. Rewritten in
 *     place with pwrite(); a bad or missing ack file means "start from the oldest segment"
 *     (at-least-once: duplicates, never loss).
 *
 * Threading: a spool is used by one thread (the output's worker) only.
 *
 * Recovery (spool_open): segments are listed and sorted by offset; the read cursor starts at the
 * acknowledged offset (clamped to the oldest segment). Frames are validated as they are read: a
 * frame with a bad magic, an impossible length or a CRC mismatch is skipped by scanning forward
 * for the next frame whose magic and CRC check out (resynchronisation), and the skipped bytes
 * and the number of damaged places are counted; a truncated frame at the end of a segment other
 * than the one being written is a torn tail: skipped and counted the same way. Appends after
 * spool_open() always go to a new segment, never after a possibly torn tail.
 */

struct spool;

/* SpoolSync= */
enum spool_sync {
	SPOOL_SYNC_NONE =
		0, /* page cache only: survives a daemon crash or kill -9, not power loss */
	SPOOL_SYNC_BATCH = 1, /* fdatasync() in spool_commit() and after each ack file write */
};

struct spool_options {
	const char *dir;       /* created (0700, parents too) if missing */
	uint64_t max_size;     /* SpoolMaxSize=: cap on the bytes of all segment files, >= 1 MiB */
	uint64_t segment_size; /* 0 = clamp(max_size / 16, 256 KiB, 64 MiB) */
	enum spool_sync sync;
	/*
	 * FullPolicy=drop-newest: when an append does not fit under max_size, refuse it
	 * (-ENOBUFS, the caller counts the record as dropped) instead of dropping the oldest
	 * segment.
	 */
	bool drop_newest;
};

/* One record read back from the spool; @data is valid until the next spool_*() call. */
struct spool_rec {
	uint64_t offset; /* its position: pass offsets to spool_ack() */
	uint64_t next;	 /* the offset right after this frame */
	uint64_t seq;
	uint32_t type;
	uint32_t size;
	const uint8_t *data;
};

/*
 * All counters monotonic over the life of the struct spool except bytes, records and
 * segments. Records are counted from the frames spool_open() found plus every append.
 */
struct spool_stats {
	uint64_t bytes;		/* bytes of all segment files (what SpoolMaxSize= caps) */
	uint64_t unread_bytes;	/* bytes from the read cursor to the end (not yet handed out) */
	uint64_t records;	/* records after the acknowledged offset (unconfirmed) */
	uint64_t segments;	/* segment files */
	uint64_t appended;	/* records appended */
	uint64_t dropped;	/* unread records lost to the cap (drop-oldest) */
	uint64_t refused;	/* appends refused: drop-newest at the cap, or a write error */
	uint64_t write_errors;	/* failed write()/fdatasync()/open() (e.g. ENOSPC, EIO) */
	uint64_t corrupt;	/* damaged places skipped (bad frames, torn tails) */
	uint64_t corrupt_bytes; /* bytes skipped there */
	uint64_t recovered;	/* frames found after the ack offset at spool_open() */
};

/*
 * Open or create the spool in @o->dir and recover it (see above). Fails with -errno (logged
 * with the directory) only when the directory cannot be created or read, or out of memory;
 * damage inside files is counted, never fatal.
 */
int spool_open(const struct spool_options *o, struct spool **ret);
/* spool_commit(), write the ack file, close. NULL-safe; returns NULL. */
struct spool *spool_close(struct spool *s);

/*
 * Append one record to the write buffer (written by spool_commit(), or when the buffer is
 * full). To make room under max_size the oldest segments are deleted first (drop-oldest; their
 * unread records are counted in dropped and reported through *ret_dropped, may be NULL); a
 * segment holding the write position is never deleted. Returns 0; -ENOBUFS when drop-newest
 * refuses it or a single record exceeds the segment size; -errno on a write error (ENOSPC,
 * EIO: the record is not in the spool; counted in refused and write_errors; later appends try
 * again, on a new segment).
 */
int spool_append(struct spool *s, uint32_t type, uint64_t seq, const void *data, uint32_t size,
		 uint64_t *ret_dropped);
/* Write out buffered appends (and fdatasync() with SPOOL_SYNC_BATCH). 0 or -errno. */
int spool_commit(struct spool *s);

/*
 * Next record at the read cursor (committing buffered appends first), advancing the cursor.
 * Returns 1 and fills @ret, 0 when everything appended was read, -errno on an I/O error (the
 * cursor stays). Damaged frames are skipped and counted, never returned.
 */
int spool_read(struct spool *s, struct spool_rec *ret);
/* Position of the read cursor (the offset spool_read() would return next, or the end). */
uint64_t spool_read_offset(const struct spool *s);
/* Offset of the frame the last successful spool_append() made (maybe still buffered). */
uint64_t spool_append_offset(const struct spool *s);
/*
 * The caller still holds in memory the record it appended at @offset (@size payload bytes): if
 * that frame is wholly written to its segment and is what spool_read() would return next,
 * advance the read cursor past it exactly as spool_read() would and return 1, so the record
 * need not be read back; else 0 (read it with spool_read(): a failed write, a cap drop or a
 * rewind came in between). Commits buffered appends first.
 */
int spool_read_held(struct spool *s, uint64_t offset, uint32_t size);
/*
 * Rewind the read cursor to @offset (>= the acknowledged offset, a frame boundary previously
 * returned by spool_read() or spool_read_offset()). Used to re-read records that were handed
 * out but not confirmed when they cannot be kept in memory. -EINVAL if out of range.
 */
int spool_rewind(struct spool *s, uint64_t offset);

/*
 * Everything before @offset is confirmed: deletes segments that lie wholly before it and
 * persists the offset in the ack file (at most every 100 ms unless @force; always with
 * @force). @offset below the current acknowledged offset is ignored; above the read cursor is
 * -EINVAL. Returns 0 or -errno (ack file write failed: counted in write_errors; the records
 * will be re-delivered after a restart, never lost).
 */
int spool_ack(struct spool *s, uint64_t offset, bool force);
uint64_t spool_ack_offset(const struct spool *s);

void spool_stats(const struct spool *s, struct spool_stats *ret);

#endif /* VIGIL_SPOOL_H */
