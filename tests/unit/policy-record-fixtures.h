/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fixtures for policy event tests: a VIGIL_EV_POLICY sample built argument by argument, and the
 * argument descriptions of a struct compiled_hook.
 */
#ifndef VIGIL_TEST_POLICY_RECORD_FIXTURES_H
#define VIGIL_TEST_POLICY_RECORD_FIXTURES_H

#include <arpa/inet.h>
#include <sys/socket.h>

#include "policy_compile.h"
#include "record-fixtures.h"

/* A policy event with its data area, 8-byte aligned like a ring-buffer sample. */
static union {
	struct vigil_policy_event ev;
	uint64_t align[(sizeof(struct vigil_policy_event) + 4096) / 8];
} pb;

static _unused_ void ev_init(uint8_t actions, uint8_t flags)
{
	memset(&pb, 0, sizeof(pb));
	pb.ev.hdr = (struct vigil_event_hdr){
		.tgid = 11, .pid = 12, .type = VIGIL_EV_POLICY, .version = VIGIL_EVENT_VERSION};
	pb.ev.hook_id = 7;
	pb.ev.actions = actions;
	pb.ev.flags = flags;
	pb.ev.hdr.size = sizeof(pb.ev);
}

static _unused_ void desc_add(struct vigil_pol_arg_desc *d, uint8_t type, uint8_t flags,
			      const void *p, size_t n)
{
	*d = (struct vigil_pol_arg_desc){
		.type = type, .flags = flags, .len = (uint16_t)n, .off = (uint16_t)pb.ev.data_len};
	memcpy(pb.ev.data + pb.ev.data_len, p, n);
	pb.ev.data_len += (uint32_t)n;
	pb.ev.hdr.size = (uint32_t)(sizeof(pb.ev) + pb.ev.data_len);
}

static _unused_ void arg_add(uint8_t type, uint8_t flags, const void *p, size_t n)
{
	desc_add(&pb.ev.args[pb.ev.n_args++], type, flags, p, n);
}

static _unused_ void arg_int(uint64_t v)
{
	arg_add(VIGIL_ARG_INT, 0, &v, sizeof(v));
}

static _unused_ struct vigil_pol_sockaddr inet_sa(uint16_t family, const char *addr, uint16_t port)
{
	struct vigil_pol_sockaddr sa = {.family = family, .port = port};

	if (inet_pton(family, addr, sa.addr) != 1)
		TAP_FAIL("inet_pton %s", addr);
	return sa;
}

static _unused_ const struct event_policy *decode(void)
{
	static struct event_decoded d;

	if (event_decode(&pb, pb.ev.hdr.size, &d) < 0 || d.type != VIGIL_EV_POLICY)
		TAP_FAIL("decode");
	return &d.policy;
}

static _unused_ void meta_int(struct compiled_arg_meta *m, const char *name, bool sgn,
			      unsigned width, const char *label)
{
	*m = (struct compiled_arg_meta){.type = POLICY_ARG_INT,
					.type_name = (char *)name,
					.int_signed = sgn,
					.int_width = width,
					.label = (char *)label};
}

static _unused_ void meta_of(struct compiled_arg_meta *m, enum policy_arg_type t, const char *name)
{
	*m = (struct compiled_arg_meta){.type = t, .type_name = (char *)name};
}

#endif /* VIGIL_TEST_POLICY_RECORD_FIXTURES_H */
