/* SPDX-License-Identifier: GPL-2.0-or-later */
/* msgpack → JSON golden tests, including hostile strings and truncated input. */
#include <msgpack.h>

#include "common/json.h"
#include "tap.h"
#include "testrec.h"

static msgpack_sbuffer sb;
static msgpack_packer pk;

static void start(void)
{
	msgpack_sbuffer_clear(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
}

/* Render sb into a NUL-terminated string (static buffer reused per call). The input is copied
 * into an exact-size heap block so the sanitizer build catches any overread. */
static int render(const char **ret)
{
	static struct vbuf out;
	uint8_t *copy = malloc(sb.size ?: 1);
	int r;

	memcpy(copy, sb.data, sb.size);
	out.len = 0;
	r = json_render(copy, sb.size, &out);
	free(copy);
	if (r < 0)
		return r;
	vbuf_putc(&out, '\0');
	*ret = out.data;
	return 0;
}

#define ASSERT_JSON(expected)                                                                      \
	do {                                                                                       \
		const char *_j = NULL;                                                             \
		ASSERT_OK(render(&_j));                                                            \
		ASSERT_STREQ(_j, expected);                                                        \
	} while (0)

static void str(const char *s, size_t n)
{
	start();
	testrec_pack_strn(&pk, s, n);
}
#define STR(lit) str(lit, sizeof(lit) - 1)

TEST(scalars)
{
	start();
	msgpack_pack_array(&pk, 17);
	msgpack_pack_nil(&pk);
	msgpack_pack_true(&pk);
	msgpack_pack_false(&pk);
	msgpack_pack_uint8(&pk, 0);
	msgpack_pack_uint8(&pk, 127);
	msgpack_pack_uint8(&pk, 128);
	msgpack_pack_uint16(&pk, 65535);
	msgpack_pack_uint64(&pk, UINT64_MAX);
	msgpack_pack_int8(&pk, -1);
	msgpack_pack_int8(&pk, -33);
	msgpack_pack_int64(&pk, INT64_MIN);
	msgpack_pack_int32(&pk, 7); /* signed encoding of a positive value */
	msgpack_pack_float(&pk, 1.5f);
	msgpack_pack_double(&pk, 0.1);
	msgpack_pack_double(&pk, -2.5e300);
	msgpack_pack_double(&pk, 0.0 / 0.0);
	msgpack_pack_double(&pk, 1.0 / 0.0);
	ASSERT_JSON("[null,true,false,0,127,128,65535,18446744073709551615,-1,-33,"
		    "-9223372036854775808,7,1.5,0.1,-2.5e+300,null,null]");
}

TEST(empty_containers_and_strings)
{
	start();
	msgpack_pack_map(&pk, 3);
	testrec_pack_str(&pk, "");
	testrec_pack_str(&pk, "");
	testrec_pack_str(&pk, "a");
	msgpack_pack_array(&pk, 0);
	testrec_pack_str(&pk, "m");
	msgpack_pack_map(&pk, 0);
	ASSERT_JSON("{\"\":\"\",\"a\":[],\"m\":{}}");
}

TEST(quotes_and_backslashes)
{
	STR("say \"hi\" \\o/ \\\\");
	ASSERT_JSON("\"say \\\"hi\\\" \\\\o/ \\\\\\\\\"");
}

TEST(all_control_characters)
{
	char s[33];

	for (int i = 0; i < 32; i++)
		s[i] = (char)i;
	s[32] = 0x7f;
	str(s, sizeof(s));
	ASSERT_JSON(
		"\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
		"\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
		"\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\u007f\"");
}

TEST(valid_utf8_passes_through)
{
	/* 2-, 3- and 4-byte sequences and the extremes of each range. */
	STR("h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e \xc2\xa0 \xed\x9f\xbf \xee\x80\x80 "
	    "\xf4\x8f\xbf\xbf \xef\xbf\xbf");
	ASSERT_JSON(
		"\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e \xc2\xa0 \xed\x9f\xbf \xee\x80\x80 "
		"\xf4\x8f\xbf\xbf \xef\xbf\xbf\"");
}

TEST(c1_controls_escaped)
{
	STR("a\xc2\x85"
	    "b\xc2\x9b"
	    "c");
	ASSERT_JSON("\"a\\u0085b\\u009bc\"");
}

TEST(invalid_utf8_each_byte_replaced)
{
#define FFFD "\\ufffd"
	/* overlong 2-byte (C0 80, C1 BF) */
	STR("<\xc0\x80\xc1\xbf>");
	ASSERT_JSON("\"<" FFFD FFFD FFFD FFFD ">\"");
	/* overlong 3- and 4-byte */
	STR("<\xe0\x80\xaf|\xf0\x80\x80\xaf>");
	ASSERT_JSON("\"<" FFFD FFFD FFFD "|" FFFD FFFD FFFD FFFD ">\"");
	/* UTF-16 surrogates encoded in UTF-8 */
	STR("<\xed\xa0\x80\xed\xbf\xbf>");
	ASSERT_JSON("\"<" FFFD FFFD FFFD FFFD FFFD FFFD ">\"");
	/* above U+10FFFF, and bytes that never appear */
	STR("<\xf4\x90\x80\x80\xf5\xff\xfe>");
	ASSERT_JSON("\"<" FFFD FFFD FFFD FFFD FFFD FFFD FFFD ">\"");
	/* stray continuation bytes */
	STR("<\x80\xbf>");
	ASSERT_JSON("\"<" FFFD FFFD ">\"");
	/* truncated sequences: before ASCII, and at the very end of the string */
	STR("<\xe2\x82>\xf0\x9f\x98");
	ASSERT_JSON("\"<" FFFD FFFD ">" FFFD FFFD FFFD "\"");
	/* a lead byte followed by another lead byte: each judged on its own */
	STR("\xc3\xc3\xa9");
	ASSERT_JSON("\"" FFFD "\xc3\xa9\"");
#undef FFFD
}

TEST(huge_string)
{
	size_t n = 3 << 20;
	char *s = malloc(n), *want = malloc(n + 8);
	const char *j;

	memset(s, 'x', n);
	s[n / 2] = '\n';
	str(s, n);
	ASSERT_OK(render(&j));
	want[0] = '"';
	memset(want + 1, 'x', n + 1);
	memcpy(want + 1 + n / 2, "\\n", 2);
	want[n + 2] = '"';
	want[n + 3] = 0;
	ASSERT_EQ(strlen(j), n + 3);
	ASSERT_TRUE(strcmp(j, want) == 0);
	free(s);
	free(want);
}

TEST(nested_and_non_string_keys)
{
	start();
	msgpack_pack_map(&pk, 6);
	msgpack_pack_uint8(&pk, 1);
	testrec_pack_str(&pk, "one");
	msgpack_pack_nil(&pk);
	msgpack_pack_int8(&pk, -2);
	msgpack_pack_true(&pk);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 1);
	testrec_pack_str(&pk, "k\"");
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint8(&pk, 1);
	testrec_pack_str(&pk, "x");
	msgpack_pack_bin(&pk, 2);
	msgpack_pack_bin_body(&pk, "\x00\xff", 2);
	msgpack_pack_map(&pk, 0);
	testrec_pack_str(&pk, "deep");
	testrec_pack_str(&pk, "a");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_array(&pk, 0);
	msgpack_pack_map(&pk, 1);
	testrec_pack_str(&pk, "b");
	msgpack_pack_nil(&pk);
	ASSERT_JSON("{\"1\":\"one\",\"null\":-2,\"true\":[{\"k\\\"\":1}],"
		    "\"[1,\\\"x\\\"]\":\"AP8=\",\"{}\":\"deep\",\"a\":[[],{\"b\":null}]}");
}

