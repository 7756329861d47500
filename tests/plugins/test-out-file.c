/* SPDX-License-Identifier: GPL-2.0-or-later */
/* out_file.so through dlopen and the fake host: write, rotation, mode, reopen, bad paths. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fake_host.h"
#include "tap.h"
#include "testrec.h"

static const struct vigil_plugin *plugin;
static char dir[] = "/tmp/vigil-test-out-file.XXXXXX";

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *s = NULL;
	size_t n = 0;

	if (!f)
		return NULL;
	if (getdelim(&s, &n, '\0', f) < 0) {
		free(s);
		s = strdup("");
	}
	fclose(f);
	return s;
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;
	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

/* Emit @n exec records (one batch) and return the plugin's status. */
static enum vigil_status emit_n(void *inst, unsigned n, msgpack_sbuffer *sb)
{
	struct vigil_record recs[64];
	uint8_t results[64] = {};
	struct vigil_batch b = {.records = recs, .n_records = n, .schema_major = 1, .id = 1};

	testrec_exec(sb, &testrec_curl, &testrec_bash);
	for (unsigned i = 0; i < n; i++)
		recs[i] = (struct vigil_record){(const uint8_t *)sb->data, (uint32_t)sb->size,
						VIGIL_RECORD_PROCESS_EXEC, i};
	return plugin->emit(inst, &b, results);
}

static void path_in_dir(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

TEST(descriptor)
{
	ASSERT_NOT_NULL(plugin);
	ASSERT_STREQ(plugin->name, "file");
	ASSERT_STREQ(plugin->section, "File");
	ASSERT_EQ(plugin->kind, VIGIL_PLUGIN_OUTPUT);
	ASSERT_NOT_NULL(plugin->reopen);
}

TEST(writes_json_lines_mode_0600)
{
	struct fake_host *fh = fake_host_new("file-test");
	msgpack_sbuffer sb;
	char path[256];
	struct stat st;
	void *inst = NULL;
	char *text;

	msgpack_sbuffer_init(&sb);
	path_in_dir(path, sizeof(path), "events.json");
	fake_host_set(fh, "File", "Path", path);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit_n(inst, 3, &sb), VIGIL_OK);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(st.st_mode & 07777, 0600);
	text = slurp(path);
	ASSERT_EQ(count_lines(text), 3);
	ASSERT_TRUE(strncmp(text, "{\"process_exec\":{\"process\":{\"exec_id\":", 38) == 0);
	ASSERT_CONTAINS(text, "\"time\":\"2026-11-21T23:59:01.123456789Z\"}\n{\"process_exec\"");
	free(text);
	plugin->fini(inst);
	fake_host_free(fh);
	msgpack_sbuffer_destroy(&sb);
}

TEST(compact_format_and_mode)
{
	struct fake_host *fh = fake_host_new("file-test");
	msgpack_sbuffer sb;
	char path[256];
	struct stat st;
	void *inst = NULL;
	char *text;

	msgpack_sbuffer_init(&sb);
	path_in_dir(path, sizeof(path), "compact.log");
	fake_host_set(fh, "File", "Path", path);
	fake_host_set(fh, "File", "Format", "compact");
	fake_host_set(fh, "File", "Mode", "0640");
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit_n(inst, 1, &sb), VIGIL_OK);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(st.st_mode & 07777, 0640);
	text = slurp(path);
	ASSERT_STREQ(text, "exec  pid=1234 nginx.service /usr/bin/curl -s https://example.org\n");
	free(text);
	plugin->fini(inst);
	fake_host_free(fh);
	msgpack_sbuffer_destroy(&sb);
}

