/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "util/macro.h"
#include "tap.h"

static union {
	struct vigil_exec_event ev;
	uint64_t align[(sizeof(struct vigil_exec_event) + 64) / 8];
} xb;

static size_t build_exec(uint32_t bl, uint32_t cl, uint32_t al)
{
	memset(&xb, 0, sizeof(xb));
	xb.ev.hdr.type = VIGIL_EV_EXEC;
	xb.ev.hdr.version = VIGIL_EVENT_VERSION;
	xb.ev.binary_len = bl;
	xb.ev.cwd_len = cl;
	xb.ev.args_len = al;
	memcpy(xb.ev.data, "/bin/ls/roota\0-l\0", 17);
	xb.ev.hdr.size = sizeof(xb.ev) + bl + cl + al;
	return xb.ev.hdr.size;
}

TEST(exec_ok)
{
	struct event_decoded d;
	size_t n = build_exec(7, 5, 5);

	ASSERT_OK(event_decode(&xb, n, &d));
	ASSERT_EQ(d.type, VIGIL_EV_EXEC);
	ASSERT_TRUE(d.exec.ev == &xb.ev);
	ASSERT_EQ(d.exec.binary_len, 7);
	ASSERT_MEMEQ(d.exec.binary, "/bin/ls", 7);
	ASSERT_MEMEQ(d.exec.cwd, "/root", 5);
	ASSERT_MEMEQ(d.exec.args, "a\0-l\0", 5);
	/* a ring buffer may hand more bytes than hdr.size: accepted */
	ASSERT_OK(event_decode(&xb, n + 8, &d));
}

TEST(exec_bounds)
{
	struct event_decoded d;
	size_t n;

	n = build_exec(7, 5, 5);
	ASSERT_ERRNO(event_decode(&xb, n - 1, &d), EBADMSG); /* truncated sample */
	ASSERT_ERRNO(event_decode(&xb, 10, &d), EBADMSG);    /* shorter than the header */
	ASSERT_ERRNO(event_decode(NULL, 0, &d), EBADMSG);
	ASSERT_ERRNO(event_decode((const char *)&xb + 1, n, &d), EBADMSG); /* misaligned */

	/* lengths disagree with the size */
	n = build_exec(7, 5, 5);
	xb.ev.args_len = 6;
	ASSERT_ERRNO(event_decode(&xb, sizeof(xb), &d), EBADMSG);
	xb.ev.args_len = 4;
	ASSERT_ERRNO(event_decode(&xb, sizeof(xb), &d), EBADMSG);

	/* u32 wrap-around: lengths summing to size modulo 2^32 */
	n = build_exec(7, 5, 5);
	xb.ev.binary_len = 7 + 0x80000000u;
	xb.ev.cwd_len = 5 + 0x80000000u;
	ASSERT_ERRNO(event_decode(&xb, n, &d), EBADMSG);

	/* a path longer than the kernel can send */
	n = build_exec(7, 5, 5);
	xb.ev.binary_len = VIGIL_PATH_MAX + 1;
	ASSERT_ERRNO(event_decode(&xb, n, &d), EBADMSG);

	/* header size below the exec fixed part */
	n = build_exec(0, 0, 0);
	xb.ev.hdr.size = sizeof(struct vigil_event_hdr) + 8;
	ASSERT_ERRNO(event_decode(&xb, n, &d), EBADMSG);
	/* header size above the sample, and above the absolute maximum */
	xb.ev.hdr.size = n + 1;
	ASSERT_ERRNO(event_decode(&xb, n, &d), EBADMSG);
	xb.ev.hdr.size = 8;
	ASSERT_ERRNO(event_decode(&xb, n, &d), EBADMSG);
}

