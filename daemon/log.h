/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

#include "util/macro.h"

/*
 * Logging, systemd discipline (STYLE.md §3.7): the *_errno() forms set errno so "%m" works and
 * return -abs(error); SYNTHETIC_ERRNO(E) returns -E without printing ERRNO= in the journal.
 * The backend is the journal when $JOURNAL_STREAM names our stderr, else plain stderr.
 */

#define _SYNTHETIC_ERRNO_FLAG (1 << 30)
#define SYNTHETIC_ERRNO(e)    ((e) | _SYNTHETIC_ERRNO_FLAG)

void log_setup(void);
void log_set_max_level(int level);
int log_get_max_level(void);
/* Route libbpf's messages into this logger; LIBBPF_DEBUG only at LOG_DEBUG. */
void log_setup_libbpf(void);
/* Force the backend (tests): true = journal, false = stderr. */
void log_set_journal(bool journal);
/* The program name that prefixes stderr lines ("vigild" by default; vigilctl sets its own). */
void log_set_ident(const char *ident);

int log_internal(int level, int error, const char *file, int line, const char *func,
		 const char *output, const char *fmt, ...) _printf_(7, 8);
int log_internalv(int level, int error, const char *file, int line, const char *func,
		  const char *output, const char *fmt, va_list ap) _printf_(7, 0);

#define log_full_errno(level, error, ...)                                                          \
	({                                                                                         \
		int _l_ = (level), _e_ = (error);                                                  \
		(log_get_max_level() >= _l_)                                                       \
			? log_internal(_l_, _e_, __FILE__, __LINE__, __func__, NULL, __VA_ARGS__)  \
			: -((_e_ < 0 ? -_e_ : _e_) & ~_SYNTHETIC_ERRNO_FLAG);                      \
	})
#define log_full(level, ...) (void)log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...)	 log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)	 log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...)	 log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...)	 log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...)	  log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...)	  log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_notice_errno(e, ...)  log_full_errno(LOG_NOTICE, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...)	  log_full_errno(LOG_ERR, e, __VA_ARGS__)

#define log_oom() log_error_errno(SYNTHETIC_ERRNO(ENOMEM), "Out of memory.")

/*
 * Rate-limited logging for per-event problems: at most `burst` messages per `interval_usec` per
 * call site; the number suppressed is reported with the next message that gets through.
 */
struct log_ratelimit {
	unsigned long long begin_usec;
	unsigned int count;
	unsigned int suppressed;
};
bool log_ratelimit_test(struct log_ratelimit *rl, unsigned long long interval_usec,
			unsigned int burst, unsigned int *ret_suppressed);

#define log_ratelimited(level, ...)                                                                \
	({                                                                                         \
		static struct log_ratelimit _rl_;                                                  \
		unsigned int _sup_;                                                                \
		if (log_ratelimit_test(&_rl_, 30 * USEC_PER_SEC, 10, &_sup_)) {                    \
			if (_sup_ > 0)                                                             \
				log_full(level, "(%u similar messages suppressed)", _sup_);        \
			log_full(level, __VA_ARGS__);                                              \
		}                                                                                  \
	})

#endif /* VIGIL_LOG_H */
