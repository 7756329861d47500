# SPDX-License-Identifier: GPL-2.0-or-later
# In-kernel policy engine (bpf/policy.bpf.c): loads the real programs as root (exit 77 = SKIP
# otherwise).
check_PROGRAMS += tests/integration/test-policy-bpf
TESTS += tests/integration/test-policy-bpf
tests_integration_test_policy_bpf_SOURCES = tests/integration/test-policy-bpf.c tests/harness/tap.h
tests_integration_test_policy_bpf_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_policy_bpf_LDADD = daemon/libvigild.la
