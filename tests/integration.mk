# SPDX-License-Identifier: GPL-2.0-or-later
# End-to-end tests of the real daemon (root: real BPF; they SKIP otherwise).
check_PROGRAMS += tests/integration/notify-recorder
tests_integration_notify_recorder_SOURCES = tests/integration/notify-recorder.c
check_PROGRAMS += tests/integration/net-probe
tests_integration_net_probe_SOURCES = tests/integration/net-probe.c

INTEGRATION_TESTS = \
	tests/integration/test-daemon-badinput.sh \
	tests/integration/test-daemon-exec.sh \
	tests/integration/test-daemon-cgroup.sh \
	tests/integration/test-daemon-journald.sh \
	tests/integration/test-daemon-restart.sh \
	tests/integration/test-daemon-loss.sh \
	tests/integration/test-daemon-stuck.sh \
	tests/integration/test-daemon-policy.sh \
	tests/integration/test-daemon-filter.sh \
	tests/integration/test-daemon-shipped.sh \
	tests/integration/test-daemon-reload.sh
TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += $(INTEGRATION_TESTS) tests/integration/lib.sh
