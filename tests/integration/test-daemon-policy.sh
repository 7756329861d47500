#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# TracingPolicies end to end: the real daemon, real BPF, policy.d in a private config directory.
# File access with relative-path resolution and the result, Sigkill enforcement, connect
# Override (nothing reaches the listener), a broken policy isolated from the others, SIGHUP
# add/change/remove without losing exec events, and --validate.
. "$top_srcdir/tests/integration/lib.sh"
require_root

TAG="vigilpol$$"
C="$T/conf"
make_config "$C"
mkdir -p "$C/policy.d" "$T/watched" "$T/other" "$T/bin"
NETPROBE="$top_builddir/tests/integration/net-probe"
E="$C/events.json"
echo secret >"$T/watched/secret"
echo other >"$T/other/file"
cp /bin/cat "$T/bin/victim"
PORT=$((20000 + $$ % 20000))

cat >"$C/policy.d/10-files.yaml" <<EOP
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: test-files
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    return: true
    message: "watched file"
    tags: ["test"]
    args:
    - index: 1
      type: filename
      label: path
    - index: 2
      type: int
      label: flags
    returnArg:
      index: 0
      type: int
    selectors:
    - matchArgs:
      - index: 1
        operator: Prefix
        values: ["$T/watched/"]
EOP

cat >"$C/policy.d/20-kill.yaml" <<EOP
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: test-kill
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - index: 1
      type: filename
    selectors:
    - matchBinaries:
      - operator: In
        values: ["$T/bin/victim"]
      matchArgs:
      - index: 1
        operator: Postfix
        values: ["/forbidden"]
      matchActions:
      - action: Sigkill
EOP

# Sigkill at sys_enter_execve: the exec is stopped before the new image runs.
printf '#!/bin/sh\ntouch "%s/ran"\n' "$T" >"$T/bin/never"
chmod +x "$T/bin/never"
cat >"$C/policy.d/25-kill-exec.yaml" <<EOP
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: test-kill-exec
spec:
  kprobes:
  - call: sys_execve
    syscall: true
    args:
    - index: 0
      type: filename
    selectors:
    - matchArgs:
      - index: 0
        operator: Equal
        values: ["$T/bin/never"]
      matchActions:
      - action: Sigkill
EOP

cat >"$C/policy.d/30-connect.yaml" <<EOP
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: test-deny-connect
spec:
  kprobes:
  - call: sys_connect
    syscall: true
    args:
    - index: 0
      type: int
    - index: 1
      type: sockaddr
    selectors:
    - matchArgs:
      - index: 1
        operator: DAddr
        values: ["127.0.0.1/32", "::1/128"]
      - index: 1
        operator: DPort
        values: ["$PORT"]
      matchActions:
      - action: Override
        argError: -13
EOP

# A broken policy: a typo in an operator. It must be reported and must not stop the others.
cat >"$C/policy.d/40-broken.yaml" <<'EOP'
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: test-broken
spec:
  kprobes:
  - call: sys_unlinkat
    syscall: true
    args:
    - index: 1
      type: filename
    selectors:
    - matchArgs:
      - index: 1
        operator: Prefx
        values: ["/tmp"]
EOP

"$VIGILD" --validate --config-dir "$C" --plugin-dir "$PLUGIN_DIR" >"$T/validate.out" 2>&1
is "$?" "78" "--validate fails (exit 78) on the broken policy"
check "--validate names file:line:col, the field path and a suggestion" grep -q "40-broken.yaml:15:19: spec.kprobes\[0\].selectors\[0\].matchArgs\[0\].operator: unknown operator 'Prefx' (did you mean 'Prefix'?)" "$T/validate.out"

start_vigild "$C" || { ok 1 "vigild starts"; tap_done; }
ok 0 "vigild starts with one broken policy among five"
check "the broken policy is logged with its location" grep -q "40-broken.yaml:15:19: .*unknown operator 'Prefx'" "$VIGILD_LOG"

