/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The plugin host with real dlopen() of the fake plugins in tests/plugins/fake/: ABI and file
 * refusals, delivery, retry, per-record results, asynchronous acks, queue overflow, routing,
 * filters, FATAL/probe, reopen, stop deadlines and records staged while wake-ups are held. No root
 * needed (the owner check runs only as root). Waits poll for a condition with a generous bound;
 * nothing asserts on timing.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vigil/plugin.h>

#include "log.h"
#include "plugin_host.h"
#include "tap.h"

#ifndef FAKE_PLUGIN_DIR
#define FAKE_PLUGIN_DIR "tests/plugins/fake/.libs"
#endif

#define MSEC 1000ULL

static char root[256];	  /* everything this test writes */
static char plugdir[512]; /* copies of the fake plugins, mode 0755 */
static char state[512];	  /* state dir of the current test */
static unsigned n_state;

/* --- helpers --- */

static int copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	int in, out;
	ssize_t n;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -errno;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(in);
	if (fchmod(out, mode) < 0)
		n = -1;
	close(out);
	return n < 0 ? -EIO : 0;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *s = NULL;
	size_t n = 0;

	if (!f)
		return strdup("");
	if (getdelim(&s, &n, '\0', f) < 0) {
		free(s);
		s = strdup("");
	}
	fclose(f);
	return s;
}

static char *out_file(const char *instance, const char *name)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/output/%s/%s", state, instance, name);
	return read_text(p);
}

