/* SPDX-License-Identifier: GPL-2.0-or-later */
/* filter_redact.so through dlopen and the fake host. */
#include <errno.h>

#include "common/json.h"
#include "fake_host.h"
#include "tap.h"
#include "testrec.h"

static const struct vigil_plugin *plugin;

/* Run the filter on @sb; returns the verdict and, for REPLACE, the JSON of the new record. */
static int run(void *inst, msgpack_sbuffer *sb, char **ret_json)
{
	struct vigil_record rec = {(const uint8_t *)sb->data, (uint32_t)sb->size,
				   VIGIL_RECORD_PROCESS_EXEC, 7};
	struct vigil_buf *out = fake_buf_new();
	struct vbuf j = {};
	int r;

	r = plugin->filter(inst, &rec, out);
	*ret_json = NULL;
	if (r == VIGIL_FILTER_REPLACE) {
		if (json_render(out->data, out->size, &j) == 0 && vbuf_putc(&j, 0) == 0)
			*ret_json = j.data;
	} else if (out->size != 0)
		r = -EFAULT; /* PASS must not write anything */
	fake_buf_free(out);
	return r;
}

static void *make(struct fake_host *fh)
{
	void *inst = NULL;
	if (plugin->init(&fh->host, &inst) < 0)
		return NULL;
	return inst;
}

TEST(group_replaced_only)
{
	static const char *const argv[] = {"mysql", "--user=bob", "--password=s3cret", "db", NULL};
	struct fake_host *fh = fake_host_new("redact");
	struct testproc p = testrec_curl;
	msgpack_sbuffer sb;
	char *json;
	void *inst;

	msgpack_sbuffer_init(&sb);
	fake_host_set(fh, "Redact", "Pattern", "--password=(.*)");
	ASSERT_NOT_NULL(inst = make(fh));
	p.argv = argv;
	p.arguments = "--user=bob --password=s3cret db";
	testrec_exec(&sb, &p, &testrec_bash);
	ASSERT_EQ(run(inst, &sb, &json), VIGIL_FILTER_REPLACE);
	ASSERT_NOT_NULL(json);
	ASSERT_CONTAINS(json, "\"argv\":[\"mysql\",\"--user=bob\",\"--password=***\",\"db\"]");
	/* arguments is rebuilt from the redacted argv: (.*) stops at the end of the argument */
	ASSERT_CONTAINS(json, "\"arguments\":\"--user=bob --password=*** db\"");
	ASSERT_TRUE(strstr(json, "s3cret") == NULL);
	/* Everything else unchanged, same key order. */
	ASSERT_TRUE(strncmp(json, "{\"process_exec\":{\"process\":{\"exec_id\":", 38) == 0);
	ASSERT_CONTAINS(json, "\"argv_truncated\":false,\"unit\":\"nginx.service\"");
	ASSERT_CONTAINS(json,
			"\"node_name\":\"web-1\",\"time\":\"2026-11-21T23:59:01.123456789Z\"}");
	free(json);
	plugin->fini(inst);
	fake_host_free(fh);
	msgpack_sbuffer_destroy(&sb);
}

/* "--password=a b" is one argument: all of it is masked, in argv and in arguments, and the
 * next argument is left alone (matching the flattened string used to leave " b" visible). */
TEST(argument_with_space_fully_masked_arguments_rebuilt)
{
	static const char *const argv[] = {"x", "--password=a b", "", "say \"hi\"", NULL};
	struct fake_host *fh = fake_host_new("redact");
	struct testproc p = testrec_curl;
	msgpack_sbuffer sb;
	char *json;
	void *inst;

	msgpack_sbuffer_init(&sb);
	fake_host_set(fh, "Redact", "Pattern", "^--password=(.*)$");
	ASSERT_NOT_NULL(inst = make(fh));
	p.argv = argv;
	p.arguments = "\"--password=a b\" \"\" \"say \\\"hi\\\"\"";
	testrec_exec(&sb, &p, NULL);
	ASSERT_EQ(run(inst, &sb, &json), VIGIL_FILTER_REPLACE);
	ASSERT_NOT_NULL(json);
	ASSERT_CONTAINS(json, "\"argv\":[\"x\",\"--password=***\",\"\",\"say \\\"hi\\\"\"]");
	/* same quoting as the daemon: empty and special arguments quoted, " and \ escaped */
	ASSERT_CONTAINS(json,
			"\"arguments\":\"--password=*** \\\"\\\" \\\"say \\\\\\\"hi\\\\\\\"\\\"\"");
	ASSERT_TRUE(strstr(json, "a b") == NULL);
	free(json);
	plugin->fini(inst);
	fake_host_free(fh);
	msgpack_sbuffer_destroy(&sb);
}

