/* SPDX-License-Identifier: GPL-2.0-or-later */
/* compact_render() golden lines. */
#include "common/json.h"
#include "common/record_view.h"
#include "tap.h"
#include "testrec.h"

static msgpack_sbuffer sb;

static const char *line(void)
{
	static struct vbuf out;

	out.len = 0;
	if (compact_render((const uint8_t *)sb.data, sb.size, &out) < 0)
		return NULL;
	vbuf_putc(&out, '\0');
	return out.data;
}

TEST(exec_line)
{
	testrec_exec(&sb, &testrec_curl, &testrec_bash);
	ASSERT_STREQ(line(), "exec  pid=1234 nginx.service /usr/bin/curl -s https://example.org");
}

TEST(exit_status_and_signal)
{
	testrec_exit(&sb, &testrec_curl, &testrec_bash, 3, "");
	ASSERT_STREQ(line(), "exit  pid=1234 nginx.service /usr/bin/curl status=3");
	testrec_exit(&sb, &testrec_curl, &testrec_bash, 0, "SIGKILL");
	ASSERT_STREQ(line(), "exit  pid=1234 nginx.service /usr/bin/curl signal=SIGKILL");
}

TEST(clone_and_loss)
{
	testrec_clone(&sb, &testrec_curl, &testrec_bash);
	ASSERT_STREQ(line(), "clone pid=1234 ppid=1200 nginx.service /usr/bin/curl");
	testrec_loss(&sb, "queue", 12, 40, "kafka-main");
	ASSERT_STREQ(line(), "loss  stage=queue count=12 total=40 output=kafka-main "
			     "reason=\"queue full\"");
}

TEST(context_container_then_unit_then_dash)
{
	struct testproc p = testrec_curl;

	p.container_id = "0123456789abcdef0123456789abcdef";
	testrec_exit(&sb, &p, NULL, 0, "");
	ASSERT_STREQ(line(), "exit  pid=1234 0123456789ab /usr/bin/curl status=0");
	p.container_id = NULL;
	p.unit = NULL;
	testrec_exit(&sb, &p, NULL, 0, "");
	ASSERT_STREQ(line(), "exit  pid=1234 - /usr/bin/curl status=0");
}

TEST(hostile_argv_escaped)
{
	static const char *const argv[] = {"x",		  "a b",       "",	  "line\nbreak",
					   "\x1b[31mred", "quo\"te\\", "bad\xff", "caf\xc3\xa9",
					   "\xc2\x9b",	  NULL};
	struct testproc p = testrec_curl;
	const char *l;

	p.argv = argv;
	testrec_exec(&sb, &p, NULL);
	l = line();
	ASSERT_STREQ(l,
		     "exec  pid=1234 nginx.service /usr/bin/curl \"a b\" \"\" \"line\\nbreak\" "
		     "\"\\x1b[31mred\" \"quo\\\"te\\\\\" \"bad\\xff\" caf\xc3\xa9 \"\\xc2\\x9b\"");
	ASSERT_TRUE(strchr(l, '\n') == NULL && strchr(l, 0x1b) == NULL);
}

TEST(arguments_fallback_without_argv)
{
	struct testproc p = testrec_curl;

	p.argv = NULL;
	p.arguments = "-s \"a b\" evil\x1b]0;";
	testrec_exec(&sb, &p, NULL);
	ASSERT_STREQ(line(), "exec  pid=1234 nginx.service /usr/bin/curl "
			     "\"-s \\\"a b\\\" evil\\x1b]0;\"");
}

TEST(malformed_refused)
{
	struct vbuf out = {};

	testrec_exec(&sb, &testrec_curl, NULL);
	for (size_t n = 0; n < sb.size; n += 7) {
		int r = compact_render((const uint8_t *)sb.data, n, &out);
		/* A prefix either fails cleanly or (when it cut only trailing keys) renders. */
		if (r < 0)
			ASSERT_EQ(r, -EBADMSG);
	}
	ASSERT_ERRNO(compact_render((const uint8_t *)"\x91\x01", 2, &out), EBADMSG);
	vbuf_done(&out);
}

int main(void)
{
	msgpack_sbuffer_init(&sb);
	return tap_run();
}
