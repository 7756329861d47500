/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon/spool.c against real files in private temp directories: round trips, commit
 * visibility, acks and segment deletion, recovery after reopen (ack file present, missing,
 * damaged), torn tails, bit flips and inserted garbage (resynchronisation), the size cap with
 * both full policies, rewind, oversized records, a seeded corruption loop, and reading a spool
 * in the version-1 format (CRC-32 frames) an older vigild left, and handing out records the
 * caller still holds (spool_read_held()).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "daemon/spool.h"
#include "tap.h"

#define KIB 1024ull
#define MIB (1024ull * 1024)

/* A scratch directory per test; the spool lives in <tmp>/a/b to exercise parent creation. */
struct scratch {
	char root[64];
	char dir[128];
};

static void scratch_init(struct scratch *t)
{
	snprintf(t->root, sizeof(t->root), "/tmp/test-spool.XXXXXX");
	if (!mkdtemp(t->root)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(t->dir, sizeof(t->dir), "%s/a/b", t->root);
}

static void scratch_done(struct scratch *t)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->root);
	if (system(cmd) != 0)
		fprintf(stderr, "# failed to remove %s\n", t->root);
}

static struct spool *open_spool(const struct scratch *t, uint64_t max_size, uint64_t seg_size,
				bool drop_newest)
{
	struct spool_options o = {
		.dir = t->dir,
		.max_size = max_size,
		.segment_size = seg_size,
		.sync = SPOOL_SYNC_NONE,
		.drop_newest = drop_newest,
	};
	struct spool *s = NULL;
	int r = spool_open(&o, &s);

	if (r < 0) {
		printf("# spool_open(%s): %s\n", t->dir, strerror(-r));
		return NULL;
	}
	return s;
}

/* Deterministic payloads so a record read back can be checked against what was written. */
static uint32_t payload_size(uint64_t seq)
{
	return (uint32_t)((seq * 2654435761u) % 700);
}

static void payload_fill(uint64_t seq, uint8_t *buf, uint32_t size)
{
	for (uint32_t i = 0; i < size; i++)
		buf[i] = (uint8_t)(seq * 31 + i * 7 + (i >> 8));
}

static bool payload_ok(const struct spool_rec *rec)
{
	static uint8_t buf[1024];

	if (rec->size != payload_size(rec->seq) || rec->type != rec->seq % 5)
		return false;
	payload_fill(rec->seq, buf, rec->size);
	return memcmp(buf, rec->data, rec->size) == 0;
}

static int append_seq(struct spool *s, uint64_t seq, uint64_t *ret_dropped)
{
	uint8_t buf[1024];
	uint32_t n = payload_size(seq);

	payload_fill(seq, buf, n);
	return spool_append(s, (uint32_t)(seq % 5), seq, buf, n, ret_dropped);
}

/* Fixed-size records: seq in the first 8 bytes, the rest a pattern. */
static int append_fixed(struct spool *s, uint64_t seq, uint32_t size, uint64_t *ret_dropped)
{
	uint8_t buf[8192];

	memset(buf, (int)(seq & 0xff), sizeof(buf));
	memcpy(buf, &seq, sizeof(seq));
	return spool_append(s, 7, seq, buf, size, ret_dropped);
}

static bool fixed_ok(const struct spool_rec *rec, uint32_t size)
{
	uint64_t v;

	if (rec->size != size || rec->type != 7)
		return false;
	memcpy(&v, rec->data, sizeof(v));
	if (v != rec->seq)
		return false;
	for (uint32_t i = 8; i < size; i++)
		if (rec->data[i] != (uint8_t)(rec->seq & 0xff))
			return false;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The segment file names, sorted (oldest first); returns how many (at most @max). */
static size_t list_segments(const struct scratch *t, char names[][64], size_t max)
{
	char *ptrs[256];
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(t->dir);

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max && n < 256) {
		size_t l = strlen(de->d_name);

		if (l > 4 && strcmp(de->d_name + l - 4, ".seg") == 0)
			ptrs[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(ptrs, n, sizeof(ptrs[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], 64, "%s", ptrs[i]);
		free(ptrs[i]);
	}
	return n;
}

static void path_of(const struct scratch *t, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", t->dir, name);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? -1 : st.st_size;
}

static uint64_t total_segment_bytes(const struct scratch *t)
{
	char names[256][64], p[256];
	size_t n = list_segments(t, names, 256);
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++) {
		path_of(t, names[i], p, sizeof(p));
		sum += (uint64_t)file_size(p);
	}
	return sum;
}

static void patch_file(const char *path, off_t off, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || pwrite(fd, data, len, off) != (ssize_t)len) {
		perror(path);
		exit(1);
	}
	close(fd);
}

