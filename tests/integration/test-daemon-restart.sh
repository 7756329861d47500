#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# exec_id is stable for one process image across a vigild restart: the exec seen live by one
# daemon and the exit seen by the next one (which learned the process from /proc) carry the
# same exec_id, and the parent link survives too.
. "$top_srcdir/tests/integration/lib.sh"
require_root

TAG="vigilrs$$"
C="$T/conf"; make_config "$C"; E="$C/events.json"

start_vigild "$C" || { ok 1 "first vigild starts"; tap_done; }
sh -c 'sleep 300; true' "$TAG" >/dev/null 2>&1 &
LONG=$!
wait_for "$E" "select(.process_exec.process.pid == $LONG)"
ok $? "first vigild sees the exec"
ID1=$(jq -r "select(.process_exec.process.pid == $LONG) | .process_exec.process.exec_id" "$E" | head -n1)
PID1=$(jq -r "select(.process_exec.process.pid == $LONG) | .process_exec.process.parent_exec_id" "$E" | head -n1)
stop_vigild
is "$VIGILD_STATUS" "0" "first vigild stops cleanly"

mv "$E" "$E.first"
start_vigild "$C" || { ok 1 "second vigild starts"; tap_done; }
pkill -TERM -P $LONG; wait $LONG 2>/dev/null  # its sleep dies, then the shell exits
wait_for "$E" "select(.process_exit.process.pid == $LONG)"
ok $? "second vigild sees the exit"
R=$(jq -c "select(.process_exit.process.pid == $LONG) | .process_exit.process" "$E" | head -n1)
is "$(echo "$R" | jq -r .exec_id)" "$ID1" "exec_id after the restart equals the one seen live"
is "$(echo "$R" | jq -r .parent_exec_id)" "$PID1" "parent_exec_id is stable too"
check "the process is flagged procFS by the second daemon" sh -c "echo '$R' | jq -r .flags | grep -qw procFS"
is "$(echo "$R" | jq -r '.argv[-1]')" "$TAG" "argv read back from /proc"
stop_vigild
tap_done
