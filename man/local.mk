# SPDX-License-Identifier: GPL-2.0-or-later
dist_man_MANS += man/vigild.conf.5
dist_man_MANS += man/vigild.8
dist_man_MANS += man/vigil-policy.5
dist_man_MANS += man/vigil-outputs.5