TEST(round_trip)
{
	struct scratch t;
	struct spool *s;
	struct spool_rec rec;
	struct spool_stats st;
	static uint8_t big[100 * KIB];
	const uint8_t one = 0xa5;

	scratch_init(&t);
	s = open_spool(&t, 64 * MIB, 0, false);
	ASSERT_NOT_NULL(s);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13 + 1);

	ASSERT_OK(spool_append(s, 1, 100, NULL, 0, NULL));
	ASSERT_OK(spool_append(s, 2, 101, &one, 1, NULL));
	ASSERT_OK(spool_append(s, 0xfffffffe, UINT64_MAX - 1, big, sizeof(big), NULL));
	ASSERT_OK(spool_commit(s));

	ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_EQ(rec.type, 1);
	ASSERT_EQ(rec.seq, 100);
	ASSERT_EQ(rec.size, 0);
	ASSERT_EQ(rec.next, rec.offset + 24);
	ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_EQ(rec.type, 2);
	ASSERT_EQ(rec.seq, 101);
	ASSERT_EQ(rec.size, 1);
	ASSERT_EQ(rec.data[0], 0xa5);
	ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_EQ(rec.type, 0xfffffffe);
	ASSERT_TRUE(rec.seq == UINT64_MAX - 1);
	ASSERT_EQ(rec.size, sizeof(big));
	ASSERT_MEMEQ(rec.data, big, sizeof(big));
	ASSERT_EQ(spool_read_offset(s), rec.next);
	ASSERT_EQ(spool_read(s, &rec), 0);

	spool_stats(s, &st);
	ASSERT_EQ(st.appended, 3);
	ASSERT_EQ(st.records, 3);
	ASSERT_EQ(st.segments, 1);
	ASSERT_EQ(st.unread_bytes, 0);
	ASSERT_EQ(st.corrupt, 0);
	/* One segment: header + three frames, and that is what the disk holds. */
	ASSERT_EQ(st.bytes, 16 + 24 + 25 + 24 + sizeof(big));
	ASSERT_EQ(total_segment_bytes(&t), st.bytes);

	ASSERT_OK(spool_ack(s, spool_read_offset(s), true));
	spool_stats(s, &st);
	ASSERT_EQ(st.records, 0);
	s = spool_close(s);
	ASSERT_NULL(s);
	ASSERT_NULL(spool_close(NULL));
	scratch_done(&t);
}

TEST(one_user_per_spool)
{
	struct spool_options o = {.max_size = 64 * MIB};
	struct scratch t;
	struct spool *s, *s2 = NULL;

	scratch_init(&t);
	s = open_spool(&t, 64 * MIB, 0, false);
	ASSERT_NOT_NULL(s);
	/* A second vigild on the same directory is refused while the first holds it. */
	o.dir = t.dir;
	ASSERT_ERRNO(spool_open(&o, &s2), EBUSY);
	ASSERT_NULL(s2);
	spool_close(s);
	ASSERT_OK(spool_open(&o, &s2));
	spool_close(s2);
	scratch_done(&t);
}

TEST(read_sees_committed_appends)
{
	struct scratch t;
	struct spool *s;
	struct spool_rec rec;
	struct spool_stats st;
	uint64_t after_first;

	scratch_init(&t);
	s = open_spool(&t, 64 * MIB, 0, false);
	ASSERT_NOT_NULL(s);

	ASSERT_OK(append_seq(s, 1, NULL));
	/* Buffered, not written yet: nothing on disk, but counted. */
	ASSERT_EQ(total_segment_bytes(&t), 0);
	spool_stats(s, &st);
	ASSERT_EQ(st.unread_bytes, 16 + 24 + payload_size(1));

	/* spool_read() commits first, so the record is on disk and read back from it. */
	ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_EQ(rec.seq, 1);
	ASSERT_TRUE(payload_ok(&rec));
	ASSERT_EQ(total_segment_bytes(&t), 16 + 24 + payload_size(1));
	ASSERT_EQ(spool_read(s, &rec), 0);
	after_first = spool_read_offset(s);

	/* Further appends to the same (current) segment become visible to the reader. */
	for (uint64_t q = 2; q <= 50; q++)
		ASSERT_OK(append_seq(s, q, NULL));
	for (uint64_t q = 2; q <= 50; q++) {
		ASSERT_EQ(spool_read(s, &rec), 1);
		ASSERT_EQ(rec.seq, q);
		ASSERT_TRUE(payload_ok(&rec));
		if (q == 2)
			ASSERT_EQ(rec.offset, after_first);
	}
	ASSERT_EQ(spool_read(s, &rec), 0);
	spool_stats(s, &st);
	ASSERT_EQ(st.segments, 1);
	ASSERT_EQ(st.records, 50);
	spool_close(s);
	scratch_done(&t);
}

