/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Config merge rules (STYLE.md §3.10) against real temporary directory trees. Standard-hierarchy
 * tests point VIGIL_CONFIG_ROOT at a temp dir holding etc/vigil, run/vigil, usr/local/lib/vigil
 * and usr/lib/vigil; log output (stderr) is captured into a temp file where a test checks it.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h" /* not "config.h": -I. finds the autoconf header first */
#include "daemon/log.h"
#include "capture.h"
#include "tap.h"

static char root[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* A fresh, empty hierarchy for each test; VIGIL_CONFIG_ROOT points at it. */
static void fresh_root(void)
{
	if (root[0])
		(void)nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(root, sizeof(root), "%s/vigil-test-config.XXXXXX", getenv("TMPDIR") ?: "/tmp");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		exit(EXIT_FAILURE);
	}
	setenv("VIGIL_CONFIG_ROOT", root, 1);
}

static void mkdir_parents(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			(void)mkdir(buf, 0755);
			*p = '/';
		}
}

/* Returns the absolute path of root/rel (static buffer rotation, good for a few calls). */
static const char *at(const char *rel)
{
	static char bufs[8][PATH_MAX];
	static unsigned i;
	char *b = bufs[i++ % 8];

	snprintf(b, PATH_MAX, "%s/%s", root, rel);
	return b;
}

static void write_file(const char *rel, const char *content)
{
	const char *p = at(rel);
	FILE *f;

	mkdir_parents(p);
	f = fopen(p, "we");
	if (!f) {
		perror(p);
		exit(EXIT_FAILURE);
	}
	fputs(content, f);
	fclose(f);
}

static void mask(const char *rel)
{
	const char *p = at(rel);

	mkdir_parents(p);
	if (symlink("/dev/null", p) < 0) {
		perror(p);
		exit(EXIT_FAILURE);
	}
}

/* config_load() on the standard hierarchy, logs captured. */
static int load(struct vigil_config **c, char **log)
{
	struct config_source src = {};
	int r;

	*c = NULL;
	capture_begin();
	r = config_load(&src, c);
	*log = capture_end();
	return r;
}

static size_t strv_len(char **l)
{
	size_t n = 0;

	for (; l && *l; l++)
		n++;
	return n;
}

TEST(defaults)
{
	struct vigil_config *c;
	char host[256] = "", expect[PATH_MAX * 4], *log;

	fresh_root();
	ASSERT_OK(load(&c, &log));
	gethostname(host, sizeof(host) - 1);
	ASSERT_STREQ(c->node_name, host);
	ASSERT_EQ(c->status_interval_usec, 10 * USEC_PER_SEC);
	ASSERT_EQ(c->ringbuf_size, 4 << 20);
	ASSERT_EQ(c->poll_interval_usec, 50 * 1000);
	ASSERT_EQ(c->argv_max, 16384);
	ASSERT_FALSE(c->clone_events);
	ASSERT_EQ(c->cache_max_entries, 65536);
	ASSERT_EQ(c->cache_grace_usec, 30 * USEC_PER_SEC);
	ASSERT_FALSE(c->ancestors);
	ASSERT_EQ(c->n_outputs, 0);
	ASSERT_EQ(c->n_warnings, 0);
	ASSERT_EQ(strv_len(c->files), 0);
	snprintf(expect, sizeof(expect),
		 "%s/etc/vigil/policy.d:%s/run/vigil/policy.d:%s/usr/local/lib/vigil/policy.d:"
		 "%s/usr/lib/vigil/policy.d",
		 root, root, root, root);
	ASSERT_STREQ(c->policy_dir_list, expect);
	ASSERT_NULL(config_free(c));
	ASSERT_NULL(config_free(NULL));
}

TEST(main_file_precedence)
{
	struct vigil_config *c;
	char *log;

	fresh_root();
	write_file("usr/lib/vigil/vigild.conf",
		   "[Sensor]\nRingBufferSize=16M\nArgvMaxBytes=1024\n");
	write_file("usr/local/lib/vigil/vigild.conf", "[Sensor]\nRingBufferSize=4M\n");
	write_file("etc/vigil/vigild.conf", "[Sensor]\nRingBufferSize=32M\n");
	ASSERT_OK(load(&c, &log));
	ASSERT_EQ(c->ringbuf_size, 32 << 20);
	/* Only the first main file found is read: /usr/lib's ArgvMaxBytes= is not applied. */
	ASSERT_EQ(c->argv_max, 16384);
	ASSERT_EQ(strv_len(c->files), 1);
	ASSERT_STREQ(c->files[0], at("etc/vigil/vigild.conf"));
	config_free(c);

	/* Without /etc, /usr/local/lib is next in line before /usr/lib. */
	unlink(at("etc/vigil/vigild.conf"));
	ASSERT_OK(load(&c, &log));
	ASSERT_EQ(c->ringbuf_size, 4 << 20);
	config_free(c);

	/* /run beats /usr/local/lib. */
	write_file("run/vigil/vigild.conf", "[Sensor]\nRingBufferSize=64K\n");
	ASSERT_OK(load(&c, &log));
	ASSERT_EQ(c->ringbuf_size, 64 << 10);
	config_free(c);
}

TEST(main_file_masked)
{
	struct vigil_config *c;
	char *log;

	fresh_root();
	write_file("usr/lib/vigil/vigild.conf", "[Sensor]\nRingBufferSize=16M\n");
	mask("etc/vigil/vigild.conf");
	ASSERT_OK(load(&c, &log));
	ASSERT_EQ(c->ringbuf_size, 4 << 20);
	ASSERT_EQ(strv_len(c->files), 0);
	config_free(c);
}

