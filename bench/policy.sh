#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# TracingPolicy benchmarks (root): bench/policy.sh [BUILDDIR]
#  a. open storm, 4 threads x OPENS open() of a missing file: no vigild vs vigild with a policy on
#     openat that matches nothing on that path (filtered in the kernel). Ratio, target <= 1.05.
#  b. everything matched: 4 threads x MATCHED opens, all posted to the file output; events/s
#     delivered and losses, for several ring buffer sizes.
#  c. BPF cost per program run (kernel.bpf_stats_enabled=1): ns per run of each vigil program.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$top/build}" && pwd)
ROUNDS=${ROUNDS:-3}
OPENS=${OPENS:-500000}
MATCHED=${MATCHED:-25000}
[ "$(id -u)" -eq 0 ] || { echo "bench/policy.sh: needs root (BPF)" >&2; exit 1; }
make -C "$B" -s bench/openstorm tests/integration/notify-recorder >/dev/null

W=$(mktemp -d /dev/shm/vigil-bench-pol.XXXXXX)
VPID=
trap '[ -n "$VPID" ] && kill $VPID 2>/dev/null; rm -rf "$W"; true' EXIT
MISSING="$W/missing/nofile"

conf() { # conf RINGBUF POLICY-PREFIX
    rm -rf "$W/conf"; mkdir -p "$W/conf/outputs.d" "$W/conf/policy.d"
    printf '[Daemon]\nStatusIntervalSec=1h\n[Sensor]\nRingBufferSize=%s\n' "$1" >"$W/conf/vigild.conf"
    printf '[Output]\nPlugin=file\nQueueSize=65536\n[File]\nPath=%s/events.json\nMaxSize=0\n' "$W" \
        >"$W/conf/outputs.d/file.conf"
    cat >"$W/conf/policy.d/bench.yaml" <<EOP
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: bench-openat
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - index: 1
      type: filename
    - index: 2
      type: int
    selectors:
    - matchArgs:
      - index: 1
        operator: Prefix
        values: ["$2"]
EOP
}
start() {
    : >"$W/notify"; rm -f "$W/events.json"
    STATE_DIRECTORY="$W/state" "$B/tests/integration/notify-recorder" "$W/notify" "$B/vigild" \
        --config-dir "$W/conf" --plugin-dir "$B/plugins/.libs" 2>"$W/vigild.log" &
    VPID=$!
    while ! grep -q '^READY=1' "$W/notify"; do
        kill -0 $VPID 2>/dev/null || { cat "$W/vigild.log" >&2; exit 1; }
        sleep 0.05
    done
}
stop() { kill -TERM $VPID; wait $VPID || true; VPID=; }
storm() { "$B/bench/openstorm" 4 "$1" "$2" | sed 's/.*ns_per_open=\([0-9.]*\).*/\1/'; }
median() { echo "$@" | tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "== a. open storm: 4 threads x $OPENS open() of a missing file, $ROUNDS rounds each way =="
conf 4M /etc/shadow
without=""; with=""
for r in $(seq 1 "$ROUNDS"); do
    without="$without $(storm "$OPENS" "$MISSING")"
    start
    with="$with $(storm "$OPENS" "$MISSING")"
    stop
done
mw=$(median $without); mv=$(median $with)
echo "median ns/open without vigild:             $mw"
echo "median ns/open with a non-matching policy: $mv"
awk -v a="$mv" -v b="$mw" 'BEGIN { printf "open ratio (with/without): %.3f   (target <= 1.05)\n", a / b }'
if [ -n "$(grep -c '"process_kprobe"' "$W/events.json" 2>/dev/null | grep -v '^0$')" ]; then
    echo "ERROR: the non-matching policy posted events" >&2; exit 1
fi

echo "== b. every open matched: 4 threads x $MATCHED opens posted to the file output =="
for rb in 4M 16M 64M; do
    conf "$rb" "$W/missing/"
    start
    t0=$(date +%s%N)
    storm "$MATCHED" "$MISSING" >/dev/null
    /bin/true vigil-bench-marker
    while ! grep -q vigil-bench-marker "$W/events.json" 2>/dev/null; do sleep 0.05; done
    t1=$(date +%s%N)
    stop
    got=$(grep -c '"process_kprobe"' "$W/events.json" || true)
    lost=$(grep '"vigil_loss"' "$W/events.json" | grep -o '"count":[0-9]*' | awk -F: '{ s += $2 } END { print s + 0 }')
    awk -v g="$got" -v n=$((4 * MATCHED)) -v l="$lost" -v t0="$t0" -v t1="$t1" -v rb="$rb" \
        'BEGIN { printf "RingBufferSize=%-4s delivered %d of %d (%.1f%%), reported lost %d, %.0f events/s end to end\n", rb, g, n, 100 * g / n, l, g / ((t1 - t0) / 1e9) }'
done

echo "== c. BPF program cost per run (kernel.bpf_stats_enabled=1), 4 x $MATCHED opens =="
old=$(cat /proc/sys/kernel/bpf_stats_enabled)
echo 1 >/proc/sys/kernel/bpf_stats_enabled
for what in "non-matching:/etc/shadow" "matching:$W/missing/"; do
    conf 64M "${what#*:}"
    start
    storm "$MATCHED" "$MISSING" >/dev/null
    echo "-- policy ${what%%:*}"
    vpid=$(pgrep -P "$VPID")
    # this vigild's programs: the prog ids behind its BPF file descriptors
    ids=$(grep -h '^prog_id:' /proc/"$vpid"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -u | paste -sd, -)
    bpftool -j prog show 2>/dev/null | jq -r --argjson ids "[${ids:-0}]" '.[] | select(.id as $i | $ids | index($i)) | select(.name | test("^handle_")) | select(.run_cnt != null and .run_cnt > 0) | "\(.name)\t\(.run_cnt) runs\t\(.run_time_ns / .run_cnt | floor) ns/run"'
    stop
done
echo "$old" >/proc/sys/kernel/bpf_stats_enabled