TEST(oversized)
{
	static uint64_t big[(VIGIL_EVENT_MAX + 64) / 8];
	struct vigil_event_hdr *h = (struct vigil_event_hdr *)big;
	struct event_decoded d;

	h->type = VIGIL_EV_EXEC;
	h->version = VIGIL_EVENT_VERSION;
	h->size = VIGIL_EVENT_MAX + 8;
	ASSERT_ERRNO(event_decode(big, sizeof(big), &d), EBADMSG);
}

TEST(unknown_version_and_type)
{
	struct event_decoded d;
	size_t n = build_exec(7, 5, 5);

	xb.ev.hdr.version = VIGIL_EVENT_VERSION + 1;
	ASSERT_ERRNO(event_decode(&xb, n, &d), EPROTONOSUPPORT);
	xb.ev.hdr.version = 0;
	ASSERT_ERRNO(event_decode(&xb, n, &d), EPROTONOSUPPORT);
	xb.ev.hdr.version = VIGIL_EVENT_VERSION;
	xb.ev.hdr.type = _VIGIL_EV_MAX;
	ASSERT_ERRNO(event_decode(&xb, n, &d), EOPNOTSUPP);
	xb.ev.hdr.type = 0;
	ASSERT_ERRNO(event_decode(&xb, n, &d), EOPNOTSUPP);
}

TEST(exit_and_clone)
{
	struct vigil_exit_event ex = {
		.hdr = {.type = VIGIL_EV_EXIT, .version = VIGIL_EVENT_VERSION, .size = sizeof(ex)},
		.exit_code = 3 << 8};
	struct vigil_clone_event cl = {
		.hdr = {.type = VIGIL_EV_CLONE, .version = VIGIL_EVENT_VERSION, .size = sizeof(cl)},
		.ppid = 7};
	struct event_decoded d;

	ASSERT_OK(event_decode(&ex, sizeof(ex), &d));
	ASSERT_EQ(d.type, VIGIL_EV_EXIT);
	ASSERT_EQ(d.exit->exit_code, 3 << 8);
	ASSERT_ERRNO(event_decode(&ex, sizeof(ex) - 1, &d), EBADMSG);
	ex.hdr.size = sizeof(ex) - 8;
	ASSERT_ERRNO(event_decode(&ex, sizeof(ex), &d), EBADMSG);

	ASSERT_OK(event_decode(&cl, sizeof(cl), &d));
	ASSERT_EQ(d.type, VIGIL_EV_CLONE);
	ASSERT_EQ(d.clone->ppid, 7);
	/* an exit-sized clone is inconsistent */
	cl.hdr.size = sizeof(struct vigil_exit_event);
	ASSERT_ERRNO(event_decode(&cl, sizeof(cl), &d), EBADMSG);
}

TEST(ticks_like_procfs)
{
	uint64_t tick = clock_tick_ns();

	ASSERT_EQ(tick * (uint64_t)sysconf(_SC_CLK_TCK), NSEC_PER_SEC);
	ASSERT_EQ(boottime_to_ticks(0), 0);
	ASSERT_EQ(boottime_to_ticks(tick - 1), 0); /* truncates, as nsec_to_clock_t */
	ASSERT_EQ(boottime_to_ticks(tick), 1);
	ASSERT_EQ(boottime_to_ticks(123 * tick + tick / 2), 123);
}

TEST(boot_offset)
{
	struct timespec rt, bt;
	int64_t off, now_rt, now_bt;

	ASSERT_OK(clock_boot_offset(&off));
	clock_gettime(CLOCK_BOOTTIME, &bt);
	clock_gettime(CLOCK_REALTIME, &rt);
	now_rt = (int64_t)rt.tv_sec * 1000000000LL + rt.tv_nsec;
	now_bt = (int64_t)bt.tv_sec * 1000000000LL + bt.tv_nsec;
	/* boot time + offset is wall time: within a second (no timing assumption beyond that) */
	ASSERT_TRUE(llabs(now_bt + off - now_rt) < 1000000000LL);
	ASSERT_TRUE(off > 0);
}

int main(void)
{
	return tap_run();
}