TEST(dropin_same_basename_override)
{
	struct vigil_config *c;
	char *log;

	fresh_root();
	write_file("usr/lib/vigil/vigild.conf.d/50-cache.conf",
		   "[ProcessCache]\nMaxEntries=100\nAncestors=yes\n");
	write_file("etc/vigil/vigild.conf.d/50-cache.conf", "[ProcessCache]\nMaxEntries=200\n");
	ASSERT_OK(load(&c, &log));
	ASSERT_EQ(c->cache_max_entries, 200);
	/* The shadowed /usr/lib file is not read at all. */
	ASSERT_FALSE(c->ancestors);
	ASSERT_EQ(strv_len(c->files), 1);
	ASSERT_STREQ(c->files[0], at("etc/vigil/vigild.conf.d/50-cache.conf"));
	config_free(c);
}

TEST(dropin_masked)
{
	struct vigil_config *c;
	char *log;

	fresh_root();
	write_file("usr/lib/vigil/vigild.conf.d/50-cache.conf", "[ProcessCache]\nMaxEntries=100\n");
	write_file("usr/lib/vigil/vigild.conf.d/60-other.conf", "[ProcessCache]\nAncestors=yes\n");
	mask("run/vigil/vigild.conf.d/50-cache.conf");
	ASSERT_OK(load(&c, &log));
	ASSERT_EQ(c->cache_max_entries, 65536);
	ASSERT_TRUE(c->ancestors);
	ASSERT_EQ(strv_len(c->files), 1);
	ASSERT_STREQ(c->files[0], at("usr/lib/vigil/vigild.conf.d/60-other.conf"));
	config_free(c);
}

TEST(lexical_order_across_directories)
{
	struct vigil_config *c;
	char *log;

	fresh_root();
	write_file("usr/lib/vigil/vigild.conf", "[Daemon]\nStatusIntervalSec=99s\n");
	write_file("usr/lib/vigil/vigild.conf.d/10-a.conf", "[Daemon]\nStatusIntervalSec=10s\n");
	write_file("etc/vigil/vigild.conf.d/20-b.conf", "[Daemon]\nStatusIntervalSec=20s\n");
	write_file("run/vigil/vigild.conf.d/15-c.conf", "[Daemon]\nStatusIntervalSec=15s\n");
	ASSERT_OK(load(&c, &log));
	/* Main first, then 10, 15, 20 regardless of directory: the last one wins. */
	ASSERT_EQ(c->status_interval_usec, 20 * USEC_PER_SEC);
	ASSERT_EQ(strv_len(c->files), 4);
	ASSERT_STREQ(c->files[0], at("usr/lib/vigil/vigild.conf"));
	ASSERT_STREQ(c->files[1], at("usr/lib/vigil/vigild.conf.d/10-a.conf"));
	ASSERT_STREQ(c->files[2], at("run/vigil/vigild.conf.d/15-c.conf"));
	ASSERT_STREQ(c->files[3], at("etc/vigil/vigild.conf.d/20-b.conf"));
	config_free(c);

	/* A vendor file sorting later beats an admin file sorting earlier. */
	write_file("usr/lib/vigil/vigild.conf.d/30-z.conf", "[Daemon]\nStatusIntervalSec=30s\n");
	ASSERT_OK(load(&c, &log));
	ASSERT_EQ(c->status_interval_usec, 30 * USEC_PER_SEC);
	config_free(c);
}

TEST(single_value_empty_assignment_resets_default)
{
	struct vigil_config *c;
	char *log;

	fresh_root();
	write_file("etc/vigil/vigild.conf",
		   "[Sensor]\nArgvMaxBytes=1K\nCloneEvents=yes\n[Daemon]\nNodeName=web-1\n");
	write_file("etc/vigil/vigild.conf.d/90-reset.conf",
		   "[Sensor]\nArgvMaxBytes=\n[Daemon]\nNodeName=\n");
	ASSERT_OK(load(&c, &log));
	ASSERT_EQ(c->argv_max, 16384);
	ASSERT_TRUE(c->clone_events);
	ASSERT_NOT_NULL(c->node_name);
	ASSERT_TRUE(strcmp(c->node_name, "web-1") != 0);
	config_free(c);
}

TEST(all_known_keys)
{
	struct vigil_config *c;
	char *log;

	fresh_root();
	write_file("etc/vigil/vigild.conf",
		   "# comment\n; another\n\n"
		   "[Daemon]\n  NodeName = node-7  \nStatusIntervalSec=1min 30s\n"
		   "MetricsListen=[::1]:9100\nSocketGroup=vigil-readers\n"
		   "[Sensor]\nRingBufferSize=1G\nArgvMaxBytes=32K\n"
		   "CloneEvents=on\n"
		   "[ProcessCache]\nMaxEntries=10\nExitGraceSec=250ms\n"
		   "Ancestors=true\n");
	ASSERT_OK(load(&c, &log));
	ASSERT_STREQ(c->node_name, "node-7");
	ASSERT_EQ(c->status_interval_usec, 90 * USEC_PER_SEC);
	ASSERT_STREQ(c->metrics_listen, "[::1]:9100");
	ASSERT_STREQ(c->socket_group, "vigil-readers");
	ASSERT_EQ(c->ringbuf_size, 1 << 30);
	ASSERT_EQ(c->argv_max, 32768);
	ASSERT_TRUE(c->clone_events);
	ASSERT_EQ(c->cache_max_entries, 10);
	ASSERT_EQ(c->cache_grace_usec, 250 * USEC_PER_MSEC);
	ASSERT_TRUE(c->ancestors);
	ASSERT_EQ(c->n_warnings, 0);
	config_free(c);
}

