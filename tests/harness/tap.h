/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A tiny TAP producer for automake's tap-driver.sh, in the spirit of systemd's tests.h.
 *
 *   TEST(name) { ASSERT_EQ(1 + 1, 2); }
 *   int main(void) { return tap_run(); }
 *
 * Each TEST is one TAP line; a failed ASSERT_* prints file:line, the expression and both values
 * as a TAP diagnostic and ends that test. tap_skip_all("why") exits 77 (automake SKIP).
 */
#ifndef VIGIL_TAP_H
#define VIGIL_TAP_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tap_test {
	const char *name;
	void (*fn)(void);
	struct tap_test *next;
};

static struct tap_test *tap_tests, **tap_tail = &tap_tests;
static jmp_buf tap_jmp;
static int tap_failed_current;

#define TEST(n)                                                                                    \
	static void test_##n(void);                                                                \
	static struct tap_test tap_t_##n = {#n, test_##n, NULL};                                   \
	__attribute__((constructor)) static void tap_reg_##n(void)                                 \
	{                                                                                          \
		*tap_tail = &tap_t_##n;                                                            \
		tap_tail = &tap_t_##n.next;                                                        \
	}                                                                                          \
	static void test_##n(void)

#define TAP_FAIL(...)                                                                              \
	do {                                                                                       \
		printf("# %s:%d: ", __FILE__, __LINE__);                                           \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		tap_failed_current = 1;                                                            \
		longjmp(tap_jmp, 1);                                                               \
	} while (0)

#define ASSERT_TRUE(e)                                                                             \
	do {                                                                                       \
		if (!(e))                                                                          \
			TAP_FAIL("expected true: %s", #e);                                         \
	} while (0)
#define ASSERT_FALSE(e)                                                                            \
	do {                                                                                       \
		if (e)                                                                             \
			TAP_FAIL("expected false: %s", #e);                                        \
	} while (0)
#define ASSERT_EQ(a, b)                                                                            \
	do {                                                                                       \
		intmax_t _a = (intmax_t)(a), _b = (intmax_t)(b);                                   \
		if (_a != _b)                                                                      \
			TAP_FAIL("%s == %s: %jd != %jd", #a, #b, _a, _b);                          \
	} while (0)
#define ASSERT_NE(a, b)                                                                            \
	do {                                                                                       \
		intmax_t _a = (intmax_t)(a), _b = (intmax_t)(b);                                   \
		if (_a == _b)                                                                      \
			TAP_FAIL("%s != %s: both %jd", #a, #b, _a);                                \
	} while (0)
#define ASSERT_GE(a, b)                                                                            \
	do {                                                                                       \
		intmax_t _a = (intmax_t)(a), _b = (intmax_t)(b);                                   \
		if (_a < _b)                                                                       \
			TAP_FAIL("%s >= %s: %jd < %jd", #a, #b, _a, _b);                           \
	} while (0)
#define ASSERT_OK(r)                                                                               \
	do {                                                                                       \
		intmax_t _r = (intmax_t)(r);                                                       \
		if (_r < 0)                                                                        \
			TAP_FAIL("%s failed: %jd (%s)", #r, _r, strerror((int)-_r));               \
	} while (0)
#define ASSERT_ERRNO(r, e)                                                                         \
	do {                                                                                       \
		intmax_t _r = (intmax_t)(r);                                                       \
		if (_r != -(intmax_t)(e))                                                          \
			TAP_FAIL("%s: expected -%s, got %jd", #r, #e, _r);                         \
	} while (0)
#define ASSERT_STREQ(a, b)                                                                         \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!_a || !_b || strcmp(_a, _b) != 0)                                             \
			TAP_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)",         \
				 _b ? _b : "(null)");                                              \
	} while (0)
#define ASSERT_CONTAINS(hay, needle)                                                               \
	do {                                                                                       \
		const char *_h = (hay), *_n = (needle);                                            \
		if (!_h || !strstr(_h, _n))                                                        \
			TAP_FAIL("%s does not contain \"%s\": \"%s\"", #hay, _n,                   \
				 _h ? _h : "(null)");                                              \
	} while (0)
#define ASSERT_NOT_NULL(p)                                                                         \
	do {                                                                                       \
		if (!(p))                                                                          \
			TAP_FAIL("%s is NULL", #p);                                                \
	} while (0)
#define ASSERT_NULL(p)                                                                             \
	do {                                                                                       \
		if ((p))                                                                           \
			TAP_FAIL("%s is not NULL", #p);                                            \
	} while (0)
#define ASSERT_MEMEQ(a, b, n)                                                                      \
	do {                                                                                       \
		if (memcmp((a), (b), (n)) != 0)                                                    \
			TAP_FAIL("%s and %s differ in the first %zu bytes", #a, #b, (size_t)(n));  \
	} while (0)

static inline void tap_skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	exit(77);
}

static inline int tap_run(void)
{
	volatile int n = 0, i = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (struct tap_test *t = tap_tests; t; t = t->next)
		n++;
	printf("1..%d\n", n);
	for (struct tap_test *t = tap_tests; t; t = t->next) {
		i++;
		tap_failed_current = 0;
		if (setjmp(tap_jmp) == 0)
			t->fn();
		printf("%s %d - %s\n", tap_failed_current ? "not ok" : "ok", i, t->name);
		failed += tap_failed_current;
	}
	return failed ? 1 : 0;
}

#endif /* VIGIL_TAP_H */
