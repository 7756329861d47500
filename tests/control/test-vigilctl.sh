#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# vigilctl against the real daemon: status fields, the live event stream with filters and two
# clients at once, a client that never reads (skipped with a notice, the file output loses
# nothing), socket permissions and peer credentials, policy list/validate, reload, config
# cat/validate, and exit codes (vigilctl(1)).
. "$top_srcdir/tests/integration/lib.sh"
require_root
command -v setpriv >/dev/null || skip_all "setpriv not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"

CTL="$top_builddir/vigilctl"
C="$T/conf"
make_config "$C"
mkdir -p "$C/policy.d" "$T/watched" "$T/bin"
E="$C/events.json"
S="$C/run/control.sock"
TAG="ctl$$"
vctl() { "$CTL" --socket "$S" "$@"; }

cat >"$C/policy.d/10-watch.yaml" <<EOP
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: ctl-watch
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
        values: ["$T/watched/"]
EOP
# Valid YAML, invalid policy: an unknown operator on line 15, column 19.
cat >"$T/bad.yaml" <<EOP
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: ctl-bad
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
        operator: Bogus
        values: ["/x"]
EOP
cp /bin/true "$T/bin/$TAG-marker"
cp /bin/true "$T/bin/$TAG-other"

# --- no daemon yet ---
vctl status >/dev/null 2>&1
is "$?" 69 "status without a daemon exits 69"

start_vigild "$C" || { ok 1 "vigild started"; tap_done; }

# --- the socket ---
is "$(stat -c '%a %U %G' "$S")" "600 root root" "socket is 0600 root:root"

# --- status ---
vctl --json status >"$T/status.json"
is "$?" 0 "status --json exits 0"
is "$(jq -r .version "$T/status.json")" "$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"/\1/p' "$top_builddir/build-config.h")" "status: version"
is "$(jq -r .node_name "$T/status.json")" testnode "status: node name"
is "$(readlink "/proc/$(jq -r .pid "$T/status.json")/exe")" "$(readlink -f "$VIGILD")" "status: pid is vigild's"
is "$(jq -r '.sensors | join(",")' "$T/status.json")" "process_exec,process_exit,process_clone" \
    "status: sensors (CloneEvents=yes)"
is "$(jq -r '.kernel.features.ring_buffer' "$T/status.json")" true "status: kernel features"
is "$(jq -r '.policies.running, .policies.failed' "$T/status.json" | tr '\n' ' ')" "1 0 " \
    "status: one policy running, none failed"
is "$(jq -r '.outputs[0] | .name + " " + .plugin + " " + .health' "$T/status.json")" "file file ok" \
    "status: the file output and its health"
is "$(jq -r '.loss | [.kernel, .decode, .queue, .spool, .output] | add' "$T/status.json")" 0 \
    "status: loss counters present and zero"
vctl status >"$T/status.txt"
check "status (human) shows outputs and policies" \
    grep -q "^Policies:  1 running" "$T/status.txt"
check "status (human) lists the file output" grep -Eq '^  file +file +ok' "$T/status.txt"

# --- the protocol, raw ---
raw() { # raw BYTES: send them, print the answer line
    python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode().replace(b"@", b"\0"))
print(s.makefile().readline().strip())' "$S" "$1"
}
is "$(raw '{"command":"ping"}
')" '{"ok":true}' "raw ping"
is "$(raw 'not json
' | jq -r .errno)" EBADMSG "malformed request: EBADMSG"
is "$(raw '{"command":"st@atus"}
' | jq -r .ok)" false "request with a NUL byte refused"
is "$(raw '{"command":"shutdown"}
' | jq -r .errno)" EOPNOTSUPP "unknown command: EOPNOTSUPP"

# --- events: two clients at once, filters ---
vctl events -o json --type exec --binary "$TAG-marker\$" -n 2 >"$T/a.json" 2>"$T/a.err" &
A=$!
vctl events -o compact --type exec,exit --binary "/$TAG-" -n 4 >"$T/b.txt" 2>"$T/b.err" &
B=$!
vctl events -o json --type exit --unit no-such.service -n 1 >"$T/u.json" 2>/dev/null &
U=$!
# Wait until all three are subscribed.
i=0
while [ "$(vctl --json status | jq -r .control.subscribers)" != 3 ] && [ $i -lt 100 ]; do
    sleep 0.1; i=$((i + 1))
done
"$T/bin/$TAG-other"
"$T/bin/$TAG-marker"
"$T/bin/$TAG-marker"
for p in $A $B; do
    i=0; while kill -0 $p 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