TEST(list_accumulation_and_reset)
{
	struct vigil_config *c;
	char **l = NULL, *log;

	fresh_root();
	write_file("usr/lib/vigil/outputs.d/out.conf",
		   "[Output]\nPlugin=file\nEvents=process_exec\nEvents=process_exit process_clone\n"
		   "Filters=redact\n"
		   "[Redact]\nRegex=--password=\\S+\nRegex=a b\n");
	ASSERT_OK(load(&c, &log));
	ASSERT_EQ(c->n_outputs, 1);
	ASSERT_EQ(strv_len(c->outputs[0].events), 3);
	ASSERT_STREQ(c->outputs[0].events[0], "process_exec");
	ASSERT_STREQ(c->outputs[0].events[1], "process_exit");
	ASSERT_STREQ(c->outputs[0].events[2], "process_clone");
	ASSERT_EQ(strv_len(c->outputs[0].filters), 1);
	/* Plugin lists: one entry per assignment, no splitting on whitespace. */
	ASSERT_EQ(config_output_get_list(&c->outputs[0], "Redact", "Regex", &l), 2);
	ASSERT_STREQ(l[0], "--password=\\S+");
	ASSERT_STREQ(l[1], "a b");
	ASSERT_NULL(l[2]);
	strv_free(l);
	ASSERT_EQ(config_output_get_list(&c->outputs[0], "Redact", "Nope", &l), 0);
	ASSERT_NULL(l[0]);
	strv_free(l);
	config_free(c);

	/* An empty assignment in a drop-in clears what came before it. */
	write_file("etc/vigil/outputs.d/out.conf.d/50-reset.conf",
		   "[Output]\nEvents=\nEvents=vigil_loss\nFilters=\n[Redact]\nRegex=\nRegex=x\n");
	ASSERT_OK(load(&c, &log));
	ASSERT_EQ(strv_len(c->outputs[0].events), 1);
	ASSERT_STREQ(c->outputs[0].events[0], "vigil_loss");
	ASSERT_EQ(strv_len(c->outputs[0].filters), 0);
	ASSERT_EQ(config_output_get_list(&c->outputs[0], "Redact", "Regex", &l), 1);
	ASSERT_STREQ(l[0], "x");
	strv_free(l);
	config_free(c);
}

TEST(exclude_lists)
{
	struct vigil_config *c;
	char *log;

	fresh_root();
	write_file(
		"usr/lib/vigil/vigild.conf",
		"[Sensor]\nExcludeBinaries=/usr/lib/a/ /usr/sbin/b\nExcludeCgroups=cron.service\n");
	write_file("etc/vigil/vigild.conf.d/50-more.conf",
		   "[Sensor]\nExcludeBinaries=\nExcludeBinaries=/opt/"
		   "x\nExcludeCgroups=backup.slice\n");
	ASSERT_OK(load(&c, &log));
	ASSERT_EQ(strv_len(c->exclude_binaries), 1);
	ASSERT_STREQ(c->exclude_binaries[0], "/opt/x");
	ASSERT_EQ(strv_len(c->exclude_cgroups), 2);
	ASSERT_STREQ(c->exclude_cgroups[1], "backup.slice");
	config_free(c);

	write_file("etc/vigil/vigild.conf.d/60-bad.conf",
		   "[Sensor]\nExcludeCgroups=system.slice/cron.service ..\nExcludeBinaries=opt\n");
	ASSERT_ERRNO(load(&c, &log), EINVAL);
	ASSERT_NULL(c);
	ASSERT_NOT_NULL(strstr(log, "60-bad.conf:2: Invalid value 'system.slice/cron.service' for "
				    "ExcludeCgroups=: expected a cgroup name"));
	ASSERT_NOT_NULL(strstr(log, "60-bad.conf:2: Invalid value '..' for ExcludeCgroups="));
	ASSERT_NOT_NULL(strstr(log, "60-bad.conf:3: Invalid value 'opt' for ExcludeBinaries=: "
				    "expected an absolute path prefix"));
}

TEST(unknown_keys_warn_with_suggestion)
{
	struct vigil_config *c;
	char *log;

	fresh_root();
	write_file("etc/vigil/vigild.conf", "[Sensor]\n"
					    "RingBufferSiz=16M\n"
					    "Foo=1\n"
					    "[Sensr]\n"
					    "RingBufferSize=abc\n"
					    "[Daemon]\n"
					    "nodename=x\n");
	write_file("etc/vigil/outputs.d/o.conf",
		   "[Output]\nPlugn=file\nPlugin=file\n[File]\nWhatever=1\n");
	ASSERT_OK(load(&c, &log));
	ASSERT_EQ(c->n_warnings, 5);
	ASSERT_CONTAINS(log, "vigild.conf:2: Unknown key 'RingBufferSiz' in section [Sensor], "
			     "ignoring. Did you mean 'RingBufferSize'?");
	ASSERT_CONTAINS(log, "vigild.conf:3: Unknown key 'Foo' in section [Sensor], ignoring.\n");
	/* Keys in an unknown section are ignored, not validated ('abc' is not an error). */
	ASSERT_CONTAINS(log, "vigild.conf:4: Unknown section [Sensr], ignoring. Did you mean "
			     "[Sensor]?");
	ASSERT_CONTAINS(log, "Unknown key 'nodename' in section [Daemon], ignoring. Did you mean "
			     "'NodeName'?");
	ASSERT_CONTAINS(log, "o.conf:2: Unknown key 'Plugn' in section [Output], ignoring. Did "
			     "you mean 'Plugin'?");
	ASSERT_TRUE(strstr(log, "Whatever") == NULL);
	ASSERT_EQ(c->ringbuf_size, 4 << 20);
	config_free(c);
}

/* Load a single main file with the given body; expect -EINVAL and a message. */
static void expect_bad_main(const char *body, const char *msg)
{
	struct vigil_config *c;
	char *log;

	fresh_root();
	write_file("etc/vigil/vigild.conf", body);
	ASSERT_ERRNO(load(&c, &log), EINVAL);
	ASSERT_NULL(c);
	ASSERT_CONTAINS(log, msg);
}