TEST(every_integer_width_in_maps_and_arrays)
{
	/* Map values and array items take the renderer's inline switch: every width, sign and
	 * digit count (1, 2 and 3 digit uint8 included) must read as the same number. */
	start();
	msgpack_pack_map(&pk, 2);
	testrec_pack_str(&pk, "u");
	msgpack_pack_array(&pk, 12);
	msgpack_pack_uint8(&pk, 9);
	msgpack_pack_uint8(&pk, 10);
	msgpack_pack_uint8(&pk, 99);
	msgpack_pack_uint8(&pk, 100);
	msgpack_pack_uint8(&pk, 200);
	msgpack_pack_uint8(&pk, 255);
	msgpack_pack_uint16(&pk, 1000);
	msgpack_pack_uint16(&pk, 65535);
	msgpack_pack_uint32(&pk, 4294967295u);
	msgpack_pack_uint64(&pk, 10000000000000000000ull);
	msgpack_pack_fix_uint8(&pk, 250);
	msgpack_pack_fix_uint64(&pk, 42);
	testrec_pack_str(&pk, "i");
	msgpack_pack_map(&pk, 9);
	testrec_pack_str(&pk, "a");
	msgpack_pack_fix_int8(&pk, -128);
	testrec_pack_str(&pk, "b");
	msgpack_pack_fix_int8(&pk, 127);
	testrec_pack_str(&pk, "c");
	msgpack_pack_fix_int16(&pk, -32768);
	testrec_pack_str(&pk, "d");
	msgpack_pack_fix_int32(&pk, -2147483647 - 1);
	testrec_pack_str(&pk, "e");
	msgpack_pack_fix_int64(&pk, INT64_MIN);
	testrec_pack_str(&pk, "f");
	msgpack_pack_fix_int64(&pk, INT64_MAX);
	testrec_pack_str(&pk, "g");
	msgpack_pack_int8(&pk, -32);
	testrec_pack_str(&pk, "h");
	msgpack_pack_int8(&pk, -1);
	testrec_pack_str(&pk, "i");
	msgpack_pack_false(&pk);
	ASSERT_JSON(
		"{\"u\":[9,10,99,100,200,255,1000,65535,4294967295,10000000000000000000,250,42],"
		"\"i\":{\"a\":-128,\"b\":127,\"c\":-32768,\"d\":-2147483648,"
		"\"e\":-9223372036854775808,\"f\":9223372036854775807,\"g\":-32,\"h\":-1,"
		"\"i\":false}}");
}

