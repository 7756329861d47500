/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * out_stdout.so through dlopen and the fake host: compact and JSON lines, SkipJournal= against a
 * faked $JOURNAL_STREAM, and a closed reader (EPIPE). The plugin writes to fd 1, so every init()
 * and emit() runs with fd 1 pointed at a scratch file or pipe and restored right after; TAP
 * output and assertions happen only with the real fd 1 back in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fake_host.h"
#include "tap.h"
#include "testrec.h"

static const struct vigil_plugin *plugin;
static char dir[] = "/tmp/vigil-test-out-stdout.XXXXXX";

/* Point fd 1 at @fd; returns the saved fd 1 for stdout_restore(). */
static int stdout_redirect(int fd)
{
	int saved;

	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	if (saved < 0 || dup2(fd, STDOUT_FILENO) < 0)
		abort();
	return saved;
}

static void stdout_restore(int saved)
{
	if (dup2(saved, STDOUT_FILENO) < 0)
		abort();
	close(saved);
}

static int init_on(int fd, struct fake_host *fh, void **inst)
{
	int saved = stdout_redirect(fd), r;

	r = plugin->init(&fh->host, inst);
	stdout_restore(saved);
	return r;
}

/* Emit the @n records of @sbs as one batch with fd 1 on @fd; @results gets their fates. */
static enum vigil_status emit_on(int fd, void *inst, msgpack_sbuffer *sbs, unsigned n,
				 uint8_t *results)
{
	struct vigil_record recs[8];
	struct vigil_batch b = {.records = recs, .n_records = n, .schema_major = 1, .id = 1};
	enum vigil_status st;
	int saved;

	for (unsigned i = 0; i < n; i++) {
		recs[i] = (struct vigil_record){(const uint8_t *)sbs[i].data, (uint32_t)sbs[i].size,
						VIGIL_RECORD_PROCESS_EXEC, i};
		results[i] = VIGIL_DELIVERED;
	}
	saved = stdout_redirect(fd);
	st = plugin->emit(inst, &b, results);
	stdout_restore(saved);
	return st;
}

/* A fresh empty scratch file, open read-write. */
static int scratch(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	return fd;
}

/* Everything written to @fd so far, NUL-terminated (static buffer). */
static const char *contents(int fd)
{
	static char buf[16384];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static void set_journal_stream(int fd, long ino_delta)
{
	struct stat st;
	char v[64];

	if (fstat(fd, &st) < 0)
		abort();
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + (unsigned long long)ino_delta);
	setenv("JOURNAL_STREAM", v, 1);
}

TEST(descriptor)
{
	bool has_skip = false;

	ASSERT_NOT_NULL(plugin);
	ASSERT_STREQ(plugin->name, "stdout");
	ASSERT_STREQ(plugin->section, "Stdout");
	ASSERT_EQ(plugin->kind, VIGIL_PLUGIN_OUTPUT);
	for (const char *const *k = plugin->keys; k && *k; k++)
		has_skip |= strcmp(*k, "SkipJournal") == 0;
	ASSERT_TRUE(has_skip);
}

TEST(compact_lines)
{
	struct fake_host *fh = fake_host_new("stdout-test");
	msgpack_sbuffer sb[2];
	uint8_t res[2];
	void *inst = NULL;
	int fd = scratch("compact");

	unsetenv("JOURNAL_STREAM");
	msgpack_sbuffer_init(&sb[0]);
	msgpack_sbuffer_init(&sb[1]);
	testrec_exec(&sb[0], &testrec_curl, &testrec_bash);
	testrec_exit(&sb[1], &testrec_curl, &testrec_bash, 3, "");
	ASSERT_OK(init_on(fd, fh, &inst));
	ASSERT_EQ(emit_on(fd, inst, sb, 2, res), VIGIL_OK);
	ASSERT_EQ(res[0], VIGIL_DELIVERED);
	ASSERT_EQ(res[1], VIGIL_DELIVERED);
	ASSERT_STREQ(contents(fd),
		     "exec  pid=1234 nginx.service /usr/bin/curl -s https://example.org\n"
		     "exit  pid=1234 nginx.service /usr/bin/curl status=3\n");
	ASSERT_EQ(fh->n_logs, 0);
	plugin->fini(inst);
	close(fd);
	fake_host_free(fh);
	msgpack_sbuffer_destroy(&sb[0]);
	msgpack_sbuffer_destroy(&sb[1]);
}

