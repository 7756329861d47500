#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# SIGTERM while a sink is stuck: vigild's standard output is a FIFO that nobody reads, so the
# stdout output cannot write. vigild must still exit within its stop deadline (5 s) plus the
# bounded join, and report what the stuck output never delivered, instead of hanging forever.
. "$top_srcdir/tests/integration/lib.sh"
require_root
command -v timeout >/dev/null || skip_all "timeout not installed"

C="$T/conf"; make_config "$C"; E="$C/events.json"
cat >"$C/outputs.d/stdout.conf" <<EOC
[Output]
Plugin=stdout
[Stdout]
Format=json
EOC
mkfifo "$T/fifo"
# Held open read-write so opening the FIFO for writing does not wait for a reader; never read.
exec 3<>"$T/fifo"
start_vigild "$C" >"$T/fifo" || { ok 1 "vigild starts with stdout on a FIFO"; tap_done; }
ok 0 "vigild starts with stdout on a FIFO"

# 300 exec records (some 1 KiB each as JSON) overflow the 64 KiB pipe many times.
TAG="vigilstuck$$"
i=0
while [ $i -lt 300 ]; do /bin/true "$TAG"; i=$((i + 1)); done
wait_for "$E" "select(.process_exec.process.argv[1]? == \"$TAG\")"
ok $? "the file output still delivers while the stdout output is stuck"
sleep 1

kill -TERM "$VIGILD_PID"
# wait(1) cannot time out: poll for the exit, at most 10 s.
i=0
while kill -0 "$VIGILD_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$VIGILD_PID" 2>/dev/null; then
    ok 1 "vigild exits within 10 s of SIGTERM"
    kill -KILL "$VIGILD_PID"; wait "$VIGILD_PID" 2>/dev/null; VIGILD_PID=""
    sed 's/^/#   /' "$VIGILD_LOG"
    tap_done
fi
ok 0 "vigild exits within 10 s of SIGTERM"
wait "$VIGILD_PID"; VIGILD_STATUS=$?; VIGILD_PID=""
diag "exit status $VIGILD_STATUS"
grep -E "Output 'stdout'(: [0-9]+ records not delivered before the stop deadline, dropped| is stuck in a plugin call, abandoning it)" "$VIGILD_LOG" >"$T/lost"
ok $? "the stuck output's undelivered records are reported in the log"
diag "$(cat "$T/lost")"
N=$(sed -n 's/.* \([0-9][0-9]*\) records not delivered.*/\1/p' "$T/lost" | head -n1)
[ "${N:-0}" -gt 0 ]
ok $? "and their number is not zero"
exec 3<&-
tap_done