TEST(bad_values_fail_with_file_line)
{
	struct vigil_config *c;
	char want[PATH_MAX + 128], *log;

	/* The full message: absolute path, line, the bad value, the key and the reason. */
	expect_bad_main("[Sensor]\n# x\nRingBufferSize=abc\n", "vigild.conf:3: Invalid value");
	snprintf(want, sizeof(want),
		 "%s:3: Invalid value 'abc' for RingBufferSize=: must be a power of two between "
		 "4K and 1G.",
		 at("etc/vigil/vigild.conf"));
	ASSERT_ERRNO(load(&c, &log), EINVAL);
	ASSERT_CONTAINS(log, want);

	expect_bad_main("[Sensor]\nRingBufferSize=3M\n", "vigild.conf:2: Invalid value '3M'");
	expect_bad_main("[Sensor]\nRingBufferSize=2K\n", "Invalid value '2K' for RingBufferSize=");
	expect_bad_main("[Sensor]\nRingBufferSize=2G\n", "Invalid value '2G' for RingBufferSize=");
	expect_bad_main("[Sensor]\nArgvMaxBytes=255\n", "Invalid value '255' for ArgvMaxBytes=");
	expect_bad_main("[Sensor]\nArgvMaxBytes=32769\n",
			"Invalid value '32769' for ArgvMaxBytes=");
	expect_bad_main("[Sensor]\nCloneEvents=maybe\n", "Invalid value 'maybe' for CloneEvents=");
	expect_bad_main("[ProcessCache]\nMaxEntries=0\n", "Invalid value '0' for MaxEntries=");
	expect_bad_main("[ProcessCache]\nExitGraceSec=5 parsecs\n",
			"Invalid value '5 parsecs' for ExitGraceSec=");
	expect_bad_main("[Daemon]\nNodeName=a b\n", "Invalid value 'a b' for NodeName=");
	expect_bad_main(
		"[Daemon]\nMetricsListen=localhost:9847\n",
		"vigild.conf:2: Invalid value 'localhost:9847' for MetricsListen=: expected "
		"IPv4:PORT, [IPv6]:PORT or no");
	expect_bad_main("[Daemon]\nMetricsListen=127.0.0.1:70000\n",
			"Invalid value '127.0.0.1:70000' for MetricsListen=: the port must be");
	expect_bad_main("[Daemon]\nMetricsListen=::1:80\n",
			"Invalid value '::1:80' for MetricsListen=");
	expect_bad_main("[Daemon]\nSocketGroup=a b\n", "Invalid value 'a b' for SocketGroup=");
	/* Every error is reported, not just the first. */
	expect_bad_main("[Sensor]\nArgvMaxBytes=1\nCloneEvents=2\n",
			"vigild.conf:3: Invalid value");
}

TEST(syntax_errors)
{
	expect_bad_main("[Sensor]\nthis is not an assignment\n", "vigild.conf:2: Missing '='");
	expect_bad_main("[Sensor\n", "vigild.conf:1: Invalid section header '[Sensor'");
	expect_bad_main("[Sensor]\n=5\n", "vigild.conf:2: Missing key name");
}

/* Load outputs.d/NAME.conf with body; expect -EINVAL and a message. */
static void expect_bad_output(const char *name, const char *body, const char *msg)
{
	struct vigil_config *c;
	char rel[PATH_MAX], *log;

	fresh_root();
	snprintf(rel, sizeof(rel), "etc/vigil/outputs.d/%s.conf", name);
	write_file(rel, body);
	ASSERT_ERRNO(load(&c, &log), EINVAL);
	ASSERT_CONTAINS(log, msg);
}

TEST(bad_output_values)
{
	expect_bad_output("k", "[Output]\nPlugin=file\nQueueSize=0\n",
			  "k.conf:3: Invalid value '0' for QueueSize=");
	expect_bad_output("k", "[Output]\nPlugin=file\nBatchSize=-1\n",
			  "k.conf:3: Invalid value '-1' for BatchSize=");
	expect_bad_output("k", "[Output]\nPlugin=Kafka\n",
			  "k.conf:2: Invalid value 'Kafka' for Plugin=");
	expect_bad_output("k", "[Output]\nPlugin=../x\n", "Invalid value '../x' for Plugin=");
	expect_bad_output("k", "[Output]\nPlugin=file\nQueueFullPolicy=block\n",
			  "k.conf:3: Invalid value 'block' for QueueFullPolicy=");
	expect_bad_output("k", "[Output]\nPlugin=file\nRetryMaxSec=soon\n",
			  "Invalid value 'soon' for RetryMaxSec=");
	expect_bad_output("k", "[Output]\nPlugin=file\nFullPolicy=block\n",
			  "k.conf:3: Invalid value 'block' for FullPolicy=");
	expect_bad_output("k", "[Output]\nPlugin=file\nSpool=maybe\n",
			  "k.conf:3: Invalid value 'maybe' for Spool=: expected auto or a boolean");
	expect_bad_output(
		"k", "[Output]\nPlugin=file\nSpoolMaxSize=100K\n",
		"k.conf:3: Invalid value '100K' for SpoolMaxSize=: must be a size between "
		"1M and 1P");
	expect_bad_output(
		"k", "[Output]\nPlugin=file\nSpoolSync=always\n",
		"k.conf:3: Invalid value 'always' for SpoolSync=: expected none or batch");
	expect_bad_output("k", "[Output]\nPlugin=file\nEvents=process_exec process_exce\n",
			  "k.conf:3: Invalid value 'process_exce' for Events=: unknown event type");
	expect_bad_output("k", "[Output]\nPlugin=file\nEvents=process_exce\n",
			  "Did you mean 'process_exec'?");
	expect_bad_output("k", "[Output]\nPlugin=file\nFilters=re/dact\n",
			  "Invalid value 're/dact' for Filters=");
	expect_bad_output("k", "[Output]\nEnabled=no\n[File]\nPath=/x\n",
			  "k.conf: Missing [Output] Plugin=");
	/* An empty Plugin= in a drop-in resets it: missing again. */
	expect_bad_output("k", "[Output]\nPlugin=file\nPlugin=\n", "Missing [Output] Plugin=");
	expect_bad_output("bad name", "[Output]\nPlugin=file\n",
			  "Invalid output instance name 'bad name'");
}

