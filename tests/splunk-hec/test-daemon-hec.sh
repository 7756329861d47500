#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The real daemon and real BPF to tests/servers/fake_hec.py through out_splunk_hec with indexer
# acknowledgement: a wrong token pauses the output without losing anything, fixing the token
# file resumes it (probe() reads the file again), and every tagged exec is indexed once.
. "$top_srcdir/tests/integration/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "python3 not installed"

TAG="vigilhec$$"
TOKEN="2c7b0c0e-4f55-4a8b-9b53-6b7c3c9d1e01"
C="$T/conf"
make_config "$C"

python3 "$top_srcdir/tests/servers/fake_hec.py" --port-file "$T/hec.port" --token "$TOKEN" --ack &
HEC_PID=$!
trap 'kill $HEC_PID 2>/dev/null; cleanup' EXIT
i=0; while [ ! -s "$T/hec.port" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$T/hec.port" ] || { ok 1 "fake_hec.py starts"; tap_done; }
HEC="http://127.0.0.1:$(cat "$T/hec.port")"

fake() { # fake METHOD PATH [JSON]: the fake's control API
    python3 - "$HEC" "$1" "$2" "${3:-}" <<'PY'
import sys, urllib.request
base, method, path, body = sys.argv[1:5]
req = urllib.request.Request(base + path, method=method, data=body.encode() if body else None)
print(urllib.request.urlopen(req).read().decode())
PY
}
fake POST /_fake/config '{"ack_delay": 0.3}' >/dev/null

# Indexed events whose argv ends with $1, as "count distinct-seq-count".
indexed() {
    fake GET /_fake/events | jq -r --arg t "$1" \
        '[.events[] | select(.event.process_exec.process.argv[-1]? == $t)] | length'
}
wait_indexed() { # wait_indexed TAG N [SECONDS]
    i=0; limit=$(( ${3:-30} * 10 ))
    while [ $i -lt $limit ]; do
        [ "$(indexed "$1")" = "$2" ] && return 0
        i=$((i + 1)); sleep 0.1
    done
    return 1
}

echo "wrong-token" >"$C/hec.token"; chmod 600 "$C/hec.token"
cat >"$C/outputs.d/hec.conf" <<EOC
[Output]
Plugin=splunk_hec
RetryMaxSec=1s
[SplunkHEC]
URL=$HEC
TokenFile=$C/hec.token
UseAck=yes
AckPollIntervalSec=200ms
Index=main
EOC

start_vigild "$C" || { ok 1 "vigild starts"; tap_done; }
ok 0 "vigild starts with a Splunk HEC output (UseAck=yes)"

# 1. Wrong token: paused and reported, nothing indexed, nothing dropped.
/bin/true "$TAG-paused"
wait_for "$C/events.json" "select(.process_exec.process.argv[-1]? == \"$TAG-paused\")"
ok $? "the file output sees the exec"
i=0; while ! grep -q "check TokenFile=" "$VIGILD_LOG" && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
check "the refused token is reported naming TokenFile=" grep -q "check TokenFile=" "$VIGILD_LOG"
is "$(indexed "$TAG-paused")" "0" "nothing indexed with the wrong token"

# 2. The operator fixes the token file: the next probe reads it, delivery resumes.
echo "$TOKEN" >"$C/hec.token"
wait_indexed "$TAG-paused" 1 60
ok $? "the exec seen while paused is indexed after the token is fixed"

# 3. Normal flow with acknowledgement.
N=10
i=0; while [ $i -lt $N ]; do /bin/true "$i" "$TAG"; i=$((i + 1)); done
wait_indexed "$TAG" "$N" 60
ok $? "every tagged exec is indexed exactly once"
EV=$(fake GET /_fake/events | jq -c --arg t "$TAG" '[.events[] | select(.event.process_exec.process.argv[-1]? == $t)][0]')
is "$(echo "$EV" | jq -r .sourcetype)" "vigil:event" "sourcetype vigil:event"
is "$(echo "$EV" | jq -r .host)" "testnode" "host is the node name"
is "$(echo "$EV" | jq -r .index)" "main" "index from Index="
check "time is epoch seconds with a fraction" sh -c "echo '$EV' | jq -e '(.time | type) == \"number\" and .time != (.time | floor)'"
is "$(echo "$EV" | jq -r .event.node_name)" "testnode" "event is the Tetragon-shaped record"

REQS=$(fake GET /_fake/requests)
check "acks were polled" sh -c "echo '$REQS' | jq -e '[.requests[] | select(.path | startswith(\"/services/collector/ack\")) | select(.acks | to_entries | any(.value))] | length > 0'"
check "probe used the health endpoint" sh -c "echo '$REQS' | jq -e '[.requests[] | select(.path == \"/services/collector/health\")] | length > 0'"
CH=$(find "$C/state" -name splunk-hec-channel | head -n1)
check "the channel is saved in the state directory" test -s "$CH"
is "$(echo "$REQS" | jq -r '[.requests[] | select(.path == "/services/collector/event" and .status == 200) | .channel] | unique | join(",")')" \
    "$(cat "$CH" 2>/dev/null)" "events were sent on the saved channel"

stop_vigild
is "$VIGILD_STATUS" "0" "vigild stops cleanly"
check "nothing is left unconfirmed in the spool" sh -c "! grep -q 'stay in the spool' '$VIGILD_LOG'"
tap_done
