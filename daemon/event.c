/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "util/macro.h"

static int decode_exec(const void *data, uint32_t size, struct event_exec *ret)
{
	const struct vigil_exec_event *ev = data;
	uint64_t var;

	if (size < sizeof(*ev))
		return -EBADMSG;
	if (ev->binary_len > VIGIL_PATH_MAX || ev->cwd_len > VIGIL_PATH_MAX ||
	    ev->args_len > VIGIL_ARGS_MAX)
		return -EBADMSG;
	/* Sum in 64 bits: three u32 cannot overflow it. */
	var = (uint64_t)ev->binary_len + ev->cwd_len + ev->args_len;
	if (var != size - sizeof(*ev))
		return -EBADMSG;

	*ret = (struct event_exec){
		.ev = ev,
		.binary = ev->data,
		.binary_len = ev->binary_len,
		.cwd = ev->data + ev->binary_len,
		.cwd_len = ev->cwd_len,
		.args = ev->data + ev->binary_len + ev->cwd_len,
		.args_len = ev->args_len,
	};
	return 0;
}

static int decode_policy_arg(const struct vigil_pol_arg_desc *desc,
			     const struct vigil_policy_event *ev, struct event_policy_arg *ret)
{
	if (desc->type >= _VIGIL_ARG_TYPE_MAX)
		return -EBADMSG;
	/* In 32 bits: two u16 cannot overflow it. */
	if ((uint32_t)desc->off + desc->len > ev->data_len)
		return -EBADMSG;
	switch (desc->type) {
	case VIGIL_ARG_NONE:
		if (desc->len != 0)
			return -EBADMSG;
		break;
	case VIGIL_ARG_INT:
		if (desc->len != sizeof(uint64_t))
			return -EBADMSG;
		break;
	case VIGIL_ARG_SOCKADDR:
		if (desc->len < sizeof(struct vigil_pol_sockaddr))
			return -EBADMSG;
		break;
	case VIGIL_ARG_SOCK:
		if (desc->len != sizeof(struct vigil_pol_sock))
			return -EBADMSG;
		break;
	default:
		break;
	}
	*ret = (struct event_policy_arg){
		.data = (const uint8_t *)ev->data + desc->off,
		.len = desc->len,
		.type = desc->type,
		.flags = desc->flags,
	};
	return 0;
}

static int decode_policy(const void *data, uint32_t size, struct event_policy *ret)
{
	const struct vigil_policy_event *ev = data;
	struct event_policy d = {.ev = ev};
	int r;

	if (size < sizeof(*ev))
		return -EBADMSG;
	if (ev->data_len > size - sizeof(*ev))
		return -EBADMSG;
	if (ev->n_args > VIGIL_POL_MAX_ARGS)
		return -EBADMSG;
	for (unsigned i = 0; i < ev->n_args; i++) {
		r = decode_policy_arg(&ev->args[i], ev, &d.args[i]);
		if (r < 0)
			return r;
	}
	if (ev->flags & VIGIL_POLEV_F_RETURN) {
		r = decode_policy_arg(&ev->ret_arg, ev, &d.ret_arg);
		if (r < 0)
			return r;
	}
	*ret = d;
	return 0;
}

int event_decode(const void *data, size_t size, struct event_decoded *ret)
{
	const struct vigil_event_hdr *hdr = data;
	struct event_decoded d = {};
	int r;

	if (!data || size < sizeof(*hdr))
		return -EBADMSG;
	if ((uintptr_t)data % _Alignof(struct vigil_event_hdr) != 0)
		return -EBADMSG;
	if (hdr->size < sizeof(*hdr) || hdr->size > size || hdr->size > VIGIL_EVENT_MAX)
		return -EBADMSG;
	if (hdr->version != VIGIL_EVENT_VERSION)
		return -EPROTONOSUPPORT;

	d.type = hdr->type;
	d.hdr = hdr;
	switch (hdr->type) {
	case VIGIL_EV_EXEC:
		r = decode_exec(data, hdr->size, &d.exec);
		if (r < 0)
			return r;
		break;
	case VIGIL_EV_EXIT:
		if (hdr->size != sizeof(struct vigil_exit_event))
			return -EBADMSG;
		d.exit = data;
		break;
	case VIGIL_EV_CLONE:
		if (hdr->size != sizeof(struct vigil_clone_event))
			return -EBADMSG;
		d.clone = data;
		break;
	case VIGIL_EV_POLICY:
		r = decode_policy(data, hdr->size, &d.policy);
		if (r < 0)
			return r;
		break;
	default:
		return -EOPNOTSUPP;
	}

	*ret = d;
	return 0;
}

int clock_boot_offset(int64_t *ret_ns)
{
	struct timespec b1, rt, b2;
	int64_t best = INT64_MAX, off = 0;

	/*
	 * Sample BOOTTIME, REALTIME, BOOTTIME a few times and keep the tightest bracket, so a
	 * preemption between the reads does not skew every later timestamp.
	 */
	for (int i = 0; i < 3; i++) {
		int64_t nb1, nb2, nrt;

		if (clock_gettime(CLOCK_BOOTTIME, &b1) < 0 ||
		    clock_gettime(CLOCK_REALTIME, &rt) < 0 ||
		    clock_gettime(CLOCK_BOOTTIME, &b2) < 0)
			return -errno;
		nb1 = (int64_t)b1.tv_sec * (int64_t)NSEC_PER_SEC + b1.tv_nsec;
		nb2 = (int64_t)b2.tv_sec * (int64_t)NSEC_PER_SEC + b2.tv_nsec;
		nrt = (int64_t)rt.tv_sec * (int64_t)NSEC_PER_SEC + rt.tv_nsec;
		if (nb2 - nb1 < best) {
			best = nb2 - nb1;
			off = nrt - (nb1 + (nb2 - nb1) / 2);
		}
	}
	*ret_ns = off;
	return 0;
}

static uint64_t user_hz(void)
{
	static uint64_t hz;

	if (_unlikely_(hz == 0)) {
		long v = sysconf(_SC_CLK_TCK);

		hz = v > 0 ? (uint64_t)v : 100;
	}
	return hz;
}

uint64_t clock_tick_ns(void)
{
	return NSEC_PER_SEC / user_hz();
}

uint64_t boottime_to_ticks(uint64_t ns)
{
	uint64_t hz = user_hz();

	/* kernel/time/time.c nsec_to_clock_t(), with USER_HZ read at run time. */
	if (NSEC_PER_SEC % hz == 0)
		return ns / (NSEC_PER_SEC / hz);
	if (hz % 512 == 0)
		return ns * hz / 512 / (NSEC_PER_SEC / 512);
	return ns * 9 / ((9ULL * NSEC_PER_SEC + hz / 2) / hz);
}
