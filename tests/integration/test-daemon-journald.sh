#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# journald end to end: a private systemd-journald (no systemd as PID 1 needed) in a private mount
# namespace, vigild with the journald output, a marker exec read back with journalctl.
. "$top_srcdir/tests/integration/lib.sh"
require_root
JOURNALD=/lib/systemd/systemd-journald
[ -x "$JOURNALD" ] || skip_all "no systemd-journald"
command -v unshare >/dev/null || skip_all "no unshare"

if [ -z "${VIGIL_IN_NS:-}" ]; then
    # Re-run inside a private mount namespace: nothing below touches the host's journal.
    trap - EXIT; rm -rf "$T"
    VIGIL_IN_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi

J="$T/journal"; mkdir -p "$J"
mkdir -p /run/systemd/journal /run/log
mount -t tmpfs tmpfs /run/systemd/journal
mount -t tmpfs tmpfs /run/log && mkdir -p /run/log/journal && mount --bind "$J" /run/log/journal
[ -d /var/log/journal ] && mount -t tmpfs tmpfs /var/log/journal
"$JOURNALD" &
JPID=$!
trap 'cleanup; kill $JPID 2>/dev/null' EXIT
i=0; while [ ! -S /run/systemd/journal/socket ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -S /run/systemd/journal/socket ] || { ok 1 "private journald starts"; tap_done; }
ok 0 "private journald starts"

TAG="vigiljd$$"
C="$T/conf"; mkdir -p "$C/outputs.d"
printf '[Daemon]\nNodeName=jnode\nStatusIntervalSec=1s\nMetricsListen=no\n' >"$C/vigild.conf"
printf '[Output]\nPlugin=journald\n[Journald]\n' >"$C/outputs.d/journald.conf"
start_vigild "$C" || { ok 1 "vigild starts"; tap_done; }
ok 0 "vigild with the journald output starts"

sh -c "exit 3" "$TAG"
jq_sel="select(.VIGIL_EVENT == \"process_exit\" and ((.VIGIL_ARGV // \"\") | contains(\"$TAG\")))"
found=1
for i in $(seq 1 100); do
    journalctl --file "$J/*/*.journal" -o json 2>/dev/null | jq -c "$jq_sel" | grep -q . && { found=0; break; }
    sleep 0.1
done
ok $found "exit record of the marker process is in the journal"
X=$(journalctl --file "$J/*/*.journal" -o json | jq -c "select(.VIGIL_EVENT == \"process_exec\" and (.MESSAGE | contains(\"$TAG\")))" | head -n1)
R=$(journalctl --file "$J/*/*.journal" -o json | jq -c "$jq_sel" | head -n1)
is "$(echo "$X" | jq -r .SYSLOG_IDENTIFIER)" "vigil" "SYSLOG_IDENTIFIER=vigil"
is "$(echo "$X" | jq -r .VIGIL_BINARY)" "/usr/bin/dash" "VIGIL_BINARY"
check "VIGIL_PID is a number" sh -c "echo '$X' | jq -r .VIGIL_PID | grep -Eq '^[0-9]+$'"
check "VIGIL_EXEC_ID set" sh -c "echo '$X' | jq -e '(.VIGIL_EXEC_ID | length) > 10'"
check "VIGIL_ARGV holds the marker" sh -c "echo '$X' | jq -r .VIGIL_ARGV | grep -q '$TAG'"
check "MESSAGE_ID is a 128-bit id" sh -c "echo '$X' | jq -r .MESSAGE_ID | grep -Eq '^[0-9a-f]{32}$'"
is "$(echo "$R" | jq -r .VIGIL_STATUS)" "3" "VIGIL_STATUS of the exit"
check "exec and exit have different MESSAGE_IDs" sh -c "[ \"\$(echo '$X' | jq -r .MESSAGE_ID)\" != \"\$(echo '$R' | jq -r .MESSAGE_ID)\" ]"
is "$(echo "$X" | jq -r .VIGIL_NODE_NAME)" "jnode" "VIGIL_NODE_NAME"

# journald goes away: records are retried and counted, never silently dropped; when it comes
# back they are delivered.
kill $JPID; wait $JPID 2>/dev/null
sh -c "exit 4" "$TAG-while-down"
sleep 1.5
"$JOURNALD" &
JPID=$!
found=1
for i in $(seq 1 150); do
    journalctl --file "$J/*/*.journal" -o json 2>/dev/null | jq -c "select(.MESSAGE | contains(\"$TAG-while-down\"))" | grep -q . && { found=0; break; }
    sleep 0.1
done
ok $found "a record produced while journald was down is delivered after it returns"
sleep 1.2
check "the retries are counted in STATUS=" sh -c "grep '^STATUS=' '$NOTIFY_LOG' | tail -n1 | grep -Eq 'retried=[1-9]'"
stop_vigild
is "$VIGILD_STATUS" "0" "clean exit"

# vigild's own diagnostics go to the journal, with structured fields, when $JOURNAL_STREAM names
# its stderr (as systemd sets it for a service); systemd-cat connects stderr to journald here.
L="$T/logtest"; mkdir -p "$L/vigild.conf.d"
printf '[Sensor]\nRingBuferSize=8M\n' >"$L/vigild.conf.d/50-typo.conf"
systemd-cat -t vigild-logtest sh -c 'JOURNAL_STREAM=$(stat -L -c "%d:%i" /proc/self/fd/2) exec "$0" --config-dir "$1" --validate' "$VIGILD" "$L"
found=1
for i in $(seq 1 50); do
    journalctl --file "$J/*/*.journal" -o json 2>/dev/null | jq -c 'select((.MESSAGE // "") | contains("RingBuferSize"))' | grep -q . && { found=0; break; }
    sleep 0.1
done
ok $found "vigild's warning reached the journal"
W=$(journalctl --file "$J/*/*.journal" -o json | jq -c 'select((.MESSAGE // "") | contains("RingBuferSize"))' | head -n1)
is "$(echo "$W" | jq -r .PRIORITY)" "4" "logged natively at warning priority (not as a stderr stream line)"
check "with CODE_FILE and CODE_LINE" sh -c "echo '$W' | jq -e '(.CODE_FILE | length) > 0 and (.CODE_LINE | tonumber) > 0'"
tap_done
