# SPDX-License-Identifier: GPL-2.0-or-later
# Benchmarks: built on demand (`make bench` as root runs them); never part of `make check`.
EXTRA_PROGRAMS = bench/execstorm bench/bench-pipeline bench/openstorm
bench_execstorm_SOURCES = bench/execstorm.c
bench_openstorm_SOURCES = bench/openstorm.c
bench_openstorm_LDADD = -lpthread
bench_bench_pipeline_SOURCES = bench/bench-pipeline.c
bench_bench_pipeline_CFLAGS = $(TEST_CFLAGS) -O2
bench_bench_pipeline_LDADD = daemon/libvigild.la plugins/common/libvigil-common.la
CLEANFILES += $(EXTRA_PROGRAMS)
EXTRA_DIST += bench/run.sh bench/policy.sh

bench: all tests/integration/notify-recorder
	$(top_srcdir)/bench/run.sh $(abs_top_builddir)
	$(top_srcdir)/bench/policy.sh $(abs_top_builddir)
.PHONY: bench
include bench/outputs.mk
