#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The spool on a full disk: a 1 MiB tmpfs in a private mount namespace (gone when the test
# exits), filled by tests/spool/spool-driver until ENOSPC. The spool must report the error,
# count it, not crash, keep every record it reported as committed, and work again once
# acknowledging frees the space. Root only (mount); exit 77 otherwise.
. "$top_srcdir/tests/integration/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (mount)"
[ -z "${VIGIL_SKIP_ROOT_TESTS:-}" ] || skip_all "VIGIL_SKIP_ROOT_TESTS is set"
command -v unshare >/dev/null || skip_all "unshare not installed"
unshare -m true 2>/dev/null || skip_all "cannot create a mount namespace"

DRIVER="$top_builddir/tests/spool/spool-driver"
mkdir -p "$T/mnt"
unshare -m sh -c 'mount -t tmpfs -o size=1m,mode=0700 vigil-spool-test "$1" && exec "$2" "$1/spool"' \
    sh "$T/mnt" "$DRIVER" >"$T/out" 2>"$T/err"
rc=$?
sed 's/^/# /' "$T/out"
grep -v '^vigild: ' "$T/err" | sed 's/^/# stderr: /'

val() { sed -n "s/^$1=//p" "$T/out"; }

is "$rc" 0 "driver ran without crashing and saw no violated expectation"
is "$(val first_error)" "-28" "filling the tmpfs fails with -ENOSPC"
committed=$(val committed)
ok "$([ "${committed:-0}" -gt 100 ] && echo 0 || echo 1)" "records were committed before the disk filled ($committed)"
ok "$([ "$(val write_errors)" -gt 0 ] 2>/dev/null && echo 0 || echo 1)" "write errors are counted"
ok "$([ "$(val read)" -ge "${committed:-1}" ] 2>/dev/null && echo 0 || echo 1)" "every committed record is read back"
# The disk fills in the middle of a segment: the frame cut there is a torn tail for the reader.
is "$(val corrupt)" "1" "the frame torn by the failed write is skipped and counted once"
is "$(val commit_after_ack)" "0" "appends work again once acknowledged segments are deleted"
is "$(val replayed_after_reopen)" "20" "records appended after the disk-full episode survive a reopen"
ok "$(grep -q 'failed to write' "$T/err" && echo 0 || echo 1)" "the write error is logged"
ok "$(grep -q "$T/mnt" /proc/self/mounts && echo 1 || echo 0)" "the tmpfs is not visible outside the namespace"
tap_done