TEST(rotation_keeps_n_files)
{
	struct fake_host *fh = fake_host_new("file-test");
	msgpack_sbuffer sb;
	char path[256], rot[300];
	struct stat st;
	void *inst = NULL;
	size_t line_len;
	char *text;

	msgpack_sbuffer_init(&sb);
	path_in_dir(path, sizeof(path), "rot.json");
	fake_host_set(fh, "File", "Path", path);
	fake_host_set(fh, "File", "MaxSize", "4K");
	fake_host_set(fh, "File", "Keep", "2");
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit_n(inst, 1, &sb), VIGIL_OK);
	ASSERT_EQ(stat(path, &st), 0);
	line_len = (size_t)st.st_size;
	ASSERT_TRUE(line_len > 500 && line_len < 2048);
	/* 2 lines per batch fit in 4 KiB only when the file is empty. */
	for (int i = 0; i < 6; i++)
		ASSERT_EQ(emit_n(inst, 2, &sb), VIGIL_OK);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_TRUE((size_t)st.st_size <= 4096);
	snprintf(rot, sizeof(rot), "%s.1", path);
	ASSERT_EQ(stat(rot, &st), 0);
	ASSERT_TRUE((size_t)st.st_size <= 4096);
	text = slurp(rot);
	ASSERT_TRUE(count_lines(text) >= 2);
	free(text);
	snprintf(rot, sizeof(rot), "%s.2", path);
	ASSERT_EQ(stat(rot, &st), 0);
	snprintf(rot, sizeof(rot), "%s.3", path);
	ASSERT_TRUE(stat(rot, &st) < 0 && errno == ENOENT);
	plugin->fini(inst);
	fake_host_free(fh);
	msgpack_sbuffer_destroy(&sb);
}

TEST(reopen_after_rename)
{
	struct fake_host *fh = fake_host_new("file-test");
	msgpack_sbuffer sb;
	char path[256], moved[300];
	void *inst = NULL;
	char *a, *b;

	msgpack_sbuffer_init(&sb);
	path_in_dir(path, sizeof(path), "logrotate.json");
	snprintf(moved, sizeof(moved), "%s.old", path);
	fake_host_set(fh, "File", "Path", path);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit_n(inst, 1, &sb), VIGIL_OK);
	ASSERT_EQ(rename(path, moved), 0);
	/* Without reopen the old file still grows. */
	ASSERT_EQ(emit_n(inst, 1, &sb), VIGIL_OK);
	ASSERT_EQ(plugin->reopen(inst), VIGIL_OK);
	ASSERT_EQ(emit_n(inst, 1, &sb), VIGIL_OK);
	a = slurp(moved);
	b = slurp(path);
	ASSERT_EQ(count_lines(a), 2);
	ASSERT_EQ(count_lines(b), 1);
	free(a);
	free(b);
	plugin->fini(inst);
	fake_host_free(fh);
	msgpack_sbuffer_destroy(&sb);
}

TEST(unwritable_path_refused_with_name)
{
	struct fake_host *fh = fake_host_new("file-test");
	void *inst = NULL;

	fake_host_set(fh, "File", "Path", "/nonexistent-vigil-dir/events.json");
	ASSERT_ERRNO(plugin->init(&fh->host, &inst), ENOENT);
	ASSERT_CONTAINS(fake_host_logs(fh), "'/nonexistent-vigil-dir/events.json'");
	ASSERT_CONTAINS(fake_host_logs(fh), "No such file or directory");
	fake_host_free(fh);
}

