#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Configure and build in build/ (or $1). Extra arguments go to configure.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-$top/build}
[ $# -gt 0 ] && shift
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || ./autogen.sh
mkdir -p "$builddir"
cd "$builddir"
[ -f Makefile ] || "$top/configure" --enable-werror "$@"
make -j"$(nproc)"
