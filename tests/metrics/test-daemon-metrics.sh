#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The real vigild with MetricsListen= on a free port, scraped with curl: event counters move
# with exec'ed markers, the file output's counters match what the file received, the scrape
# passes `promtool check metrics`, BPF program statistics appear while statistics are on, and
# a port already in use is a start-up error.
. "$top_srcdir/tests/integration/lib.sh"
require_root
for tool in curl python3; do
    command -v $tool >/dev/null || skip_all "$tool not installed"
done
HOLD="$top_builddir/tests/metrics/bpf-stats-hold"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
C="$T/conf"
make_config "$C"
E="$C/events.json"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT/metrics"
# Quiet: the tools this test runs (curl, jq, wc, sh...) and other vigil builds on this machine
# are excluded in the kernel, so the file output settles and its counters can be compared.
cat >>"$C/vigild.conf" <<EOC
CloneEvents=no
ExcludeBinaries=/usr/ /bin/ /sbin/ /lib/ /opt/ /tmp/b- /work/ $top_builddir/
EOC
printf '[Daemon]\nMetricsListen=127.0.0.1:%s\n' "$PORT" >"$C/vigild.conf.d/50-metrics.conf"
mkdir -p "$T/bin"
cp /bin/true "$T/bin/marker"

start_vigild "$C" || { ok 1 "vigild starts"; tap_done; }
ok 0 "vigild starts with MetricsListen=127.0.0.1:$PORT"
check "the log names the metrics address" grep -q "Serving metrics on http://127.0.0.1:$PORT/metrics" "$VIGILD_LOG"

scrape() { curl -sf --max-time 30 "$URL" >"$T/m.txt"; }
# metric 'NAME{LABELS}': the value of one series of the last scrape (empty if absent).
metric() { awk -v k="$1" '$1 == k { print $2 }' "$T/m.txt"; }

scrape
ok $? "GET /metrics answers 200"
is "$(curl -s -o /dev/null -w '%{content_type}' "$URL")" "text/plain; version=0.0.4; charset=utf-8" "content type of the text format 0.0.4"
is "$(metric 'vigil_up')" "1" "vigil_up is 1"
check "vigil_build_info carries the version" grep -q '^vigil_build_info{version="[^"]*"} 1$' "$T/m.txt"
exec0=$(metric 'vigil_events_total{type="process_exec"}')
exit0=$(metric 'vigil_events_total{type="process_exit"}')
kern0=$(metric 'vigil_kernel_events_total')
diag "before the markers: exec=$exec0 exit=$exit0 kernel=$kern0"

# Five markers, with BPF run-time statistics on while they run (when the kernel allows it).
TAG="vigilmetrics$$"
markers() { for i in 1 2 3 4 5; do "$T/bin/marker" "$TAG-$i"; done; }
"$HOLD" sh -c 'for i in 1 2 3 4 5; do "$0" "$1-$i"; done' "$T/bin/marker" "$TAG"
hold=$?
[ $hold -eq 0 ] || { diag "bpf-stats-hold exited $hold: markers run without statistics"; markers; }
wait_for "$E" "select(.process_exit.process.argv[1]? == \"$TAG-5\")" 20
ok $? "the markers reached the file output"

# The snapshot is refreshed every second: wait (generously) until it shows the markers.
i=0
while :; do
    scrape
    e=$(metric 'vigil_events_total{type="process_exec"}'); x=$(metric 'vigil_events_total{type="process_exit"}')
    k=$(metric 'vigil_kernel_events_total')
    [ "$e" -ge $((exec0 + 5)) ] && [ "$x" -ge $((exit0 + 5)) ] && [ "$k" -ge $((kern0 + 10)) ] && break
    i=$((i + 1)); [ $i -lt 60 ] || break
    sleep 0.5
done
ok $([ "$e" -ge $((exec0 + 5)) ]; echo $?) "vigil_events_total{type=process_exec} counted the 5 markers ($exec0 -> $e)"
ok $([ "$x" -ge $((exit0 + 5)) ]; echo $?) "vigil_events_total{type=process_exit} counted their exits ($exit0 -> $x)"
ok $([ "$k" -ge $((kern0 + 10)) ]; echo $?) "vigil_kernel_events_total moved ($kern0 -> $k)"

# The file output's counters against the file: every line is one delivered record. The
# snapshot is older than the count, so delivered <= lines always, and equal once settled.
i=0; never_more=0
while :; do
    scrape
    d=$(metric 'vigil_output_delivered_total{output="file"}')
    lines=$(wc -l <"$E")
    [ "$d" -le "$lines" ] || { never_more=1; diag "delivered $d > $lines lines in the file"; }
    [ "$d" -eq "$lines" ] && break
    i=$((i + 1)); [ $i -lt 60 ] || break
    sleep 0.5
