# SPDX-License-Identifier: GPL-2.0-or-later
# vigilctl and the control socket against the real daemon (root: real BPF; SKIP otherwise).
CONTROL_TESTS = tests/control/test-vigilctl.sh
TESTS += $(CONTROL_TESTS)
EXTRA_DIST += $(CONTROL_TESTS)
