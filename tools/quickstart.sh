#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Quick start: install dependencies, build, and run vigild in the foreground on the shipped
# default configuration (conf.d/), streaming events to this terminal in compact form and to
# journald when one is running. Ctrl-C stops it. Needs root (BPF).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/tools/install-deps.sh"
"$top/tools/build.sh" "$top/build"

confdir="$top/conf.d"
if [ ! -S /run/systemd/journal/socket ]; then
    # No journald here: run on a copy of the defaults with the journald output masked
    # (a /dev/null symlink, the standard way to mask a vendor file; see vigild.conf(5)).
    confdir=$(mktemp -d /tmp/vigil-quickstart.XXXXXX)
    cp -r "$top/conf.d/." "$confdir/"
    ln -sf /dev/null "$confdir/outputs.d/journald.conf"
    echo "quickstart: no journald socket found, events go to this terminal only." >&2
fi
export STATE_DIRECTORY="${STATE_DIRECTORY:-$top/build/state}"
exec "$top/build/vigild" --config-dir "$confdir" --plugin-dir "$top/build/plugins/.libs" "$@"
