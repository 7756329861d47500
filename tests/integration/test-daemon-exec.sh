#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The real daemon, real BPF: exec/exit/clone records as they reach a file output.
. "$top_srcdir/tests/integration/lib.sh"
require_root

TAG="vigiltest$$"
C="$T/conf"
make_config "$C"

# A process started before vigild: it must later appear as a parent, flagged procFS.
sh -c "sleep 30; true" >/dev/null 2>&1 &
EARLY=$!

start_vigild "$C" || { ok 1 "vigild starts"; tap_done; }
ok 0 "vigild starts and sends READY=1"
E="$C/events.json"

# 1. argv with spaces, empty strings, non-ASCII.
/bin/echo "a b" "" "héllo wörld ✓" "$TAG-args" >/dev/null
wait_for "$E" "select(.process_exec.process.argv[-1]? == \"$TAG-args\")"
ok $? "exec record for argv test arrives"
REC=$(jq -c "select(.process_exec.process.argv[-1]? == \"$TAG-args\")" "$E" | head -n1)
is "$(echo "$REC" | jq -c '.process_exec.process.argv')" "[\"/bin/echo\",\"a b\",\"\",\"héllo wörld ✓\",\"$TAG-args\"]" "argv with spaces, empty string and non-ASCII preserved"
is "$(echo "$REC" | jq -r '.process_exec.process.binary')" "/usr/bin/echo" "binary is the resolved absolute path"
is "$(echo "$REC" | jq -r '.process_exec.process.arguments')" "\"a b\" \"\" \"héllo wörld ✓\" $TAG-args" "arguments is Tetragon's quoted flat string"
is "$(echo "$REC" | jq -r '.process_exec.process.cwd')" "$(pwd -P)" "cwd resolved in the kernel"
is "$(echo "$REC" | jq -r '.process_exec.process.pid | type')" "number" "pid is a number"
is "$(echo "$REC" | jq -r '.process_exec.parent.pid')" "$$" "parent is this shell"
is "$(echo "$REC" | jq -r '.node_name')" "testnode" "node_name from NodeName="
check "time is RFC 3339 with nanoseconds" sh -c "echo '$REC' | jq -r .time | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z$'"
check "exec_id and parent_exec_id are set" sh -c "echo '$REC' | jq -e '(.process_exec.process.exec_id|length) > 10 and .process_exec.process.parent_exec_id == .process_exec.parent.exec_id'"
is "$(echo "$REC" | jq -r '.process_exec.process.uid')" "0" "uid (effective) is root"

# 2. 200 arguments.
set -- ; i=0; while [ $i -lt 199 ]; do set -- "$@" "x$i"; i=$((i + 1)); done
/bin/true "$@" "$TAG-200"
wait_for "$E" "select(.process_exec.process.argv[-1]? == \"$TAG-200\")"
ok $? "exec with 200 arguments arrives"
is "$(jq -c "select(.process_exec.process.argv[-1]? == \"$TAG-200\") | .process_exec.process.argv | length" "$E" | head -n1)" "201" "all 200 arguments kept"

# 3. One 64 KiB argument: truncated at ArgvMaxBytes (default 16 KiB), flagged.
BIG=$(head -c 65536 /dev/zero | tr '\0' 'A')
/bin/true "$TAG-big" "$BIG"
wait_for "$E" "select(.process_exec.process.argv[1]? == \"$TAG-big\")"
ok $? "exec with a 64 KiB argument arrives"
REC=$(jq -c "select(.process_exec.process.argv[1]? == \"$TAG-big\")" "$E" | head -n1)
is "$(echo "$REC" | jq -r '.process_exec.process.argv_truncated')" "true" "truncation flagged (argv_truncated)"
check "flags contain truncArgs" sh -c "echo '$REC' | jq -r .process_exec.process.flags | grep -qw truncArgs"
check "truncated argument is a prefix of the original" sh -c "[ \$(echo '$REC' | jq -r '.process_exec.process.argv[2] | length') -gt 1000 ] && echo '$REC' | jq -e '.process_exec.process.argv[2] | test(\"^A+$\")'"

# 4. exec through a symlink and a relative path: binary is the real file.
mkdir -p "$T/bin"; ln -s /bin/true "$T/bin/mytrue"
"$T/bin/mytrue" "$TAG-symlink"
(cd /usr/bin && ./true "$TAG-relative")
wait_for "$E" "select(.process_exec.process.argv[1]? == \"$TAG-relative\")"
is "$(jq -r "select(.process_exec.process.argv[1]? == \"$TAG-symlink\") | .process_exec.process.binary" "$E" | head -n1)" "/usr/bin/true" "exec through a symlink: binary resolved"
is "$(jq -r "select(.process_exec.process.argv[1]? == \"$TAG-relative\") | .process_exec.process.binary" "$E" | head -n1)" "/usr/bin/true" "exec of a relative path: binary absolute"
is "$(jq -r "select(.process_exec.process.argv[1]? == \"$TAG-relative\") | .process_exec.process.cwd" "$E" | head -n1)" "/usr/bin" "cwd follows chdir"

