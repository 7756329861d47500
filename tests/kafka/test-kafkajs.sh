#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# An independent consumer reads what out_kafka produced: kafkajs (pure JavaScript, from the npm
# registry) against librdkafka's mock cluster, records produced by out_kafka.so (Compression=gzip:
# kafkajs cannot read lz4). Every record arrives once, value = the record's JSON, key = exec_id,
# headers vigil-event/vigil-node/vigil-schema.
set -u
: "${top_srcdir:?}" "${top_builddir:?}" "${PLUGIN_DIR:?}"
. "$top_srcdir/tests/integration/lib.sh"

command -v node >/dev/null && command -v npm >/dev/null ||
    skip_all "node/npm not installed (tools/install-deps.sh installs them)"
command -v jq >/dev/null || skip_all "jq not installed"

# kafkajs, pinned by package-lock.json, installed once into the build tree.
CACHE="$top_builddir/tests/kafka/node_modules-cache"
if [ ! -d "$CACHE/node_modules/kafkajs" ]; then
    mkdir -p "$CACHE"
    cp "$top_srcdir/tests/kafka/package.json" "$top_srcdir/tests/kafka/package-lock.json" "$CACHE/"
    if ! (cd "$CACHE" && npm ci --no-audit --no-fund --loglevel=error) >"$T/npm.log" 2>&1; then
        sed 's/^/#   /' "$T/npm.log"
        echo "1..1"; echo "not ok 1 - npm ci (kafkajs) failed"; exit 1
    fi
fi

N=120
MOCK="$top_builddir/tests/kafka/kafka-mock"
mkfifo "$T/cmd"
"$MOCK" 3 3 "$T/bootstrap" vigil-js <"$T/cmd" >"$T/replies" 2>"$T/mock.log" &
MOCK_PID=$!
exec 3>"$T/cmd"
i=0; while [ ! -s "$T/bootstrap" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
BOOT=$(cat "$T/bootstrap" 2>/dev/null)
[ -n "$BOOT" ] || { echo "1..1"; echo "not ok 1 - mock cluster started"; exit 1; }

"$top_builddir/tests/kafka/kafka-produce" $N "$T/expected.json" "Brokers=$BOOT" Topic=vigil-js \
    Compression=gzip 2>"$T/produce.log"
ok $? "out_kafka delivered $N records (every delivery report positive)"

NODE_PATH="$CACHE/node_modules" node "$top_srcdir/tests/kafka/consume.js" "$BOOT" vigil-js $N \
    >"$T/got.json" 2>"$T/consume.log"
ok $? "kafkajs consumed $N messages"
[ -s "$T/consume.log" ] && sed 's/^/#   /' "$T/consume.log"

is "$(jq -s 'length' "$T/got.json")" "$N" "exactly $N messages, no duplicates"
is "$(jq -cs 'map({key, value}) | sort_by(.key)' "$T/got.json" | md5sum)" \
    "$(jq -cs 'sort_by(.key)' "$T/expected.json" | md5sum)" \
    "key (exec_id) and value (the record's JSON) of every message match what was emitted"
is "$(jq -r '.headers["vigil-event"] + " " + .headers["vigil-node"] + " " + .headers["vigil-schema"]' "$T/got.json" | sort -u)" \
    "process_exec web-1 1" "headers vigil-event, vigil-node, vigil-schema"
check "every value parses as JSON with the key as its exec_id" \
    sh -c "jq -e -s 'all(.[]; (.value | fromjson | .process_exec.process.exec_id) == .key)' '$T/got.json'"
is "$(jq -r .partition "$T/got.json" | sort -u | wc -l)" "3" "keys spread over all 3 partitions"

echo quit >&3; exec 3>&-
wait $MOCK_PID
tap_done
