# SPDX-License-Identifier: GPL-2.0-or-later
# Per process policy state (pol_procs) and Override on connect (cgroup connect4/6); root only.
check_PROGRAMS += tests/integration/test-policy-proc
TESTS += tests/integration/test-policy-proc
tests_integration_test_policy_proc_SOURCES = tests/integration/test-policy-proc.c tests/harness/tap.h
nodist_tests_integration_test_policy_proc_SOURCES = bpf/vigil.skel.h
tests_integration_test_policy_proc_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_policy_proc_LDADD = $(LIBBPF_LIBS)

check_PROGRAMS += tests/integration/test-policy-connect
TESTS += tests/integration/test-policy-connect
tests_integration_test_policy_connect_SOURCES = tests/integration/test-policy-connect.c \
	tests/harness/tap.h
nodist_tests_integration_test_policy_connect_SOURCES = bpf/vigil.skel.h
tests_integration_test_policy_connect_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_policy_connect_LDADD = $(LIBBPF_LIBS)