TEST(json_lines)
{
	struct fake_host *fh = fake_host_new("stdout-test");
	msgpack_sbuffer sb[2];
	uint8_t res[2];
	void *inst = NULL;
	int fd = scratch("json");
	const char *text, *nl;

	unsetenv("JOURNAL_STREAM");
	msgpack_sbuffer_init(&sb[0]);
	msgpack_sbuffer_init(&sb[1]);
	testrec_exec(&sb[0], &testrec_curl, &testrec_bash);
	testrec_loss(&sb[1], "kernel", 7, 9, NULL);
	fake_host_set(fh, "Stdout", "Format", "json");
	ASSERT_OK(init_on(fd, fh, &inst));
	ASSERT_EQ(emit_on(fd, inst, sb, 2, res), VIGIL_OK);
	text = contents(fd);
	ASSERT_TRUE(strncmp(text, "{\"process_exec\":{\"process\":{\"exec_id\":", 38) == 0);
	nl = strchr(text, '\n');
	ASSERT_NOT_NULL(nl);
	ASSERT_TRUE(nl[-1] == '}');
	ASSERT_TRUE(strncmp(nl + 1, "{\"vigil_loss\":{", 15) == 0);
	ASSERT_CONTAINS(nl + 1, "\"stage\":\"kernel\"");
	ASSERT_CONTAINS(nl + 1, "\"count\":7");
	ASSERT_TRUE(strchr(nl + 1, '\n') != NULL && strchr(nl + 1, '\n')[1] == '\0');
	plugin->fini(inst);
	close(fd);
	fake_host_free(fh);
	msgpack_sbuffer_destroy(&sb[0]);
	msgpack_sbuffer_destroy(&sb[1]);
}

TEST(skip_journal_when_stdout_is_the_journal_stream)
{
	struct fake_host *fh = fake_host_new("stdout-test");
	msgpack_sbuffer sb[3];
	uint8_t res[3] = {0xff, 0xff, 0xff};
	void *inst = NULL;
	int fd = scratch("journal");

	for (int i = 0; i < 3; i++) {
		msgpack_sbuffer_init(&sb[i]);
		testrec_exec(&sb[i], &testrec_curl, &testrec_bash);
	}
	set_journal_stream(fd, 0);
	fake_host_set(fh, "Stdout", "SkipJournal", "yes");
	ASSERT_OK(init_on(fd, fh, &inst));
	ASSERT_EQ(fh->n_logs, 1);
	ASSERT_CONTAINS(fake_host_logs(fh), "INFO: ");
	ASSERT_CONTAINS(fake_host_logs(fh), "inactive");
	ASSERT_EQ(emit_on(fd, inst, sb, 3, res), VIGIL_OK);
	ASSERT_EQ(emit_on(fd, inst, sb, 3, res), VIGIL_OK);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(res[i], VIGIL_DELIVERED);
	ASSERT_STREQ(contents(fd), "");
	ASSERT_EQ(fh->n_logs, 1); /* logged once, at init, not per batch */
	plugin->fini(inst);
	unsetenv("JOURNAL_STREAM");
	close(fd);
	fake_host_free(fh);
	for (int i = 0; i < 3; i++)
		msgpack_sbuffer_destroy(&sb[i]);
}

