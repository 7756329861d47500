/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer entry point: the input is one TracingPolicy YAML file, parsed with
 * policy_parse_string() (libyaml events, node tree, schema walk) twice into the same set, so
 * the duplicate-name path runs too; the value parsers then see the input as a plain string.
 *
 * Built two ways (tests/policy.mk):
 *   make fuzz   → tests/fuzz/fuzz-policy, a libFuzzer binary (clang -fsanitize=fuzzer):
 *                 mkdir -p fuzz-corpus && cp tests/data/policy/all-operators.yaml fuzz-corpus/
 *                 ./tests/fuzz/fuzz-policy -max_total_time=60 fuzz-corpus
 *   make check  → tests/fuzz/fuzz-policy-replay (-DFUZZ_REPLAY_MAIN): replays every file of
 *                 tests/data/policy/ and tests/fuzz/corpus-policy/, and every truncation of
 *                 each, as TAP; a crash or sanitizer report fails it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "daemon/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	struct policy_set *set;
	uint8_t addr[16], bits;
	uint16_t u16;
	uint64_t u;
	char *s;

	if (!quiet) {
		/* The fuzzer would print millions of policy errors otherwise. */
		log_set_journal(false);
		log_set_max_level(LOG_CRIT);
		quiet = true;
	}
	if (size > 256 * 1024)
		return 0;

	set = policy_set_new();
	if (!set)
		return 0;
	(void)policy_parse_string("fuzz.yaml", (const char *)data, size, set);
	(void)policy_parse_string("fuzz2.yaml", (const char *)data, size, set);
	for (size_t i = 0; i < set->n_policies; i++) {
		const struct policy *p = set->policies[i];

		/* Touch what the compiler reads: everything must be initialised. */
		for (size_t h = 0; h < p->n_hooks; h++)
			for (size_t a = 0; a < p->hooks[h].n_args; a++)
				if (!policy_arg_type_to_string(p->hooks[h].args[a].type))
					abort();
	}
	policy_set_free(set);

	s = strndup((const char *)data, size);
	if (!s)
		return 0;
	(void)policy_parse_int(s, &u);
	(void)policy_parse_cidr(s, addr, &bits);
	(void)policy_parse_port(s, &u16);
	(void)policy_parse_family(s, &u16);
	(void)policy_parse_protocol(s, &u16);
	free(s);
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
static int replay_dir(const char *dir, unsigned *n)
{
	struct dirent **names = NULL;
	int k, failed = 0;

	k = scandir(dir, &names, NULL, alphasort);
	if (k < 0)
		return errno == ENOENT ? 0 : -errno;
	for (int i = 0; i < k; i++) {
		char path[4096 + 256 + 2];
		uint8_t *buf;
		long len;
		FILE *f;

		if (names[i]->d_name[0] == '.')
			goto next;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		f = fopen(path, "re");
		if (!f || fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0) {
			printf("not ok %u - %s (cannot read)\n", ++*n, path);
			failed = 1;
			if (f)
				fclose(f);
			goto next;
		}
		rewind(f);
		buf = malloc((size_t)len + 1);
		if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
			printf("not ok %u - %s (cannot read)\n", ++*n, path);
			failed = 1;
		} else {
			/* Whole file, then every prefix: truncation reaches most error paths. */
			(void)LLVMFuzzerTestOneInput(buf, (size_t)len);
			for (long l = 0; l < len; l++)
				(void)LLVMFuzzerTestOneInput(buf, (size_t)l);
			printf("ok %u - %s\n", ++*n, path);
		}
		free(buf);
		fclose(f);
	next:
		free(names[i]);
	}
	free(names);
	return failed;
}

int main(void)
{
	const char *top = getenv("top_srcdir");
	static const char *const dirs[] = {"tests/data/policy", "tests/fuzz/corpus-policy"};
	unsigned n = 0;
	int failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!top)
		top = ".";
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char d[4096];
		int r;

		snprintf(d, sizeof(d), "%s/%s", top, dirs[i]);
		r = replay_dir(d, &n);
		if (r < 0) {
			printf("not ok %u - %s: %s\n", ++n, d, strerror(-r));
			failed = 1;
		} else if (r > 0)
			failed = 1;
	}
	if (n == 0) {
		printf("not ok 1 - no corpus found under %s\n", top);
		n = 1;
		failed = 1;
	}
	printf("1..%u\n", n);
	return failed;
}
#endif
