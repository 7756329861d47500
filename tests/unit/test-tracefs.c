/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tracefs format reader: real format files copied from a 6.18 kernel (tests/data/tracefs),
 * malformed input, and a small deterministic mutation fuzz.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "daemon/policy_compile.h"
#include "tap.h"

static struct tracefs_format *read_fixture(const char *cat, const char *name)
{
	struct tracefs_format *f = NULL;
	int r = tracefs_format_read(TRACEFS_FIXTURES, cat, name, &f);

	if (r < 0)
		TAP_FAIL("tracefs_format_read(%s/%s): %s", cat, name, strerror(-r));
	return f;
}

static char *slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		TAP_FAIL("cannot open %s", path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void expect_field(const struct tracefs_format *f, size_t i, const char *name,
			 const char *type, unsigned offset, unsigned size, bool is_signed)
{
	ASSERT_TRUE(i < f->n_fields);
	ASSERT_STREQ(f->fields[i].name, name);
	ASSERT_STREQ(f->fields[i].type, type);
	ASSERT_EQ(f->fields[i].offset, offset);
	ASSERT_EQ(f->fields[i].size, size);
	ASSERT_EQ(f->fields[i].is_signed, is_signed);
}

TEST(sys_enter_openat)
{
	struct tracefs_format *f = read_fixture("syscalls", "sys_enter_openat");

	ASSERT_EQ(f->id, 782);
	ASSERT_EQ(f->n_fields, 5);
	expect_field(f, 0, "__syscall_nr", "int", 8, 4, true);
	expect_field(f, 1, "dfd", "int", 16, 8, false);
	expect_field(f, 2, "filename", "const char *", 24, 8, false);
	expect_field(f, 3, "flags", "int", 32, 8, false);
	expect_field(f, 4, "mode", "umode_t", 40, 8, false);
	tracefs_format_free(f);
}

TEST(sys_exit_openat)
{
	struct tracefs_format *f = read_fixture("syscalls", "sys_exit_openat");

	ASSERT_EQ(f->n_fields, 2);
	expect_field(f, 1, "ret", "long", 16, 8, true);
	tracefs_format_free(f);
}

TEST(sys_enter_connect_and_execve)
{
	struct tracefs_format *f = read_fixture("syscalls", "sys_enter_connect");

	ASSERT_EQ(f->n_fields, 4);
	expect_field(f, 2, "uservaddr", "struct sockaddr *", 24, 8, false);
	expect_field(f, 3, "addrlen", "int", 32, 8, false);
	tracefs_format_free(f);

	f = read_fixture("syscalls", "sys_enter_execve");
	expect_field(f, 1, "filename", "const char *", 16, 8, false);
	/* The name is the trailing identifier even after "*const *". */
	expect_field(f, 2, "argv", "const char *const *", 24, 8, false);
	tracefs_format_free(f);

	f = read_fixture("syscalls", "sys_enter_setuid");
	ASSERT_EQ(f->n_fields, 2);
	expect_field(f, 1, "uid", "uid_t", 16, 8, false);
	tracefs_format_free(f);

	f = read_fixture("syscalls", "sys_enter_write");
	expect_field(f, 3, "count", "size_t", 32, 8, false);
	tracefs_format_free(f);
}

TEST(data_loc_and_char_array)
{
	struct tracefs_format *f = read_fixture("sched", "sched_process_exec");

	ASSERT_EQ(f->id, 365);
	ASSERT_EQ(f->n_fields, 3);
	expect_field(f, 0, "filename", "__data_loc char[]", 8, 4, false);
	expect_field(f, 1, "pid", "pid_t", 12, 4, true);
	expect_field(f, 2, "old_pid", "pid_t", 16, 4, true);
	tracefs_format_free(f);

	f = read_fixture("sched", "sched_switch");
	ASSERT_EQ(f->n_fields, 7);
	expect_field(f, 0, "prev_comm", "char[16]", 8, 16, false);
	expect_field(f, 3, "prev_state", "long", 32, 8, true);
	expect_field(f, 4, "next_comm", "char[16]", 40, 16, false);
	expect_field(f, 6, "next_prio", "int", 60, 4, true);
	tracefs_format_free(f);
}

/* Every fixture parses, without common_* fields, with sane offsets. */
TEST(all_fixtures)
{
	static const char *const cats[] = {"syscalls", "sched"};
	unsigned n = 0;

	for (size_t c = 0; c < ELEMENTSOF(cats); c++) {
		char dir[PATH_MAX];
		DIR *d;
		struct dirent *de;

		snprintf(dir, sizeof(dir), "%s/events/%s", TRACEFS_FIXTURES, cats[c]);
		d = opendir(dir);
		ASSERT_NOT_NULL(d);
		while ((de = readdir(d))) {
			struct tracefs_format *f = NULL;

			if (de->d_name[0] == '.')
				continue;
			ASSERT_OK(tracefs_format_read(TRACEFS_FIXTURES, cats[c], de->d_name, &f));
			ASSERT_TRUE(f->n_fields > 0);
			for (size_t i = 0; i < f->n_fields; i++) {
				ASSERT_TRUE(strncmp(f->fields[i].name, "common_", 7) != 0);
				ASSERT_TRUE(f->fields[i].offset >= 8);
				ASSERT_TRUE(f->fields[i].size > 0);
			}
			tracefs_format_free(f);
			n++;
		}
		closedir(d);
	}
	ASSERT_GE(n, 20);
}

TEST(read_errors)
{
	struct tracefs_format *f = NULL;

	ASSERT_ERRNO(tracefs_format_read(TRACEFS_FIXTURES, "syscalls", "sys_enter_nosuch", &f),
		     ENOENT);
	ASSERT_ERRNO(tracefs_format_read(TRACEFS_FIXTURES, "nosuch", "x", &f), ENOENT);
	ASSERT_ERRNO(tracefs_format_read(TRACEFS_FIXTURES, "..", "sched", &f), EINVAL);
	ASSERT_ERRNO(tracefs_format_read(TRACEFS_FIXTURES, "sched/../sched", "sched_switch", &f),
		     EINVAL);
	ASSERT_ERRNO(tracefs_format_read(TRACEFS_FIXTURES, "sched", "", &f), EINVAL);
	ASSERT_NULL(f);
	ASSERT_NULL(tracefs_format_free(NULL));
}

TEST(malformed)
{
	static const char *const bad[] = {
		"",
		"name: x\n",
		"name: x\nformat:\n", /* no ID */
		"ID: 1\n",	      /* no format: */
		"ID: x\nformat:\n",
		"ID: 99999999999\nformat:\n",
		"ID: 1\nID: 2\nformat:\n",
		"ID: 1\nformat:\n\tfield:int a;\toffset:8;\n",
		"ID: 1\nformat:\n\tfield:int a;\toffset:8;\tsize:x;\tsigned:0;\n",
		"ID: 1\nformat:\n\tfield:int a;\toffset:-8;\tsize:4;\tsigned:0;\n",
		"ID: 1\nformat:\n\tfield:int a;\toffset:65535;\tsize:4;\tsigned:0;\n",
		"ID: 1\nformat:\n\tfield:int a;\toffset:8;\tsize:4;\tsigned:2;\n",
		"ID: 1\nformat:\n\tfield:int;\toffset:8;\tsize:4;\tsigned:0;\n",
		"ID: 1\nformat:\n\tfield: a;\toffset:8;\tsize:4;\tsigned:0;\n",
		"ID: 1\nformat:\n\tfield:int a[;\toffset:8;\tsize:4;\tsigned:0;\n",
		"ID: 1\nformat:\n\tfield:int 9a;\toffset:8;\tsize:4;\tsigned:0;\n",
		"ID: 1\nformat:\n\tfield:int a\toffset:8;\tsize:4;\tsigned:0;\n",
		"ID: 1\nformat:\n\tbogus line\n",
		"ID: 1\nformat:\nformat:\n",
		"garbage\nID: 1\nformat:\n",
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct tracefs_format *f = NULL;
		int r = tracefs_format_parse(bad[i], &f);

		if (r != -EINVAL)
			TAP_FAIL("input %zu: expected -EINVAL, got %d", i, r);
		ASSERT_NULL(f);
	}
}

TEST(minimal_and_lenient)
{
	struct tracefs_format *f = NULL;

	/* No fields, no print fmt: valid. signed: missing (old kernels): unsigned. */
	ASSERT_OK(tracefs_format_parse("ID: 7\nformat:\n", &f));
	ASSERT_EQ(f->id, 7);
	ASSERT_EQ(f->n_fields, 0);
	tracefs_format_free(f);

	ASSERT_OK(
		tracefs_format_parse("name: t\nID: 8\nformat:\n\tfield:int common_pid;\toffset:4;"
				     "\tsize:4;\tsigned:1;\n\n\tfield:u8 x[4];\toffset:8;\tsize:4;"
				     "\n\nprint fmt: \"%d\", field:junk\n",
				     &f));
	ASSERT_EQ(f->n_fields, 1);
	expect_field(f, 0, "x", "u8[4]", 8, 4, false);
	tracefs_format_free(f);
}

/* Deterministic mutations of real format text: never crashes, results always sane. */
TEST(fuzz)
{
	char path[PATH_MAX], *orig, *buf;
	unsigned seed = 12345, ok = 0;
	size_t len;

	snprintf(path, sizeof(path), "%s/events/sched/sched_switch/format", TRACEFS_FIXTURES);
	orig = strdup(slurp(path));
	ASSERT_NOT_NULL(orig);
	len = strlen(orig);
	buf = malloc(len + 64);
	ASSERT_NOT_NULL(buf);

	/* Every truncation. */
	for (size_t cut = 0; cut <= len; cut++) {
		struct tracefs_format *f = NULL;

		memcpy(buf, orig, cut);
		buf[cut] = '\0';
		if (tracefs_format_parse(buf, &f) == 0) {
			ASSERT_TRUE(f->n_fields <= 7);
			ok++;
		}
		tracefs_format_free(f);
	}
	ASSERT_TRUE(ok > 0);

	for (unsigned iter = 0; iter < 20000; iter++) {
		struct tracefs_format *f = NULL;
		static const char alphabet[] = "0123456789:;[]* \t\nfieldoffsetsizesigned-_x";
		unsigned n = 1 + rand_r(&seed) % 4;
		int r;

		memcpy(buf, orig, len + 1);
		for (unsigned k = 0; k < n; k++) {
			size_t at = (size_t)rand_r(&seed) % len;

			buf[at] = alphabet[(size_t)rand_r(&seed) % (sizeof(alphabet) - 1)];
		}
		r = tracefs_format_parse(buf, &f);
		if (r == 0) {
			for (size_t i = 0; i < f->n_fields; i++) {
				ASSERT_TRUE(f->fields[i].offset + f->fields[i].size <= 65535);
				ASSERT_TRUE(f->fields[i].name[0] != '\0');
				ASSERT_TRUE(f->fields[i].type[0] != '\0');
			}
		} else
			ASSERT_TRUE(r == -EINVAL || r == -E2BIG);
		tracefs_format_free(f);
	}
	free(buf);
	free(orig);
}

int main(void)
{
	log_set_journal(false);
	return tap_run();
}