TEST(ack_deletes_whole_segments_only)
{
	struct scratch t;
	struct spool *s;
	struct spool_rec rec, recs[40];
	struct spool_stats st;
	char names[64][64], first[64];
	size_t n;

	scratch_init(&t);
	/* 4 KiB segments, 1000-byte records: three per segment. */
	s = open_spool(&t, 64 * MIB, 4 * KIB, false);
	ASSERT_NOT_NULL(s);
	for (uint64_t q = 0; q < 30; q++)
		ASSERT_OK(append_fixed(s, q, 1000, NULL));
	ASSERT_OK(spool_commit(s));
	n = list_segments(&t, names, 64);
	ASSERT_EQ(n, 10);
	snprintf(first, sizeof(first), "%s", names[0]);
	for (int i = 0; i < 30; i++) {
		ASSERT_EQ(spool_read(s, &recs[i]), 1);
		ASSERT_EQ(recs[i].seq, (uint64_t)i);
		ASSERT_TRUE(fixed_ok(&recs[i], 1000));
	}
	ASSERT_EQ(spool_read(s, &rec), 0);

	/* Acking the first two records of segment 0 deletes nothing. */
	ASSERT_OK(spool_ack(s, recs[1].next, true));
	ASSERT_EQ(list_segments(&t, names, 64), 10);
	ASSERT_EQ(spool_ack_offset(s), recs[1].next);
	spool_stats(s, &st);
	ASSERT_EQ(st.records, 28);

	/* Acking into segment 1 deletes segment 0 only. */
	ASSERT_OK(spool_ack(s, recs[4].next, true));
	n = list_segments(&t, names, 64);
	ASSERT_EQ(n, 9);
	ASSERT_TRUE(strcmp(names[0], first) > 0);
	spool_stats(s, &st);
	ASSERT_EQ(st.records, 25);
	ASSERT_EQ(st.segments, 9);

	/* An older offset is ignored. */
	ASSERT_OK(spool_ack(s, recs[0].next, true));
	ASSERT_EQ(spool_ack_offset(s), recs[4].next);

	/* Beyond the read cursor is refused. */
	ASSERT_ERRNO(spool_ack(s, spool_read_offset(s) + 1, true), EINVAL);

	/* Everything: all but the segment being written go. */
	ASSERT_OK(spool_ack(s, recs[29].next, true));
	ASSERT_EQ(list_segments(&t, names, 64), 1);
	spool_stats(s, &st);
	ASSERT_EQ(st.records, 0);
	ASSERT_EQ(st.segments, 1);
	ASSERT_EQ(st.bytes, total_segment_bytes(&t));
	spool_close(s);
	scratch_done(&t);
}

TEST(reopen_resumes_at_ack)
{
	struct scratch t;
	struct spool *s;
	struct spool_rec rec;
	struct spool_stats st;

	scratch_init(&t);
	s = open_spool(&t, 64 * MIB, 4 * KIB, false);
	ASSERT_NOT_NULL(s);
	for (uint64_t q = 0; q < 20; q++)
		ASSERT_OK(append_seq(s, q, NULL));
	for (uint64_t q = 0; q < 7; q++) {
		ASSERT_EQ(spool_read(s, &rec), 1);
		ASSERT_EQ(rec.seq, q);
	}
	/* Not forced: spool_close() must persist it anyway. */
	ASSERT_OK(spool_ack(s, rec.next, false));
	/* Read further without acking: those are replayed. */
	ASSERT_EQ(spool_read(s, &rec), 1);
	spool_close(s);

	s = open_spool(&t, 64 * MIB, 4 * KIB, false);
	ASSERT_NOT_NULL(s);
	spool_stats(s, &st);
	ASSERT_EQ(st.recovered, 13);
	ASSERT_EQ(st.records, 13);
	for (uint64_t q = 7; q < 20; q++) {
		ASSERT_EQ(spool_read(s, &rec), 1);
		ASSERT_EQ(rec.seq, q);
		ASSERT_TRUE(payload_ok(&rec));
	}
	ASSERT_EQ(spool_read(s, &rec), 0);

	/* Appends after a reopen go to a new segment and are read after the old ones. */
	ASSERT_OK(append_seq(s, 20, NULL));
	ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_EQ(rec.seq, 20);
	ASSERT_EQ(spool_read(s, &rec), 0);
	spool_stats(s, &st);
	ASSERT_EQ(st.corrupt, 0);
	spool_close(s);
	scratch_done(&t);
}

/* Shared by the missing and the damaged ack file tests. */
static void ack_file_case(bool damage)
{
	struct scratch t;
	struct spool *s;
	struct spool_rec rec;
	struct spool_stats st;
	char p[256];

	scratch_init(&t);
	s = open_spool(&t, 64 * MIB, 0, false);
	ASSERT_NOT_NULL(s);
	for (uint64_t q = 0; q < 5; q++)
		ASSERT_OK(append_seq(s, q, NULL));
	ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_OK(spool_ack(s, rec.next, true));
	spool_close(s);

	path_of(&t, "ack", p, sizeof(p));
	ASSERT_EQ(file_size(p), 32);
	if (damage) {
		uint8_t b = 0;
		int fd = open(p, O_RDONLY);

		/* Flip a bit of the offset: the CRC no longer matches. */
		ASSERT_TRUE(fd >= 0);
		ASSERT_EQ(pread(fd, &b, 1, 8), 1);
		close(fd);
		b ^= 0x01;
		patch_file(p, 8, &b, 1);
	} else
		ASSERT_OK(unlink(p));

	s = open_spool(&t, 64 * MIB, 0, false);
	ASSERT_NOT_NULL(s);
	spool_stats(s, &st);
	ASSERT_EQ(st.recovered, 5);
	for (uint64_t q = 0; q < 5; q++) {
		ASSERT_EQ(spool_read(s, &rec), 1);
		ASSERT_EQ(rec.seq, q);
		ASSERT_TRUE(payload_ok(&rec));
	}
	ASSERT_EQ(spool_read(s, &rec), 0);
	spool_close(s);
	scratch_done(&t);
}

