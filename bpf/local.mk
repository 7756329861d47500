# SPDX-License-Identifier: GPL-2.0-or-later
# BPF: each hook family is a CO-RE object; bpftool links them into one vigil.bpf.o and
# generates one skeleton (STYLE.md §3.4.6).
VIGIL_BPF_SRC = bpf/proc.bpf.c
VIGIL_BPF_SRC += bpf/policy.bpf.c
VIGIL_BPF_SRC += bpf/net.bpf.c
VIGIL_BPF_HDR = bpf/events.h bpf/maps.bpf.h bpf/helpers.bpf.h bpf/vmlinux/x86/vmlinux.h
VIGIL_BPF_HDR += bpf/policy_eval.bpf.h
VIGIL_BPF_HDR += bpf/policy.h bpf/filter.bpf.h
EXTRA_DIST += $(VIGIL_BPF_SRC) $(VIGIL_BPF_HDR) tools/gen-vmlinux.sh

BPF_CFLAGS = -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(BPF_ARCH) \
	-I$(top_srcdir)/bpf/vmlinux/$(BPF_ARCH) -I$(top_srcdir)/bpf -I$(top_srcdir)

VIGIL_BPF_OBJ = $(VIGIL_BPF_SRC:.bpf.c=.tmp.bpf.o)

bpf/%.tmp.bpf.o: $(top_srcdir)/bpf/%.bpf.c $(addprefix $(top_srcdir)/,$(VIGIL_BPF_HDR))
	$(AM_V_GEN)$(MKDIR_P) bpf && $(CLANG) $(BPF_CFLAGS) -c $< -o $@

bpf/vigil.bpf.o: $(VIGIL_BPF_OBJ)
	$(AM_V_GEN)$(BPFTOOL) gen object $@ $(VIGIL_BPF_OBJ) && $(LLVM_STRIP) -g $@

bpf/vigil.skel.h: bpf/vigil.bpf.o
	$(AM_V_GEN)$(BPFTOOL) gen skeleton $< name vigil_bpf > $@.tmp && mv $@.tmp $@

BUILT_SOURCES += bpf/vigil.skel.h
CLEANFILES += bpf/vigil.skel.h bpf/vigil.bpf.o $(VIGIL_BPF_OBJ)