TEST(bad_values_refused_with_location)
{
	static const char *const bad[][2] = {
		{"Path", "relative/path"}, {"Format", "xml"}, {"MaxSize", "10X"}, {"Keep", "-1"},
		{"Mode", "0999"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fake_host *fh = fake_host_new("file-test");
		char path[256];
		void *inst = NULL;

		path_in_dir(path, sizeof(path), "bad.json");
		fake_host_set(fh, "File", "Path", path);
		fake_host_set(fh, "File", bad[i][0], bad[i][1]);
		ASSERT_ERRNO(plugin->init(&fh->host, &inst), EINVAL);
		ASSERT_CONTAINS(fake_host_logs(fh), "test.conf:");
		ASSERT_CONTAINS(fake_host_logs(fh), bad[i][1]);
		fake_host_free(fh);
	}
}

TEST(write_error_is_retry_logged_once)
{
	struct fake_host *fh = fake_host_new("file-test");
	msgpack_sbuffer sb;
	void *inst = NULL;

	/* /dev/full is 0666 on every Linux system: its absence is a broken test machine. */
	ASSERT_OK(access("/dev/full", W_OK) < 0 ? -errno : 0);
	msgpack_sbuffer_init(&sb);
	fake_host_set(fh, "File", "Path", "/dev/full");
	fake_host_set(fh, "File", "MaxSize", "0");
	fake_host_set(fh, "File", "Mode", "0666");
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit_n(inst, 1, &sb), VIGIL_RETRY);
	ASSERT_EQ(emit_n(inst, 1, &sb), VIGIL_RETRY);
	ASSERT_EQ(emit_n(inst, 1, &sb), VIGIL_RETRY);
	/* once "not a regular file" (info), once the write error */
	ASSERT_EQ(fh->n_logs, 2);
	ASSERT_CONTAINS(fake_host_logs(fh), "'/dev/full' is not a regular file");
	ASSERT_CONTAINS(fake_host_logs(fh), "No space left on device");
	plugin->fini(inst);
	fake_host_free(fh);
	msgpack_sbuffer_destroy(&sb);
}

/* Path= a FIFO (no root needed) or a copy of /dev/null (mknod, root): written as it is, never
 * chmod()ed to Mode= nor renamed by rotation however small MaxSize= is. */
static void check_special(const char *name, mode_t type, dev_t dev)
{
	struct fake_host *fh = fake_host_new("file-test");
	char p[256], p1[300];
	msgpack_sbuffer sb;
	struct stat st;
	void *inst = NULL;
	int rd = -1;

	path_in_dir(p, sizeof(p), name);
	snprintf(p1, sizeof(p1), "%s.1", p);
	ASSERT_OK(mknod(p, type | 0644, dev) < 0 ? -errno : 0);
	if (S_ISFIFO(type))
		ASSERT_TRUE((rd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC)) >= 0); /* a reader */
	msgpack_sbuffer_init(&sb);
	fake_host_set(fh, "File", "Path", p);
	fake_host_set(fh, "File", "MaxSize", "1");
	fake_host_set(fh, "File", "Mode", "0600");
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit_n(inst, 2, &sb), VIGIL_OK);
	ASSERT_EQ(emit_n(inst, 2, &sb), VIGIL_OK);
	ASSERT_EQ(emit_n(inst, 2, &sb), VIGIL_OK);
	ASSERT_OK(stat(p, &st) < 0 ? -errno : 0);
	ASSERT_EQ(st.st_mode & 07777, 0644);
	ASSERT_EQ(st.st_mode & S_IFMT, type);
	ASSERT_TRUE(access(p1, F_OK) < 0);
	ASSERT_CONTAINS(fake_host_logs(fh), "is not a regular file");
	if (rd >= 0) {
		char buf[4096];
		ssize_t n = read(rd, buf, sizeof(buf) - 1);

		ASSERT_TRUE(n > 0);
		buf[n] = 0;
		ASSERT_TRUE(strncmp(buf, "{\"process_exec\":", 16) == 0);
		close(rd);
	}
	plugin->fini(inst);
	fake_host_free(fh);
	msgpack_sbuffer_destroy(&sb);
}

TEST(fifo_not_chmodded_nor_rotated)
{
	check_special("fifo", S_IFIFO, 0);
}