TEST(continuation_lines)
{
	struct vigil_config *c;
	char **l = NULL, *log;

	fresh_root();
	write_file("etc/vigil/outputs.d/o.conf", "[Output]\n"
						 "Plugin=file\n"
						 "Events=process_exec \\\n"
						 "# a comment inside the continuation is skipped\n"
						 "   process_exit\\\n"
						 "process_clone\n"
						 "[Redact]\n"
						 "Regex=a\\\\\n"
						 "Regex=b\\\n"
						 "c\n"
						 "Bad=line\\\n"
						 "Status=1\n");
	ASSERT_OK(load(&c, &log));
	ASSERT_EQ(strv_len(c->outputs[0].events), 3);
	ASSERT_STREQ(c->outputs[0].events[2], "process_clone");
	/* An escaped (doubled) trailing backslash does not continue the line. */
	ASSERT_EQ(config_output_get_list(&c->outputs[0], "Redact", "Regex", &l), 2);
	ASSERT_STREQ(l[0], "a\\\\");
	ASSERT_STREQ(l[1], "b c");
	strv_free(l);
	/* The joined line keeps the first line's number and its key. */
	ASSERT_STREQ(config_output_get(&c->outputs[0], "Redact", "Bad")->value, "line Status=1");
	ASSERT_EQ(config_output_get(&c->outputs[0], "Redact", "Bad")->line, 11);
	ASSERT_NULL(config_output_get(&c->outputs[0], "Redact", "Status"));
	config_free(c);
}

TEST(outputs_instances_and_dropins)
{
	struct vigil_config *c;
	const struct vigil_kv *kv;
	char *log;

	fresh_root();
	write_file("usr/lib/vigil/outputs.d/kafka-main.conf",
		   "[Output]\nPlugin=kafka\nQueueSize=10\n[Kafka]\nBrokers=a:9092\nTopic=t\n");
	write_file("usr/lib/vigil/outputs.d/kafka-main.conf.d/10-x.conf",
		   "[Output]\nQueueSize=20\n[Kafka]\nBrokers=b:9092\n");
	write_file("etc/vigil/outputs.d/kafka-main.conf.d/05-y.conf", "[Output]\nBatchSize=7\n");
	write_file("run/vigil/outputs.d/kafka-main.conf.d/10-x.conf", "[Output]\nQueueSize=30\n");
	write_file("usr/lib/vigil/outputs.d/a.file_1.conf",
		   "[Output]\nPlugin=file\nEnabled=no\nRetryMaxSec=2min\n"
		   "QueueFullPolicy=drop-newest\nSpool=yes\nSpoolMaxSize=2G\nSpoolSync=batch\n");
	write_file("usr/lib/vigil/outputs.d/journal.conf", "[Output]\nPlugin=journald\n");
	mask("etc/vigil/outputs.d/journal.conf");
	write_file("usr/lib/vigil/outputs.d/notconf.txt", "garbage");
	ASSERT_OK(load(&c, &log));
	ASSERT_EQ(c->n_outputs, 2);

	/* Sorted by name; defaults where unset. */
	ASSERT_STREQ(c->outputs[0].name, "a.file_1");
	ASSERT_STREQ(c->outputs[0].plugin, "file");
	ASSERT_FALSE(c->outputs[0].enabled);
	ASSERT_EQ(c->outputs[0].retry_max_usec, 120 * USEC_PER_SEC);
	ASSERT_EQ(c->outputs[0].full_policy, VIGIL_FULL_DROP_NEWEST);
	ASSERT_EQ(c->outputs[0].spool, VIGIL_SPOOL_ON);
	ASSERT_EQ(c->outputs[0].spool_max_size, 2ULL << 30);
	ASSERT_TRUE(c->outputs[0].spool_sync);
	ASSERT_EQ(c->outputs[0].queue_size, 8192);
	ASSERT_EQ(c->outputs[0].batch_size, 512);
	ASSERT_NULL(c->outputs[0].events);

	ASSERT_STREQ(c->outputs[1].name, "kafka-main");
	ASSERT_STREQ(c->outputs[1].path, at("usr/lib/vigil/outputs.d/kafka-main.conf"));
	ASSERT_STREQ(c->outputs[1].plugin, "kafka");
	ASSERT_TRUE(c->outputs[1].enabled);
	/* Drop-ins 05-y (etc) then 10-x (run shadows usr/lib). */
	ASSERT_EQ(c->outputs[1].queue_size, 30);
	ASSERT_EQ(c->outputs[1].batch_size, 7);
	ASSERT_EQ(c->outputs[1].full_policy, VIGIL_FULL_DROP_OLDEST);
	ASSERT_EQ(c->outputs[1].spool, VIGIL_SPOOL_AUTO);
	ASSERT_EQ(c->outputs[1].spool_max_size, 1ULL << 30);
	ASSERT_FALSE(c->outputs[1].spool_sync);
	kv = config_output_get(&c->outputs[1], "Kafka", "Brokers");
	ASSERT_NOT_NULL(kv);
	/* usr/lib's 10-x.conf was shadowed by run's, so its Brokers= never applied. */
	ASSERT_STREQ(kv->value, "a:9092");
	ASSERT_EQ(kv->line, 5);
	ASSERT_STREQ(kv->file, at("usr/lib/vigil/outputs.d/kafka-main.conf"));
	ASSERT_STREQ(config_output_get(&c->outputs[1], "Output", "Plugin")->value, "kafka");
	ASSERT_NULL(config_output_get(&c->outputs[1], "Kafka", "Nope"));
	/* Every assignment kept, in order. */
	ASSERT_EQ(c->outputs[1].n_kvs, 6);
	ASSERT_STREQ(c->outputs[1].kvs[4].key, "BatchSize");
	ASSERT_STREQ(c->outputs[1].kvs[5].file,
		     at("run/vigil/outputs.d/kafka-main.conf.d/10-x.conf"));

	ASSERT_EQ(strv_len(c->files), 4);
	ASSERT_STREQ(c->files[0], at("usr/lib/vigil/outputs.d/a.file_1.conf"));
	ASSERT_STREQ(c->files[1], at("usr/lib/vigil/outputs.d/kafka-main.conf"));
	ASSERT_STREQ(c->files[2], at("etc/vigil/outputs.d/kafka-main.conf.d/05-y.conf"));
	ASSERT_STREQ(c->files[3], at("run/vigil/outputs.d/kafka-main.conf.d/10-x.conf"));
	config_free(c);

	/* Masking a drop-in of an instance. */
	mask("etc/vigil/outputs.d/kafka-main.conf.d/10-x.conf");
	ASSERT_OK(load(&c, &log));
	ASSERT_EQ(c->outputs[1].queue_size, 10);
	ASSERT_EQ(c->outputs[1].batch_size, 7);
	config_free(c);
}