TEST(reopen_without_ack_file_replays_all)
{
	ack_file_case(false);
}

TEST(reopen_with_damaged_ack_file_replays_all)
{
	ack_file_case(true);
}

TEST(torn_tail)
{
	struct scratch t;
	struct spool *s;
	struct spool_rec rec;
	struct spool_stats st;
	char names[8][64], p[256];
	off_t size;

	scratch_init(&t);
	s = open_spool(&t, 64 * MIB, 0, false);
	ASSERT_NOT_NULL(s);
	for (uint64_t q = 0; q < 10; q++)
		ASSERT_OK(append_fixed(s, q, 100, NULL));
	spool_close(s);

	ASSERT_EQ(list_segments(&t, names, 8), 1);
	path_of(&t, names[0], p, sizeof(p));
	size = file_size(p);
	ASSERT_EQ(size, 16 + 10 * 124);
	/* Cut the last frame in its payload. */
	ASSERT_OK(truncate(p, size - 50));

	s = open_spool(&t, 64 * MIB, 0, false);
	ASSERT_NOT_NULL(s);
	spool_stats(s, &st);
	ASSERT_EQ(st.recovered, 9);
	for (uint64_t q = 0; q < 9; q++) {
		ASSERT_EQ(spool_read(s, &rec), 1);
		ASSERT_EQ(rec.seq, q);
		ASSERT_TRUE(fixed_ok(&rec, 100));
	}
	/* New appends (in a new segment) are read after the torn tail. */
	ASSERT_OK(append_fixed(s, 100, 100, NULL));
	ASSERT_OK(append_fixed(s, 101, 100, NULL));
	ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_EQ(rec.seq, 100);
	ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_EQ(rec.seq, 101);
	ASSERT_EQ(spool_read(s, &rec), 0);
	spool_stats(s, &st);
	ASSERT_EQ(st.corrupt, 1);
	ASSERT_EQ(st.corrupt_bytes, 124 - 50);
	ASSERT_EQ(st.segments, 2);
	ASSERT_EQ(list_segments(&t, names, 8), 2);
	spool_close(s);
	scratch_done(&t);
}

TEST(bit_flip_skips_one_frame)
{
	struct scratch t;
	struct spool *s;
	struct spool_rec rec;
	struct spool_stats st;
	char names[8][64], p[256];
	uint8_t b;
	int fd;

	scratch_init(&t);
	s = open_spool(&t, 64 * MIB, 0, false);
	ASSERT_NOT_NULL(s);
	for (uint64_t q = 0; q < 5; q++)
		ASSERT_OK(append_fixed(s, q, 100, NULL));
	spool_close(s);

	ASSERT_EQ(list_segments(&t, names, 8), 1);
	path_of(&t, names[0], p, sizeof(p));
	/* Frame 2's payload, byte 50. */
	fd = open(p, O_RDONLY);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(pread(fd, &b, 1, 16 + 2 * 124 + 24 + 50), 1);
	close(fd);
	b ^= 0x10;
	patch_file(p, 16 + 2 * 124 + 24 + 50, &b, 1);

	s = open_spool(&t, 64 * MIB, 0, false);
	ASSERT_NOT_NULL(s);
	for (uint64_t q = 0; q < 5; q++) {
		if (q == 2)
			continue;
		ASSERT_EQ(spool_read(s, &rec), 1);
		ASSERT_EQ(rec.seq, q);
		ASSERT_TRUE(fixed_ok(&rec, 100));
	}
	ASSERT_EQ(spool_read(s, &rec), 0);
	spool_stats(s, &st);
	ASSERT_EQ(st.corrupt, 1);
	ASSERT_EQ(st.corrupt_bytes, 124);

	/* Re-reading the damaged place after a rewind does not count it twice. */
	ASSERT_OK(spool_rewind(s, spool_ack_offset(s)));
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_EQ(spool_read(s, &rec), 0);
	spool_stats(s, &st);
	ASSERT_EQ(st.corrupt, 1);
	spool_close(s);
	scratch_done(&t);
}

TEST(garbage_between_frames_resyncs)
{
	struct scratch t;
	struct spool *s;
	struct spool_rec rec;
	struct spool_stats st;
	char names[8][64], p[256];
	uint8_t file[4096], garbage[333];
	ssize_t n;
	size_t cut = 16 + 2 * 124;
	int fd;

	scratch_init(&t);
	s = open_spool(&t, 64 * MIB, 0, false);
	ASSERT_NOT_NULL(s);
	for (uint64_t q = 0; q < 5; q++)
		ASSERT_OK(append_fixed(s, q, 100, NULL));
	spool_close(s);

	ASSERT_EQ(list_segments(&t, names, 8), 1);
	path_of(&t, names[0], p, sizeof(p));
	fd = open(p, O_RDONLY);
	ASSERT_TRUE(fd >= 0);
	n = read(fd, file, sizeof(file));
	close(fd);
	ASSERT_EQ(n, 16 + 5 * 124);
	/* Garbage that even contains a frame magic with a bogus header. */
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (uint8_t)(i * 37 + 11);
	memcpy(garbage + 100, "VGL2", 4);
	fd = open(p, O_WRONLY | O_TRUNC);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, file, cut), (ssize_t)cut);
	ASSERT_EQ(write(fd, garbage, sizeof(garbage)), (ssize_t)sizeof(garbage));
	ASSERT_EQ(write(fd, file + cut, (size_t)n - cut), n - (ssize_t)cut);
	close(fd);

	s = open_spool(&t, 64 * MIB, 0, false);
	ASSERT_NOT_NULL(s);
	spool_stats(s, &st);
	ASSERT_EQ(st.recovered, 5);
	for (uint64_t q = 0; q < 5; q++) {
		ASSERT_EQ(spool_read(s, &rec), 1);
		ASSERT_EQ(rec.seq, q);
		ASSERT_TRUE(fixed_ok(&rec, 100));
	}
	ASSERT_EQ(spool_read(s, &rec), 0);
	spool_stats(s, &st);
	ASSERT_EQ(st.corrupt, 1);
	ASSERT_EQ(st.corrupt_bytes, sizeof(garbage));
	spool_close(s);
	scratch_done(&t);
}