done
wait $A; is "$?" 0 "events client A exits 0 after -n 2"
wait $B; is "$?" 0 "events client B exits 0 after -n 4"
is "$(jq -r '.process_exec.process.binary' "$T/a.json" | sort -u)" "$T/bin/$TAG-marker" \
    "client A (--type exec --binary): only the marker's exec events"
is "$(wc -l <"$T/a.json")" 2 "client A got both marker execs"
is "$(jq -r .node_name "$T/a.json" | sort -u)" testnode "client A: records are the canonical JSON"
is "$(awk '{print $1}' "$T/b.txt" | tr '\n' ' ')" "exec exit exec exit " \
    "client B (--type exec,exit, compact): exec and exit lines in order"
check "client B saw the other binary first" grep -q "^exec .*$TAG-other" "$T/b.txt"
kill $U 2>/dev/null; wait $U 2>/dev/null
is "$(wc -c <"$T/u.json")" 0 "--unit filter with no such unit: nothing"

vctl events --type nonsense >/dev/null 2>&1
is "$?" 64 "unknown event type: usage error 64"
vctl events --binary '(' -n 1 >/dev/null 2>"$T/re.err"
is "$?" 1 "bad --binary regex refused by the daemon (exit 1)"
check "bad regex message" grep -q "regular expression" "$T/re.err"

# --- a client that never reads ---
cat >"$T/slow.py" <<'EOP'
import json, os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1])
s.sendall(b'{"command":"events"}\n')
open(sys.argv[2], "w").close()            # subscribed
while not os.path.exists(sys.argv[3]):    # never read until told to
    time.sleep(0.1)
s.settimeout(5)
buf = b""
skipped = notices = records = 0
deadline = time.time() + 20
while time.time() < deadline and notices == 0:
    try:
        chunk = s.recv(65536)
    except socket.timeout:
        break
    if not chunk:
        break
    buf += chunk
    *lines, buf = buf.split(b"\n")
    for l in lines:
        o = json.loads(l)
        if "skipped" in o:
            notices += 1; skipped += o["skipped"]
        elif "record" in o:
            records += 1
