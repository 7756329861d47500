#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# out_journald end to end against a private systemd-journald (root only). Everything runs in a
# private mount namespace with a tmpfs over /run, so the host's /run/systemd/journal is never
# touched: journald's sockets and /run/log/journal (bind-mounted from a temp dir) live there.
set -u
JOURNALD=/lib/systemd/systemd-journald
DRIVER=${top_builddir:-.}/tests/plugins/journald-driver
POLICY_DRIVER=${top_builddir:-.}/tests/plugins/journald-policy-driver

if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP needs root"; exit 77; fi
if [ -n "${VIGIL_SKIP_ROOT_TESTS:-}" ]; then echo "1..0 # SKIP VIGIL_SKIP_ROOT_TESTS is set"; exit 77; fi
for t in unshare journalctl mount; do
	command -v $t >/dev/null || { echo "1..0 # SKIP $t missing"; exit 77; }
done
[ -x "$JOURNALD" ] || { echo "1..0 # SKIP $JOURNALD missing"; exit 77; }
[ -s /etc/machine-id ] || { echo "1..0 # SKIP no /etc/machine-id"; exit 77; }

if [ "${VIGIL_IN_NS:-}" != 1 ]; then
	VIGIL_IN_NS=1 exec unshare -m --propagation private "$0" "$@"
fi

