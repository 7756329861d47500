#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Loss reporting end to end: a ring buffer overflow and an output queue overflow both show up
# as vigil_loss records in the output and as drops(...)= in STATUS=, and vigild still exits 0.
. "$top_srcdir/tests/integration/lib.sh"
require_root

# storm N-SHELLS N-EXECS-EACH: fork+exec /bin/true from several shells at once.
storm() {
    pids=""
    s=0
    while [ $s -lt "$1" ]; do
        sh -c "i=0; while [ \$i -lt $2 ]; do /bin/true; i=\$((i + 1)); done" &
        pids="$pids $!"
        s=$((s + 1))
    done
    for p in $pids; do wait "$p"; done
}

# status_max STAGE: the largest drops(STAGE)= seen in STATUS= so far (0 if none).
status_max() {
    sed -n "s/.*drops($1)=\([0-9]*\).*/\1/p" "$NOTIFY_LOG" | sort -n | tail -n1 | grep . || echo 0
}

# wait_status STAGE: until STATUS= reports non-zero drops(STAGE)= (10 s).
wait_status() {
    i=0
    while [ $i -lt 100 ]; do
        [ "$(status_max "$1")" -gt 0 ] && return 0
        i=$((i + 1)); sleep 0.1
    done
    return 1
}

# 1. Kernel: the smallest ring buffer (4K, the minimum daemon/config.c accepts) overflows.
C="$T/kernel"
make_config "$C"
printf '[Sensor]\nRingBufferSize=4K\n' >"$C/vigild.conf.d/50-small.conf"
start_vigild "$C" || { ok 1 "vigild starts with RingBufferSize=4K"; tap_done; }
ok 0 "vigild starts with RingBufferSize=4K"
E="$C/events.json"

# Several rounds at most: one is normally plenty, but losses depend on scheduling.
round=0
while [ $round -lt 5 ]; do
    storm 8 400
    wait_for "$E" 'select(.vigil_loss.stage? == "kernel")' 3 && break
    round=$((round + 1))
done
wait_for "$E" 'select(.vigil_loss.stage? == "kernel" and .vigil_loss.count > 0)' 5
ok $? "a vigil_loss record with stage kernel and count > 0 reaches the output"
REC=$(jq -c 'select(.vigil_loss.stage? == "kernel")' "$E" | head -n1)
diag "loss record: $REC"
check "loss record: total >= count, reason, node_name, time" sh -c "echo '$REC' | jq -e '
    .vigil_loss.total >= .vigil_loss.count and .vigil_loss.reason == \"ring buffer full\" and
    .node_name == \"testnode\" and (.time | test(\"^[0-9]{4}-.*Z$\"))'"
wait_status kernel
ok $? "STATUS= shows drops(kernel)= non-zero"
diag "$(grep '^STATUS=events' "$NOTIFY_LOG" | tail -n1)"
# Counts add up: the records' counts sum to the last record's total.
# One snapshot for both sums: a loss record appended between two reads would skew them.
grep '"vigil_loss".*}$' "$E" >"$T/loss.snapshot"
SUM=$(jq -s '[.[] | select(.vigil_loss.stage? == "kernel") | .vigil_loss.count] | add' "$T/loss.snapshot")
LAST=$(jq -s '[.[] | select(.vigil_loss.stage? == "kernel") | .vigil_loss.total] | max' "$T/loss.snapshot")
is "$SUM" "$LAST" "kernel loss counts add up to the reported total"
stop_vigild
is "$VIGILD_STATUS" "0" "vigild exits 0 on SIGTERM after ring buffer losses"

# 2. Queue: an output whose sink is down (the test plugin 'record' in Mode=fatal, paused until
# the file 'healthy' appears in its state directory) with QueueSize=1 must drop; the file output
# next to it has room and carries the vigil_loss record.
FAKE_DIR="$top_builddir/tests/plugins/fake/.libs"
if [ ! -f "$FAKE_DIR/out_record.so" ]; then
    ok 1 "test plugin out_record.so is built in $FAKE_DIR"
    tap_done
fi
C="$T/queue"; P="$T/plugins"
make_config "$C"
mkdir -p "$P"
cp "$PLUGIN_DIR"/*.so "$FAKE_DIR/out_record.so" "$P/"
chmod 0755 "$P"/*.so
cat >"$C/outputs.d/slow.conf" <<EOC
[Output]
Plugin=record
QueueSize=1
BatchSize=1
RetryMaxSec=1s
[Record]
Mode=fatal
EOC
PLUGIN_DIR="$P"
start_vigild "$C" || { ok 1 "vigild starts with a stalled QueueSize=1 output"; tap_done; }
ok 0 "vigild starts with a stalled QueueSize=1 output"
E="$C/events.json"
storm 2 50
wait_for "$E" 'select(.vigil_loss.stage? == "queue" and .vigil_loss.count > 0)' 10
ok $? "a vigil_loss record with stage queue and count > 0 reaches the other output"
diag "loss record: $(jq -c 'select(.vigil_loss.stage? == "queue")' "$E" | head -n1)"
is "$(jq -r 'select(.vigil_loss.stage? == "queue") | .vigil_loss.output' "$E" | sort -u)" "slow" "queue loss names the output instance that lost the records"
wait_status queue
ok $? "STATUS= shows drops(queue)= non-zero"
check "STATUS= shows the stalled output as unhealthy" grep -q 'outputs=1/2' "$NOTIFY_LOG"
# The sink recovers: what is still queued is delivered, and the daemon stops cleanly.
touch "$C/state/output/slow/healthy"
i=0
while [ $i -lt 100 ] && ! grep -q . "$C/state/output/slow/delivered" 2>/dev/null; do
    i=$((i + 1)); sleep 0.1
done
check "the recovered sink delivers again" test -s "$C/state/output/slow/delivered"
stop_vigild
is "$VIGILD_STATUS" "0" "vigild exits 0 on SIGTERM after queue losses"
tap_done
