/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Drives a spool into a full file system for tests/spool/test-spool-enospc.sh:
 *
 *   spool-driver DIR
 *
 * 1. appends 1000-byte records (a commit every 8) until an append or commit fails with
 *    ENOSPC, then tries a few more appends, which must fail the same way;
 * 2. reads everything back: every record whose append and batch commit succeeded must be
 *    there, intact and in order (frames written before the failure may come back too);
 * 3. acknowledges all of it (deleting the full segments frees the space) and appends again,
 *    which must work; closes, reopens, and the new records are replayed.
 *
 * Prints "key=value" lines for the test script; exits 1 on any violated expectation.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/spool.h"

#define REC_SIZE    1000u
#define BATCH	    8
#define MAX_RECORDS 100000

static int failures;

#define EXPECT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("failed: %s (line %d)\n", #cond, __LINE__);                         \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static int append_one(struct spool *s, uint64_t seq)
{
	uint8_t buf[REC_SIZE];

	memset(buf, (int)(seq * 7), sizeof(buf));
	memcpy(buf, &seq, sizeof(seq));
	return spool_append(s, 3, seq, buf, sizeof(buf), NULL);
}

static bool record_ok(const struct spool_rec *rec)
{
	uint64_t v;

	if (rec->size != REC_SIZE || rec->type != 3)
		return false;
	memcpy(&v, rec->data, sizeof(v));
	if (v != rec->seq)
		return false;
	for (size_t i = sizeof(v); i < REC_SIZE; i++)
		if (rec->data[i] != (uint8_t)(rec->seq * 7))
			return false;
	return true;
}

static struct spool *open_spool(const char *dir)
{
	struct spool_options o = {
		.dir = dir,
		.max_size = 64ull << 20,
		.segment_size = 400ull << 10, /* the disk fills in the middle of a segment */
		.sync = SPOOL_SYNC_BATCH,
	};
	struct spool *s = NULL;
	int r = spool_open(&o, &s);

	if (r < 0) {
		printf("failed: spool_open: %s\n", strerror(-r));
		exit(1);
	}
	return s;
}

int main(int argc, char **argv)
{
	static bool committed[MAX_RECORDS], seen[MAX_RECORDS];
	struct spool *s;
	struct spool_rec rec;
	struct spool_stats st;
	uint64_t seq = 0, n_ok = 0, n_read = 0, last = 0, after;
	int first_err = 0, r;
	bool have_last = false;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	s = open_spool(argv[1]);

	/* 1. Fill the disk. */
	while (seq < MAX_RECORDS && first_err == 0) {
		uint64_t begin = seq;

		for (int i = 0; i < BATCH && first_err == 0; i++, seq++) {
			r = append_one(s, seq);
			if (r < 0)
				first_err = r;
		}
		r = spool_commit(s);
		if (r < 0 && first_err == 0)
			first_err = r;
		if (first_err == 0)
			for (uint64_t q = begin; q < seq; q++) {
				committed[q] = true;
				n_ok++;
			}
	}
	printf("first_error=%d\n", first_err);
	printf("committed=%" PRIu64 "\n", n_ok);
	EXPECT(first_err == -ENOSPC);
	for (int i = 0; i < 5; i++, seq++) {
		r = append_one(s, seq);
		if (r == 0)
			r = spool_commit(s);
		EXPECT(r == -ENOSPC);
	}
	spool_stats(s, &st);
	printf("write_errors=%" PRIu64 "\n", st.write_errors);
	printf("refused=%" PRIu64 "\n", st.refused);
	EXPECT(st.write_errors > 0);
	EXPECT(st.refused > 0);

	/* 2. Everything committed comes back. */
	while ((r = spool_read(s, &rec)) == 1) {
		EXPECT(record_ok(&rec));
		EXPECT(rec.seq < MAX_RECORDS);
		EXPECT(!have_last || rec.seq > last);
		if (rec.seq < MAX_RECORDS)
			seen[rec.seq] = true;
		last = rec.seq;
		have_last = true;
		n_read++;
	}
	EXPECT(r == 0);
	for (uint64_t q = 0; q < MAX_RECORDS; q++)
		if (committed[q] && !seen[q]) {
			printf("failed: committed record %" PRIu64 " not read back\n", q);
			failures++;
			break;
		}
	printf("read=%" PRIu64 "\n", n_read);
	spool_stats(s, &st);
	printf("corrupt=%" PRIu64 "\n", st.corrupt);

	/*
	 * 3. Confirm it all: the full segments are deleted. The ack file itself may not fit yet
	 * (then it is counted and written later), but the space comes back.
	 */
	r = spool_ack(s, spool_read_offset(s), true);
	EXPECT(r == 0 || r == -ENOSPC);
	after = seq;
	for (int i = 0; i < 20; i++, seq++)
		EXPECT(append_one(s, seq) == 0);
	r = spool_commit(s);
	printf("commit_after_ack=%d\n", r);
	EXPECT(r == 0);
	s = spool_close(s);

	s = open_spool(argv[1]);
	n_read = 0;
	while ((r = spool_read(s, &rec)) == 1) {
		EXPECT(record_ok(&rec));
		if (rec.seq >= after)
			n_read++;
	}
	printf("replayed_after_reopen=%" PRIu64 "\n", n_read);
	EXPECT(n_read == 20);
	spool_close(s);

	printf("failures=%d\n", failures);
	return failures ? 1 : 0;
}
