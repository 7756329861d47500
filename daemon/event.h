/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VIGIL_EVENT_H
#define VIGIL_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "bpf/events.h"
#include "bpf/policy.h"

/*
 * Bounds-checked decode of one ring-buffer sample (bpf/events.h). Never logs above debug: the
 * caller counts failures per kind. The decoded views point into the sample, which must stay
 * alive and be 8-byte aligned (ring-buffer samples are).
 */

struct event_exec {
	const struct vigil_exec_event *ev;
	const char *binary; /* not NUL-terminated */
	size_t binary_len;
	const char *cwd;
	size_t cwd_len;
	const char *args; /* NUL-separated argv area */
	size_t args_len;
};

/* One captured argument of a policy event: @len bytes at @data, inside the sample. */
struct event_policy_arg {
	const uint8_t *data;
	size_t len;
	uint8_t type;  /* enum vigil_pol_arg_type; VIGIL_ARG_NONE = not captured */
	uint8_t flags; /* VIGIL_PARG_F_* */
};

/*
 * VIGIL_EV_POLICY. args[0, ev->n_args) and ret_arg (set when ev->flags has
 * VIGIL_POLEV_F_RETURN and the hook captures a typed return value; else type NONE) are checked:
 * inside the data area, a known type, and the fixed size of their type (INT 8 bytes, SOCKADDR at
 * least struct vigil_pol_sockaddr, SOCK exactly struct vigil_pol_sock).
 */
struct event_policy {
	const struct vigil_policy_event *ev;
	struct event_policy_arg args[VIGIL_POL_MAX_ARGS];
	struct event_policy_arg ret_arg;
};

struct event_decoded {
	uint16_t type; /* enum vigil_event_type */
	const struct vigil_event_hdr *hdr;
	union {
		struct event_exec exec;
		const struct vigil_exit_event *exit;
		const struct vigil_clone_event *clone;
		struct event_policy policy;
	};
};

/*
 * 0 on success; -EBADMSG for a truncated, oversized, misaligned or internally inconsistent
 * sample; -EPROTONOSUPPORT for an unknown header version; -EOPNOTSUPP for an unknown type.
 */
int event_decode(const void *data, size_t size, struct event_decoded *ret);

/* CLOCK_REALTIME - CLOCK_BOOTTIME in ns: add it to a boot-time stamp to get wall time. */
int clock_boot_offset(int64_t *ret_ns);

/* Boot-time ns → clock ticks (USER_HZ), exactly as the kernel's nsec_to_clock_t() (procfs). */
uint64_t boottime_to_ticks(uint64_t ns);
/* Nanoseconds per clock tick (10,000,000 for USER_HZ 100). */
uint64_t clock_tick_ns(void);

#endif /* VIGIL_EVENT_H */
