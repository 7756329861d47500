# SPDX-License-Identifier: GPL-2.0-or-later
# vigilctl: the control socket client (docs/control.md). It reuses the daemon's config and policy
# code for `config validate|cat` and `policy validate`, and plugins/common to render events.
bin_PROGRAMS += vigilctl
vigilctl_SOURCES = cli/vigilctl.c
vigilctl_CFLAGS = $(daemon_libvigild_la_CFLAGS) $(JSONC_CFLAGS)
vigilctl_LDADD = daemon/libvigild.la plugins/common/libvigil-common.la $(JSONC_LIBS)
dist_man_MANS += man/vigilctl.1
dist_doc_DATA += docs/control.md
