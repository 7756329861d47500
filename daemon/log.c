/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <pthread.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool use_journal;

int log_get_max_level(void)
{
	return max_level;
}

void log_set_max_level(int level)
{
	max_level = level;
}

static const char *log_ident = "vigild";

void log_set_ident(const char *ident)
{
	log_ident = ident ? ident : "vigild";
}

void log_set_journal(bool journal)
{
	use_journal = journal;
}

/* $JOURNAL_STREAM is "DEV:INO" of the stream systemd connected to our stderr (systemd.exec(5)). */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

void log_setup(void)
{
	use_journal = stderr_is_journal();
}

static const char *level_prefix(int level)
{
	switch (level) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error: ";
	case LOG_WARNING:
		return "warning: ";
	case LOG_DEBUG:
		return "debug: ";
	default:
		return "";
	}
}

int log_internalv(int level, int error, const char *file, int line, const char *func,
		  const char *output, const char *fmt, va_list ap)
{
	bool synthetic = (error < 0 ? -error : error) & _SYNTHETIC_ERRNO_FLAG;
	int e = (error < 0 ? -error : error) & ~_SYNTHETIC_ERRNO_FLAG;
	char msg[2048];

	if (level > max_level)
		return -e;

	/* Make %m print the error we were given. */
	errno = e;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);

	if (use_journal) {
		/* Fields are built here and sent verbatim: nothing from config is a format. */
		char message[2100], priority[32], code_file[512], code_line[32], code_func[256];
		char errno_field[32], output_field[300];
		struct iovec iov[8];
		size_t n = 0;

#define FIELD(buf, ...)                                                                            \
	do {                                                                                       \
		int _n = snprintf(buf, sizeof(buf), __VA_ARGS__);                                  \
		iov[n].iov_base = buf;                                                             \
		iov[n++].iov_len = _n < 0 ? 0 : MIN((size_t)_n, sizeof(buf) - 1);                  \
	} while (0)
		FIELD(message, "MESSAGE=%s", msg);
		FIELD(priority, "PRIORITY=%d", level);
		FIELD(code_file, "CODE_FILE=%s", file);
		FIELD(code_line, "CODE_LINE=%d", line);
		FIELD(code_func, "CODE_FUNC=%s", func);
		if (e > 0 && !synthetic)
			FIELD(errno_field, "ERRNO=%d", e);
		if (output)
			FIELD(output_field, "VIGIL_OUTPUT=%s", output);
#undef FIELD
		(void)sd_journal_sendv(iov, (int)n);
	} else {
		/* One write per message so lines from worker threads never interleave. */
		char buf[2400];
		int n = snprintf(buf, sizeof(buf), "%s: %s%s%s%s\n", log_ident, level_prefix(level),
				 output ? output : "", output ? ": " : "", msg);
		if (n > (int)sizeof(buf) - 1)
			n = sizeof(buf) - 1;
		if (n > 0)
			(void)!write(STDERR_FILENO, buf, (size_t)n);
	}

	errno = e;
	return -e;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
		 const char *output, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = log_internalv(level, error, file, line, func, output, fmt, ap);
	va_end(ap);
	return r;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	int l = level == LIBBPF_WARN ? LOG_WARNING : level == LIBBPF_INFO ? LOG_INFO : LOG_DEBUG;
	char msg[2048];
	size_t n;

	if (l > max_level)
		return 0;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	(void)log_internal(l, 0, "libbpf", 0, "libbpf", NULL, "libbpf: %s", msg);
	return 0;
}

void log_setup_libbpf(void)
{
	(void)libbpf_set_print(libbpf_print);
}

bool log_ratelimit_test(struct log_ratelimit *rl, unsigned long long interval_usec,
			unsigned int burst, unsigned int *ret_suppressed)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct timespec ts;
	unsigned long long now;
	bool ok;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (unsigned long long)ts.tv_sec * USEC_PER_SEC + (unsigned long long)ts.tv_nsec / 1000;

	pthread_mutex_lock(&lock);
	*ret_suppressed = 0;
	if (rl->begin_usec == 0 || now - rl->begin_usec >= interval_usec) {
		*ret_suppressed = rl->suppressed;
		rl->begin_usec = now;
		rl->count = 0;
		rl->suppressed = 0;
	}
	ok = rl->count < burst;
	if (ok)
		rl->count++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&lock);
	return ok;
}