TEST(cap_drop_oldest)
{
	struct scratch t;
	struct spool *s;
	struct spool_rec rec;
	struct spool_stats st;
	uint64_t dropped_sum = 0, dropped, first_seq = 0, n_read = 0, last = 0, before;
	struct spool_rec oldest = {};
	bool first = true;

	scratch_init(&t);
	/* 16 KiB cap in 4 KiB segments of three 1000-byte records. */
	s = open_spool(&t, 16 * KIB, 4 * KIB, false);
	ASSERT_NOT_NULL(s);
	for (uint64_t q = 0; q < 40; q++) {
		ASSERT_OK(append_fixed(s, q, 1000, &dropped));
		dropped_sum += dropped;
		spool_stats(s, &st);
		ASSERT_TRUE(st.bytes <= 16 * KIB);
	}
	ASSERT_OK(spool_commit(s));
	spool_stats(s, &st);
	ASSERT_TRUE(dropped_sum > 0);
	ASSERT_EQ(st.dropped, dropped_sum);
	ASSERT_EQ(st.appended, 40);
	ASSERT_EQ(st.refused, 0);
	/* Whole segments went: a multiple of three records. */
	ASSERT_EQ(dropped_sum % 3, 0);
	ASSERT_EQ(st.records, 40 - dropped_sum);
	ASSERT_TRUE(total_segment_bytes(&t) <= 16 * KIB);
	ASSERT_EQ(total_segment_bytes(&t), st.bytes);

	while (spool_read(s, &rec) == 1) {
		ASSERT_TRUE(fixed_ok(&rec, 1000));
		if (first) {
			first_seq = rec.seq;
			oldest = rec;
		} else
			ASSERT_EQ(rec.seq, last + 1);
		first = false;
		last = rec.seq;
		n_read++;
	}
	/* The newest survive, in order, and nothing went missing uncounted. */
	ASSERT_EQ(first_seq, dropped_sum);
	ASSERT_EQ(last, 39);
	ASSERT_EQ(n_read + dropped_sum, 40);

	/* Records handed out but unconfirmed are not counted as dropped when their segment goes. */
	dropped_sum = 0;
	for (uint64_t q = 40; q < 60; q++) {
		ASSERT_OK(append_fixed(s, q, 1000, &dropped));
		dropped_sum += dropped;
	}
	n_read = 0;
	while (spool_read(s, &rec) == 1) {
		ASSERT_TRUE(rec.seq >= 40);
		n_read++;
	}
	ASSERT_EQ(n_read + dropped_sum, 20);
	ASSERT_TRUE(n_read < 20);
	/* The ack offset moved past the dropped segments; acks below it are no-ops. */
	ASSERT_TRUE(spool_ack_offset(s) > oldest.next);
	before = spool_ack_offset(s);
	ASSERT_OK(spool_ack(s, oldest.next, true));
	ASSERT_EQ(spool_ack_offset(s), before);
	spool_close(s);
	scratch_done(&t);
}

TEST(cap_drop_newest)
{
	struct scratch t;
	struct spool *s;
	struct spool_rec rec;
	struct spool_stats st;
	uint64_t ok = 0, dropped;
	int r;

	scratch_init(&t);
	s = open_spool(&t, 16 * KIB, 4 * KIB, true);
	ASSERT_NOT_NULL(s);
	for (uint64_t q = 0; q < 40; q++) {
		r = append_fixed(s, q, 1000, &dropped);
		ASSERT_EQ(dropped, 0);
		if (r == 0) {
			ASSERT_EQ(q, ok); /* once full, stays full */
			ok++;
		} else
			ASSERT_ERRNO(r, ENOBUFS);
	}
	spool_stats(s, &st);
	ASSERT_TRUE(ok >= 9 && ok < 40);
	ASSERT_EQ(st.refused, 40 - ok);
	ASSERT_EQ(st.dropped, 0);
	for (uint64_t q = 0; q < ok; q++) {
		ASSERT_EQ(spool_read(s, &rec), 1);
		ASSERT_EQ(rec.seq, q);
	}
	ASSERT_EQ(spool_read(s, &rec), 0);

	/* Confirming frees room again. */
	ASSERT_OK(spool_ack(s, spool_read_offset(s), true));
	ASSERT_OK(append_fixed(s, 1000, 1000, NULL));
	ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_EQ(rec.seq, 1000);
	spool_close(s);
	scratch_done(&t);
}