TEST(skip_journal_writes_when_stream_does_not_match)
{
	static const char *const envs[] = {"other", "1:2:3", "", NULL};
	msgpack_sbuffer sb[1];
	uint8_t res[1];
	int fd = scratch("nomatch");

	msgpack_sbuffer_init(&sb[0]);
	testrec_exit(&sb[0], &testrec_curl, NULL, 0, "");
	/* Same device, another inode: a stdout the service's stream was not connected to. */
	for (int round = 0; round < 5; round++) {
		struct fake_host *fh = fake_host_new("stdout-test");
		void *inst = NULL;

		if (round == 0)
			set_journal_stream(fd, 1);
		else if (round == 4)
			unsetenv("JOURNAL_STREAM");
		else
			setenv("JOURNAL_STREAM", envs[round - 1], 1);
		ASSERT_TRUE(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
		fake_host_set(fh, "Stdout", "SkipJournal", "yes");
		ASSERT_OK(init_on(fd, fh, &inst));
		ASSERT_EQ(fh->n_logs, 0);
		ASSERT_EQ(emit_on(fd, inst, sb, 1, res), VIGIL_OK);
		ASSERT_STREQ(contents(fd), "exit  pid=1234 nginx.service /usr/bin/curl status=0\n");
		plugin->fini(inst);
		fake_host_free(fh);
	}
	unsetenv("JOURNAL_STREAM");
	close(fd);
	msgpack_sbuffer_destroy(&sb[0]);
}

TEST(journal_stream_without_skip_journal_writes)
{
	struct fake_host *fh = fake_host_new("stdout-test");
	msgpack_sbuffer sb[1];
	uint8_t res[1];
	void *inst = NULL;
	int fd = scratch("noskip");

	msgpack_sbuffer_init(&sb[0]);
	testrec_exit(&sb[0], &testrec_curl, NULL, 0, "SIGKILL");
	set_journal_stream(fd, 0);
	fake_host_set(fh, "Stdout", "SkipJournal", "no");
	ASSERT_OK(init_on(fd, fh, &inst));
	ASSERT_EQ(emit_on(fd, inst, sb, 1, res), VIGIL_OK);
	ASSERT_STREQ(contents(fd), "exit  pid=1234 nginx.service /usr/bin/curl signal=SIGKILL\n");
	plugin->fini(inst);
	unsetenv("JOURNAL_STREAM");
	close(fd);
	fake_host_free(fh);
	msgpack_sbuffer_destroy(&sb[0]);
}

TEST(bad_values_refused_with_location)
{
	static const char *const bad[][2] = {{"SkipJournal", "perhaps"}, {"Format", "xml"}};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fake_host *fh = fake_host_new("stdout-test");
		void *inst = NULL;

		fake_host_set(fh, "Stdout", bad[i][0], bad[i][1]);
		ASSERT_ERRNO(plugin->init(&fh->host, &inst), EINVAL);
		ASSERT_CONTAINS(fake_host_logs(fh), "test.conf:");
		ASSERT_CONTAINS(fake_host_logs(fh), bad[i][1]);
		fake_host_free(fh);
	}
}

/*
 * The reader went away: with SIGPIPE blocked (as vigild blocks it before any output thread
 * starts) write() fails with EPIPE. The plugin reports VIGIL_FATAL (the host pauses the instance
 * and keeps its records), logs once per failure burst, and the process lives on.
 */
TEST(closed_reader_is_fatal_not_a_crash)
{
	struct fake_host *fh = fake_host_new("stdout-test");
	struct timespec zero = {0, 0};
	msgpack_sbuffer sb[1];
	sigset_t mask, old;
	uint8_t res[1];
	void *inst = NULL;
	int p[2];

	sigemptyset(&mask);
	sigaddset(&mask, SIGPIPE);
	ASSERT_EQ(sigprocmask(SIG_BLOCK, &mask, &old), 0);
	msgpack_sbuffer_init(&sb[0]);
	testrec_exec(&sb[0], &testrec_curl, &testrec_bash);
	unsetenv("JOURNAL_STREAM");
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	ASSERT_OK(init_on(p[1], fh, &inst));
	close(p[0]);
	ASSERT_EQ(emit_on(p[1], inst, sb, 1, res), VIGIL_FATAL);
	ASSERT_EQ(emit_on(p[1], inst, sb, 1, res), VIGIL_FATAL);
	ASSERT_EQ(fh->n_logs, 1);
	ASSERT_CONTAINS(fake_host_logs(fh), "ERR: ");
	ASSERT_CONTAINS(fake_host_logs(fh), "Broken pipe");
	/* Consume the pending SIGPIPE so unblocking cannot kill us. */
	while (sigtimedwait(&mask, NULL, &zero) == SIGPIPE)
		;
	ASSERT_EQ(sigprocmask(SIG_SETMASK, &old, NULL), 0);
	plugin->fini(inst);
	close(p[1]);
	fake_host_free(fh);
	msgpack_sbuffer_destroy(&sb[0]);
}

