/* SPDX-License-Identifier: GPL-2.0-or-later */
/* plugins/common/cfg.c: the value parsers every plugin uses for its keys. */
#include <errno.h>
#include <stdint.h>

#include "common/cfg.h"
#include "tap.h"

TEST(bool_spellings_match_the_daemon)
{
	static const char *const yes[] = {"1", "yes", "y", "true", "t", "on", "YES", "On"};
	static const char *const no[] = {"0", "no", "n", "false", "f", "off", "NO", "Off"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		ASSERT_EQ(cfg_parse_bool(yes[i]), 1);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		ASSERT_EQ(cfg_parse_bool(no[i]), 0);
	ASSERT_EQ(cfg_parse_bool("maybe"), -EINVAL);
	ASSERT_EQ(cfg_parse_bool(""), -EINVAL);
	ASSERT_EQ(cfg_parse_bool(NULL), -EINVAL);
}

TEST(sizes)
{
	uint64_t v = 7;

	ASSERT_EQ(cfg_parse_size("0", &v), 0);
	ASSERT_EQ(v, 0);
	ASSERT_EQ(cfg_parse_size("4096", &v), 0);
	ASSERT_EQ(v, 4096);
	ASSERT_EQ(cfg_parse_size("512K", &v), 0);
	ASSERT_EQ(v, 512ULL << 10);
	ASSERT_EQ(cfg_parse_size("5M", &v), 0);
	ASSERT_EQ(v, 5ULL << 20);
	ASSERT_EQ(cfg_parse_size("2G", &v), 0);
	ASSERT_EQ(v, 2ULL << 30);
	v = 7;
	ASSERT_EQ(cfg_parse_size("5MB", &v), -EINVAL);
	ASSERT_EQ(cfg_parse_size("5T", &v), -EINVAL);
	ASSERT_EQ(cfg_parse_size("-1", &v), -EINVAL);
	ASSERT_EQ(cfg_parse_size(" 1", &v), -EINVAL);
	ASSERT_EQ(cfg_parse_size("", &v), -EINVAL);
	ASSERT_EQ(cfg_parse_size("99999999999999999999", &v), -EINVAL);
	ASSERT_EQ(cfg_parse_size("17179869184G", &v), -ERANGE);
	ASSERT_EQ(v, 7); /* untouched on error */
}

int main(void)
{
	return tap_run();
}
