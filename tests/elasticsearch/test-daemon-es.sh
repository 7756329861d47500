#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The real daemon and real BPF to tests/servers/fake_es.py through out_elasticsearch: every exec
# seen by a file output also arrives as one Elasticsearch document, under a distinct _id.
. "$top_srcdir/tests/integration/lib.sh"
require_root
command -v python3 >/dev/null || skip_all "python3 not installed"

TAG="vigiles$$"
C="$T/conf"
make_config "$C"

python3 "$top_srcdir/tests/servers/fake_es.py" --port-file "$T/es.port" &
ES_PID=$!
trap 'kill $ES_PID 2>/dev/null; cleanup' EXIT
i=0; while [ ! -s "$T/es.port" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$T/es.port" ] || { ok 1 "fake_es.py starts"; tap_done; }
ES="http://127.0.0.1:$(cat "$T/es.port")"

cat >"$C/outputs.d/es.conf" <<EOC
[Output]
Plugin=elasticsearch
[Elasticsearch]
Hosts=$ES
Index=vigil-test-%Y.%m.%d
Format=ecs
MaxBulkBytes=64K
EOC

start_vigild "$C" || { ok 1 "vigild starts"; tap_done; }
ok 0 "vigild starts with an Elasticsearch output"

N=20
i=0; while [ $i -lt $N ]; do /bin/true "$TAG" "$i"; i=$((i + 1)); done

# ES documents of the tagged execs (ECS: process.args). The tag goes through the environment:
# in argv it would tag this very python3 process too.
es_count() {
    ES_URL="$ES" ES_TAG="$TAG" python3 - <<'PY'
import json, os, urllib.request
docs = json.load(urllib.request.urlopen(os.environ["ES_URL"] + "/_fake/docs"))
tag = os.environ["ES_TAG"]
ids = set(); n = 0
for index, byid in docs.items():
    for _id, d in byid.items():
        args = d.get("process", {}).get("args", [])
        if d.get("event", {}).get("action") == "exec" and args[1:2] == [tag]:
            n += 1; ids.add(_id)
            assert d["event"]["id"] == _id, "event.id differs from _id"
            assert index.startswith("vigil-test-"), index
print(n, len(ids))
PY
}

i=0; got=""
while [ $i -lt 300 ]; do
    got=$(es_count 2>/dev/null)
    [ "$got" = "$N $N" ] && break
    i=$((i + 1)); sleep 0.1
done
is "$got" "$N $N" "every tagged exec is one document with a distinct _id"
file_count() { jq -c "select(.process_exec.process.argv[1]? == \"$TAG\")" "$C/events.json" 2>/dev/null | wc -l | tr -d ' '; }
i=0; while [ "$(file_count)" != "$N" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
is "$(file_count)" "$N" \
    "the file output saw the same number of execs"
check "requests were gzip-compressed _bulk calls" sh -c \
    "curl -s '$ES/_fake/requests' | jq -e '[.requests[] | select(.path == \"/_bulk\" and .gzip and .status == 200)] | length > 0'"

stop_vigild
is "$VIGILD_STATUS" "0" "vigild exits cleanly"
grep -q "elasticsearch" "$C/vigild.log" && diag "$(grep -i elasticsearch "$C/vigild.log" | head -5)"
tap_done