/* Read whatever @fd has right now (non-blocking) and append it to @buf. */
static size_t drain(int fd, char *buf, size_t have, size_t cap)
{
	int fl = fcntl(fd, F_GETFL);
	ssize_t n;

	(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while (have < cap && (n = read(fd, buf + have, cap - have)) > 0)
		have += (size_t)n;
	(void)fcntl(fd, F_SETFL, fl);
	return have;
}

/*
 * fd 1 is a blocking pipe nobody reads, holding less than one batch: emit() must come back (it
 * used to wait for the reader forever, and with it vigild's SIGTERM), with the records it got
 * out delivered and the rest given back (REDO), never a line written twice or cut in half.
 */
TEST(full_pipe_returns_without_duplicates_or_cut_lines)
{
	static char big[20001];
	static char out[1 << 20];
	const char *argv[] = {"curl", big, NULL};
	struct fake_host *fh = fake_host_new("stdout-test");
	struct testproc tp = testrec_curl;
	msgpack_sbuffer sb[8];
	uint8_t res[8];
	unsigned delivered = 0, redo = 0, lines = 0;
	size_t have = 0;
	void *inst = NULL;
	int p[2];

	memset(big, 'a', sizeof(big) - 1);
	tp.argv = argv;
	tp.arguments = big;
	for (unsigned i = 0; i < 8; i++) {
		msgpack_sbuffer_init(&sb[i]);
		testrec_exec(&sb[i], &tp, NULL);
	}
	unsetenv("JOURNAL_STREAM");
	fake_host_set(fh, "Stdout", "Format", "json");
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0); /* 64 KiB; 8 records are about 330 KiB */
	ASSERT_OK(init_on(p[1], fh, &inst));
	ASSERT_EQ(emit_on(p[1], inst, sb, 8, res), VIGIL_OK);
	for (unsigned i = 0; i < 8; i++) {
		delivered += res[i] == VIGIL_DELIVERED;
		redo += res[i] == VIGIL_REDO;
		/* what went out is a prefix of the batch */
		if (i > 0 && res[i - 1] == VIGIL_REDO)
			ASSERT_EQ(res[i], VIGIL_REDO);
	}
	ASSERT_TRUE(delivered >= 1);
	ASSERT_TRUE(redo >= 1);
	ASSERT_EQ(delivered + redo, 8);

	/* Still full: the next call gives up with nothing of its batch written. */
	ASSERT_EQ(emit_on(p[1], inst, sb, 1, res), VIGIL_RETRY);

	/* The reader wakes up: flush() finishes the cut line, and every delivered line is
	 * there exactly once and whole. */
	have = drain(p[0], out, have, sizeof(out));
	{
		int saved = stdout_redirect(p[1]);
		enum vigil_status st = plugin->flush(inst, 5000000);

		stdout_restore(saved);
		ASSERT_EQ(st, VIGIL_OK);
	}
	have = drain(p[0], out, have, sizeof(out));
	ASSERT_TRUE(have > 0);
	ASSERT_EQ(out[have - 1], '\n');
	for (char *l = out; l < out + have;) {
		char *nl = memchr(l, '\n', (size_t)(out + have - l));

		ASSERT_NOT_NULL(nl);
		ASSERT_TRUE(strncmp(l, "{\"process_exec\":", 16) == 0);
		ASSERT_EQ(nl[-1], '}');
		lines++;
		l = nl + 1;
	}
	ASSERT_EQ(lines, delivered);
	plugin->fini(inst);
	close(p[0]);
	close(p[1]);
	fake_host_free(fh);
	for (unsigned i = 0; i < 8; i++)
		msgpack_sbuffer_destroy(&sb[i]);
}

int main(void)
{
	int r;

	if (!mkdtemp(dir))
		return 99;
	plugin = fake_host_load("out_stdout.so");
	r = tap_run();
	if (r == 0) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		(void)!system(cmd);
	}
	return r;
}