/* A FIFO nobody reads yet: init() neither blocks nor fails; emit() retries until a reader comes. */
TEST(fifo_without_reader_is_retried)
{
	struct fake_host *fh = fake_host_new("file-test");
	msgpack_sbuffer sb;
	void *inst = NULL;
	char p[256], buf[4096];
	ssize_t n;
	int rd;

	path_in_dir(p, sizeof(p), "lonely-fifo");
	ASSERT_OK(mkfifo(p, 0600) < 0 ? -errno : 0);
	msgpack_sbuffer_init(&sb);
	fake_host_set(fh, "File", "Path", p);
	ASSERT_OK(plugin->init(&fh->host, &inst));
	ASSERT_EQ(emit_n(inst, 1, &sb), VIGIL_RETRY);
	rd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_TRUE(rd >= 0);
	ASSERT_EQ(emit_n(inst, 1, &sb), VIGIL_OK);
	n = read(rd, buf, sizeof(buf) - 1);
	ASSERT_TRUE(n > 0);
	buf[n] = 0;
	ASSERT_TRUE(strncmp(buf, "{\"process_exec\":", 16) == 0);
	close(rd);
	plugin->fini(inst);
	fake_host_free(fh);
	msgpack_sbuffer_destroy(&sb);
}

TEST(char_device_not_chmodded_nor_rotated)
{
	if (geteuid() != 0) {
		printf("# mknod of a character device needs root, skipped\n");
		return;
	}
	check_special("null", S_IFCHR, makedev(1, 3));
}

TEST(symlink_path_refused)
{
	struct fake_host *fh = fake_host_new("file-test");
	char p[256], target[256];
	void *inst = NULL;

	path_in_dir(p, sizeof(p), "link.json");
	path_in_dir(target, sizeof(target), "target.json");
	ASSERT_OK(symlink(target, p) < 0 ? -errno : 0);
	fake_host_set(fh, "File", "Path", p);
	ASSERT_ERRNO(plugin->init(&fh->host, &inst), ELOOP);
	ASSERT_CONTAINS(fake_host_logs(fh), "is a symbolic link, refusing to follow it");
	ASSERT_TRUE(access(target, F_OK) < 0); /* nothing created through the link */
	fake_host_free(fh);
}

/*
 * A rename of the chain fails (path.2 is a non-empty directory): nothing is lost or deleted,
 * the batch goes to the current file (RETRY forever used to stall the output), one warning.
 */
TEST(rotation_failure_keeps_appending_and_keeps_old_files)
{
	struct fake_host *fh = fake_host_new("file-test");
	char p[256], p1[300], p2[300], p2f[320], *s;
	msgpack_sbuffer sb;
	void *inst = NULL;
	int fd;

	path_in_dir(p, sizeof(p), "rotfail.json");
	snprintf(p1, sizeof(p1), "%s.1", p);
	snprintf(p2, sizeof(p2), "%s.2", p);
	snprintf(p2f, sizeof(p2f), "%s/x", p2);
	ASSERT_OK(mkdir(p2, 0700) < 0 ? -errno : 0);
	ASSERT_TRUE((fd = open(p2f, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0);
	close(fd);
	ASSERT_TRUE((fd = open(p1, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0);
	ASSERT_EQ(write(fd, "old1\n", 5), 5);
	close(fd);
	msgpack_sbuffer_init(&sb);
	fake_host_set(fh, "File", "Path", p);
	fake_host_set(fh, "File", "MaxSize", "1K");
	fake_host_set(fh, "File", "Keep", "2");
	ASSERT_OK(plugin->init(&fh->host, &inst));
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(emit_n(inst, 2, &sb), VIGIL_OK);
	s = slurp(p);
	ASSERT_EQ(count_lines(s), 10); /* everything appended: MaxSize= overshot, not stalled */
	free(s);
	s = slurp(p1);
	ASSERT_STREQ(s, "old1\n"); /* the kept file was not deleted nor replaced */
	free(s);
	ASSERT_EQ(fh->n_logs, 1);
	ASSERT_CONTAINS(fake_host_logs(fh), "Cannot rotate '");
	plugin->fini(inst);
	fake_host_free(fh);
	msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
	int r;

	umask(022);
	if (!mkdtemp(dir))
		return 99;
	plugin = fake_host_load("out_file.so");
	r = tap_run();
	if (r == 0) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		(void)!system(cmd);
	}
	return r;
}