TEST(non_string_keys_that_expand_more_than_six_fold)
{
	/* A key that is an array of 1-byte control-character strings renders as "\u0001" per
	 * item and is then escaped again as a string: ~10 output bytes per input byte, more than
	 * the room a map reserves up front. Also appended after existing output. */
	enum { N = 3000 };
	size_t cap = 16 * N + 64, len = 0;
	char *want = malloc(cap);
	static struct vbuf out;
	int r;

	ASSERT_NOT_NULL(want);
	start();
	msgpack_pack_map(&pk, 1);
	msgpack_pack_array(&pk, N);
	for (int i = 0; i < N; i++)
		testrec_pack_strn(&pk, "\x01", 1);
	testrec_pack_str(&pk, "v");
	len += (size_t)sprintf(want + len, "xy{\"[");
	for (int i = 0; i < N; i++)
		len += (size_t)sprintf(want + len, "%s\\\"\\\\u0001\\\"", i ? "," : "");
	len += (size_t)sprintf(want + len, "]\":\"v\"}");

	out.len = 0;
	ASSERT_OK(vbuf_append(&out, "xy", 2));
	r = json_render((const uint8_t *)sb.data, sb.size, &out);
	ASSERT_OK(r);
	ASSERT_EQ(out.len, len);
	ASSERT_MEMEQ(out.data, want, len);
	free(want);
	vbuf_done(&out);
}

TEST(bin_and_other_ext_are_base64)
{
	start();
	msgpack_pack_array(&pk, 6);
	msgpack_pack_bin(&pk, 0);
	msgpack_pack_bin(&pk, 1);
	msgpack_pack_bin_body(&pk, "f", 1);
	msgpack_pack_bin(&pk, 2);
	msgpack_pack_bin_body(&pk, "fo", 2);
	msgpack_pack_bin(&pk, 3);
	msgpack_pack_bin_body(&pk, "foo", 3);
	msgpack_pack_bin(&pk, 4);
	msgpack_pack_bin_body(&pk, "foob", 4);
	msgpack_pack_ext(&pk, 3, 5);
	msgpack_pack_ext_body(&pk, "\xfb\xff\xbf", 3);
	ASSERT_JSON("[\"\",\"Zg==\",\"Zm8=\",\"Zm9v\",\"Zm9vYg==\",\"+/+/\"]");
}

TEST(timestamps_all_forms)
{
	start();
	msgpack_pack_array(&pk, 10);
	testrec_pack_time(&pk, 4, 0, 0);
	testrec_pack_time(&pk, 4, 4294967295u, 0);
	testrec_pack_time(&pk, 8, 1795305541, 123456789);
	testrec_pack_time(&pk, 8, 1709208000, 999999999); /* leap day */
	testrec_pack_time(&pk, 12, 1795305541, 1);
	testrec_pack_time(&pk, 12, -1, 999999999);	     /* last ns before the epoch */
	testrec_pack_time(&pk, 12, -2203891200, 0);	     /* 1900-03-01 */
	testrec_pack_time(&pk, 12, -62135596800, 0);	     /* 0001-01-01 */
	testrec_pack_time(&pk, 12, 253402300799, 999999999); /* 9999-12-31T23:59:59.999999999 */
	testrec_pack_time(&pk, 12, 253402300800, 0);	     /* year 10000 */
	ASSERT_JSON("[\"1970-01-01T00:00:00.000000000Z\",\"2106-02-07T06:28:15.000000000Z\","
		    "\"2026-11-21T23:59:01.123456789Z\",\"2024-02-29T12:00:00.999999999Z\","
		    "\"2026-11-21T23:59:01.000000001Z\",\"1969-12-31T23:59:59.999999999Z\","
		    "\"1900-03-01T00:00:00.000000000Z\",\"0001-01-01T00:00:00.000000000Z\","
		    "\"9999-12-31T23:59:59.999999999Z\",\"+10000-01-01T00:00:00.000000000Z\"]");
}