static unsigned count_lines(const char *s, const char *prefix)
{
	unsigned n = 0;
	size_t l = strlen(prefix);

	for (const char *p = s; p && *p;) {
		if (strncmp(p, prefix, l) == 0)
			n++;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return n;
}

/* Captures stderr (the daemon log) between capture_begin() and capture_end(). */
static int saved_stderr = -1;
static char capture_path[512];

static void capture_begin(void)
{
	int fd;

	snprintf(capture_path, sizeof(capture_path), "%s/stderr", root);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

static char *capture_end(void)
{
	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	return read_text(capture_path);
}

struct ocfg {
	struct vigil_output_config c;
	struct vigil_kv kvs[16];
	char *events[8];
	char *filters[8];
	size_t n_events, n_filters;
};

static void ocfg_init(struct ocfg *o, const char *name, const char *plugin)
{
	memset(o, 0, sizeof(*o));
	o->c.name = (char *)name;
	o->c.path = (char *)"test.conf";
	o->c.plugin = (char *)plugin;
	o->c.enabled = true;
	o->c.queue_size = 64;
	o->c.batch_size = 8;
	o->c.retry_max_usec = 20 * MSEC;
	o->c.full_policy = VIGIL_FULL_DROP_OLDEST;
	o->c.spool_max_size = 1ULL << 30;
	o->c.kvs = o->kvs;
}

static void ocfg_kv(struct ocfg *o, const char *section, const char *key, const char *value)
{
	o->kvs[o->c.n_kvs] = (struct vigil_kv){(char *)section, (char *)key, (char *)value,
					       (char *)"test.conf", (unsigned)o->c.n_kvs + 2};
	o->c.n_kvs++;
}

static void ocfg_event(struct ocfg *o, const char *e)
{
	o->events[o->n_events++] = (char *)e;
	o->c.events = o->events;
}

static void ocfg_filter(struct ocfg *o, const char *f)
{
	o->filters[o->n_filters++] = (char *)f;
	o->c.filters = o->filters;
}

static void new_state(void)
{
	snprintf(state, sizeof(state), "%s/state%u", root, ++n_state);
	mkdir(state, 0700);
}

static int host_new_dir(const char *dir, bool check_owner, struct ocfg *o, size_t n,
			struct plugin_host **ret)
{
	struct vigil_output_config cs[8];
	struct plugin_host_options opts = {
		.plugin_dir = dir,
		.state_dir = state,
		.node_name = "test-node",
		.check_owner = check_owner,
	};

	for (size_t i = 0; i < n; i++)
		cs[i] = o[i].c;
	new_state();
	opts.state_dir = state;
	return plugin_host_new(&opts, cs, n, ret);
}

/* A host on the current state directory (a restart of the previous one). */
static int host_restart(struct ocfg *o, struct plugin_host **ret)
{
	struct plugin_host_options opts = {
		.plugin_dir = plugdir,
		.state_dir = state,
		.node_name = "test-node",
	};

	return plugin_host_new(&opts, &o->c, 1, ret);
}

static int host_new(struct ocfg *o, size_t n, struct plugin_host **ret)
{
	return host_new_dir(plugdir, false, o, n, ret);
}

/* host_new() expected to fail; returns its error and the log it wrote. */
static int host_refuse(struct ocfg *o, const char *dir, bool check_owner, char **ret_log)
{
	struct plugin_host *h = NULL;
	int r;

	capture_begin();
	r = host_new_dir(dir ? dir : plugdir, check_owner, o, 1, &h);
	*ret_log = capture_end();
	plugin_host_free(h);
	return r;
}

static void enqueue_str(struct plugin_host *h, uint32_t type, uint64_t seq, const char *s)
{
	(void)plugin_host_enqueue(h, type, seq, (const uint8_t *)s, strlen(s));
}

static void enqueue_n(struct plugin_host *h, unsigned first, unsigned last)
{
	char s[32];

	for (unsigned i = first; i <= last; i++) {
		snprintf(s, sizeof(s), "r%u", i);
		enqueue_str(h, VIGIL_RECORD_PROCESS_EXEC, i, s);
	}
}

static struct output_stats stats(struct plugin_host *h, size_t i)
{
	struct output_stats st;

	plugin_host_stats(h, i, &st);
	return st;
}

/* Poll until cond holds, bounded so a broken host fails the test instead of hanging it. */
#define WAIT_FOR(cond)                                                                             \
	do {                                                                                       \
		for (int _w = 0; !(cond) && _w < 20000; _w++)                                      \
			usleep(500);                                                               \
	} while (0)

/* "1 1 r1\n2 1 r2\n" for seqs first..last */
static char *expect_seq(unsigned first, unsigned last)
{
	char *s = calloc(1, 32 * (last - first + 2));
	size_t n = 0;

	for (unsigned i = first; i <= last; i++)
		n += (size_t)sprintf(s + n, "%u 1 r%u\n", i, i);
	return s;
}

/* --- tests --- */

TEST(event_type_names)
{
	ASSERT_EQ(plugin_host_event_type("process_exec"), VIGIL_RECORD_PROCESS_EXEC);
	ASSERT_EQ(plugin_host_event_type("process_exit"), VIGIL_RECORD_PROCESS_EXIT);
	ASSERT_EQ(plugin_host_event_type("process_clone"), VIGIL_RECORD_PROCESS_CLONE);
	ASSERT_EQ(plugin_host_event_type("vigil_loss"), VIGIL_RECORD_VIGIL_LOSS);
	ASSERT_ERRNO(plugin_host_event_type("process_kprobe_typo"), EINVAL);
	ASSERT_ERRNO(plugin_host_event_type(NULL), EINVAL);
	ASSERT_STREQ(plugin_host_event_name(VIGIL_RECORD_PROCESS_EXIT), "process_exit");
	ASSERT_NULL(plugin_host_event_name(0));
	ASSERT_NULL(plugin_host_event_name(99));
}

TEST(delivers_in_order_and_drains_on_stop)
{
	struct plugin_host *h = NULL;
	struct ocfg o;
	struct output_stats st;
	struct stat sb;
	char p[PATH_MAX], *got, *want, *calls;

	ocfg_init(&o, "rec", "record");
	o.c.queue_size = 100; /* the worker may be slower than this loop */
	ASSERT_OK(host_new(&o, 1, &h));
	ASSERT_EQ(plugin_host_n_outputs(h), 1);
	snprintf(p, sizeof(p), "%s/output/rec", state);
	ASSERT_OK(stat(p, &sb));
	ASSERT_EQ(sb.st_mode & 07777, 0700);

	ASSERT_OK(plugin_host_start(h));
	enqueue_n(h, 1, 100);
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	ASSERT_ERRNO(plugin_host_enqueue(h, 1, 101, (const uint8_t *)"x", 1), ESHUTDOWN);
	st = stats(h, 0);
	ASSERT_STREQ(st.name, "rec");
	ASSERT_STREQ(st.plugin, "record");
	ASSERT_EQ(st.delivered, 100);
	ASSERT_EQ(st.dropped, 0);
	ASSERT_EQ(st.retried, 0);
	ASSERT_EQ(st.in_queue, 0);

	got = out_file("rec", "delivered");
	want = expect_seq(1, 100);
	ASSERT_STREQ(got, want);
	calls = out_file("rec", "calls");
	ASSERT_CONTAINS(calls, "init rec node=test-node\n");
	ASSERT_EQ(count_lines(calls, "flush"), 1);
	ASSERT_EQ(count_lines(calls, "fini"), 1);
	/* batches never exceed BatchSize= */
	ASSERT_EQ(count_lines(calls, "emit 9"), 0);
	free(got);
	free(want);
	free(calls);
	plugin_host_free(h);
}

TEST(refuses_wrong_abi_major)
{
	struct ocfg o;
	char *log;

	ocfg_init(&o, "x", "badmajor");
	ASSERT_ERRNO(host_refuse(&o, NULL, false, &log), EPROTO);
	ASSERT_CONTAINS(log,
			"Plugin 'badmajor' implements ABI 2.x, this daemon 1.x, refusing to load.");
	ASSERT_CONTAINS(log, "/out_badmajor.so");
	free(log);
}

TEST(refuses_short_descriptor)
{
	struct ocfg o;
	char *log;

	ocfg_init(&o, "x", "short");
	ASSERT_ERRNO(host_refuse(&o, NULL, false, &log), ENOEXEC);
	ASSERT_CONTAINS(log, "Plugin 'short' has a 24 byte descriptor, smaller than ABI 1.0's");
	free(log);
}

TEST(refuses_name_mismatch)
{
	struct ocfg o;
	char *log;

	ocfg_init(&o, "x", "misname");
	ASSERT_ERRNO(host_refuse(&o, NULL, false, &log), ENOEXEC);
	ASSERT_CONTAINS(log, "out_misname.so: Plugin calls itself 'other' but the file name says "
			     "'misname', refusing to load.");
	free(log);
}

TEST(refuses_missing_callback)
{
	struct ocfg o;
	char *log;

	ocfg_init(&o, "x", "noemit");
	ASSERT_ERRNO(host_refuse(&o, NULL, false, &log), ENOEXEC);
	ASSERT_CONTAINS(log,
			"Plugin 'noemit' lacks the required emit() callback, refusing to load.");
	free(log);
}

TEST(refuses_wrong_kind)
{
	struct ocfg o;
	char *log;

	ocfg_init(&o, "x", "wrongkind");
	ASSERT_ERRNO(host_refuse(&o, NULL, false, &log), ENOEXEC);
	ASSERT_CONTAINS(log, "Plugin 'wrongkind' is a filter plugin, not an output");
	free(log);

	/* and an output named in Filters= is looked up as filter_<name>.so only */
	ocfg_init(&o, "x", "record");
	ocfg_filter(&o, "record");
	ASSERT_ERRNO(host_refuse(&o, NULL, false, &log), ENOENT);
	ASSERT_CONTAINS(log, "Plugin 'record' not found: no ");
	ASSERT_CONTAINS(log, "/filter_record.so");
	free(log);
}

TEST(refuses_missing_plugin_and_bad_names)
{
	struct ocfg o;
	char *log, want[PATH_MAX + 64];

	ocfg_init(&o, "x", "kafka");
	ASSERT_ERRNO(host_refuse(&o, NULL, false, &log), ENOENT);
	snprintf(want, sizeof(want), "Plugin 'kafka' not found: no %s/out_kafka.so", plugdir);
	ASSERT_CONTAINS(log, want);
	free(log);

	ocfg_init(&o, "x", "../out_record");
	ASSERT_ERRNO(host_refuse(&o, NULL, false, &log), EINVAL);
	ASSERT_CONTAINS(log, "invalid plugin name '../out_record'");
	free(log);

	ocfg_init(&o, "x", "Record");
	ASSERT_ERRNO(host_refuse(&o, NULL, false, &log), EINVAL);
	free(log);

	/* a disabled output is not even looked at */
	ocfg_init(&o, "x", "kafka");
	o.c.enabled = false;
	{
		struct plugin_host *h = NULL;

		ASSERT_OK(host_new(&o, 1, &h));
		ASSERT_EQ(plugin_host_n_outputs(h), 0);
		ASSERT_EQ(plugin_host_enqueue(h, 1, 1, (const uint8_t *)"x", 1), 0);
		ASSERT_OK(plugin_host_stop(h, 0));
		plugin_host_free(h);
	}
}

/* Copy out_record.so into its own directory with @mode (and @uid if >= 0). */
static void make_lonely_plugin(char *dir, size_t n, mode_t mode, int uid)
{
	char from[1024], to[PATH_MAX + 32];

	snprintf(dir, n, "%s/lonely%u", root, ++n_state);
	mkdir(dir, 0755);
	snprintf(from, sizeof(from), "%s/out_record.so", plugdir);
	snprintf(to, sizeof(to), "%s/out_record.so", dir);
	copy_file(from, to, 0755);
	chmod(to, mode); /* explicit: the umask does not apply */
	if (uid >= 0)
		(void)!chown(to, (uid_t)uid, (gid_t)-1);
}

TEST(refuses_group_or_world_writable)
{
	char dir[PATH_MAX], *log;
	struct ocfg o;

	ocfg_init(&o, "x", "record");
	make_lonely_plugin(dir, sizeof(dir), 0757, -1);
	ASSERT_ERRNO(host_refuse(&o, dir, false, &log), EPERM);
	ASSERT_CONTAINS(log, "out_record.so: Plugin 'record' is writable by group or others "
			     "(mode 0757), refusing to load.");
	free(log);

	make_lonely_plugin(dir, sizeof(dir), 0775, -1);
	ASSERT_ERRNO(host_refuse(&o, dir, false, &log), EPERM);
	ASSERT_CONTAINS(log, "(mode 0775)");
	free(log);

	/* the same file, not writable by others, loads */
	make_lonely_plugin(dir, sizeof(dir), 0755, -1);
	{
		struct plugin_host *h = NULL;

		ASSERT_OK(host_new_dir(dir, false, &o, 1, &h));
		plugin_host_free(h);
	}
}

TEST(refuses_symlink_and_writable_directory)
{
	char dir[PATH_MAX], link[PATH_MAX + 32], target[PATH_MAX + 32], *log;
	struct plugin_host *h = NULL;
	struct ocfg o;

	ocfg_init(&o, "x", "record");
	/* a symbolic link to a good plugin is refused: the link could be re-pointed later */
	make_lonely_plugin(dir, sizeof(dir), 0755, -1);
	snprintf(target, sizeof(target), "%s/real.so", dir);
	snprintf(link, sizeof(link), "%s/out_record.so", dir);
	ASSERT_OK(rename(link, target) < 0 ? -errno : 0);
	ASSERT_OK(symlink(target, link) < 0 ? -errno : 0);
	ASSERT_ERRNO(host_refuse(&o, dir, false, &log), ELOOP);
	ASSERT_CONTAINS(log,
			"out_record.so: Plugin 'record' is a symbolic link, refusing to load.");
	free(log);

	/* a directory others may write to could get a plugin swapped in */
	make_lonely_plugin(dir, sizeof(dir), 0755, -1);
	chmod(dir, 0777);
	ASSERT_ERRNO(host_refuse(&o, dir, false, &log), EPERM);
	ASSERT_CONTAINS(log, ": Plugin directory is writable by group or others (mode 0777), "
			     "refusing to load plugin 'record'.");
	free(log);
	chmod(dir, 0755);
	ASSERT_OK(host_new_dir(dir, false, &o, 1, &h));
	plugin_host_free(h);

	if (geteuid() == 0) {
		/* root-owned file in a directory owned by someone else */
		make_lonely_plugin(dir, sizeof(dir), 0755, 0);
		(void)!chown(dir, 65534, (gid_t)-1);
		ASSERT_ERRNO(host_refuse(&o, dir, true, &log), EPERM);
		ASSERT_CONTAINS(log, ": Plugin directory is owned by uid 65534, not root");
		free(log);
	}
}

TEST(same_fd_number_loads_the_right_plugin)
{
	struct plugin_host *h = NULL;
	struct ocfg o[2];

	/* Two different plugins loaded one after the other (descriptors reused in between)
	 * must each be themselves, and one plugin used twice must load once. */
	ocfg_init(&o[0], "a", "async");
	ocfg_init(&o[1], "b", "record");
	ASSERT_OK(host_new(o, 2, &h));
	plugin_host_free(h);
	ocfg_init(&o[0], "c", "record");
	ocfg_init(&o[1], "d", "record");
	ASSERT_OK(host_new(o, 2, &h));
	plugin_host_free(h);
}

TEST(refuses_not_root_owned)
{
	char dir[PATH_MAX], *log;
	struct plugin_host *h = NULL;
	struct ocfg o;

	if (geteuid() != 0) {
		printf("# owner check needs root, skipped\n");
		return;
	}
	ocfg_init(&o, "x", "record");
	make_lonely_plugin(dir, sizeof(dir), 0755, 65534);
	ASSERT_ERRNO(host_refuse(&o, dir, true, &log), EPERM);
	ASSERT_CONTAINS(log, "Plugin 'record' is owned by uid 65534, not root, refusing to load.");
	free(log);

	make_lonely_plugin(dir, sizeof(dir), 0755, 0);
	ASSERT_OK(host_new_dir(dir, true, &o, 1, &h));
	plugin_host_free(h);
}

TEST(init_failure_fails_host)
{
	struct ocfg o;
	char *log;

	ocfg_init(&o, "broken", "record");
	ocfg_kv(&o, "Record", "Mode", "initfail");
	ASSERT_ERRNO(host_refuse(&o, NULL, false, &log), EINVAL);
	ASSERT_CONTAINS(log, "broken: Mode=initfail: failing as asked");
	ASSERT_CONTAINS(log, "Output 'broken' (plugin 'record') failed to initialise");
	free(log);
}

TEST(host_table_config_and_warnings)
{
	struct plugin_host *h = NULL;
	struct ocfg o;
	char *log, *calls;
	int r;

	ocfg_init(&o, "cfg", "record");
	ocfg_kv(&o, "Output", "Plugin", "record");
	ocfg_kv(&o, "Record", "Tag", "dropped-by-reset");
	ocfg_kv(&o, "Record", "Tag", "");
	ocfg_kv(&o, "Record", "Tag", "a");
	ocfg_kv(&o, "Record", "Mode", "stuck");
	ocfg_kv(&o, "Record", "Tag", "b c");
	ocfg_kv(&o, "Record", "Mode", "ok"); /* line 8: the last one wins */
	ocfg_kv(&o, "Record", "Delay", "1min 250ms");
	ocfg_kv(&o, "Record", "Mdoe", "fatal"); /* line 10 */
	ocfg_kv(&o, "Kafka", "Brokers", "x");	/* line 11 */
	capture_begin();
	r = host_new(&o, 1, &h);
	log = capture_end();
	ASSERT_OK(r);
	ASSERT_CONTAINS(log, "test.conf:10: Unknown key 'Mdoe' in section [Record], ignoring. "
			     "Did you mean 'Mode'?");
	ASSERT_CONTAINS(log, "test.conf:11: Unknown section [Kafka] for output 'cfg'");
	free(log);
	plugin_host_free(h);

	calls = out_file("cfg", "calls");
	ASSERT_CONTAINS(calls, "tags a,b c\n");
	ASSERT_CONTAINS(calls, "loc test.conf:8\n");
	ASSERT_CONTAINS(calls, "delay 60250000\n");
	ASSERT_EQ(count_lines(calls, "fini"), 1);
	free(calls);
}

TEST(flaky_retry_keeps_order)
{
	struct plugin_host *h = NULL;
	struct output_stats st;
	struct ocfg o;
	char *got, *want, *calls;

	ocfg_init(&o, "flaky", "record");
	ocfg_kv(&o, "Record", "Mode", "flaky");
	ocfg_kv(&o, "Record", "FailCount", "3");
	ASSERT_OK(host_new(&o, 1, &h));
	enqueue_n(h, 1, 10);
	ASSERT_OK(plugin_host_start(h));
	WAIT_FOR(stats(h, 0).delivered == 10);
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	st = stats(h, 0);
	ASSERT_EQ(st.delivered, 10);
	ASSERT_EQ(st.retried, 3 * 8); /* the first batch of 8, re-offered three times */
	ASSERT_EQ(st.dropped, 0);
	ASSERT_NE(st.last_error_usec, 0);
	got = out_file("flaky", "delivered");
	want = expect_seq(1, 10);
	ASSERT_STREQ(got, want);
	calls = out_file("flaky", "calls");
	ASSERT_EQ(count_lines(calls, "status 2"), 3);
	ASSERT_EQ(count_lines(calls, "emit 8 1,2,3,4,5,6,7,8"), 4);
	free(got);
	free(want);
	free(calls);
	plugin_host_free(h);
}

TEST(per_record_redo_and_drop)
{
	struct plugin_host *h = NULL;
	struct output_stats st;
	struct ocfg o;
	char *got, *calls;

	ocfg_init(&o, "part", "record");
	ocfg_kv(&o, "Record", "Mode", "partial");
	ASSERT_OK(host_new(&o, 1, &h));
	enqueue_n(h, 1, 12);
	ASSERT_OK(plugin_host_start(h));
	WAIT_FOR(stats(h, 0).delivered == 8);
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	st = stats(h, 0);
	ASSERT_EQ(st.delivered, 8);
	ASSERT_EQ(st.dropped, 4); /* 1, 4, 7, 10 */
	ASSERT_EQ(st.retried, 4); /* 2, 5, 8, 11 */
	calls = out_file("part", "calls");
	/* only the REDO records come back, in order, ahead of the newer ones */
	ASSERT_CONTAINS(calls, "emit 8 1,2,3,4,5,6,7,8\nemit 7 2,5,8,9,10,11,12\nemit 1 11\n");
	got = out_file("part", "delivered");
	ASSERT_STREQ(got, "3 1 r3\n6 1 r6\n2 1 r2\n5 1 r5\n8 1 r8\n9 1 r9\n12 1 r12\n11 1 r11\n");
	free(got);
	free(calls);
	plugin_host_free(h);
}

TEST(async_acks_several_in_flight)
{
	struct plugin_host *h = NULL;
	struct output_stats st;
	struct ocfg o;
	char *got, *all, *calls, line[64];

	ocfg_init(&o, "async", "async");
	o.c.batch_size = 2;
	ASSERT_OK(host_new(&o, 1, &h));
	enqueue_n(h, 1, 40);
	ASSERT_OK(plugin_host_start(h));
	WAIT_FOR(stats(h, 0).delivered == 40);
	st = stats(h, 0);
	ASSERT_EQ(st.delivered, 40);
	ASSERT_EQ(st.in_queue, 0);
	enqueue_n(h, 41, 45); /* these are settled by flush() at stop */
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	st = stats(h, 0);
	ASSERT_EQ(st.delivered, 45);
	ASSERT_EQ(st.dropped, 0);
	ASSERT_EQ(st.retried, 0);
	calls = out_file("async", "calls");
	/* the host kept exactly max_in_flight batches pending, never more */
	ASSERT_CONTAINS(calls, "max_outstanding 4\n");
	got = out_file("async", "delivered");
	ASSERT_EQ(count_lines(got, ""), 45);
	all = malloc(strlen(got) + 2);
	sprintf(all, "\n%s", got);
	for (unsigned i = 1; i <= 45; i++) {
		snprintf(line, sizeof(line), "\n%u r%u\n", i, i);
		ASSERT_CONTAINS(all, line);
	}
	free(all);
	free(got);
	free(calls);
	plugin_host_free(h);
}

TEST(queue_overflow_drop_oldest)
{
	struct plugin_host *h = NULL;
	struct output_stats st;
	struct ocfg o;
	char *got, *want;

	ocfg_init(&o, "small", "record");
	o.c.queue_size = 4;
	ASSERT_OK(host_new(&o, 1, &h));
	enqueue_n(h, 1, 10); /* not started: nothing drains the queue */
	st = stats(h, 0);
	ASSERT_EQ(st.queue_dropped, 6);
	ASSERT_EQ(st.dropped, 6);
	ASSERT_EQ(st.in_queue, 4);
	ASSERT_OK(plugin_host_start(h));
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	got = out_file("small", "delivered");
	want = expect_seq(7, 10);
	ASSERT_STREQ(got, want);
	free(got);
	free(want);
	plugin_host_free(h);
}

/*
 * Inside a hold of wake-ups records are handed to the queue in groups: accounting stays exact
 * while some are still staged (in_queue counts them), FullPolicy= applies per record across
 * group boundaries, release hands over the rest, and a stop inside a hold loses nothing.
 */
TEST(held_wakeups_stage_records_exactly)
{
	struct plugin_host *h = NULL;
	struct output_stats st;
	struct ocfg o;
	char *got, *want;

	/* Not started: what reaches the queue stays there. 150 = two full groups + 22. */
	ocfg_init(&o, "held", "record");
	o.c.queue_size = 100;
	ASSERT_OK(host_new(&o, 1, &h));
	plugin_host_hold_wakeups(h);
	enqueue_n(h, 1, 150);
	st = stats(h, 0);
	ASSERT_EQ(st.in_queue + st.dropped, 150);
	plugin_host_release_wakeups(h);
	st = stats(h, 0);
	ASSERT_EQ(st.queue_dropped, 50); /* drop-oldest, record by record */
	ASSERT_EQ(st.in_queue, 100);
	ASSERT_OK(plugin_host_start(h));
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	got = out_file("held", "delivered");
	want = expect_seq(51, 150);
	ASSERT_STREQ(got, want);
	free(got);
	free(want);
	plugin_host_free(h);

	/* Started, and stopped inside a hold that is never released: all delivered, in order. */
	new_state();
	ocfg_init(&o, "held2", "record");
	o.c.queue_size = 1000;
	ASSERT_OK(host_new(&o, 1, &h));
	ASSERT_OK(plugin_host_start(h));
	plugin_host_hold_wakeups(h);
	enqueue_n(h, 1, 99);
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	st = stats(h, 0);
	ASSERT_EQ(st.delivered, 99);
	ASSERT_EQ(st.dropped, 0);
	ASSERT_EQ(st.in_queue, 0);
	got = out_file("held2", "delivered");
	want = expect_seq(1, 99);
	ASSERT_STREQ(got, want);
	free(got);
	free(want);
	plugin_host_free(h);
}

TEST(queue_overflow_drop_newest)
{
	struct plugin_host *h = NULL;
	struct ocfg o;
	char *got, *want;

	ocfg_init(&o, "small", "record");
	o.c.queue_size = 4;
	o.c.full_policy = VIGIL_FULL_DROP_NEWEST;
	ASSERT_OK(host_new(&o, 1, &h));
	enqueue_n(h, 1, 10);
	ASSERT_EQ(stats(h, 0).queue_dropped, 6);
	ASSERT_OK(plugin_host_start(h));
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	got = out_file("small", "delivered");
	want = expect_seq(1, 4);
	ASSERT_STREQ(got, want);
	free(got);
	free(want);
	plugin_host_free(h);
}

TEST(events_routing)
{
	struct plugin_host *h = NULL;
	struct ocfg o[3];
	char *a, *b, *c, *log;

	ocfg_init(&o[0], "a", "record");
	ocfg_event(&o[0], "process_exec");
	ocfg_init(&o[1], "b", "record");
	ocfg_event(&o[1], "process_exit");
	ocfg_event(&o[1], "vigil_loss");
	ocfg_init(&o[2], "c", "record");
	ASSERT_OK(host_new(o, 3, &h));
	ASSERT_EQ(plugin_host_n_outputs(h), 3);
	ASSERT_OK(plugin_host_start(h));
	ASSERT_EQ(plugin_host_enqueue(h, VIGIL_RECORD_PROCESS_EXEC, 1, (const uint8_t *)"e", 1), 2);
	ASSERT_EQ(plugin_host_enqueue(h, VIGIL_RECORD_PROCESS_EXIT, 2, (const uint8_t *)"x", 1), 2);
	ASSERT_EQ(plugin_host_enqueue(h, VIGIL_RECORD_PROCESS_CLONE, 3, (const uint8_t *)"c", 1),
		  1);
	ASSERT_EQ(plugin_host_enqueue(h, VIGIL_RECORD_VIGIL_LOSS, 4, (const uint8_t *)"l", 1), 2);
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	a = out_file("a", "delivered");
	b = out_file("b", "delivered");
	c = out_file("c", "delivered");
	ASSERT_STREQ(a, "1 1 e\n");
	ASSERT_STREQ(b, "2 2 x\n4 4 l\n");
	ASSERT_STREQ(c, "1 1 e\n2 2 x\n3 3 c\n4 4 l\n");
	free(a);
	free(b);
	free(c);
	plugin_host_free(h);

	ocfg_init(&o[0], "a", "record");
	ocfg_event(&o[0], "process_exce");
	ASSERT_ERRNO(host_refuse(&o[0], NULL, false, &log), EINVAL);
	ASSERT_CONTAINS(log, "Output 'a': unknown event 'process_exce' in Events=.");
	free(log);
}

TEST(filter_chain)
{
	static const char *const in[] = {"up1", "drop2", "x3", "up4", "fail5"};
	struct plugin_host *h = NULL;
	struct output_stats st;
	struct ocfg o[2];
	char *got;

	ocfg_init(&o[0], "filtered", "record");
	ocfg_filter(&o[0], "fake");
	ocfg_filter(&o[0], "suffix");
	ocfg_kv(&o[0], "Suffix", "Text", "!");
	ocfg_init(&o[1], "plain", "record");
	ASSERT_OK(host_new(o, 2, &h));
	ASSERT_OK(plugin_host_start(h));
	for (unsigned i = 0; i < ELEMENTSOF(in); i++)
		enqueue_str(h, VIGIL_RECORD_PROCESS_EXEC, i + 1, in[i]);
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	st = stats(h, 0);
	ASSERT_EQ(st.filtered, 1);
	ASSERT_EQ(st.filter_errors, 1);
	/* Fail closed: the record the filter failed on is dropped, not passed unchanged. */
	ASSERT_EQ(st.dropped, 1);
	ASSERT_EQ(st.delivered, 3);
	got = out_file("filtered", "delivered");
	ASSERT_STREQ(got, "1 1 UP1!\n3 1 x3!\n4 1 UP4!\n");
	free(got);
	/* the other output shares the record bytes and must see them unchanged */
	got = out_file("plain", "delivered");
	ASSERT_STREQ(got, "1 1 up1\n2 1 drop2\n3 1 x3\n4 1 up4\n5 1 fail5\n");
	free(got);
	ASSERT_EQ(stats(h, 1).filtered, 0);
	plugin_host_free(h);
}

TEST(fatal_pauses_until_probe_ok)
{
	struct plugin_host *h = NULL;
	struct output_stats st;
	struct ocfg o;
	char p[PATH_MAX], *got, *want, *calls;
	int fd;

	ocfg_init(&o, "fatal", "record");
	ocfg_kv(&o, "Record", "Mode", "fatal");
	ASSERT_OK(host_new(&o, 1, &h));
	enqueue_n(h, 1, 5);
	ASSERT_OK(plugin_host_start(h));
	calls = NULL;
	for (int i = 0; i < 20000; i++) {
		free(calls);
		calls = out_file("fatal", "calls");
		if (strstr(calls, "probe down"))
			break;
		usleep(500);
	}
	ASSERT_CONTAINS(calls, "status 3\n");
	ASSERT_CONTAINS(calls, "probe down\n");
	ASSERT_EQ(count_lines(calls, "emit"), 1); /* paused: probe(), not emit() */
	free(calls);
	st = stats(h, 0);
	ASSERT_TRUE(st.paused);
	ASSERT_EQ(st.delivered, 0);
	ASSERT_EQ(st.dropped, 0);
	ASSERT_EQ(st.in_queue, 5); /* kept, not dropped */

	snprintf(p, sizeof(p), "%s/output/fatal/healthy", state);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_TRUE(fd >= 0);
	close(fd);
	WAIT_FOR(stats(h, 0).delivered == 5);
	st = stats(h, 0);
	ASSERT_EQ(st.delivered, 5);
	ASSERT_FALSE(st.paused);
	ASSERT_EQ(st.dropped, 0);
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	got = out_file("fatal", "delivered");
	want = expect_seq(1, 5);
	ASSERT_STREQ(got, want);
	calls = out_file("fatal", "calls");
	ASSERT_CONTAINS(calls, "probe ok\nemit 5 1,2,3,4,5\n");
	free(calls);
	free(got);
	free(want);
	plugin_host_free(h);
}

TEST(stop_deadline_counts_leftovers)
{
	struct plugin_host *h = NULL;
	struct output_stats st;
	struct ocfg o;
	char *calls, *log;
	int r;

	ocfg_init(&o, "stuck", "record");
	ocfg_kv(&o, "Record", "Mode", "stuck");
	ASSERT_OK(host_new(&o, 1, &h));
	ASSERT_OK(plugin_host_start(h));
	enqueue_n(h, 1, 5);
	WAIT_FOR(stats(h, 0).retried > 0);
	capture_begin();
	r = plugin_host_stop(h, 100 * MSEC);
	log = capture_end();
	ASSERT_ERRNO(r, ETIMEDOUT);
	ASSERT_CONTAINS(
		log, "Output 'stuck': 5 records not delivered before the stop deadline, dropped.");
	free(log);
	st = stats(h, 0);
	ASSERT_EQ(st.delivered, 0);
	ASSERT_EQ(st.dropped, 5);
	ASSERT_EQ(st.in_queue, 0);
	calls = out_file("stuck", "calls");
	ASSERT_EQ(count_lines(calls, "flush"), 1);
	ASSERT_EQ(count_lines(calls, "fini"), 1);
	free(calls);
	plugin_host_free(h);
}

TEST(stop_abandons_worker_stuck_in_emit)
{
	struct plugin_host *h = NULL;
	struct output_stats st;
	struct ocfg o[2];
	char *calls, *log, p[PATH_MAX];
	int r, fd;

	ocfg_init(&o[0], "blocked", "record");
	ocfg_kv(&o[0], "Record", "Mode", "block");
	ocfg_init(&o[1], "fine", "record");
	ASSERT_OK(host_new(o, 2, &h));
	ASSERT_OK(plugin_host_start(h));
	enqueue_n(h, 1, 3);
	/* emit() of the first batch is entered and blocks; more records queue behind it */
	for (int i = 0; i < 20000; i++) {
		calls = out_file("blocked", "calls");
		r = strstr(calls, "emit") != NULL;
		free(calls);
		if (r)
			break;
		usleep(500);
	}
	enqueue_n(h, 4, 5);
	WAIT_FOR(stats(h, 1).delivered == 5);
	capture_begin();
	r = plugin_host_stop(h, 100 * MSEC); /* returns: the join is bounded */
	log = capture_end();
	ASSERT_ERRNO(r, ETIMEDOUT);
	ASSERT_CONTAINS(log,
			"Output 'blocked' is stuck in a plugin call, abandoning it; 5 records not "
			"delivered, dropped.");
	free(log);
	st = stats(h, 0);
	ASSERT_TRUE(st.abandoned);
	ASSERT_EQ(st.delivered, 0);
	ASSERT_EQ(st.dropped, 5);
	ASSERT_EQ(st.stop_dropped, 5);
	ASSERT_EQ(st.in_queue, 0);
	/* the healthy output was drained and finished as usual */
	st = stats(h, 1);
	ASSERT_FALSE(st.abandoned);
	ASSERT_EQ(st.delivered, 5);
	ASSERT_EQ(st.dropped, 0);
	calls = out_file("fine", "calls");
	ASSERT_EQ(count_lines(calls, "fini"), 1);
	free(calls);
	/* no fini() while emit() still runs: the instance is left alone */
	calls = out_file("blocked", "calls");
	ASSERT_EQ(count_lines(calls, "fini"), 0);
	free(calls);
	plugin_host_free(h); /* must not free what the stuck thread uses */

	/* Let the stuck call return: the worker sees it was abandoned and touches nothing. */
	snprintf(p, sizeof(p), "%s/output/blocked/release", state);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_TRUE(fd >= 0);
	close(fd);
	usleep(50 * 1000);
	calls = out_file("blocked", "calls");
	ASSERT_EQ(count_lines(calls, "fini"), 0);
	free(calls);
}

TEST(stop_without_start)
{
	struct plugin_host *h = NULL;
	struct ocfg o;
	char *calls;

	ocfg_init(&o, "idle", "record");
	ASSERT_OK(host_new(&o, 1, &h));
	enqueue_n(h, 1, 3);
	ASSERT_ERRNO(plugin_host_stop(h, 0), ETIMEDOUT);
	ASSERT_EQ(stats(h, 0).dropped, 3);
	ASSERT_ERRNO(plugin_host_start(h), EALREADY);
	plugin_host_free(h);
	calls = out_file("idle", "calls");
	ASSERT_EQ(count_lines(calls, "fini"), 1);
	free(calls);

	/* and free without stop or start still calls fini() exactly once */
	ASSERT_OK(host_new(&o, 1, &h));
	plugin_host_free(h);
	calls = out_file("idle", "calls");
	ASSERT_EQ(count_lines(calls, "fini"), 1);
	free(calls);
}

TEST(reopen_reaches_plugin)
{
	struct plugin_host *h = NULL;
	struct ocfg o;
	char *calls;

	ocfg_init(&o, "rot", "record");
	ASSERT_OK(host_new(&o, 1, &h));
	ASSERT_OK(plugin_host_start(h));
	plugin_host_reopen(h);
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	calls = out_file("rot", "calls");
	ASSERT_EQ(count_lines(calls, "reopen"), 1);
	free(calls);
	plugin_host_free(h);
}

/* --- the disk spool (docs/delivery.md) --- */

static void touch_state(const char *instance, const char *name)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/output/%s/%s", state, instance, name);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
}

TEST(spool_keeps_records_through_an_outage_in_order)
{
	struct plugin_host *h = NULL;
	struct output_stats st;
	struct ocfg o;
	char p[PATH_MAX], *got, *want;
	struct stat sb;

	ocfg_init(&o, "sp1", "record");
	o.c.spool = VIGIL_SPOOL_ON;
	o.c.queue_size = 1024;
	ocfg_kv(&o, "Record", "Mode", "fatal");
	ASSERT_OK(host_new(&o, 1, &h));
	ASSERT_OK(plugin_host_start(h));
	enqueue_n(h, 1, 300);
	/* The sink is down: everything goes to the spool, nothing is lost. */
	WAIT_FOR(stats(h, 0).spool_records == 300);
	st = stats(h, 0);
	ASSERT_TRUE(st.spool);
	ASSERT_EQ(st.spool_records, 300);
	ASSERT_TRUE(st.spool_bytes > 300 * 2);
	ASSERT_EQ(st.delivered, 0);
	ASSERT_EQ(st.dropped, 0);
	ASSERT_EQ(st.in_queue, 300);
	snprintf(p, sizeof(p), "%s/spool/sp1", state);
	ASSERT_OK(stat(p, &sb));
	ASSERT_TRUE(S_ISDIR(sb.st_mode));

	touch_state("sp1", "healthy");
	WAIT_FOR(stats(h, 0).delivered == 300 && stats(h, 0).spool_records == 0);
	st = stats(h, 0);
	ASSERT_EQ(st.delivered, 300);
	ASSERT_EQ(st.dropped, 0);
	ASSERT_EQ(st.spool_records, 0);
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	got = out_file("sp1", "delivered");
	want = expect_seq(1, 300);
	ASSERT_STREQ(got, want);
	free(got);
	free(want);
	plugin_host_free(h);
}

/*
 * Two spooled outputs share every record: each sends what it just spooled from memory (its own
 * copy where the other still holds the record) or, past what it keeps in memory, read back from
 * its spool; one of them fails its first batches (RETRY: they wait in memory for a retry).
 * Both get everything once, in order.
 */
TEST(spool_shared_records_sent_from_memory_in_order)
{
	struct plugin_host *h = NULL;
	struct ocfg o[2];
	char *got, *want;

	ocfg_init(&o[0], "sh1", "record");
	ocfg_init(&o[1], "sh2", "record");
	for (int i = 0; i < 2; i++) {
		o[i].c.spool = VIGIL_SPOOL_ON;
		o[i].c.queue_size = 5000;
		o[i].c.batch_size = 16; /* keeps 64 in memory: most of the 3000 come from disk */
	}
	ocfg_kv(&o[1], "Record", "Mode", "flaky");
	ocfg_kv(&o[1], "Record", "FailCount", "3");
	ASSERT_OK(host_new(o, 2, &h));
	ASSERT_OK(plugin_host_start(h));
	for (unsigned i = 0; i < 30; i++) {
		plugin_host_hold_wakeups(h);
		enqueue_n(h, i * 100 + 1, i * 100 + 100);
		plugin_host_release_wakeups(h);
		if (i % 10 == 0) /* an idle moment: the readers catch up */
			WAIT_FOR(stats(h, 0).delivered + stats(h, 1).delivered >=
				 2 * (i * 100 + 100));
	}
	WAIT_FOR(stats(h, 0).delivered == 3000 && stats(h, 1).delivered == 3000);
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	want = expect_seq(1, 3000);
	for (int i = 0; i < 2; i++) {
		struct output_stats st = stats(h, (size_t)i);

		ASSERT_EQ(st.delivered, 3000);
		ASSERT_EQ(st.dropped, 0);
		ASSERT_EQ(st.in_queue, 0);
		ASSERT_EQ(st.spool_records, 0);
		got = out_file(i == 0 ? "sh1" : "sh2", "delivered");
		ASSERT_STREQ(got, want);
		free(got);
	}
	free(want);
	plugin_host_free(h);
}

TEST(spool_replays_after_restart)
{
	struct plugin_host *h = NULL;
	struct output_stats st;
	struct ocfg o;
	char *got, *want, *log;

	ocfg_init(&o, "sp2", "record");
	o.c.spool = VIGIL_SPOOL_ON;
	o.c.queue_size = 1024;
	ocfg_kv(&o, "Record", "Mode", "fatal");
	ASSERT_OK(host_new(&o, 1, &h));
	ASSERT_OK(plugin_host_start(h));
	enqueue_n(h, 1, 100);
	WAIT_FOR(stats(h, 0).spool_records == 100);
	/* A stop with the sink down loses nothing: the records stay in the spool. */
	ASSERT_OK(plugin_host_stop(h, 50 * MSEC));
	st = stats(h, 0);
	ASSERT_EQ(st.dropped, 0);
	ASSERT_EQ(st.stop_dropped, 0);
	plugin_host_free(h);

	ocfg_init(&o, "sp2", "record");
	o.c.spool = VIGIL_SPOOL_ON;
	capture_begin();
	ASSERT_OK(host_restart(&o, &h));
	log = capture_end();
	ASSERT_CONTAINS(log, "Output 'sp2': 100 records in the spool from an earlier run");
	free(log);
	ASSERT_OK(plugin_host_start(h));
	enqueue_n(h, 101, 110); /* new records go after the replayed ones */
	WAIT_FOR(stats(h, 0).delivered == 110);
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	st = stats(h, 0);
	ASSERT_EQ(st.delivered, 110);
	ASSERT_EQ(st.spool_records, 0);
	got = out_file("sp2", "delivered");
	want = expect_seq(1, 110);
	ASSERT_STREQ(got, want);
	free(got);
	free(want);
	plugin_host_free(h);

	/* Confirmed records are not replayed a second time. */
	ocfg_init(&o, "sp2", "record");
	o.c.spool = VIGIL_SPOOL_ON;
	ASSERT_OK(host_restart(&o, &h));
	ASSERT_OK(plugin_host_start(h));
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	ASSERT_EQ(stats(h, 0).delivered, 0);
	plugin_host_free(h);
}

TEST(spool_survives_kill_9)
{
	struct plugin_host *h = NULL;
	struct ocfg o;
	char *got, *want;
	int status;
	pid_t pid;

	new_state();
	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		ocfg_init(&o, "sp3", "record");
		o.c.spool = VIGIL_SPOOL_ON;
		o.c.queue_size = 1024;
		ocfg_kv(&o, "Record", "Mode", "fatal");
		if (host_restart(&o, &h) < 0 || plugin_host_start(h) < 0)
			_exit(1);
		enqueue_n(h, 1, 200);
		WAIT_FOR(stats(h, 0).spool_records == 200);
		if (stats(h, 0).spool_records != 200)
			_exit(2);
		kill(getpid(), SIGKILL);
		_exit(3);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	ocfg_init(&o, "sp3", "record");
	o.c.spool = VIGIL_SPOOL_ON;
	ASSERT_OK(host_restart(&o, &h));
	ASSERT_OK(plugin_host_start(h));
	WAIT_FOR(stats(h, 0).delivered == 200);
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	got = out_file("sp3", "delivered");
	want = expect_seq(1, 200);
	ASSERT_STREQ(got, want);
	free(got);
	free(want);
	plugin_host_free(h);
}

TEST(spool_cap_drops_oldest_counted)
{
	struct plugin_host *h = NULL;
	struct output_stats st;
	struct ocfg o;
	char *got, rec[8200];
	unsigned last = 0, prev = 0, n = 0;
	bool ordered = true;

	ocfg_init(&o, "sp4", "record");
	o.c.spool = VIGIL_SPOOL_ON;
	o.c.spool_max_size = 1ULL << 20;
	o.c.queue_size = 4096;
	ocfg_kv(&o, "Record", "Mode", "fatal");
	ASSERT_OK(host_new(&o, 1, &h));
	ASSERT_OK(plugin_host_start(h));
	/* 400 records of 8 KiB: over three times the 1 MiB cap. */
	memset(rec, 'x', sizeof(rec) - 1);
	rec[sizeof(rec) - 1] = '\0';
	for (unsigned i = 1; i <= 400; i++) {
		int k = snprintf(rec, 16, "r%u", i);

		rec[k] = ' ';
		enqueue_str(h, VIGIL_RECORD_PROCESS_EXEC, i, rec);
		if (i % 32 == 0)
			WAIT_FOR(stats(h, 0).in_queue - stats(h, 0).spool_records == 0);
	}
	/* Queue drained into the spool (records held for a retry are neither). */
	WAIT_FOR(stats(h, 0).in_queue == stats(h, 0).spool_records);
	st = stats(h, 0);
	ASSERT_TRUE(st.spool_bytes <= (1ULL << 20) + sizeof(rec) + 64);

	touch_state("sp4", "healthy");
	WAIT_FOR(stats(h, 0).delivered + stats(h, 0).dropped == 400);
	ASSERT_OK(plugin_host_stop(h, 10 * 1000 * MSEC));
	st = stats(h, 0);
	ASSERT_EQ(st.delivered + st.dropped, 400);
	ASSERT_EQ(st.queue_dropped, 0);
	ASSERT_TRUE(st.spool_dropped > 0);
	ASSERT_EQ(st.dropped, st.spool_dropped);
	/* The newest records survived, in order. */
	got = out_file("sp4", "delivered");
	for (char *l = got; l && *l; n++) {
		last = (unsigned)strtoul(l, NULL, 10);
		ordered = ordered && last > prev;
		prev = last;
		l = strchr(l, '\n');
		l = l ? l + 1 : NULL;
	}
	ASSERT_EQ(n, st.delivered);
	ASSERT_EQ(last, 400);
	ASSERT_TRUE(ordered);
	free(got);
	plugin_host_free(h);
}

TEST(spool_auto_follows_the_plugin_and_needs_a_state_dir)
{
	struct plugin_host_options opts = {.plugin_dir = NULL, .node_name = "n"};
	struct plugin_host *h = NULL;
	struct ocfg o;
	char *log;
	int r;

	/* Spool=auto (the default) with a local sink: no spool. */
	ocfg_init(&o, "sp5", "record");
	ASSERT_OK(host_new(&o, 1, &h));
	ASSERT_FALSE(stats(h, 0).spool);
	plugin_host_free(h);

	/* Spool=yes without a state directory: refused, naming the file and line. */
	ocfg_init(&o, "sp6", "record");
	o.c.spool = VIGIL_SPOOL_ON;
	ocfg_kv(&o, "Output", "Spool", "yes");
	opts.plugin_dir = plugdir;
	capture_begin();
	r = plugin_host_new(&opts, &o.c, 1, &h);
	log = capture_end();
	ASSERT_ERRNO(r, EINVAL);
	ASSERT_CONTAINS(log, "test.conf:2: Output 'sp6': Spool=yes needs a state directory");
	free(log);
}

static int setup(void)
{
	const char *src = getenv("FAKE_PLUGIN_DIR") ?: FAKE_PLUGIN_DIR;
	char from[PATH_MAX], to[PATH_MAX];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	snprintf(root, sizeof(root), "%s/vigil-test-host-XXXXXX", getenv("TMPDIR") ?: "/tmp");
	if (!mkdtemp(root))
		return -errno;
	snprintf(plugdir, sizeof(plugdir), "%s/plugins", root);
	if (mkdir(plugdir, 0755) < 0)
		return -errno;
	d = opendir(src);
	if (!d) {
		fprintf(stderr, "cannot open %s: %m\n", src);
		return -errno;
	}
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l < 4 || strcmp(de->d_name + l - 3, ".so") != 0)
			continue;
		snprintf(from, sizeof(from), "%s/%s", src, de->d_name);
		snprintf(to, sizeof(to), "%s/%s", plugdir, de->d_name);
		if (copy_file(from, to, 0755) == 0)
			n++;
	}
	closedir(d);
	return n > 0 ? 0 : -ENOENT;
}

int main(void)
{
	char cmd[PATH_MAX + 16];
	int r;

	if (setup() < 0) {
		printf("Bail out! no fake plugins in %s\n",
		       getenv("FAKE_PLUGIN_DIR") ?: FAKE_PLUGIN_DIR);
		return 99;
	}
	log_set_journal(false);
	r = tap_run();
	if (r == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		(void)!system(cmd);
	} else {
		printf("# left %s for inspection\n", root);
	}
	return r;
}
