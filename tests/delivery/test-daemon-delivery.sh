#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The delivery guarantees of issue 4, end to end: the real vigild and real BPF (a policy on
# openat posts one process_kprobe event per open() of tests/delivery/open-pacer, each carrying
# its own number) to the Elasticsearch fake (tests/servers/fake_es.py) through the disk spool.
#   1. sink down for 60 s under 10k events/s: zero lost, order kept, no duplicate;
#   2. kill -9 of vigild with everything spooled, restart: every record delivered once;
#   3. kill -9 of vigild mid-stream with the sink up, restart: no gap, no duplicate document;
#   4. spool cap reached: the oldest dropped, counted, a vigil_loss event with stage "spool";
#   5. disk full (a 2 MiB tmpfs under the state directory): counted, no crash, delivery goes on.
# OUTAGE_SECONDS and OUTAGE_RATE (default 60 and 10000) scale part 1.
. "$top_srcdir/tests/integration/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "python3 not installed"

PACER="$top_builddir/tests/delivery/open-pacer"
FAKE_ES="$top_srcdir/tests/servers/fake_es.py"
OUTAGE_SECONDS=${OUTAGE_SECONDS:-60}
OUTAGE_RATE=${OUTAGE_RATE:-10000}
GEN="$T/gen/"        # never created: every open() fails with ENOENT, after the policy saw it
KEEP="process_kprobe.args.0.string_arg"
ES_PID=""
MOUNTED=""
trap '[ -n "$ES_PID" ] && kill $ES_PID 2>/dev/null; [ -n "$MOUNTED" ] && umount -l "$MOUNTED"; cleanup' EXIT