# 1. file access: relative path made absolute, result, message, tags, policy name.
(cd "$T/watched" && cat ./secret >/dev/null)
cat "$T/watched/missing" 2>/dev/null
cat "$T/other/file" >/dev/null
SEL_OK="select(.process_kprobe.policy_name == \"test-files\" and .process_kprobe.args[0].string_arg == \"$T/watched/secret\")"
SEL_MISS="select(.process_kprobe.policy_name == \"test-files\" and .process_kprobe.args[0].string_arg == \"$T/watched/missing\")"
wait_for "$E" "$SEL_MISS"
ok $? "openat of a watched file gives a process_kprobe record"
REC=$(jq -c "$SEL_OK" "$E" | head -n1)
is "$(echo "$REC" | jq -r .process_kprobe.function_name)" "__x64_sys_openat" "function_name as Tetragon reports it"
is "$(echo "$REC" | jq -r .process_kprobe.args[0].label)" "path" "argument label"
check "relative path resolved against the cwd, opened successfully (fd >= 0)" sh -c "echo '$REC' | jq -e '.process_kprobe.return.int_arg >= 0'"
is "$(echo "$REC" | jq -r .process_kprobe.process.binary)" "/usr/bin/cat" "process enriched (binary)"
is "$(echo "$REC" | jq -r .process_kprobe.message)" "watched file" "message"
is "$(echo "$REC" | jq -c .process_kprobe.tags)" '["test"]' "tags"
is "$(echo "$REC" | jq -r .process_kprobe.action)" "KPROBE_ACTION_POST" "action Post"
is "$(jq -r "$SEL_MISS | .process_kprobe.return.int_arg" "$E" | head -n1)" "-2" "failed open: return -2 (ENOENT)"
is "$(jq -c "select(.process_kprobe.args[0].string_arg? == \"$T/other/file\")" "$E" | wc -l | tr -d ' ')" "0" "a path outside the prefix is filtered in the kernel"

# 2. Sigkill: the victim binary dies before it returns to user space from openat.
"$T/bin/victim" "$T/forbidden" 2>/dev/null
is "$?" "137" "Sigkill: the process is killed (status 128+9)"
"$T/bin/victim" "$T/other/file" >/dev/null
is "$?" "0" "the same binary opening another file is not killed"
cat "$T/forbidden" 2>/dev/null
is "$?" "1" "another binary opening the file is not killed (matchBinaries)"
wait_for "$E" "select(.process_exit.process.binary == \"$T/bin/victim\" and .process_exit.signal == \"SIGKILL\")"
ok $? "process_exit with signal SIGKILL"
wait_for "$E" "select(.process_kprobe.policy_name == \"test-kill\")"
is "$(jq -r 'select(.process_kprobe.policy_name == "test-kill") | .process_kprobe.action' "$E" | head -n1)" "KPROBE_ACTION_SIGKILL" "the kill is an event with action SIGKILL"

# 2b. Sigkill on execve: killed before the new image runs (the script never creates its file).
sh -c "'$T/bin/never'" 2>/dev/null
is "$?" "137" "Sigkill at execve: the process dies (status 128+9)"
check "the new image never ran" test ! -e "$T/ran"
wait_for "$E" 'select(.process_kprobe.policy_name == "test-kill-exec")'
ok $? "the killed exec is an event"
is "$(jq -c "select(.process_exec.process.binary? == \"$T/bin/never\")" "$E" | wc -l | tr -d ' ')" "0" "and there is no process_exec for the denied image"

