#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Output benchmarks (issue 4 §6; method and results in docs/benchmarks-outputs.md):
#   bench/outputs.sh [BUILDDIR]
# For each sink (Kafka: librdkafka's mock cluster; Elasticsearch and Splunk HEC: the node stubs in
# bench/stubs/), push N process_exec records through the real plugin host and plugin
# (bench/bench-outputs), acks on, with the spool (Spool=auto, the default) and without
# (Spool=no), then push the same N records, rendered as JSON lines, through syslog-ng started
# standalone to the same sink. Each measurement is the median of RUNS runs. Prints events/s, CPU
# per event, the vigil/syslog-ng ratio and losses. Root is not needed. Not part of make check.
# Environment: N (200000), RUNS (3), SINKS ("kafka elasticsearch splunk_hec"), BATCH (2048: vigil
# BatchSize= and syslog-ng batch-lines()), SLNG_HTTP_WORKERS (1), TIMEOUT (120 s per run).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$top/build}" && pwd)
N=${N:-200000}
RUNS=${RUNS:-3}
SINKS=${SINKS:-kafka elasticsearch splunk_hec}
BATCH=${BATCH:-2048}
SLNG_HTTP_WORKERS=${SLNG_HTTP_WORKERS:-1}
TIMEOUT=${TIMEOUT:-120}
HZ=$(getconf CLK_TCK)

say() { echo "bench/outputs.sh: $*" >&2; }

targets="bench/bench-outputs bench/stubs/kafka-sink plugins/out_kafka.la"
for p in elasticsearch splunk_hec; do
	[ -f "$top/plugins/out_$p.c" ] && targets="$targets plugins/out_$p.la"
done
# shellcheck disable=SC2086
make -C "$B" -s $targets >/dev/null || { say "build failed"; exit 1; }
PLUGINS=$B/plugins/.libs

W=$(mktemp -d /dev/shm/vigil-bench-outputs.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

have_slng=yes
if ! command -v syslog-ng >/dev/null || ! command -v syslog-ng-ctl >/dev/null; then
	have_slng=no
	say "syslog-ng not found: skipping the comparison (apt-get install syslog-ng-core" \
	    "syslog-ng-mod-rdkafka syslog-ng-mod-http)"
elif [ ! -e /usr/lib/syslog-ng/*/libkafka.so ] || [ ! -e /usr/lib/syslog-ng/*/libhttp.so ]; then
	say "syslog-ng's kafka or http module is missing: comparison only where present"
fi
slng_mod() { ls /usr/lib/syslog-ng/*/lib"$1".so >/dev/null 2>&1; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

say "rendering $N records as JSON lines for syslog-ng"
"$B/bench/bench-outputs" json "$N" "$W/input.json"

# --- sinks ---
topics=""
for r in $(seq "$RUNS"); do topics="$topics vigil-spool-$r vigil-nospool-$r slng-$r"; done
# kafka-sink reads commands on fd 7's fifo and answers on fd 8's (fds a subshell inherits).
mkfifo "$W/kafka.in" "$W/kafka.out"
# shellcheck disable=SC2086
"$B/bench/stubs/kafka-sink" 3 6 "$W/kafka.boot" $topics <"$W/kafka.in" >"$W/kafka.out" \
	2>"$W/kafka-sink.log" &
KSINK_PID=$!
PIDS="$PIDS $KSINK_PID"
exec 7>"$W/kafka.in" 8<"$W/kafka.out"
kafka_cmd() { local ans; echo "$1" >&7; read -r ans <&8; echo "$ans"; }

have_node=yes
command -v node >/dev/null || { have_node=no; say "node not found: skipping Elasticsearch and Splunk HEC"; }
TOKEN=vigil-bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
printf '%s\n' "$TOKEN" >"$W/hec.token"
chmod 600 "$W/hec.token"
CHANNEL=$(cat /proc/sys/kernel/random/uuid)
if [ $have_node = yes ]; then
	node "$top/bench/stubs/es-stub.js" --port-file "$W/es.port" 2>"$W/es-stub.log" &
	ES_PID=$!
	PIDS="$PIDS $ES_PID"
	node "$top/bench/stubs/hec-stub.js" --port-file "$W/hec.port" --token "$TOKEN" --ack \
		2>"$W/hec-stub.log" &
	HEC_PID=$!
	PIDS="$PIDS $HEC_PID"
fi
for f in kafka.boot ${ES_PID:+es.port hec.port}; do
	for _ in $(seq 200); do [ -s "$W/$f" ] && break; sleep 0.05; done
	[ -s "$W/$f" ] || { say "sink did not start ($f)"; exit 1; }
done
BOOT=$(cat "$W/kafka.boot")
ES_URL=http://127.0.0.1:$(cat "$W/es.port" 2>/dev/null || echo 0)
HEC_URL=http://127.0.0.1:$(cat "$W/hec.port" 2>/dev/null || echo 0)

# Records the sink holds: $1 = kafka TOPIC | elasticsearch | splunk_hec
sink_count() {
	case $1 in
	elasticsearch) curl -sf "$ES_URL/_stub/count" | sed 's/.*"docs":\([0-9]*\).*/\1/' ;;
	splunk_hec) curl -sf "$HEC_URL/_stub/count" | sed 's/.*"events":\([0-9]*\).*/\1/' ;;
	*) kafka_cmd "count $1" | awk '{ print $2 }' ;;
	esac
}
sink_pid() {
	case $1 in
	elasticsearch) echo "$ES_PID" ;; splunk_hec) echo "$HEC_PID" ;; *) echo "$KSINK_PID" ;;
	esac
}
# Wait until sink $1 (see sink_count) holds $2 records; returns 1 on timeout.
sink_wait() {
	local end=$((SECONDS + TIMEOUT)) n
	if [ "$1" != elasticsearch ] && [ "$1" != splunk_hec ]; then
		kafka_cmd "wait $1 $2 $TIMEOUT" | grep -q '^ok'
		return
	fi
	while :; do
		n=$(sink_count "$1")
		[ "${n:-0}" -ge "$2" ] && return 0
		[ $SECONDS -ge $end ] && return 1
		sleep 0.01
	done
}