TEST(config_dir_mode)
{
	char dir[PATH_MAX], expect[PATH_MAX + 16], *log;
	struct config_source src;
	struct vigil_config *c = NULL;

	fresh_root();
	/* The standard hierarchy (under VIGIL_CONFIG_ROOT) must be ignored entirely. */
	write_file("etc/vigil/vigild.conf", "[Sensor]\nRingBufferSize=32M\n");
	write_file("etc/vigil/outputs.d/std.conf", "[Output]\nPlugin=stdout\n");
	write_file("mine/vigild.conf", "[Sensor]\nArgvMaxBytes=512\n");
	write_file("mine/vigild.conf.d/10-a.conf", "[Sensor]\nCloneEvents=yes\n");
	write_file("mine/outputs.d/f.conf", "[Output]\nPlugin=file\n");
	snprintf(dir, sizeof(dir), "%s", at("mine"));
	src.config_dir = dir;
	capture_begin();
	ASSERT_OK(config_load(&src, &c));
	log = capture_end();
	ASSERT_EQ(c->ringbuf_size, 4 << 20);
	ASSERT_EQ(c->argv_max, 512);
	ASSERT_TRUE(c->clone_events);
	ASSERT_EQ(c->n_outputs, 1);
	ASSERT_STREQ(c->outputs[0].name, "f");
	snprintf(expect, sizeof(expect), "%s/policy.d", dir);
	ASSERT_STREQ(c->policy_dir_list, expect);
	ASSERT_EQ(strv_len(c->files), 3);
	(void)log;
	config_free(c);
}

/* Expect a bad value of a main-file key to fail with file:line, the value and the range. */
static void expect_bad_time(const char *section, const char *key, const char *value,
			    const char *range)
{
	char body[256], msg[256];

	snprintf(body, sizeof(body), "[%s]\n%s=%s\n", section, key, value);
	snprintf(msg, sizeof(msg), "vigild.conf:2: Invalid value '%s' for %s=: %s.", value, key,
		 range);
	expect_bad_main(body, msg);
}

static uint64_t load_time(const char *section, const char *key, const char *value)
{
	struct vigil_config *c;
	char body[256], *log;
	uint64_t u = UINT64_MAX - 1;

	fresh_root();
	snprintf(body, sizeof(body), "[%s]\n%s=%s\n", section, key, value);
	write_file("etc/vigil/vigild.conf", body);
	ASSERT_OK(load(&c, &log));
	if (streq(key, "StatusIntervalSec"))
		u = c->status_interval_usec;
	else if (streq(key, "PollIntervalSec"))
		u = c->poll_interval_usec;
	else if (streq(key, "ExitGraceSec"))
		u = c->cache_grace_usec;
	config_free(c);
	return u;
}

static uint64_t load_retry(const char *value)
{
	struct vigil_config *c;
	char body[256], *log;
	uint64_t u;

	fresh_root();
	snprintf(body, sizeof(body), "[Output]\nPlugin=file\nRetryMaxSec=%s\n", value);
	write_file("etc/vigil/outputs.d/k.conf", body);
	ASSERT_OK(load(&c, &log));
	ASSERT_EQ(c->n_outputs, 1);
	u = c->outputs[0].retry_max_usec;
	config_free(c);
	return u;
}

/* Values that parse as time spans but would break the daemon are refused, with the range. */
TEST(time_span_bounds)
{
	static const char *const st = "must be a time span between 1s and 1h";
	static const char *const poll = "must be a time span between 0 and 1s";
	static const char *const grace = "must be a time span between 100ms and 1d";

	/* StatusIntervalSec: 0 would busy-loop the status timer. */
	expect_bad_time("Daemon", "StatusIntervalSec", "0", st);
	expect_bad_time("Daemon", "StatusIntervalSec", "999ms", st);
	expect_bad_time("Daemon", "StatusIntervalSec", "1h 1us", st);
	expect_bad_time("Daemon", "StatusIntervalSec", "infinity", st);
	ASSERT_EQ(load_time("Daemon", "StatusIntervalSec", "1s"), USEC_PER_SEC);
	ASSERT_EQ(load_time("Daemon", "StatusIntervalSec", "1h"), 3600 * USEC_PER_SEC);

	/* PollIntervalSec: infinity overflowed the kernel-side wake-up arithmetic. */
	expect_bad_time("Sensor", "PollIntervalSec", "infinity", poll);
	expect_bad_time("Sensor", "PollIntervalSec", "1001ms", poll);
	ASSERT_EQ(load_time("Sensor", "PollIntervalSec", "0"), 0);
	ASSERT_EQ(load_time("Sensor", "PollIntervalSec", "1s"), USEC_PER_SEC);

	expect_bad_time("ProcessCache", "ExitGraceSec", "infinity", grace);
	expect_bad_time("ProcessCache", "ExitGraceSec", "1d 1s", grace);
	expect_bad_time("ProcessCache", "ExitGraceSec", "0", grace);
	ASSERT_EQ(load_time("ProcessCache", "ExitGraceSec", "100ms"), 100 * USEC_PER_MSEC);
	ASSERT_EQ(load_time("ProcessCache", "ExitGraceSec", "1d"), 86400 * USEC_PER_SEC);

	/* RetryMaxSec: 0 used to become 30s silently, infinity wrapped now + retry. */
	expect_bad_output("k", "[Output]\nPlugin=file\nRetryMaxSec=0\n",
			  "k.conf:3: Invalid value '0' for RetryMaxSec=: must be a time span "
			  "between 100ms and 1d.");
	expect_bad_output("k", "[Output]\nPlugin=file\nRetryMaxSec=99ms\n",
			  "Invalid value '99ms' for RetryMaxSec=: must be a time span between "
			  "100ms and 1d.");
	expect_bad_output("k", "[Output]\nPlugin=file\nRetryMaxSec=infinity\n",
			  "Invalid value 'infinity' for RetryMaxSec=: must be a time span between "
			  "100ms and 1d.");
	expect_bad_output("k", "[Output]\nPlugin=file\nRetryMaxSec=2d\n",
			  "Invalid value '2d' for RetryMaxSec=");
	ASSERT_EQ(load_retry("100ms"), 100 * USEC_PER_MSEC);
	ASSERT_EQ(load_retry("1d"), 86400 * USEC_PER_SEC);
	/* An empty assignment still resets to the default. */
	ASSERT_EQ(load_retry(""), 30 * USEC_PER_SEC);
}

