# SPDX-License-Identifier: GPL-2.0-or-later
# Decode, process cache, cgroup enrichment and record encoder tests.
check_PROGRAMS += tests/unit/test-event tests/unit/test-cgroup tests/unit/test-proc-cache \
	tests/unit/test-record tests/unit/test-record-memo
TESTS += tests/unit/test-event tests/unit/test-cgroup tests/unit/test-proc-cache \
	tests/unit/test-record tests/unit/test-record-memo

tests_unit_test_event_SOURCES = tests/unit/test-event.c
tests_unit_test_event_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_event_LDADD = daemon/libvigild.la

tests_unit_test_cgroup_SOURCES = tests/unit/test-cgroup.c
tests_unit_test_cgroup_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_cgroup_LDADD = daemon/libvigild.la

tests_unit_test_proc_cache_SOURCES = tests/unit/test-proc-cache.c
tests_unit_test_proc_cache_CFLAGS = $(TEST_CFLAGS) -DPROC_FIXTURE_DIR=\"$(abs_top_srcdir)/tests/data/proc\"
tests_unit_test_proc_cache_LDADD = daemon/libvigild.la

tests_unit_test_record_SOURCES = tests/unit/test-record.c tests/unit/record-fixtures.h
tests_unit_test_record_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_record_LDADD = daemon/libvigild.la $(MSGPACK_LIBS)

# Memoised process objects (record.c) and json_render()'s cache of rendered sub-objects.
tests_unit_test_record_memo_SOURCES = tests/unit/test-record-memo.c tests/unit/record-fixtures.h
tests_unit_test_record_memo_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_record_memo_LDADD = daemon/libvigild.la plugins/common/libvigil-common.la \
	$(MSGPACK_LIBS)

# Fixture /proc tree (exe and cwd are symlinks) and the libFuzzer entry (not built here:
# clang -fsanitize=fuzzer tests/fuzz/fuzz-event-decode.c daemon/event.c).
EXTRA_DIST += tests/data/proc tests/fuzz/fuzz-event-decode.c