tmp=$(mktemp -d /tmp/vigil-journald.XXXXXX)
mount -t tmpfs -o mode=0755 tmpfs /run || { echo "1..0 # SKIP cannot mount tmpfs"; exit 77; }
mkdir -p /run/systemd/journal /run/log/journal
mount --bind "$tmp" /run/log/journal
export PLUGIN_DIR="${PLUGIN_DIR:-${top_builddir:-.}/plugins/.libs}"

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; [ $# -gt 1 ] && echo "# $2"; }
check() { # name, command...
	name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
echo "1..16"

# 1. No journald at all: the socket is absent, which sd_journal_sendv() reports as success.
out=$("$DRIVER" 2>/dev/null)
[ "$out" = "status=RETRY results=0000" ] && ok "no socket -> RETRY" || not_ok "no socket -> RETRY" "$out"

# 2. A private journald.
"$JOURNALD" >"$tmp/journald.log" 2>&1 &
jpid=$!
i=0
while [ ! -S /run/systemd/journal/socket ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "journald socket up" test -S /run/systemd/journal/socket

out=$("$DRIVER" json 2>&1)
[ "$out" = "status=OK results=0000" ] && ok "emit -> OK" || not_ok "emit -> OK" "$out"

# Read back (journald writes asynchronously: poll for the loss entry, the last one).
i=0
while [ $i -lt 100 ]; do
	journalctl -D "$tmp" -o json SYSLOG_IDENTIFIER=vigil >"$tmp/out.json" 2>/dev/null
	[ "$(grep -c '"SYSLOG_IDENTIFIER":"vigil"' "$tmp/out.json")" -ge 4 ] && break
	sleep 0.1; i=$((i + 1))
done
J="$tmp/out.json"
grep -F '"MESSAGE_ID":"394187e803e34d6c855efe70573fb8e1"' "$J" >"$tmp/exec.json"
grep -F '"MESSAGE_ID":"3acb421272df4fd5bb34b878c04cc5a8"' "$J" >"$tmp/exit.json"
grep -F '"MESSAGE_ID":"935d222cbdb44bff8b408ee8d9718484"' "$J" >"$tmp/loss.json"
has() { # file, fixed strings that must all be in it
	f=$1; shift
	for s in "$@"; do grep -qF -- "$s" "$f" || { echo "# missing: $s"; return 1; }; done
}
check "4 entries read back" test "$(grep -c '"SYSLOG_IDENTIFIER":"vigil"' "$J")" -eq 4
check "exec MESSAGE_ID and PRIORITY 6" has "$tmp/exec.json" '"PRIORITY":"6"'
check "exec VIGIL_* fields" has "$tmp/exec.json" '"VIGIL_EVENT":"process_exec"' \
	'"VIGIL_PID":"1234"' '"VIGIL_TID":"1234"' '"VIGIL_PPID":"1200"' \
	'"VIGIL_EXEC_ID":"d2ViLTE6OGIzZjE3ZDA6MTIzNDU2OjEyMzQ6NjU1NDM"' \
	'"VIGIL_PARENT_EXEC_ID":"d2ViLTE6OGIzZjE3ZDA6MTIwMDAwOjEyMDA6MTMxMDc"' \
	'"VIGIL_BINARY":"/usr/local/bin/vigil-marker"' '"VIGIL_PARENT_BINARY":"/bin/bash"' \
	'"VIGIL_UNIT":"nginx.service"' '"VIGIL_CGROUP":"/system.slice/nginx.service"' \
	'"VIGIL_CONTAINER_ID":"0123456789abcdef0123456789abcdef"' '"VIGIL_CWD":"/var/www"' \
	'"VIGIL_UID":"33"' '"VIGIL_AUID":"4294967295"' '"VIGIL_ARGC":"4"' \
	'"VIGIL_ARGV0":"vigil-marker"' '"VIGIL_ARGV1":"--password=x"' '"VIGIL_ARGV2":"two words"' \
	'"VIGIL_SEQ":"1000"' '"VIGIL_NODE_NAME":"web-1"' \
	'"VIGIL_TIME":"2026-11-21T23:59:01.123456789Z"'
check "binary-safe values with newline" has "$tmp/exec.json" '"VIGIL_ARGV3":"line\nbreak"' \
	'"VIGIL_ARGV":"--password=x \"two words\" line\nbreak"'
check "MESSAGE is the compact line" has "$tmp/exec.json" \
	'"MESSAGE":"exec  pid=1234 0123456789ab /usr/local/bin/vigil-marker --password=x \"two words\" \"line\\nbreak\""'
check "VIGIL_JSON with Fields=json" has "$tmp/exec.json" '"VIGIL_JSON":"{\"process_exec\":{\"process\":{'
check "exit SIGKILL fields" has "$tmp/exit.json" '"VIGIL_SIGNAL":"SIGKILL"' '"VIGIL_STATUS":"0"' \
	'"VIGIL_EVENT":"process_exit"'
check "loss: PRIORITY 4 and fields" has "$tmp/loss.json" '"PRIORITY":"4"' \
	'"VIGIL_LOSS_STAGE":"queue"' '"VIGIL_LOSS_COUNT":"12"' '"VIGIL_LOSS_TOTAL":"40"' \
	'"VIGIL_LOSS_OUTPUT":"kafka-main"'

# Policy records (process_kprobe with Sigkill, process_tracepoint with Post), encoded by the
# daemon's encoder.
out=$("$POLICY_DRIVER" 2>&1)
[ "$out" = "status=OK results=00" ] && ok "policy records emit -> OK" || not_ok "policy records emit -> OK" "$out"
i=0
while [ $i -lt 100 ]; do
	journalctl -D "$tmp" -o json SYSLOG_IDENTIFIER=vigil >"$J" 2>/dev/null
	[ "$(grep -c '"SYSLOG_IDENTIFIER":"vigil"' "$J")" -ge 6 ] && break
	sleep 0.1; i=$((i + 1))
done
grep -F '"MESSAGE_ID":"b4f84d7a17a8465f870cb44aff85750e"' "$J" >"$tmp/kprobe.json"
grep -F '"MESSAGE_ID":"8394c66445f04adbad1e6f4066900173"' "$J" >"$tmp/tracepoint.json"
check "kprobe: PRIORITY 4 (Sigkill) and fields" has "$tmp/kprobe.json" '"PRIORITY":"4"' \
	'"VIGIL_EVENT":"process_kprobe"' '"VIGIL_POLICY":"sensitive-files"' \
	'"VIGIL_FUNCTION":"__x64_sys_openat"' '"VIGIL_ACTION":"KPROBE_ACTION_SIGKILL"' \
	'"VIGIL_SIGNAL":"SIGKILL"' '"VIGIL_POLICY_MESSAGE":"shadow read"' '"VIGIL_PID":"1234"' \
	'"VIGIL_BINARY":"/usr/bin/cat"' '"VIGIL_SEQ":"2000"' '"VIGIL_TAG":["file","sensitive"]'
check "kprobe: MESSAGE is the compact line" has "$tmp/kprobe.json" \
	'"MESSAGE":"probe pid=1234 - /usr/bin/cat open /etc/shadow dirfd=-100 [SIGKILL]"'
check "tracepoint: PRIORITY 5 (Post) and fields" has "$tmp/tracepoint.json" '"PRIORITY":"5"' \
	'"VIGIL_EVENT":"process_tracepoint"' '"VIGIL_POLICY":"forks"' '"VIGIL_SUBSYS":"sched"' \
	'"VIGIL_TRACEPOINT":"sched_process_fork"' '"VIGIL_ACTION":"KPROBE_ACTION_POST"' \
	'"MESSAGE":"probe pid=1234 - /usr/bin/cat sched/sched_process_fork child=4242"'

# 3. journald gone, its socket left behind: ECONNREFUSED -> RETRY.
kill -9 $jpid; wait $jpid 2>/dev/null
out=$("$DRIVER" 2>/dev/null)
if [ -S /run/systemd/journal/socket ] && [ "$out" = "status=RETRY results=0000" ]; then
	ok "stale socket -> RETRY"
else
	not_ok "stale socket -> RETRY" "$out"
fi

umount /run/log/journal
umount /run
rm -rf "$tmp"
exit $failed