done
is "$d" "$lines" "vigil_output_delivered_total{output=file} equals the records in the file"
is "$never_more" "0" "never more records counted delivered than the file received"
is "$(metric 'vigil_output_dropped_total{output="file"}')" "0" "nothing dropped by the file output"
is "$(metric 'vigil_events_lost_total{stage="queue",output="file"}')" "0" "no queue loss"
is "$(metric 'vigil_output_info{output="file",plugin="file"}')" "1" "vigil_output_info names the plugin"
n=$(metric 'vigil_output_send_duration_seconds_count{output="file"}')
ok $([ "${n:-0}" -gt 0 ]; echo $?) "send latency histogram counted batches ($n)"
is "$(metric 'vigil_output_send_duration_seconds_bucket{output="file",le="+Inf"}')" "$n" "its +Inf bucket equals its count"
ok $([ "$(metric 'vigil_process_cache_entries')" -gt 0 ]; echo $?) "process cache size is exported"

if [ $hold -eq 0 ]; then
    runs=$(awk '/^vigil_bpf_program_runs_total\{program="handle_/ && $2 > 0' "$T/m.txt" | wc -l)
    ok $([ "$runs" -gt 0 ]; echo $?) "BPF programs that ran while statistics were on report runs ($runs)"
    check "and run time" sh -c "awk '/^vigil_bpf_program_run_time_seconds_total/ && \$2 > 0' '$T/m.txt' | grep -q ."
else
    echo "ok $((TAP_N + 1)) # SKIP BPF_ENABLE_STATS unavailable"; TAP_N=$((TAP_N + 1))
fi

if command -v promtool >/dev/null; then
    promtool check metrics <"$T/m.txt" >"$T/promtool.out" 2>&1
    st=$?
    [ -s "$T/promtool.out" ] && st=1
    ok $st "promtool check metrics is clean"
    [ $st -eq 0 ] || sed 's/^/#   /' "$T/promtool.out"
elif [ -n "${CI:-}" ]; then
    ok 1 "promtool is not installed (apt-get install prometheus)"
else
    echo "ok $((TAP_N + 1)) # SKIP promtool not installed"; TAP_N=$((TAP_N + 1))
fi

# A second daemon on the same address fails at start-up with a clear message.
C2="$T/conf2"
make_config "$C2"
cp "$C/vigild.conf.d/50-metrics.conf" "$C2/vigild.conf.d/"
STATE_DIRECTORY="$C2/state" RUNTIME_DIRECTORY="$C2/run" timeout 60 \
    "$VIGILD" --config-dir "$C2" --plugin-dir "$PLUGIN_DIR" >/dev/null 2>"$C2/vigild.log"
st=$?
ok $([ $st -ne 0 ] && [ $st -ne 124 ]; echo $?) "a second vigild on the same port exits non-zero ($st)"
check "naming the address and the reason" grep -q "Failed to listen for metrics on 127.0.0.1:$PORT: Address already in use" "$C2/vigild.log"
[ $st -ne 0 ] || diag "$(cat "$C2/vigild.log")"

stop_vigild
is "$VIGILD_STATUS" "0" "SIGTERM: exit status 0"
ok $(curl -s --max-time 5 -o /dev/null "$URL"; [ $? -ne 0 ]; echo $?) "the metrics port is closed after stop"

# The default address (MetricsListen= not set) taken: vigild runs, without metrics, and warns.
# Only when this test holds the port itself: someone else's listener may go away any time.
python3 -c '
import socket, sys, time
s = socket.socket()
try:
    s.bind(("127.0.0.1", 9847)); s.listen()
except OSError:
    sys.exit(1)
open(sys.argv[1], "w").write("bound")
time.sleep(120)
' "$T/holder.ready" &
HOLDER=$!
i=0; while [ ! -s "$T/holder.ready" ] && kill -0 $HOLDER 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ -s "$T/holder.ready" ]; then
    C3="$T/conf3"
    make_config "$C3"
    printf '[Daemon]\nMetricsListen=\n' >"$C3/vigild.conf.d/50-default.conf" # reset to the default
    if start_vigild "$C3"; then
        ok 0 "with the default address taken, vigild still starts"
        check "and warns that it runs without metrics" grep -q "Failed to listen for metrics on 127.0.0.1:9847: Address already in use; running without metrics" "$VIGILD_LOG"
        stop_vigild
    else
        ok 1 "with the default address taken, vigild still starts"
    fi
else
    echo "ok $((TAP_N + 1)) # SKIP port 9847 is in use by another process"; TAP_N=$((TAP_N + 1))
fi
kill $HOLDER 2>/dev/null; wait $HOLDER 2>/dev/null
tap_done