# --- vigil: bench-outputs through the plugin host ---
vigil_conf() { # $1 sink, $2 spool yes|no, $3 run
	local d=$W/conf-$1-$2-$3
	mkdir -p "$d/outputs.d"
	{
		printf '[Output]\nPlugin=%s\nQueueSize=%s\nBatchSize=%s\nFullPolicy=drop-newest\n' \
			"$1" "$N" "$BATCH"
		[ "$2" = no ] && printf 'Spool=no\n'
		case $1 in
		kafka) printf '[Kafka]\nBrokers=%s\nTopic=vigil-%s-%s\n' "$BOOT" \
			"$([ "$2" = yes ] && echo spool || echo nospool)" "$3" ;;
		elasticsearch) printf '[Elasticsearch]\nHosts=%s\nIndex=vigil-bench-%%Y.%%m.%%d\n' "$ES_URL" ;;
		splunk_hec) printf '[SplunkHEC]\nURL=%s\nTokenFile=%s\nUseAck=yes\n' "$HEC_URL" "$W/hec.token"
			printf 'AckPollIntervalSec=20ms\nMaxRequestBytes=4M\n' ;;
		esac
	} >"$d/outputs.d/$1.conf"
	echo "$d"
}

# Prints "eps cpu_us sink_cpu_us lost" of one run.
vigil_run() { # $1 sink, $2 spool, $3 run
	local conf state out before after s0 s1 topic lost
	conf=$(vigil_conf "$@")
	state=$W/state-$1-$2-$3
	mkdir -p "$state"
	topic=$1
	[ "$1" = kafka ] && topic=vigil-$([ "$2" = yes ] && echo spool || echo nospool)-$3
	before=$(sink_count "$topic")
	s0=$(cpu_ticks "$(sink_pid "$1")")
	out=$("$B/bench/bench-outputs" run "$conf" "$PLUGINS" "$state" "$N" "$TIMEOUT" 2>"$W/vigil-$1-$2-$3.log") || true
	s1=$(cpu_ticks "$(sink_pid "$1")")
	after=$(sink_count "$topic")
	rm -rf "$state"
	echo "$out" | grep -q '^result' || { say "vigil $1 spool=$2: no result (log: $(tail -3 "$W/vigil-$1-$2-$3.log"))"; echo "0 0 0 $N"; return; }
	lost=$(echo "$out" | awk -v n="$N" '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		END { print n - v["delivered"] }')
	# The sink must hold every record (more would be duplicates: reported as negative loss).
	[ $((after - before)) -ne "$N" ] && { say "vigil $1 spool=$2: the sink got $((after - before)) of $N"; lost=$((N - (after - before))); }
	echo "$(echo "$out" | field eps) $(echo "$out" | field cpu_us_per_event)" \
		"$(awk -v t=$((s1 - s0)) -v hz="$HZ" -v n="$N" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }')" "$lost"
}

