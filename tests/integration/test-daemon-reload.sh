#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Reload (SIGHUP, vigilctl reload) under a steady stream of numbered events (a policy on openat,
# tests/delivery/open-pacer): an unchanged configuration, a changed output set, a bad value
# (rejected with file:line, the running configuration stays), a restart-only key (warned
# about). Every event number arrives exactly once in the output that ran throughout.
. "$top_srcdir/tests/integration/lib.sh"
require_root

PACER="$top_builddir/tests/delivery/open-pacer"
CTL="$top_builddir/vigilctl"
GEN="$T/gen/"
C="$T/conf"
make_config "$C"
printf '[Sensor]\nRingBufferSize=32M\n' >"$C/vigild.conf.d/10-ring.conf" # CI load: no kernel drops
mkdir -p "$C/policy.d"
cat >"$C/outputs.d/file.conf" <<EOC
[Output]
Plugin=file
Events=process_kprobe
[File]
Path=$C/a.json
EOC
cat >"$C/policy.d/gen.yaml" <<EOP
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: reload-gen
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
start_vigild "$C" || { ok 1 "vigild starts"; tap_done; }

reloads() { grep -c '^RELOADING=1' "$NOTIFY_LOG"; }
readies() { grep -c '^READY=1' "$NOTIFY_LOG"; }
wait_ready() { # wait_ready N: until READY=1 was sent N times
    i=0; while [ "$(readies)" -lt "$1" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
    [ "$(readies)" -ge "$1" ]
}
numbers() { # numbers FILE: the event numbers in FILE, one per line, in order
    jq -r --arg p "$GEN" '.process_kprobe.args[0].string_arg | ltrimstr($p)' "$1"
}

"$PACER" "$GEN" 2000 12 >/dev/null &
GEN_PID=$!
sleep 2

# 1. Nothing changed: RELOADING=1 ... READY=1, outputs kept.
kill -HUP "$VIGILD_PID"
wait_ready 2
ok $? "SIGHUP: RELOADING=1 then READY=1"
grep -q "Reloaded: outputs unchanged" "$VIGILD_LOG"
ok $? "an unchanged configuration keeps the running outputs"
sleep 1

# 2. A second output appears: the outputs are restarted with the new set.
cat >"$C/outputs.d/second.conf" <<EOC
[Output]
Plugin=file
Events=process_kprobe
[File]
Path=$C/b.json
EOC
kill -HUP "$VIGILD_PID"
wait_ready 3
grep -q "Reloaded: outputs restarted" "$VIGILD_LOG"
ok $? "a new output file restarts the outputs"
sleep 1

# 3. A bad value: rejected with file and line, the running configuration stays.
printf '[Output]\nPlugin=file\nQueueSize=lots\n[File]\nPath=%s/c.json\n' "$C" >"$C/outputs.d/third.conf"
if [ -x "$CTL" ]; then
    "$CTL" --socket "$C/run/control.sock" reload >"$T/ctl.out" 2>&1
    st=$?
    [ "$st" -ne 0 ]
    ok $? "vigilctl reload reports the rejected configuration (exit $st)"
else
    kill -HUP "$VIGILD_PID"
fi
wait_ready 4
grep -q "third.conf:3: Invalid value 'lots' for QueueSize=" "$VIGILD_LOG"
ok $? "the bad value is logged with file and line"
grep -q "Reload rejected: the configuration has errors" "$VIGILD_LOG"
ok $? "the reload is rejected"
rm -f "$C/outputs.d/third.conf"
sleep 1

# 4. A restart-only key: warned about, everything else applied.
printf '[Sensor]\nRingBufferSize=8M\n' >"$C/vigild.conf.d/50-ring.conf"
kill -HUP "$VIGILD_PID"
wait_ready 5
grep -q "Reload: RingBufferSize= changed; it takes effect at the next restart." "$VIGILD_LOG"
ok $? "a restart-only key is reported as such"

wait "$GEN_PID"
N=24000 # 2000/s for 12 s
i=0; while [ "$(wc -l <"$C/a.json")" -lt $N ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
numbers "$C/a.json" >"$T/a.numbers"
seq 1 $N >"$T/expected"
cmp -s "$T/a.numbers" "$T/expected"
ok $? "all $N numbered events reached the first output exactly once, in order, across 4 reloads"
numbers "$C/b.json" >"$T/b.numbers"
FIRST=$(head -n 1 "$T/b.numbers")
seq "${FIRST:-1}" $N | cmp -s - "$T/b.numbers"
ok $? "the output added by the reload got every event from its start ($FIRST) on"
is "$(reloads)" "4" "four RELOADING=1"
grep -q "^RELOADING=1" "$NOTIFY_LOG" && ! grep -q "Lost [0-9]* events" "$VIGILD_LOG"
ok $? "no loss reported"
stop_vigild
is "$VIGILD_STATUS" "0" "vigild stops cleanly"
tap_done
