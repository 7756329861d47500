#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# vigil benchmarks, one command (root): bench/run.sh [BUILDDIR]
#  1. exec storm: fork+exec of /bin/true in alternating rounds without and with vigild running
#     (file output on tmpfs); median µs per exec both ways, their ratio, and vigild's CPU µs per
#     kernel event (sum of all its threads' schedstat run time / events).
#  2. pipeline: synthetic kernel events through decode -> enrich -> encode -> JSON -> /dev/null
#     on one core, events/s, against a memcpy-only baseline measured in the same run.
#  3. vigild RSS idle and after the storm.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$top/build}" && pwd)
ROUNDS=${ROUNDS:-5}
PER=${PER:-2000}
[ "$(id -u)" -eq 0 ] || { echo "bench/run.sh: needs root (BPF)" >&2; exit 1; }
make -C "$B" -s bench/execstorm bench/bench-pipeline tests/integration/notify-recorder >/dev/null

W=$(mktemp -d /dev/shm/vigil-bench.XXXXXX)
trap '[ -n "$VPID" ] && kill $VPID 2>/dev/null; rm -rf "$W"; true' EXIT
VPID=
mkdir -p "$W/conf/outputs.d"
printf '[Daemon]\nStatusIntervalSec=1h\n' >"$W/conf/vigild.conf"
printf '[Output]\nPlugin=file\n[File]\nPath=%s/events.json\nMaxSize=0\n' "$W" >"$W/conf/outputs.d/file.conf"

cpu_ns() { # all threads' on-CPU time of $1, ns
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d", s }'
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status; }
# The BPF ring buffer is mapped into vigild (its data area twice) and counts as RSS.
ring_kib() { awk '/^[0-9a-f]+-/ { m = ($6 == "anon_inode:bpf-map") } m && /^Rss:/ { s += $2 } END { print s + 0 }' /proc/"$1"/smaps; }
events() { [ -f "$W/events.json" ] && wc -l <"$W/events.json" || echo 0; }
start() {
    : >"$W/notify"
    STATE_DIRECTORY="$W/state" "$B/tests/integration/notify-recorder" "$W/notify" "$B/vigild" \
        --config-dir "$W/conf" --plugin-dir "$B/plugins/.libs" 2>"$W/vigild.log" &
    VPID=$!
    while ! grep -q '^READY=1' "$W/notify"; do sleep 0.05; done
    # notify-recorder's child is vigild
    VIGILD=$(pgrep -P $VPID vigild)
}
settle() { # wait until a marker exec run after the storm has been written out
    /bin/true "vigil-bench-marker-$1"
    while ! grep -q "vigil-bench-marker-$1" "$W/events.json" 2>/dev/null; do sleep 0.05; done
}
stop() { kill -TERM $VPID; wait $VPID || true; VPID=; }

echo "== exec storm: $ROUNDS rounds x $PER fork+exec of /bin/true, each way =="
without=""; with=""; cpu_total=0; ev_total=0; rss_idle=0; rss_after=0
for r in $(seq 1 "$ROUNDS"); do
    m=$("$B/bench/execstorm" "$PER" /bin/true | sed 's/.*median_us=\([0-9.]*\).*/\1/')
    without="$without $m"
    start
    [ "$r" -eq 1 ] && { sleep 2; rss_idle=$(rss_kib "$VIGILD"); ring_idle=$(ring_kib "$VIGILD"); }
    e0=$(events); c0=$(cpu_ns "$VIGILD")
    m=$("$B/bench/execstorm" "$PER" /bin/true | sed 's/.*median_us=\([0-9.]*\).*/\1/')
    settle "$r"
    c1=$(cpu_ns "$VIGILD"); e1=$(events)
    rss_after=$(rss_kib "$VIGILD")
    stop
    with="$with $m"
    cpu_total=$((cpu_total + c1 - c0)); ev_total=$((ev_total + e1 - e0))
done
median() { echo "$@" | tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
mw=$(median $without); mv=$(median $with)
echo "median µs/exec without vigild: $mw"
echo "median µs/exec with vigild:    $mv"
awk -v a="$mv" -v b="$mw" 'BEGIN { printf "exec ratio (with/without):     %.3f   (target <= 1.05)\n", a / b }'
awk -v c="$cpu_total" -v e="$ev_total" 'BEGIN { printf "vigild CPU per event:          %.2f µs (%d events; target <= 10)\n", c / 1000 / e, e }'
echo "vigild RSS idle:               $((rss_idle / 1024)) MiB ($rss_idle KiB; target <= 20 MiB), of which BPF ring buffer mapping $ring_idle KiB"
echo "vigild RSS after storm:        $((rss_after / 1024)) MiB ($rss_after KiB)"

echo "== pipeline: decode -> enrich -> encode -> JSON -> /dev/null, one core =="
taskset -c 0 "$B/bench/bench-pipeline" 2000000