/* --config-dir with a typo must fail, not run with built-in defaults. */
TEST(config_dir_missing)
{
	char dir[PATH_MAX], want[PATH_MAX + 64], *log;
	struct config_source src = {};
	struct vigil_config *c = NULL;

	fresh_root();
	/* A valid standard hierarchy must not be used as a fallback. */
	write_file("etc/vigil/vigild.conf", "[Sensor]\nArgvMaxBytes=512\n");
	snprintf(dir, sizeof(dir), "%s", at("nonexistent"));
	src.config_dir = dir;
	capture_begin();
	ASSERT_ERRNO(config_load(&src, &c), ENOENT);
	log = capture_end();
	ASSERT_NULL(c);
	snprintf(want, sizeof(want), "Config directory '%s' is not accessible", dir);
	ASSERT_CONTAINS(log, want);

	capture_begin();
	ASSERT_ERRNO(config_cat(&src, stdout), ENOENT);
	(void)capture_end();

	/* A regular file is not a directory either. */
	snprintf(dir, sizeof(dir), "%s", at("etc/vigil/vigild.conf"));
	capture_begin();
	ASSERT_ERRNO(config_load(&src, &c), ENOTDIR);
	log = capture_end();
	ASSERT_NULL(c);
	ASSERT_CONTAINS(log, "is not a directory");
}

TEST(parse_usec)
{
	uint64_t u;

	ASSERT_OK(config_parse_usec("10", &u));
	ASSERT_EQ(u, 10 * USEC_PER_SEC);
	ASSERT_OK(config_parse_usec("10s", &u));
	ASSERT_EQ(u, 10 * USEC_PER_SEC);
	ASSERT_OK(config_parse_usec("5min", &u));
	ASSERT_EQ(u, 300 * USEC_PER_SEC);
	ASSERT_OK(config_parse_usec("250ms", &u));
	ASSERT_EQ(u, 250 * USEC_PER_MSEC);
	ASSERT_OK(config_parse_usec("1h", &u));
	ASSERT_EQ(u, 3600 * USEC_PER_SEC);
	ASSERT_OK(config_parse_usec("2d", &u));
	ASSERT_EQ(u, 2 * 86400 * USEC_PER_SEC);
	ASSERT_OK(config_parse_usec("1min 30s", &u));
	ASSERT_EQ(u, 90 * USEC_PER_SEC);
	ASSERT_OK(config_parse_usec("1.5s", &u));
	ASSERT_EQ(u, 1500 * USEC_PER_MSEC);
	ASSERT_OK(config_parse_usec(" 7 us ", &u));
	ASSERT_EQ(u, 7);
	ASSERT_OK(config_parse_usec("0", &u));
	ASSERT_EQ(u, 0);
	ASSERT_OK(config_parse_usec("infinity", &u));
	ASSERT_EQ(u, UINT64_MAX);
	ASSERT_ERRNO(config_parse_usec("", &u), EINVAL);
	ASSERT_ERRNO(config_parse_usec("   ", &u), EINVAL);
	ASSERT_ERRNO(config_parse_usec("-1s", &u), EINVAL);
	ASSERT_ERRNO(config_parse_usec("10x", &u), EINVAL);
	ASSERT_ERRNO(config_parse_usec("s", &u), EINVAL);
	ASSERT_ERRNO(config_parse_usec("1.s", &u), EINVAL);
	ASSERT_ERRNO(config_parse_usec("0x10", &u), EINVAL);
	ASSERT_ERRNO(config_parse_usec("99999999999999999999", &u), ERANGE);
	ASSERT_ERRNO(config_parse_usec("999999999999w", &u), ERANGE);
	ASSERT_ERRNO(config_parse_usec(NULL, &u), EINVAL);
}

TEST(parse_size)
{
	uint64_t v;

	ASSERT_OK(config_parse_size("512", &v));
	ASSERT_EQ(v, 512);
	ASSERT_OK(config_parse_size("512B", &v));
	ASSERT_EQ(v, 512);
	ASSERT_OK(config_parse_size("64K", &v));
	ASSERT_EQ(v, 64 << 10);
	ASSERT_OK(config_parse_size("8M", &v));
	ASSERT_EQ(v, 8 << 20);
	ASSERT_OK(config_parse_size("1G", &v));
	ASSERT_EQ(v, 1 << 30);
	ASSERT_OK(config_parse_size("2 T", &v));
	ASSERT_EQ(v, 2ULL << 40);
	ASSERT_OK(config_parse_size("0", &v));
	ASSERT_EQ(v, 0);
	ASSERT_ERRNO(config_parse_size("", &v), EINVAL);
	ASSERT_ERRNO(config_parse_size("M", &v), EINVAL);
	ASSERT_ERRNO(config_parse_size("-1", &v), EINVAL);
	ASSERT_ERRNO(config_parse_size("8MB", &v), EINVAL);
	ASSERT_ERRNO(config_parse_size("8X", &v), EINVAL);
	ASSERT_ERRNO(config_parse_size("1.5G", &v), EINVAL);
	ASSERT_ERRNO(config_parse_size("99999999999T", &v), ERANGE);
}

