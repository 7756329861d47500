# SPDX-License-Identifier: GPL-2.0-or-later
# BPF base sensor: loads the real programs as root (exit 77 = SKIP otherwise).
check_PROGRAMS += tests/integration/test-bpf-sensor
TESTS += tests/integration/test-bpf-sensor
tests_integration_test_bpf_sensor_SOURCES = tests/integration/test-bpf-sensor.c tests/harness/tap.h
tests_integration_test_bpf_sensor_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_bpf_sensor_LDADD = daemon/libvigild.la
