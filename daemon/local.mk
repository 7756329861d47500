# SPDX-License-Identifier: GPL-2.0-or-later
# Everything but main.c goes into a convenience library so unit tests link the real code.
noinst_LTLIBRARIES += daemon/libvigild.la
daemon_libvigild_la_SOURCES = \
	daemon/util/macro.h daemon/util/fmt.h \
	daemon/log.c daemon/log.h \
	daemon/config.c daemon/config.h \
	daemon/event.c daemon/event.h \
	daemon/record.c daemon/record.h \
	daemon/proc_cache.c daemon/proc_cache.h \
	daemon/cgroup.c daemon/cgroup.h \
	daemon/plugin_host.c daemon/plugin_host.h \
	daemon/bpf_loader.c daemon/bpf_loader.h \
	daemon/manager.c daemon/manager.h \
	daemon/policy.h daemon/policy_parse.c \
	daemon/policy_compile.c daemon/policy_compile.h daemon/tracefs.c \
	daemon/policy_engine.c daemon/policy_engine.h \
	daemon/spool.c daemon/spool.h \
	daemon/metrics.c daemon/metrics.h \
	bpf/events.h bpf/policy.h include/vigil/plugin.h
nodist_daemon_libvigild_la_SOURCES = bpf/vigil.skel.h
daemon_libvigild_la_CFLAGS = $(AM_CFLAGS) $(LIBBPF_CFLAGS) $(LIBSYSTEMD_CFLAGS) $(MSGPACK_CFLAGS) $(XXHASH_CFLAGS) \
	$(YAML_CFLAGS) $(MICROHTTPD_CFLAGS)
daemon_libvigild_la_LIBADD = $(LIBBPF_LIBS) $(LIBSYSTEMD_LIBS) $(MSGPACK_LIBS) $(LIBELF_LIBS) \
	$(YAML_LIBS) $(MICROHTTPD_LIBS) -ldl -lz

sbin_PROGRAMS += vigild
vigild_SOURCES = daemon/main.c
vigild_CFLAGS = $(daemon_libvigild_la_CFLAGS)
vigild_LDADD = daemon/libvigild.la

# Control socket (vigilctl): JSON lines with json-c; record filters and base64 from plugins/common.
daemon_libvigild_la_SOURCES += daemon/control.c daemon/control.h
daemon_libvigild_la_CFLAGS += $(JSONC_CFLAGS)
daemon_libvigild_la_LIBADD += $(JSONC_LIBS)
vigild_LDADD += plugins/common/libvigil-common.la