TEST(bad_timestamps_refused)
{
	const char *j;

	start();
	testrec_pack_time(&pk, 12, 0, 1000000000);
	ASSERT_ERRNO(render(&j), EBADMSG);
	start();
	testrec_pack_time(&pk, 8, 0, 1000000000);
	ASSERT_ERRNO(render(&j), EBADMSG);
	start();
	msgpack_pack_ext(&pk, 5, -1);
	msgpack_pack_ext_body(&pk, "\0\0\0\0\0", 5);
	ASSERT_ERRNO(render(&j), EBADMSG);
}

TEST(exec_record_golden)
{
	testrec_exec(&sb, &testrec_curl, &testrec_bash);
	ASSERT_JSON("{\"process_exec\":{\"process\":{\"exec_id\":"
		    "\"d2ViLTE6OGIzZjE3ZDA6MTIzNDU2OjEyMzQ6NjU1NDM\","
		    "\"pid\":1234,\"tid\":1234,\"uid\":33,\"cwd\":\"/var/www\",\"binary\":\"/usr/"
		    "bin/curl\","
		    "\"arguments\":\"-s https://example.org\",\"flags\":\"execve\","
		    "\"start_time\":\"2026-11-19T23:46:40.000000005Z\",\"auid\":4294967295,"
		    "\"parent_exec_id\":\"d2ViLTE6OGIzZjE3ZDA6MTIwMDAwOjEyMDA6MTMxMDc\","
		    "\"process_credentials\":{\"uid\":33,\"gid\":33},"
		    "\"argv\":[\"curl\",\"-s\",\"https://example.org\"],\"argv_truncated\":false,"
		    "\"unit\":\"nginx.service\",\"cgroup\":\"/system.slice/nginx.service\"},"
		    "\"parent\":{\"exec_id\":\"d2ViLTE6OGIzZjE3ZDA6MTIwMDAwOjEyMDA6MTMxMDc\","
		    "\"pid\":1200,"
		    "\"tid\":1200,\"uid\":0,\"cwd\":\"/root\",\"binary\":\"/bin/"
		    "bash\",\"arguments\":\"\","
		    "\"flags\":\"procFS\",\"start_time\":\"2026-11-19T23:46:40.000000005Z\","
		    "\"auid\":1000,"
		    "\"process_credentials\":{\"uid\":0,\"gid\":0},\"argv\":[\"/bin/bash\"],"
		    "\"argv_truncated\":false,\"unit\":\"session-3.scope\","
		    "\"cgroup\":\"/user.slice/user-1000.slice/session-3.scope\"}},"
		    "\"node_name\":\"web-1\",\"time\":\"2026-11-21T23:59:01.123456789Z\"}");
}

TEST(truncated_input_every_prefix)
{
	struct vbuf out = {};

	testrec_exit(&sb, &testrec_curl, &testrec_bash, 0, "SIGKILL");
	ASSERT_OK(json_render((const uint8_t *)sb.data, sb.size, &out));
	for (size_t n = 0; n < sb.size; n++) {
		uint8_t *copy = malloc(n ?: 1);

		memcpy(copy, sb.data, n);
		vbuf_append(&out, "prefix", 6);
		out.len = 6;
		if (json_render(copy, n, &out) != -EBADMSG) {
			free(copy);
			TAP_FAIL("prefix of %zu bytes was not refused", n);
		}
		free(copy);
		/* The output is left as it was. */
		ASSERT_EQ(out.len, 6);
	}
	vbuf_done(&out);
}

TEST(lying_lengths_refused)
{
	const char *j;
	/* str32 claiming 4 GiB, array32 claiming 2^32-1 elements, map16 with one pair, 0xc1. */
	static const uint8_t str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
	static const uint8_t arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
	static const uint8_t map16[] = {0xde, 0x00, 0x02, 0xa1, 'a', 0x01};
	static const uint8_t never[] = {0x91, 0xc1};

	start();
	msgpack_sbuffer_write(&sb, (const char *)str32, sizeof(str32));
	ASSERT_ERRNO(render(&j), EBADMSG);
	start();
	msgpack_sbuffer_write(&sb, (const char *)arr32, sizeof(arr32));
	ASSERT_ERRNO(render(&j), EBADMSG);
	start();
	msgpack_sbuffer_write(&sb, (const char *)map16, sizeof(map16));
	ASSERT_ERRNO(render(&j), EBADMSG);
	start();
	msgpack_sbuffer_write(&sb, (const char *)never, sizeof(never));
	ASSERT_ERRNO(render(&j), EBADMSG);
}

TEST(nesting_limit)
{
	const char *j;

	start();
	for (int i = 0; i < 64; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	ASSERT_OK(render(&j));
	ASSERT_EQ(strlen(j), 64 * 2 + 4);
	start();
	for (int i = 0; i < 100000; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	ASSERT_ERRNO(render(&j), EBADMSG);
}

int main(void)
{
	msgpack_sbuffer_init(&sb);
	return tap_run();
}