TEST(rewind_rereads)
{
	struct scratch t;
	struct spool *s;
	struct spool_rec rec, r1;
	struct spool_stats st;

	scratch_init(&t);
	s = open_spool(&t, 64 * MIB, 4 * KIB, false);
	ASSERT_NOT_NULL(s);
	for (uint64_t q = 0; q < 12; q++)
		ASSERT_OK(append_fixed(s, q, 1000, NULL));
	ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_OK(spool_ack(s, rec.next, true));
	ASSERT_EQ(spool_read(s, &r1), 1);
	for (int i = 0; i < 6; i++)
		ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_EQ(rec.seq, 7);

	/* Back across a segment boundary to the first unconfirmed record. */
	ASSERT_OK(spool_rewind(s, r1.offset));
	ASSERT_EQ(spool_read_offset(s), r1.offset);
	for (uint64_t q = 1; q < 12; q++) {
		ASSERT_EQ(spool_read(s, &rec), 1);
		ASSERT_EQ(rec.seq, q);
		ASSERT_TRUE(fixed_ok(&rec, 1000));
	}
	ASSERT_EQ(spool_read(s, &rec), 0);

	ASSERT_ERRNO(spool_rewind(s, r1.offset - 1), EINVAL);		 /* before the ack */
	ASSERT_ERRNO(spool_rewind(s, spool_read_offset(s) + 1), EINVAL); /* past the cursor */

	/* Acking everything after the rewind counts each record once. */
	ASSERT_OK(spool_ack(s, spool_read_offset(s), true));
	spool_stats(s, &st);
	ASSERT_EQ(st.records, 0);
	spool_close(s);
	scratch_done(&t);
}

/*
 * Records the caller still holds are handed out by spool_read_held() without being read back,
 * only when they are next (across a segment boundary too); spool_read() continues after them;
 * a held record whose segment the cap deleted, or one that is not next, is refused.
 */
TEST(read_held_only_when_next)
{
	struct scratch t;
	struct spool *s;
	struct spool_rec rec;
	struct spool_stats st;
	uint64_t off[24], dropped = 0;

	scratch_init(&t);
	/* 4 KiB segments of three 1000-byte records. */
	s = open_spool(&t, 64 * MIB, 4 * KIB, false);
	ASSERT_NOT_NULL(s);
	for (uint64_t q = 0; q < 8; q++) {
		ASSERT_OK(append_fixed(s, q, 1000, NULL));
		off[q] = spool_append_offset(s);
	}
	ASSERT_EQ(off[0], 16);
	ASSERT_EQ(off[1], 16 + 1024);
	ASSERT_EQ(spool_read_held(s, off[1], 1000), 0); /* record 0 comes first */
	ASSERT_EQ(spool_read_held(s, off[0], 1000), 1);
	ASSERT_EQ(spool_read_held(s, off[0], 1000), 0); /* handed out already */
	ASSERT_EQ(spool_read_held(s, off[1], 1000), 1);
	ASSERT_EQ(spool_read_held(s, off[2], 1000), 1);
	/* Record 3 opens the second segment: next, across the boundary. */
	ASSERT_EQ(spool_read_held(s, off[3], 1000), 1);
	/* The reader goes on after them, from the file: same offsets as appended. */
	for (uint64_t q = 4; q < 6; q++) {
		ASSERT_EQ(spool_read(s, &rec), 1);
		ASSERT_EQ(rec.seq, q);
		ASSERT_EQ(rec.offset, off[q]);
		ASSERT_TRUE(fixed_ok(&rec, 1000));
	}
	ASSERT_EQ(spool_read_held(s, off[6], 1000), 1);
	ASSERT_EQ(spool_read_held(s, off[7], 1000), 1);
	ASSERT_EQ(spool_read(s, &rec), 0);
	ASSERT_EQ(spool_read_held(s, off[7] + 1024, 1000), 0); /* never appended */
	/* Held records are acknowledged like read ones: each counted once. */
	ASSERT_OK(spool_ack(s, spool_read_offset(s), true));
	spool_stats(s, &st);
	ASSERT_EQ(st.records, 0);
	spool_close(s);
	scratch_done(&t);

	/* A cap that deletes the held record's segment: refused, the spool counted it dropped. */
	scratch_init(&t);
	s = open_spool(&t, 16 * KIB, 4 * KIB, false);
	ASSERT_NOT_NULL(s);
	for (uint64_t q = 0; q < 24; q++) {
		uint64_t d;

		ASSERT_OK(append_fixed(s, q, 1000, &d));
		off[q] = spool_append_offset(s);
		dropped += d;
	}
	ASSERT_TRUE(dropped > 0);
	ASSERT_EQ(spool_read_held(s, off[0], 1000), 0);
	ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_EQ(rec.seq, dropped); /* the oldest survivor */
	ASSERT_EQ(rec.offset, off[dropped]);
	ASSERT_EQ(spool_read_held(s, off[dropped + 1], 1000), 1);
	spool_close(s);
	scratch_done(&t);
}

