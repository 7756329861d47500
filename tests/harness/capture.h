/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stderr capture for tests that assert log lines: everything written to stderr between
 * capture_begin() and capture_end() is returned (static buffer, valid until the next call) and
 * echoed as TAP diagnostics so failures stay debuggable. Header-only: one copy per test program.
 */
#ifndef VIGIL_TEST_CAPTURE_H
#define VIGIL_TEST_CAPTURE_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int capture_saved_stderr = -1;
static FILE *capture_file;

static inline void capture_begin(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	capture_saved_stderr = dup(STDERR_FILENO);
	dup2(fileno(capture_file), STDERR_FILENO);
}

static inline char *capture_end(void)
{
	static char buf[65536];
	size_t n;

	fflush(stderr);
	dup2(capture_saved_stderr, STDERR_FILENO);
	close(capture_saved_stderr);
	rewind(capture_file);
	n = fread(buf, 1, sizeof(buf) - 1, capture_file);
	buf[n] = '\0';
	fclose(capture_file);
	for (char *l = buf, *e; *l; l = e + 1) {
		e = strchr(l, '\n');
		if (!e)
			break;
		printf("# %.*s\n", (int)(e - l), l);
	}
	return buf;
}

#endif /* VIGIL_TEST_CAPTURE_H */
