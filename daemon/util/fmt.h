/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VIGIL_UTIL_FMT_H
#define VIGIL_UTIL_FMT_H

/*
 * Header-only number formatting shared by the daemon (exec_id) and the plugins' JSON renderer
 * (plugins/common): on the per-event path, where snprintf() costs more than the rest of a field.
 */
#include <stdint.h>
#include <string.h>

static const char fmt_digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
					 "25262728293031323334353637383940414243444546474849"
					 "50515253545556575859606162636465666768697071727374"
					 "75767778798081828384858687888990919293949596979899";

/* Decimal digits of v at w, two per division, no NUL; returns the end. */
static inline char *fmt_put_u64(char *w, uint64_t v)
{
	size_t n = 1;
	char *t;

	for (uint64_t x = v; x >= 10; x /= 10)
		n++;
	t = w + n;
	while (v >= 100) {
		t -= 2;
		memcpy(t, fmt_digit_pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10)
		memcpy(t - 2, fmt_digit_pairs + 2 * v, 2);
	else
		t[-1] = (char)('0' + v);
	return w + n;
}

#endif /* VIGIL_UTIL_FMT_H */