TEST(oversized_record)
{
	struct scratch t;
	struct spool *s;
	struct spool_rec rec;
	struct spool_stats st;
	uint8_t *big = calloc(1, 2 * MIB);

	ASSERT_NOT_NULL(big);
	scratch_init(&t);
	s = open_spool(&t, 64 * MIB, 4 * KIB, false);
	ASSERT_NOT_NULL(s);
	ASSERT_ERRNO(spool_append(s, 1, 1, big, 5000, NULL), ENOBUFS);
	/* Exactly filling a segment is fine. */
	ASSERT_OK(spool_append(s, 1, 2, big, 4096 - 16 - 24, NULL));
	spool_stats(s, &st);
	ASSERT_EQ(st.refused, 1);
	ASSERT_EQ(st.appended, 1);
	ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_EQ(rec.seq, 2);
	spool_close(s);

	/* The default segment size for a 16 MiB cap is 1 MiB. */
	scratch_done(&t);
	scratch_init(&t);
	s = open_spool(&t, 16 * MIB, 0, false);
	ASSERT_NOT_NULL(s);
	ASSERT_ERRNO(spool_append(s, 1, 1, big, 2 * MIB, NULL), ENOBUFS);
	ASSERT_OK(spool_append(s, 1, 2, big, 1 * MIB - 100, NULL));
	ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_EQ(rec.size, 1 * MIB - 100);
	spool_close(s);
	free(big);
	scratch_done(&t);
}

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: seeded, so a failure replays. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A damaged seq or type fails the frame checksum (it is seeded with both), not only payload. */
TEST(checksum_covers_seq_and_type)
{
	struct scratch t;
	struct spool *s;
	struct spool_rec rec;
	struct spool_stats st;
	char names[8][64], p[256];
	uint8_t b;

	scratch_init(&t);
	s = open_spool(&t, 64 * MIB, 0, false);
	ASSERT_NOT_NULL(s);
	for (uint64_t q = 0; q < 3; q++)
		ASSERT_OK(append_fixed(s, q, 100, NULL));
	spool_close(s);
	ASSERT_EQ(list_segments(&t, names, 8), 1);
	path_of(&t, names[0], p, sizeof(p));
	/* Frame 0: seq at 16 + 16; frame 1: type at 16 + 124 + 8. */
	b = 0x40;
	patch_file(p, 16 + 16, &b, 1);
	b = 6;
	patch_file(p, 16 + 124 + 8, &b, 1);

	s = open_spool(&t, 64 * MIB, 0, false);
	ASSERT_NOT_NULL(s);
	ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_EQ(rec.seq, 2);
	ASSERT_TRUE(fixed_ok(&rec, 100));
	ASSERT_EQ(spool_read(s, &rec), 0);
	spool_stats(s, &st);
	ASSERT_EQ(st.corrupt, 1); /* one damaged place: both frames, back to back */
	ASSERT_EQ(st.corrupt_bytes, 2 * 124);
	spool_close(s);
	scratch_done(&t);
}

/*
 * A spool written by an older vigild (segment version 1, "VGL1" frames with a CRC-32 over the
 * seq bytes and the payload) is replayed after an upgrade, its damaged frames still caught;
 * new appends go to a new, version-2 segment after it, read back in order.
 */
TEST(reads_version_1_spool)
{
	struct scratch t;
	struct spool *s;
	struct spool_rec rec;
	struct spool_stats st;
	uint8_t file[16 + 4 * (24 + 100)], *f;
	char names[8][64], p[256];
	int fd;

	scratch_init(&t);
	s = open_spool(&t, 64 * MIB, 0, false); /* creates the directory */
	ASSERT_NOT_NULL(s);
	spool_close(s);

	memcpy(file, "VGSPOOL\0", 8);
	put32(file + 8, 1);
	put32(file + 12, 0);
	f = file + 16;
	for (uint64_t q = 0; q < 4; q++, f += 24 + 100) {
		uint8_t seq_le[8];
		uLong crc;

		put32(f, 0x314C4756u);
		put32(f + 4, 100);
		put32(f + 8, 7);
		put64(f + 16, q);
		memset(f + 24, (int)(q & 0xff), 100);
		memcpy(f + 24, &q, sizeof(q));
		put64(seq_le, q);
		crc = crc32(crc32(0L, seq_le, 8), f + 24, 100);
		/* Record 2 is damaged: its CRC is off by one. */
		put32(f + 12, (uint32_t)crc + (q == 2));
	}
	path_of(&t, "00000000000000000000.seg", p, sizeof(p));
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, file, sizeof(file)), (ssize_t)sizeof(file));
	close(fd);

	s = open_spool(&t, 64 * MIB, 0, false);
	ASSERT_NOT_NULL(s);
	spool_stats(s, &st);
	ASSERT_EQ(st.recovered, 3);
	ASSERT_OK(append_fixed(s, 10, 100, NULL));
	for (uint64_t q = 0; q < 4; q++) {
		if (q == 2)
			continue;
		ASSERT_EQ(spool_read(s, &rec), 1);
		ASSERT_EQ(rec.seq, q);
		ASSERT_TRUE(fixed_ok(&rec, 100));
	}
	ASSERT_EQ(spool_read(s, &rec), 1);
	ASSERT_EQ(rec.seq, 10);
	ASSERT_TRUE(fixed_ok(&rec, 100));
	ASSERT_EQ(spool_read(s, &rec), 0);
	spool_stats(s, &st);
	ASSERT_EQ(st.corrupt, 1);
	spool_close(s);

	/* The new segment is version 2 with "VGL2" frames. */
	ASSERT_EQ(list_segments(&t, names, 8), 2);
	path_of(&t, names[1], p, sizeof(p));
	fd = open(p, O_RDONLY);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(read(fd, file, 16 + 4), 16 + 4);
	close(fd);
	ASSERT_EQ(file[8], 2);
	ASSERT_TRUE(memcmp(file + 16, "VGL2", 4) == 0);
	scratch_done(&t);
}