# 3. connect Override: the configured errno (EACCES, which no listener or firewall would give
# here), and nothing reaches the listener; another port on the same address still connects.
"$NETPROBE" listen 127.0.0.1 "$PORT" 3 >"$T/listen.out" &
LPID=$!
"$NETPROBE" listen ::1 "$PORT" 3 >"$T/listen6.out" &
LPID6=$!
"$NETPROBE" listen 127.0.0.1 $((PORT + 1)) 3 >"$T/listen-ok.out" &
LPIDOK=$!
sleep 0.3
is "$("$NETPROBE" connect 127.0.0.1 "$PORT")" "EACCES" "connect to a denied address fails with the configured errno"
is "$("$NETPROBE" connect ::1 "$PORT")" "EACCES" "IPv6: denied too"
is "$("$NETPROBE" connect 127.0.0.1 $((PORT + 1)))" "ok" "another port of the same address is not denied"
wait $LPID; wait $LPID6; wait $LPIDOK
is "$(cat "$T/listen.out" | tail -n1)" "accepted 0" "nothing reached the IPv4 listener"
is "$(cat "$T/listen6.out" | tail -n1)" "accepted 0" "nothing reached the IPv6 listener"
is "$(cat "$T/listen-ok.out" | tail -n1)" "accepted 1" "the allowed connection reached its listener"
wait_for "$E" 'select(.process_kprobe.policy_name == "test-deny-connect")'
REC=$(jq -c 'select(.process_kprobe.policy_name == "test-deny-connect")' "$E" | head -n1)
is "$(echo "$REC" | jq -r .process_kprobe.action)" "KPROBE_ACTION_OVERRIDE" "the denial is an event with action OVERRIDE"
is "$(echo "$REC" | jq -c '[.process_kprobe.args[1].sockaddr_arg.addr, .process_kprobe.args[1].sockaddr_arg.port]')" "[\"127.0.0.1\",$PORT]" "the event has the destination"

# 4. SIGHUP: change test-files to another prefix, remove test-kill, add test-unlink; exec events
# keep flowing throughout (1000 numbered execs span three reloads).
echo gone >"$T/other/gone"
i=0
( while [ $i -lt 1000 ]; do /bin/true "$TAG-seq-$i"; i=$((i + 1)); done ) &
SEQ=$!
sed -i "s#$T/watched/#$T/other/#" "$C/policy.d/10-files.yaml"
rm "$C/policy.d/20-kill.yaml"
cat >"$C/policy.d/50-unlink.yaml" <<EOP
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: test-unlink
spec:
  kprobes:
  - call: sys_unlinkat
    syscall: true
    return: true
    args:
    - index: 1
      type: filename
    selectors:
    - matchArgs:
      - index: 1
        operator: Prefix
        values: ["$T/other/"]
EOP
kill -HUP "$VIGILD_PID"
sleep 0.3
kill -HUP "$VIGILD_PID"
sleep 0.3
kill -HUP "$VIGILD_PID"
check "the exec loop was still running during the reloads" kill -0 $SEQ
wait $SEQ
rm "$T/other/gone"
wait_for "$E" 'select(.process_kprobe.policy_name == "test-unlink")'
ok $? "a policy added on SIGHUP is running"
is "$(jq -c 'select(.process_kprobe.policy_name == "test-unlink") | [.process_kprobe.args[0].string_arg, .process_kprobe.return]' "$E" | head -n1)" "[\"$T/other/gone\",{\"long_arg\":0}]" "return without returnArg is a signed long"
check "RELOADING=1 then READY=1 sent" sh -c "grep -q '^RELOADING=1' '$NOTIFY_LOG' && [ \$(grep -c '^READY=1' '$NOTIFY_LOG') -ge 4 ]"
cat "$T/other/file" >/dev/null
wait_for "$E" "select(.process_kprobe.args[0].string_arg? == \"$T/other/file\")"
ok $? "after SIGHUP the changed policy matches its new prefix"
n0=$(jq -c "select(.process_kprobe.args[0].string_arg? == \"$T/watched/secret\")" "$E" | wc -l)
cat "$T/watched/secret" >/dev/null
"$T/bin/victim" "$T/forbidden" 2>/dev/null
is "$?" "1" "the removed Sigkill policy no longer kills"
wait_for "$E" "select(.process_exec.process.argv[1]? == \"$TAG-seq-999\")"
is "$(jq -r "select(.process_exec.process.argv[1]? // \"\" | startswith(\"$TAG-seq-\")) | .process_exec.process.argv[1]" "$E" | sort -u | wc -l | tr -d ' ')" "1000" "no exec event lost across three reloads (1000 of 1000)"
sleep 0.5
n1=$(jq -c "select(.process_kprobe.args[0].string_arg? == \"$T/watched/secret\")" "$E" | wc -l)
is "$n1" "$n0" "the old prefix no longer matches"

stop_vigild
is "$VIGILD_STATUS" "0" "SIGTERM: exit status 0"
tap_done
