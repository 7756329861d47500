#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The real vigild with an outputs.d/kafka.conf, real BPF, librdkafka's mock cluster as the broker:
# the process_exec records of 20 execs arrive in Kafka once each, keyed by exec_id, with the
# vigil-* headers, and byte-identical to what the file output wrote for the same events.
. "$top_srcdir/tests/integration/lib.sh"
require_root

TAG="vigilkafka$$"
C="$T/conf"
make_config "$C"
K="$C/kafka.json"

mkfifo "$T/cmd"
"$top_builddir/tests/kafka/kafka-mock" 1 2 "$T/bootstrap" vigil.process_exec \
    <"$T/cmd" >"$T/replies" 2>"$T/mock.log" &
MOCK_PID=$!
exec 3>"$T/cmd"
i=0; while [ ! -s "$T/bootstrap" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
BOOT=$(cat "$T/bootstrap" 2>/dev/null)
[ -n "$BOOT" ] || { echo "1..1"; echo "not ok 1 - mock cluster started"; exit 1; }

cat >"$C/outputs.d/kafka.conf" <<EOC
[Output]
Plugin=kafka
Events=process_exec
[Kafka]
Brokers=$BOOT
Topic=vigil.%{event}
Compression=none
RdKafka.reconnect.backoff.max.ms=100
EOC

start_vigild "$C" || { ok 1 "vigild starts with a Kafka output"; echo quit >&3; tap_done; }
ok 0 "vigild starts with a Kafka output"

i=1; while [ $i -le 20 ]; do /bin/true "$TAG-$i"; i=$((i + 1)); done

# Read the whole topic (other processes of this machine exec too) until our 20 are there.
sel="select(.process_exec.process.argv[1]? // \"\" | startswith(\"$TAG-\"))"
n=0; tries=0
while [ $tries -lt 12 ]; do
    echo "consume vigil.process_exec 1000000 $K 5" >&3
    # replies come on a plain file: wait for one more line than before
    j=0; while [ "$(wc -l <"$T/replies")" -le $tries ] && [ $j -lt 600 ]; do sleep 0.1; j=$((j + 1)); done
    n=$(jq -c ".value | fromjson | $sel" "$K" 2>/dev/null | wc -l)
    tries=$((tries + 1))
    [ "$n" -ge 20 ] && break
done
is "$n" "20" "the 20 process_exec records reached Kafka, each once"

jq -c "select(.value | fromjson | $sel)" "$K" >"$T/ours.json"
check "key is the record's exec_id" \
    jq -e -s 'length == 20 and all(.[]; .key == (.value | fromjson | .process_exec.process.exec_id))' "$T/ours.json"
check "headers: vigil-event=process_exec, vigil-node=testnode, vigil-schema=1" \
    jq -e -s 'all(.[]; .headers == {"vigil-event": "process_exec", "vigil-node": "testnode", "vigil-schema": "1"})' "$T/ours.json"
is "$(jq -r .topic "$T/ours.json" | sort -u)" "vigil.process_exec" "topic from the %{event} template"
wait_for "$C/events.json" "select(.process_exec.process.argv[1]? == \"$TAG-20\")"
is "$(jq -r .value "$T/ours.json" | sort | md5sum)" \
    "$(jq -c "select(.process_exec?) | $sel" "$C/events.json" | sort | md5sum)" \
    "values are byte-identical to the file output's JSON lines"

stop_vigild
is "$VIGILD_STATUS" "0" "vigild stops cleanly"
grep -q "kafka" "$VIGILD_LOG" && grep -i "error" "$VIGILD_LOG" | sed 's/^/#   /'

echo quit >&3; exec 3>&-
wait $MOCK_PID
tap_done