TEST(whole_match_without_group_custom_replacement_and_parent)
{
	static const char *const argv[] = {"curl", "-H", "Authorization: Bearer abc.def", NULL};
	struct fake_host *fh = fake_host_new("redact");
	struct testproc p = testrec_bash;
	msgpack_sbuffer sb;
	char *json;
	void *inst;

	msgpack_sbuffer_init(&sb);
	fake_host_set(fh, "Redact", "Pattern", "Bearer [A-Za-z0-9.]+");
	fake_host_set(fh, "Redact", "Replacement", "<redacted>");
	ASSERT_NOT_NULL(inst = make(fh));
	/* The secret is in the parent this time. */
	p.argv = argv;
	p.arguments = "-H \"Authorization: Bearer abc.def\"";
	testrec_exit(&sb, &testrec_curl, &p, 0, "");
	ASSERT_EQ(run(inst, &sb, &json), VIGIL_FILTER_REPLACE);
	ASSERT_CONTAINS(json, "\"argv\":[\"curl\",\"-H\",\"Authorization: <redacted>\"]");
	ASSERT_CONTAINS(json, "\"arguments\":\"-H \\\"Authorization: <redacted>\\\"\"");
	ASSERT_CONTAINS(json, "\"status\":0,\"signal\":\"\"");
	ASSERT_TRUE(strstr(json, "abc.def") == NULL);
	free(json);
	plugin->fini(inst);
	fake_host_free(fh);
	msgpack_sbuffer_destroy(&sb);
}

TEST(long_replacement_changes_header_size)
{
	static const char *const argv[] = {"x", "--token=abc", NULL};
	struct fake_host *fh = fake_host_new("redact");
	struct testproc p = testrec_curl;
	msgpack_sbuffer sb;
	char repl[301], *json, want[400];
	void *inst;

	memset(repl, 'R', 300);
	repl[300] = 0;
	msgpack_sbuffer_init(&sb);
	fake_host_set(fh, "Redact", "Pattern", "--token=([a-z]+)");
	fake_host_set(fh, "Redact", "Replacement", repl);
	ASSERT_NOT_NULL(inst = make(fh));
	p.argv = argv;
	p.arguments = "--token=abc";
	testrec_exec(&sb, &p, NULL);
	ASSERT_EQ(run(inst, &sb, &json), VIGIL_FILTER_REPLACE);
	snprintf(want, sizeof(want), "\"argv\":[\"x\",\"--token=%s\"]", repl);
	ASSERT_CONTAINS(json, want);
	free(json);
	plugin->fini(inst);
	fake_host_free(fh);
	msgpack_sbuffer_destroy(&sb);
}

TEST(no_match_passes_without_copy)
{
	struct fake_host *fh = fake_host_new("redact");
	msgpack_sbuffer sb;
	char *json;
	void *inst;

	msgpack_sbuffer_init(&sb);
	fake_host_set(fh, "Redact", "Pattern", "--password=(.*)");
	ASSERT_NOT_NULL(inst = make(fh));
	testrec_exec(&sb, &testrec_curl, &testrec_bash);
	ASSERT_EQ(run(inst, &sb, &json), VIGIL_FILTER_PASS);
	testrec_loss(&sb, "kernel", 1, 1, NULL);
	ASSERT_EQ(run(inst, &sb, &json), VIGIL_FILTER_PASS);
	plugin->fini(inst);
	fake_host_free(fh);
	msgpack_sbuffer_destroy(&sb);
}

TEST(bad_regex_refused_with_location)
{
	struct fake_host *fh = fake_host_new("redact");
	void *inst = NULL;

	fake_host_set(fh, "Redact", "Pattern", "ok");
	fake_host_set(fh, "Redact", "Pattern", "--password=([");
	ASSERT_ERRNO(plugin->init(&fh->host, &inst), EINVAL);
	ASSERT_CONTAINS(fake_host_logs(fh), "test.conf:2: [Redact] Pattern='--password=(['");
	fake_host_free(fh);

	fh = fake_host_new("redact");
	ASSERT_ERRNO(plugin->init(&fh->host, &inst), EINVAL);
	fake_host_free(fh);
}

int main(void)
{
	plugin = fake_host_load("filter_redact.so");
	if (!plugin)
		return 99;
	return tap_run();
}
