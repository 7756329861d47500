# SPDX-License-Identifier: GPL-2.0-or-later
# End-to-end delivery guarantees (issue 4): outage, kill -9, spool cap, disk full; real vigild,
# real BPF, the Elasticsearch fake. Root only.
check_PROGRAMS += tests/delivery/open-pacer
tests_delivery_open_pacer_SOURCES = tests/delivery/open-pacer.c
TESTS += tests/delivery/test-daemon-delivery.sh
EXTRA_DIST += tests/delivery/test-daemon-delivery.sh