print(notices, skipped, records)
EOP
python3 "$T/slow.py" "$S" "$T/slow.ready" "$T/slow.go" >"$T/slow.out" 2>&1 &
SLOW=$!
i=0; while [ ! -e "$T/slow.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
N=1500
i=0; while [ $i -lt $N ]; do "$T/bin/$TAG-other"; i=$((i + 1)); done
check "vigild still answers while a client does not read" vctl status
# Now let the slow client read; more events make the daemon send the skip notice.
touch "$T/slow.go"
i=0; while kill -0 $SLOW 2>/dev/null && [ $i -lt 50 ]; do /bin/true; sleep 0.2; i=$((i + 1)); done
wait $SLOW
set -- $(cat "$T/slow.out")
diag "slow client: $* (notices skipped records)"
ok "$([ "${1:-0}" -ge 1 ] && [ "${2:-0}" -gt 0 ]; echo $?)" "slow client got a notice counting skipped events"
wait_for "$E" "select(.process_exit.process.binary == \"$T/bin/$TAG-other\")" 10
# Every one of the N execs reached the file output, nothing counted as lost.
i=0
while [ $i -lt 100 ]; do
    got=$(jq -c "select(.process_exec.process.binary == \"$T/bin/$TAG-other\")" "$E" | wc -l)
    [ "$got" -ge $((N + 1)) ] && break
    sleep 0.2; i=$((i + 1))
done
is "$got" "$((N + 1))" "file output got all $N execs (+1 earlier) despite the stalled client"
vctl --json status >"$T/status2.json"
is "$(jq -r '[.outputs[0].dropped] + [.loss[]] | add' "$T/status2.json")" 0 \
    "no loss counted anywhere (output dropped, loss stages)"
is "$(jq -c 'select(.vigil_loss)' "$E" | wc -l)" 0 "no vigil_loss record in the file"
# The sequence: records handed out == delivered once the queue is empty.
i=0
while [ $i -lt 100 ]; do
    vctl --json status >"$T/status3.json"
    [ "$(jq -r '.outputs[0].queue' "$T/status3.json")" = 0 ] && break
    sleep 0.1; i=$((i + 1))
done
is "$(jq -r '.events.last_seq == .events.records and .outputs[0].delivered == .events.records' "$T/status3.json")" \
    true "seq, records and delivered agree"

# --- permissions ---
setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" --socket "$S" status >/dev/null 2>"$T/perm.err"
is "$?" 77 "non-root client refused by the 0600 socket (exit 77)"
# Open the file permissions: the daemon's SO_PEERCRED check still refuses.
chmod 0711 "$T"
chmod 0666 "$S"
setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" --socket "$S" status >/dev/null 2>"$T/perm2.err"
is "$?" 77 "non-root client refused by peer credentials (exit 77)"
check "peer refusal says permission denied" grep -q "Permission denied" "$T/perm2.err"
chmod 0600 "$S"; chmod 0700 "$T"
is "$(vctl --json status | jq -r .control.refused)" 1 "refusal counted"

# --- policies ---
vctl policy list >"$T/plist.txt"
is "$?" 0 "policy list exits 0"
check "policy list: ctl-watch running with its file" \
    grep -Eq "^ctl-watch +running +1  $C/policy.d/10-watch.yaml" "$T/plist.txt"
"$CTL" policy validate "$C/policy.d/10-watch.yaml" >"$T/pv.out" 2>&1
is "$?" 0 "policy validate of a good file exits 0"
check "policy validate names the policy" grep -q "policy 'ctl-watch' OK" "$T/pv.out"
"$CTL" policy validate "$T/bad.yaml" >"$T/pv.out" 2>&1
is "$?" 78 "policy validate of a bad file exits 78"
check "policy validate error has file:line:col" grep -q "$T/bad.yaml:15:19:" "$T/pv.out"
"$CTL" policy validate "$T/no-such.yaml" >/dev/null 2>&1
is "$?" 1 "policy validate of a missing file exits 1"
cp "$T/bad.yaml" "$C/policy.d/30-bad.yaml"
vctl --json policy list >"$T/plist.json"
is "$(jq -r '.policies[] | select(.file | endswith("30-bad.yaml")) | .state' "$T/plist.json")" invalid \
    "policy list shows the invalid file"

# --- reload ---
sed -e 's/ctl-watch/ctl-watch2/' -e "s|$T/watched/|$T/other/|" "$C/policy.d/10-watch.yaml" >"$C/policy.d/20-watch2.yaml"
vctl reload >"$T/reload.out"
is "$?" 0 "reload exits 0"
check "reload reports policies" grep -q "^Reloaded: 2 policies running" "$T/reload.out"
is "$(grep -c '^RELOADING=1' "$NOTIFY_LOG")" 1 "reload sent RELOADING=1 like SIGHUP"
is "$(vctl --json policy list | jq -r '[.policies[] | select(.state == "running") | .name] | join(",")')" \
    "ctl-watch,ctl-watch2" "policy list after reload: both running"
is "$(vctl --json status | jq -r '.policies.running, .policies.failed' | tr '\n' ' ')" "2 1 " \
    "status after reload: 2 running, 1 failed"

# --- config ---
vctl config cat --config-dir "$C" >"$T/cat.out"
is "$?" 0 "config cat exits 0"
check "config cat prints the main file with a header" grep -qx "# $C/vigild.conf" "$T/cat.out"
check "config cat prints the output file" grep -q "^Path=$E" "$T/cat.out"
rm "$C/policy.d/30-bad.yaml"
vctl config validate --config-dir "$C" --plugin-dir "$PLUGIN_DIR" >"$T/val.out" 2>&1
is "$?" 0 "config validate of the running config exits 0"
check "config validate says OK" grep -q "Configuration OK" "$T/val.out"
mkdir -p "$T/badconf"
printf '[Sensor]\nRingBufferSize=3\n' >"$T/badconf/vigild.conf"
vctl config validate --config-dir "$T/badconf" --plugin-dir "$PLUGIN_DIR" >"$T/val.out" 2>&1
is "$?" 78 "config validate of a bad value exits 78"
check "config validate error has file:line" grep -q "$T/badconf/vigild.conf:2" "$T/val.out"

# --- SocketGroup= ---
stop_vigild
is "$VIGILD_STATUS" 0 "vigild stopped cleanly"
check "socket removed at exit" test ! -e "$S"
GROUP=$(getent group 65534 | cut -d: -f1)
if [ -n "$GROUP" ]; then
    printf '[Daemon]\nSocketGroup=%s\n' "$GROUP" >"$C/vigild.conf.d/50-socket.conf"
    start_vigild "$C" || { ok 1 "vigild restarted"; tap_done; }
    is "$(stat -c '%a %G' "$S")" "660 $GROUP" "SocketGroup=: socket is 0660 and that group"
    chmod 0711 "$T"
    setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" --socket "$S" --json status >"$T/g.json" 2>&1
    is "$?" 0 "a member of SocketGroup= may read the status"
    setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" --socket "$S" reload >/dev/null 2>&1
    is "$?" 77 "but not reload (exit 77)"
    chmod 0700 "$T"
    stop_vigild
fi
vctl status >/dev/null 2>&1
is "$?" 69 "status after stop exits 69"

tap_done