# --- syslog-ng standalone: file source → the same sink ---
slng_conf() { # $1 sink, $2 run
	local dest
	case $1 in
	kafka) dest="kafka-c(bootstrap-servers(\"$BOOT\") topic(\"slng-$2\") message(\"\$MSG\")
		config(\"compression.codec\" => \"lz4\") log-fifo-size($((N * 2))))" ;;
	elasticsearch) dest="http(url(\"$ES_URL/_bulk\") method(\"POST\")
		headers(\"Content-Type: application/x-ndjson\")
		body(\"{\\\"index\\\":{\\\"_index\\\":\\\"vigil-bench-\${R_YEAR}.\${R_MONTH}.\${R_DAY}\\\"}}\\n\$MSG\")
		delimiter(\"\\n\") body-suffix(\"\\n\") batch-lines($BATCH) batch-timeout(100)
		workers($SLNG_HTTP_WORKERS) log-fifo-size($((N * 2))))" ;;
	splunk_hec) dest="http(url(\"$HEC_URL/services/collector/event\") method(\"POST\")
		headers(\"Authorization: Splunk $TOKEN\" \"X-Splunk-Request-Channel: $CHANNEL\")
		body(\"{\\\"time\\\":\${R_UNIXTIME},\\\"host\\\":\\\"bench-node\\\",\\\"source\\\":\\\"vigil\\\",\\\"sourcetype\\\":\\\"vigil:event\\\",\\\"event\\\":\$MSG}\")
		delimiter(\"\\n\") batch-lines($BATCH) batch-timeout(100)
		workers($SLNG_HTTP_WORKERS) log-fifo-size($((N * 2))))" ;;
	esac
	cat <<-EOF
	@version: 3.38
	options { stats-level(1); };
	source s_in { file("$W/slng-input" flags(no-parse) follow-freq(0.01) log-msg-size(65536)); };
	destination d_out { $dest; };
	log { source(s_in); destination(d_out); };
	EOF
}

# Prints "eps cpu_us sink_cpu_us lost" of one run.
slng_run() { # $1 sink, $2 run
	local d=$W/slng-$1-$2 topic=$1 before t0 t1 s0 s1 c0 c1 after pid lost dropped
	mkdir -p "$d"
	slng_conf "$1" "$2" >"$d/syslog-ng.conf"
	: >"$W/slng-input"
	[ "$1" = kafka ] && topic=slng-$2
	before=$(sink_count "$topic")
	syslog-ng -F -f "$d/syslog-ng.conf" --no-caps -p "$d/pid" -R "$d/persist" -c "$d/ctl" \
		>"$d/log" 2>&1 &
	pid=$!
	PIDS="$PIDS $pid"
	for _ in $(seq 200); do syslog-ng-ctl stats -c "$d/ctl" >/dev/null 2>&1 && break; sleep 0.05; done
	if ! kill -0 $pid 2>/dev/null; then
		say "syslog-ng $1 did not start: $(tail -5 "$d/log")"
		echo "0 0 0 $N"
		return
	fi
	c0=$(cpu_ticks $pid)
	s0=$(cpu_ticks "$(sink_pid "$1")")
	t0=$(date +%s%N)
	cat "$W/input.json" >>"$W/slng-input"
	sink_wait "$topic" $((before + N)) || say "syslog-ng $1: timed out"
	t1=$(date +%s%N)
	c1=$(cpu_ticks $pid)
	s1=$(cpu_ticks "$(sink_pid "$1")")
	after=$(sink_count "$topic")
	dropped=$(syslog-ng-ctl stats -c "$d/ctl" 2>/dev/null | awk -F';' '$1 ~ /^dst/ && $5 == "dropped" { s += $6 } END { print s + 0 }')
	[ "$dropped" -gt 0 ] && say "syslog-ng $1: dropped $dropped (its own counter)"
	kill $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	rm -f "$W/slng-input"
	lost=$((N - (after - before)))
	awk -v t0="$t0" -v t1="$t1" -v n="$N" -v c=$((c1 - c0)) -v s=$((s1 - s0)) -v hz="$HZ" -v l="$lost" \
		'BEGIN { printf "%.0f %.2f %.2f %d\n", (n - l) / ((t1 - t0) / 1e9), c * 1e6 / hz / n, s * 1e6 / hz / n, l }'
}

# Median of RUNS runs of "$@": prints "eps cpu_us sink_cpu_us lost_total".
measure() {
	local eps="" cpu="" scpu="" lost=0 r line
	for r in $(seq "$RUNS"); do
		line=$("$@" "$r")
		eps="$eps $(echo "$line" | awk '{ print $1 }')"
		cpu="$cpu $(echo "$line" | awk '{ print $2 }')"
		scpu="$scpu $(echo "$line" | awk '{ print $3 }')"
		lost=$((lost + $(echo "$line" | awk '{ print $4 }')))
	done
	# shellcheck disable=SC2086
	echo "$(median $eps) $(median $cpu) $(median $scpu) $lost"
}

declare -A target=([kafka]=500000 [elasticsearch]=200000 [splunk_hec]=200000)
rows=""
for s in $SINKS; do
	if [ ! -f "$PLUGINS/out_$s.so" ]; then
		say "$s: plugins/out_$s.so is not built yet, skipping"
		continue
	fi
	if [ "$s" != kafka ] && [ $have_node = no ]; then continue; fi
	say "$s: vigil, Spool=auto (on), $RUNS x $N records"
	v=$(measure vigil_run "$s" yes)
	say "$s: vigil, Spool=no"
	vn=$(measure vigil_run "$s" no)
	mod=http
	[ "$s" = kafka ] && mod=kafka
	if [ $have_slng = yes ] && slng_mod $mod; then
		say "$s: syslog-ng"
		g=$(measure slng_run "$s")
	else
		g="0 0 0 -"
	fi
	rows="$rows$s $v $vn $g ${target[$s]}
"
done

printf '%s' "$rows" >"${RAW:-/dev/null}"
echo
echo "== outputs: $N process_exec records per run, median of $RUNS runs, acks on, $(nproc) CPUs, load average $(cut -d" " -f1-3 /proc/loadavg) =="
printf '%s' "$rows" | awk '
function k(x) { return x >= 1000 ? sprintf("%.0fk", x / 1000) : sprintf("%.0f", x) }
BEGIN {
	printf "%-14s %12s %9s %12s %9s %12s %9s %10s %8s %s\n", "sink", "vigil ev/s", "µs/ev",
		"no-spool", "µs/ev", "syslog-ng", "µs/ev", "ratio", "target", "losses (vigil/no-spool/syslog-ng)"
}
{
	ratio = ($10 > 0) ? sprintf("%.2fx", $2 / $10) : "n/a"
	g = ($10 > 0) ? k($10) : "skipped"
	printf "%-14s %12s %9.2f %12s %9.2f %12s %9.2f %10s %8s %s/%s/%s\n", $1, k($2), $3, k($6), $7,
		g, $11, ratio, k($14), $5, $9, $13
}'
echo "(ev/s: events per second until the sink confirmed all; µs/ev: CPU of the shipping process per"
echo " event; sink CPU per event, median: $(printf '%s' "$rows" | awk '{ printf "%s %s/%s/%s  ", $1, $4, $8, $12 }'))"