TEST(parse_bool)
{
	const char *yes[] = {"1", "yes", "YES", "y", "true", "True", "t", "on", "ON"};
	const char *no[] = {"0", "no", "n", "false", "FALSE", "f", "off", "Off"};
	const char *bad[] = {"", "2", "yess", "enable", " yes", "of"};
	bool b;

	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		b = false;
		ASSERT_OK(config_parse_bool(yes[i], &b));
		ASSERT_TRUE(b);
	}
	for (size_t i = 0; i < ELEMENTSOF(no); i++) {
		b = true;
		ASSERT_OK(config_parse_bool(no[i], &b));
		ASSERT_FALSE(b);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		ASSERT_ERRNO(config_parse_bool(bad[i], &b), EINVAL);
	ASSERT_ERRNO(config_parse_bool(NULL, &b), EINVAL);
}

TEST(suggest)
{
	const char *const keys[] = {"RingBufferSize", "ArgvMaxBytes", "CloneEvents", NULL};

	ASSERT_STREQ(config_suggest("RingBufferSiz", keys), "RingBufferSize");
	ASSERT_STREQ(config_suggest("RingBufSize", keys), "RingBufferSize");
	ASSERT_STREQ(config_suggest("ClonEevents", keys), "CloneEvents");
	ASSERT_STREQ(config_suggest("argvmaxbytes", keys), "ArgvMaxBytes");
	ASSERT_NULL(config_suggest("Foo", keys));
	ASSERT_NULL(config_suggest("Bar", keys));
	ASSERT_NULL(config_suggest("", keys));
	ASSERT_NULL(config_suggest("RingBufferSize", NULL));
}

TEST(cat_config)
{
	struct config_source src = {};
	char *buf = NULL, expect[8192];
	size_t size = 0;
	FILE *f;

	fresh_root();
	write_file("usr/lib/vigil/vigild.conf", "[Sensor]\nRingBufferSize=16M\n");
	write_file("etc/vigil/vigild.conf.d/60-admin.conf", "[Sensor]\nCloneEvents=yes");
	write_file("usr/lib/vigil/vigild.conf.d/10-vendor.conf", "# vendor\n");
	mask("etc/vigil/vigild.conf.d/20-masked.conf");
	write_file("usr/lib/vigil/vigild.conf.d/20-masked.conf", "[Sensor]\nCloneEvents=no\n");
	write_file("run/vigil/outputs.d/o.conf", "[Output]\nPlugin=file\n");
	write_file("usr/lib/vigil/outputs.d/o.conf.d/1.conf", "[File]\nPath=/x\n");

	f = open_memstream(&buf, &size);
	ASSERT_NOT_NULL(f);
	ASSERT_OK(config_cat(&src, f));
	fclose(f);
	snprintf(expect, sizeof(expect),
		 "# %s\n[Sensor]\nRingBufferSize=16M\n"
		 "\n# %s\n# vendor\n"
		 "\n# %s\n[Sensor]\nCloneEvents=yes\n"
		 "\n# %s\n[Output]\nPlugin=file\n"
		 "\n# %s\n[File]\nPath=/x\n",
		 at("usr/lib/vigil/vigild.conf"), at("usr/lib/vigil/vigild.conf.d/10-vendor.conf"),
		 at("etc/vigil/vigild.conf.d/60-admin.conf"), at("run/vigil/outputs.d/o.conf"),
		 at("usr/lib/vigil/outputs.d/o.conf.d/1.conf"));
	ASSERT_STREQ(buf, expect);
	free(buf);
}

TEST(shipped_vendor_defaults_parse_cleanly)
{
	const char *srcdir = getenv("top_srcdir");
	char path[PATH_MAX], *body;
	struct vigil_config *c;
	FILE *f;
	long n;
	char *log;

	if (!srcdir)
		srcdir = ".";
	snprintf(path, sizeof(path), "%s/conf.d/vigild.conf", srcdir);
	f = fopen(path, "re");
	ASSERT_NOT_NULL(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	body = calloc(1, (size_t)n + 1);
	ASSERT_EQ(fread(body, 1, (size_t)n, f), n);
	fclose(f);

	fresh_root();
	/* Uncommented, every shown default must parse and equal the built-in default. */
	for (char *p = body; (p = strstr(p, "\n#")); p++)
		if (p[2] >= 'A' && p[2] <= 'Z' && strchr(p + 2, '=') &&
		    strchr(p + 2, '=') < strchr(p + 2, '\n'))
			memmove(p + 1, p + 2, strlen(p + 2) + 1);
	write_file("etc/vigil/vigild.conf", body);
	free(body);
	ASSERT_OK(load(&c, &log));
	ASSERT_EQ(c->n_warnings, 0);
	ASSERT_EQ(c->ringbuf_size, 4 << 20);
	ASSERT_EQ(c->argv_max, 16384);
	ASSERT_EQ(c->status_interval_usec, 10 * USEC_PER_SEC);
	ASSERT_EQ(c->cache_max_entries, 65536);
	ASSERT_EQ(c->cache_grace_usec, 30 * USEC_PER_SEC);
	ASSERT_FALSE(c->clone_events);
	ASSERT_FALSE(c->ancestors);
	config_free(c);
}

int main(void)
{
	int r;

	log_set_journal(false);
	r = tap_run();
	if (root[0])
		(void)nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return r;
}
