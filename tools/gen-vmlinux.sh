#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Regenerate bpf/vmlinux/<arch>/vmlinux.h from the running kernel's BTF.
#
#   tools/gen-vmlinux.sh [BTF-FILE]     (default /sys/kernel/btf/vmlinux)
#
# Why the header is checked in rather than generated at build time: builds must work on
# machines without kernel BTF (Debian/RPM package builders, containers, CI runners with old
# kernels). The BPF objects are CO-RE: libbpf relocates every field access against the BTF of
# the kernel they are loaded on, so the header only has to be a superset of the types and
# fields we read; it does not have to match the build host's or the target's kernel. Regenerate
# it when a sensor needs a type or field the current header lacks, from a recent kernel, and
# commit the result. Each architecture has its own header (bpf/vmlinux/x86, bpf/vmlinux/arm64).
set -eu

btf=${1:-/sys/kernel/btf/vmlinux}
srcdir=$(cd "$(dirname "$0")/.." && pwd)

case $(uname -m) in
x86_64) arch=x86 ;;
aarch64) arch=arm64 ;;
*)
	echo "gen-vmlinux.sh: unsupported architecture $(uname -m)" >&2
	exit 1
	;;
esac

if [ ! -r "$btf" ]; then
	echo "gen-vmlinux.sh: $btf is not readable: this kernel has no BTF (CONFIG_DEBUG_INFO_BTF)" >&2
	exit 1
fi
if ! command -v bpftool >/dev/null 2>&1; then
	echo "gen-vmlinux.sh: bpftool not found (apt-get install bpftool)" >&2
	exit 1
fi

out="$srcdir/bpf/vmlinux/$arch/vmlinux.h"
mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
bpftool btf dump file "$btf" format c >"$tmp"
# bpftool's output already carries the __VMLINUX_H__ guard and preserve_access_index.
grep -q '__VMLINUX_H__' "$tmp" || {
	echo "gen-vmlinux.sh: unexpected bpftool output (no __VMLINUX_H__ guard)" >&2
	exit 1
}
chmod 644 "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "gen-vmlinux.sh: wrote $out from $btf ($(uname -r))"