# 4b. exec of a binary that was unlinked (through its still-open descriptor): flagged.
cp /bin/true "$T/bin/gone"
sh -c "exec 3< '$T/bin/gone'; rm '$T/bin/gone'; exec /proc/self/fd/3 '$TAG-deleted'"
wait_for "$E" "select(.process_exec.process.argv[1]? == \"$TAG-deleted\")"
REC=$(jq -c "select(.process_exec.process.argv[1]? == \"$TAG-deleted\") | .process_exec.process" "$E" | head -n1)
is "$(echo "$REC" | jq -r .binary)" "$T/bin/gone" "deleted binary: path of the file as it was"
check "deleted binary: flags contain deletedBinary" sh -c "echo '$REC' | jq -r .flags | grep -qw deletedBinary"

# 5. exit status 0, 3 and death by SIGKILL.
sh -c "exit 0" "$TAG-exit0"
sh -c "exit 3" "$TAG-exit3"
sh -c 'kill -9 $$' "$TAG-kill"
sel_exit() { echo "select(.process_exit.process.argv[-1]? == \"$1\") | .process_exit"; }
wait_for "$E" "$(sel_exit "$TAG-kill")"
is "$(jq -c "$(sel_exit "$TAG-exit0") | [.status, .signal]" "$E" | head -n1)" '[0,""]' "exit 0: status 0, no signal (both present)"
is "$(jq -c "$(sel_exit "$TAG-exit3") | [.status, .signal]" "$E" | head -n1)" '[3,""]' "exit 3: status 3"
is "$(jq -c "$(sel_exit "$TAG-kill") | [.status, .signal]" "$E" | head -n1)" '[0,"SIGKILL"]' "killed: signal SIGKILL"

# 6. fork without exec: a process_clone record; one exit per process, not per thread.
sh -c "( true ); exit 0" "$TAG-fork"
wait_for "$E" "$(sel_exit "$TAG-fork")"
check "fork without exec gives a process_clone record" sh -c "jq -e 'select(.process_clone.process.argv[-1]? == \"$TAG-fork\")' '$E' | grep -q ."
is "$(jq -c "select(.process_exit.process.argv[-1]? == \"$TAG-fork\")" "$E" | wc -l | tr -d ' ')" "2" "two processes (shell and subshell) give two exits"

# 7. the process started before vigild is known, flagged procFS.
# End its sleep child, so no orphan keeps the TAP pipe open; the shell then exits.
pkill -TERM -P $EARLY 2>/dev/null; wait $EARLY 2>/dev/null
wait_for "$E" "select(.process_exit.process.pid == $EARLY)"
REC=$(jq -c "select(.process_exit.process.pid == $EARLY)" "$E" | head -n1)
check "process started before vigild: exit record has its binary" sh -c "echo '$REC' | jq -e '.process_exit.process.binary == \"/usr/bin/dash\" or .process_exit.process.binary == \"/usr/bin/bash\"'"
check "flagged procFS" sh -c "echo '$REC' | jq -r .process_exit.process.flags | grep -qw procFS"
check "and has a parent" sh -c "echo '$REC' | jq -e '.process_exit.parent.pid == $$'"

# 8. SIGUSR1 reopens the output file after logrotate moved it away.
mv "$E" "$E.1"
kill -USR1 "$VIGILD_PID"
sleep 0.3
/bin/true "$TAG-reopen"
wait_for "$E" "select(.process_exec.process.argv[1]? == \"$TAG-reopen\")"
ok $? "after SIGUSR1 events go to a new file at Path="
is "$(stat -c %a "$E" 2>/dev/null)" "600" "the new file has mode 0600"

# 9. SIGHUP does not crash; SIGTERM drains and exits 0 with STOPPING=1.
kill -HUP "$VIGILD_PID"; sleep 0.3
check "SIGHUP does not kill vigild" kill -0 "$VIGILD_PID"
sleep 1.2
check "STATUS= with counters sent" grep -q '^STATUS=events=' "$NOTIFY_LOG"
stop_vigild
is "$VIGILD_STATUS" "0" "SIGTERM: exit status 0"
check "STOPPING=1 sent" grep -q '^STOPPING=1' "$NOTIFY_LOG"
tap_done