es_start() { # es_start [PORT]: start the fake (on PORT, or any port), set ES_PORT
    rm -f "$T/es.port"
    python3 "$FAKE_ES" --port-file "$T/es.port" --port "${1:-0}" --keep "$KEEP" &
    ES_PID=$!
    i=0; while [ ! -s "$T/es.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    ES_PORT=$(cat "$T/es.port")
}
es_stop() { kill "$ES_PID" 2>/dev/null; wait "$ES_PID" 2>/dev/null; ES_PID=""; }
# The sink down and back: every _bulk answered 503 (the fake keeps its port, which a test
# running in parallel could otherwise take while it is free).
es_down() {
    curl -sf -XPOST -H 'Content-Type: application/json' \
        -d '{"fail_status": 503, "fail_count": 1000000000}' "http://127.0.0.1:$ES_PORT/_fake/config" >/dev/null
}
es_up() {
    curl -sf -XPOST -H 'Content-Type: application/json' -d '{"fail_count": 0}' \
        "http://127.0.0.1:$ES_PORT/_fake/config" >/dev/null
}
# kill -9 of vigild itself (VIGILD_PID is notify-recorder, its parent).
kill_vigild() {
    pkill -KILL -P "$VIGILD_PID"
    i=0; while pgrep -P "$VIGILD_PID" >/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    wait "$VIGILD_PID" 2>/dev/null; VIGILD_PID=""
}
# The numbers of the stored documents, in arrival order, one per line.
es_numbers() {
    curl -sf "http://127.0.0.1:$ES_PORT/_fake/docs" |
        jq -r --arg p "$GEN" '.[] | .[] | select(. != null) | ltrimstr($p)'
}
es_count() {
    curl -sf "http://127.0.0.1:$ES_PORT/_fake/docs" | jq '[.[] | length] | add // 0'
}
wait_count() { # wait_count N SECONDS
    i=0; while [ $i -lt $(($2 * 2)) ]; do
        [ "$(es_count)" -ge "$1" ] 2>/dev/null && return 0
        sleep 0.5; i=$((i + 1))
    done
    return 1
}
# status KEY: the last STATUS= value of KEY (e.g. spooled, drops(spool)).
status() {
    grep '^STATUS=' "$NOTIFY_LOG" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$1=//p"
}
wait_status() { # wait_status KEY VALUE SECONDS
    i=0; while [ $i -lt $(($3 * 10)) ]; do
        [ "$(status "$1")" = "$2" ] && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
# check_numbers FIRST LAST: the stored numbers are exactly FIRST..LAST, each once, in order.
check_numbers() {
    es_numbers >"$T/numbers"
    seq "$1" "$2" >"$T/expected"
    cmp -s "$T/numbers" "$T/expected"
}

# conf DIR [OUTPUT-LINES...]: vigild config with the policy, an ES output and a file output
# that gets only vigil_loss events.
conf() {
    d=$1; shift
    rm -rf "$d"; mkdir -p "$d/outputs.d" "$d/policy.d"
    # A large ring buffer: CI runs other tests beside this one, and a vigild starved of CPU for
    # a second must not lose events in the kernel (that is not what this test is about).
    printf '[Daemon]\nNodeName=testnode\nStatusIntervalSec=1s\nMetricsListen=no\n' >"$d/vigild.conf"
    printf '[Sensor]\nRingBufferSize=64M\n' >>"$d/vigild.conf"
    cat >"$d/outputs.d/file.conf" <<EOC
[Output]
Plugin=file
Events=vigil_loss
[File]
Path=$d/loss.json
EOC
    {
        printf '[Output]\nPlugin=elasticsearch\nEvents=process_kprobe\nRetryMaxSec=1s\n'
        printf 'QueueSize=65536\n'
        for l in "$@"; do printf '%s\n' "$l"; done
        printf '[Elasticsearch]\nHosts=http://127.0.0.1:%s\nIndex=vigil-delivery\n' "$ES_PORT"
    } >"$d/outputs.d/es.conf"
    cat >"$d/policy.d/gen.yaml" <<EOP
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: delivery-gen
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - index: 1
      type: filename
    selectors:
    - matchArgs:
      - index: 1
        operator: Prefix
        values: ["$GEN"]
EOP
}

# --- 1. a 60 s outage under 10k events/s ------------------------------------------------------
es_start
C="$T/c1"
conf "$C"
start_vigild "$C" || { ok 1 "vigild starts"; tap_done; }
"$PACER" "$GEN" 1000 1 >/dev/null
wait_count 1000 30
ok $? "sink up: 1000 events delivered"
check_numbers 1 1000
ok $? "sink up: numbers 1..1000, in order"
es_down
N=$((OUTAGE_RATE * OUTAGE_SECONDS))
diag "sink down: $N events at $OUTAGE_RATE/s"
"$PACER" "$GEN" "$OUTAGE_RATE" "$OUTAGE_SECONDS" 1001 >/dev/null
wait_status spooled "$N" 60
ok $? "sink down: all $N events wait in the spool (STATUS spooled=$(status spooled))"
is "$(status 'drops(spool)')" "0" "sink down: nothing dropped at the spool"
is "$(status 'drops(queue)')" "0" "sink down: nothing dropped at the queue"
curl -sf -XPOST "http://127.0.0.1:$ES_PORT/_fake/reset" >/dev/null # forget part 1's first 1000
es_up
wait_count "$N" 300
ok $? "sink back: $N documents stored (have $(es_count))"
check_numbers 1001 $((1000 + N))
ok $? "sink back: numbers 1001..$((1000 + N)), each once, in the order they happened"
wait_status spooled 0 30
ok $? "the spool is empty again"
stop_vigild
is "$VIGILD_STATUS" "0" "vigild stops cleanly"
es_stop

# --- 2. kill -9 with everything spooled --------------------------------------------------------
es_start
es_down
C="$T/c2"
conf "$C"
start_vigild "$C" || { ok 1 "vigild starts"; tap_done; }
"$PACER" "$GEN" 5000 4 >/dev/null
wait_status spooled 20000 30
st=$?
[ $st -eq 0 ] || diag "$(grep '^STATUS=events' "$NOTIFY_LOG" | tail -n 1)"
ok $st "20000 events spooled with the sink down"
kill_vigild
es_up
start_vigild "$C" || { ok 1 "vigild restarts on the same spool"; tap_done; }
grep -q "20000 records in the spool from an earlier run" "$VIGILD_LOG"
ok $? "the restarted vigild finds the 20000 spooled records"
wait_count 20000 120
check_numbers 1 20000
ok $? "after kill -9 and restart: numbers 1..20000 delivered, each once, in order"
stop_vigild
es_stop

# --- 3. kill -9 mid-stream with the sink up ------------------------------------------------------
es_start
C="$T/c3"
conf "$C"
start_vigild "$C" || { ok 1 "vigild starts"; tap_done; }
"$PACER" "$GEN" 5000 4 >/dev/null &
GEN_PID=$!
sleep 2
kill_vigild
wait "$GEN_PID"
BEFORE=$(es_count)
start_vigild "$C" || { ok 1 "vigild restarts"; tap_done; }
sleep 3
wait_status spooled 0 60
AFTER=$(es_count)
diag "documents before the restart: $BEFORE, after: $AFTER"
[ "$AFTER" -ge "$BEFORE" ] && [ "$AFTER" -gt 0 ]
ok $? "documents stored before and after the crash"
check_numbers 1 "$AFTER"
ok $? "no gap and no duplicate document: numbers 1..$AFTER (deterministic _id)"
DUP=$(curl -sf "http://127.0.0.1:$ES_PORT/_fake/requests" | jq '[.requests[].actions // 0] | add')
diag "bulk actions sent: $DUP for $AFTER documents"
stop_vigild
es_stop

# --- 4. the spool cap ------------------------------------------------------------------------------
es_start
es_down
C="$T/c4"
conf "$C" "SpoolMaxSize=1M"
start_vigild "$C" || { ok 1 "vigild starts"; tap_done; }
"$PACER" "$GEN" 5000 4 >/dev/null
i=0; while [ "$(status 'drops(spool)')" = "0" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
DROPPED=$(status 'drops(spool)')
[ "${DROPPED:-0}" -gt 0 ]
ok $? "spool cap: the oldest records dropped and counted (drops(spool)=$DROPPED)"
wait_for "$C/loss.json" 'select(.vigil_loss.stage == "spool" and .vigil_loss.output == "es")' 10
ok $? "spool cap: a vigil_loss event with stage spool names the output"
es_up
sleep 2
wait_status spooled 0 60
STORED=$(es_count)
LOST=$(jq -s '[.[] | select(.vigil_loss.stage == "spool") | .vigil_loss.count] | add' "$C/loss.json")
diag "stored $STORED, reported lost $LOST"
is "$((STORED + LOST))" "20000" "spool cap: stored + reported lost = 20000 generated"
es_numbers >"$T/numbers"
is "$(tail -n 1 "$T/numbers")" "20000" "spool cap: the newest record survived"
sort -n "$T/numbers" | cmp -s - "$T/numbers"
ok $? "spool cap: what was delivered is in order"
stop_vigild
es_stop

# --- 5. disk full ------------------------------------------------------------------------------------
es_start
es_down
C="$T/c5"
conf "$C"
mkdir -p "$C/state"
if mount -t tmpfs -o size=2m vigil-delivery "$C/state"; then
    MOUNTED="$C/state"
    start_vigild "$C" || { ok 1 "vigild starts on a small disk"; tap_done; }
    "$PACER" "$GEN" 5000 4 >/dev/null
    i=0; while [ "$(status 'drops(spool)')" = "0" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    [ "$(status 'drops(spool)')" -gt 0 ]
    ok $? "disk full: lost records counted (drops(spool)=$(status 'drops(spool)'))"
    grep -q "No space left on device\|cannot write" "$VIGILD_LOG"
    ok $? "disk full: the write error is logged"
    kill -0 "$VIGILD_PID"
    ok $? "disk full: vigild keeps running"
    es_up
    wait_status spooled 0 60
    ok $? "disk full: what fitted is delivered once the sink is back"
    "$PACER" "$GEN" 1000 1 30001 >/dev/null
    i=0; while ! es_numbers | grep -qx 31000 && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    es_numbers | grep -qx 31000
    ok $? "disk full: delivery goes on after the disk has room again"
    stop_vigild
    is "$VIGILD_STATUS" "0" "disk full: vigild stops cleanly"
    es_stop
else
    diag "cannot mount a tmpfs here; disk-full part skipped"
fi
tap_done
