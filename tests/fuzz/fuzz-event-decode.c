/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer entry for event_decode(). Not part of make check:
 *   clang -g -fsanitize=fuzzer,address,undefined -I. -Idaemon -include config.h \
 *     tests/fuzz/fuzz-event-decode.c daemon/event.c -o fuzz-event-decode
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t buf[(VIGIL_EVENT_MAX + 64) / 8];
	struct event_decoded d;
	volatile uint8_t sink = 0;

	if (size > sizeof(buf))
		return 0;
	/* ring-buffer samples are 8-byte aligned; copy to get the same guarantee */
	memcpy(buf, data, size);
	if (event_decode(buf, size, &d) < 0)
		return 0;
	/* touch every byte the decoder vouched for, so ASan sees any overrun */
	if (d.type == VIGIL_EV_EXEC) {
		for (size_t i = 0; i < d.exec.binary_len; i++)
			sink ^= (uint8_t)d.exec.binary[i];
		for (size_t i = 0; i < d.exec.cwd_len; i++)
			sink ^= (uint8_t)d.exec.cwd[i];
		for (size_t i = 0; i < d.exec.args_len; i++)
			sink ^= (uint8_t)d.exec.args[i];
	}
	(void)sink;
	return 0;
}