TEST(random_corruption)
{
	uint64_t total_read = 0, total_corrupt = 0;

	rng_state = 0x5eed5eedull;
	for (int iter = 0; iter < 200; iter++) {
		struct scratch t;
		struct spool *s;
		struct spool_rec rec;
		struct spool_stats st;
		char names[64][64], p[256];
		uint64_t n = 20 + rng() % 60, prev = 0, got = 0, seq0 = (uint64_t)iter * 1000;
		bool have_prev = false;
		size_t nseg;
		int rounds;

		scratch_init(&t);
		s = open_spool(&t, 64 * MIB, 4 * KIB, false);
		ASSERT_NOT_NULL(s);
		for (uint64_t q = 0; q < n; q++)
			ASSERT_OK(append_seq(s, seq0 + q, NULL));
		/* Sometimes confirm a prefix so recovery starts inside a segment. */
		if (rng() % 2) {
			uint64_t k = rng() % n;

			for (uint64_t q = 0; q < k; q++)
				ASSERT_EQ(spool_read(s, &rec), 1);
			ASSERT_OK(spool_ack(s, spool_read_offset(s), true));
		}
		spool_close(s);

		nseg = list_segments(&t, names, 64);
		rounds = 1 + (int)(rng() % 4);
		for (int k = 0; k < rounds && nseg > 0; k++) {
			off_t size;

			path_of(&t, names[rng() % nseg], p, sizeof(p));
			size = file_size(p);
			if (size <= 0)
				continue;
			switch (rng() % 4) {
			case 0:
				ASSERT_OK(truncate(p, (off_t)(rng() % (uint64_t)size)));
				break;
			case 1: {
				/* One bit. */
				uint8_t b = (uint8_t)(1u << (rng() % 8));
				off_t off = (off_t)(rng() % (uint64_t)size);
				uint8_t old;
				int fd = open(p, O_RDONLY);

				ASSERT_TRUE(fd >= 0);
				ASSERT_EQ(pread(fd, &old, 1, off), 1);
				close(fd);
				old ^= b;
				patch_file(p, off, &old, 1);
				break;
			}
			default: {
				/* A random run of random bytes (may extend the file). */
				uint8_t junk[300];
				size_t len = 1 + rng() % sizeof(junk);

				for (size_t i = 0; i < len; i++)
					junk[i] = (uint8_t)rng();
				if (rng() % 3 == 0)
					memcpy(junk, "VGL2", 4);
				patch_file(p, (off_t)(rng() % (uint64_t)size), junk, len);
				break;
			}
			}
		}
		if (rng() % 8 == 0) {
			path_of(&t, "ack", p, sizeof(p));
			(void)truncate(p, (off_t)(rng() % 32));
		}

		s = open_spool(&t, 64 * MIB, 4 * KIB, false);
		ASSERT_NOT_NULL(s);
		while (spool_read(s, &rec) == 1) {
			/* Every record returned is one that was written, intact, in order. */
			ASSERT_TRUE(rec.seq >= seq0 && rec.seq < seq0 + n);
			ASSERT_TRUE(payload_ok(&rec));
			if (have_prev)
				ASSERT_TRUE(rec.seq > prev);
			prev = rec.seq;
			have_prev = true;
			got++;
			if (rng() % 16 == 0)
				ASSERT_OK(spool_ack(s, rec.next, rng() % 2));
		}
		/* And the spool still works after the damage. */
		ASSERT_OK(append_seq(s, seq0 + 999, NULL));
		ASSERT_EQ(spool_read(s, &rec), 1);
		ASSERT_EQ(rec.seq, seq0 + 999);
		ASSERT_TRUE(payload_ok(&rec));
		ASSERT_EQ(spool_read(s, &rec), 0);
		spool_stats(s, &st);
		ASSERT_TRUE(got <= n);
		total_read += got;
		total_corrupt += st.corrupt;
		spool_close(s);
		scratch_done(&t);
	}
	/* The loop did exercise both paths. */
	ASSERT_TRUE(total_read > 0);
	ASSERT_TRUE(total_corrupt > 0);
	printf("# %" PRIu64 " records read back, %" PRIu64 " damaged places skipped\n", total_read,
	       total_corrupt);
}

int main(void)
{
	return tap_run();
}
