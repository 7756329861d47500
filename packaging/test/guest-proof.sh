#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Runs inside the booted Debian container of packaging/check-packages.sh, as a service started
# at boot (vigil-proof.service). Exercises the installed package through systemd and writes TAP
# to /vigil-result/result.tap, then powers the container off. See docs/packaging.md.

RES=/vigil-result/result.tap
DEBS=/srv/vigil-debs
N=0
: >"$RES"
exec >/vigil-result/guest.log 2>&1

ok() { # ok STATUS NAME
	N=$((N + 1))
	if [ "$1" -eq 0 ]; then echo "ok $N - $2" >>"$RES"; else echo "not ok $N - $2" >>"$RES"; fi
	echo "[$N] $2: $1"
}
check() { # check NAME CMD...
	name=$1
	shift
	if "$@"; then ok 0 "$name"; else ok 1 "$name"; fi
}
diag() { echo "# $*" >>"$RES"; }
prop() { systemctl show -P "$1" vigild.service; }
# wait_for SECONDS CMD...: poll until CMD succeeds.
wait_for() {
	t=$(($1 * 5))
	shift
	while [ $t -gt 0 ]; do
		"$@" 2>/dev/null && return 0
		sleep 0.2
		t=$((t - 1))
	done
	return 1
}
is_running() { [ "$(prop ActiveState)/$(prop SubState)" = active/running ]; }
# The lines holding the marker, parsed: the exec record of the marker process itself. (The file
# grows fast, with every process of the host: reading it all with jq could meet a line that is
# still being written. jq 1.6's -e with select() looks only at the last input: use any().)
in_json() {
	grep -F -- "\"$1\"" /var/log/vigil/events.json |
		jq -n -e --arg m "$1" 'any(inputs; .process_exec.process.arguments == $m)' >/dev/null
}
# check_json NAME MARKER: in_json within 60 s, with a diagnosis when not.
check_json() {
	if wait_for 60 in_json "$2"; then
		ok 0 "$1"
	else
		ok 1 "$1"
		diag "$(grep -c -F -- "$2" /var/log/vigil/events.json) lines with $2 in events.json"
		diag "$(grep -F -- "$2" /var/log/vigil/events.json | head -n 3)"
		diag "$(ls -l /var/log/vigil/)"
	fi
}
in_journal() { journalctl -q -t vigil -o cat | grep -q -- "$1"; }
finish() {
	echo "1..$N" >>"$RES"
	echo "# done" >>"$RES"
	journalctl -b -q --no-pager -u vigild.service >/vigil-result/vigild.journal 2>&1
	sync
	systemctl --no-block poweroff
	exit 0
}

set -x
diag "kernel $(uname -r), $(systemctl --version | head -n 1)"

# The unit as installed: verify is clean (it exits 0 on some errors: check stderr).
systemd-analyze verify --man=no /lib/systemd/system/vigild.service >/tmp/verify.out 2>&1
check "systemd-analyze verify vigild.service: no diagnostics" test ! -s /tmp/verify.out
cat /tmp/verify.out
diag "exposure: $(systemd-analyze security --no-pager vigild.service 2>/dev/null | tail -n 1)"

# An admin drop-in: a JSON file output in the unit's LogsDirectory=.
cat >/etc/vigil/outputs.d/file.conf <<EOC
[Output]
Plugin=file
[File]
Path=/var/log/vigil/events.json
MaxSize=0
EOC
# An admin policy: enforcement through the cgroup connect hook (needs CAP_NET_ADMIN and a
# cgroup file descriptor under ProtectControlGroups=).
PORT=47613
cat >/etc/vigil/policy.d/50-proof-deny.yaml <<EOP
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: proof-deny-connect
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
        values: ["127.0.0.1/32"]
      - index: 1
        operator: DPort
        values: ["$PORT"]
      matchActions:
      - action: Override
        argError: -13
EOP
check "vigild --validate accepts the installed configuration" vigild --validate

systemctl enable --now vigild.service
ok $? "systemctl enable --now vigild"
check "vigild reaches active (running) (READY=1)" wait_for 60 is_running
check "vigild is enabled" test "$(systemctl is-enabled vigild.service)" = enabled
PID=$(prop MainPID)
diag "capabilities: $(grep CapEff /proc/"$PID"/status)"
check "the sandbox is in force (NoNewPrivs, seccomp)" \
	grep -q '^NoNewPrivs:[[:space:]]*1' /proc/"$PID"/status
check "STATUS= is reported" test -n "$(prop StatusText)"

M1="vigil-proof-marker-$$-1"
/bin/sh -c "exec /bin/echo $M1" >/dev/null
check "marker exec is in the journal (journald output)" wait_for 60 in_journal "$M1"
check_json "marker exec is in the JSON file (file output)" "$M1"
rec() { grep -F -- "\"$1\"" /var/log/vigil/events.json |
	jq -n -c --arg m "$1" 'first(inputs | select(.process_exec.process.arguments == $m))'; }
REC=$(rec "$M1")
diag "record: $REC"
# (No assertion on .parent here: in a PID namespace /proc shows other PIDs than the kernel
# reports to BPF, so processes from vigild's /proc scan cannot be matched; on a host they are.)
check "systemd unit of the marker resolved (cgroup)" \
	test "$(echo "$REC" | jq -r .process_exec.process.unit)" = vigil-proof.service

# Nothing listens on $PORT: without the policy connect() fails with ECONNREFUSED.
bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/tmp/connect.err
cat /tmp/connect.err
check "Override on connect enforced under the sandbox (EACCES)" \
	grep -q "Permission denied" /tmp/connect.err

# Reload: SIGHUP via ExecReload=, same main process, still running.
systemctl reload vigild.service
ok $? "systemctl reload vigild"
check "same main PID after reload" test "$(prop MainPID)" = "$PID"
check "running after reload" wait_for 30 is_running
check "the daemon logged the reload" wait_for 10 sh -c \
	"journalctl -q -u vigild.service -o cat | grep -q 'Received SIGHUP'"

# logrotate: rename + SIGUSR1 (postrotate), vigild reopens Path=; nothing lost.
logrotate -f /etc/logrotate.d/vigil
ok $? "logrotate -f /etc/logrotate.d/vigil"
check "the rotated file holds the first marker" sh -c "ls /var/log/vigil/events.json-* && \
	grep -q '$M1' /var/log/vigil/events.json-*"
M2="vigil-proof-marker-$$-2"
/bin/sh -c "exec /bin/echo $M2" >/dev/null
check_json "after rotation, the next exec is in the new events.json" "$M2"

# Upgrade path (reinstall of the same version): admin files stay, service is restarted.
dpkg -i "$DEBS"/*.deb >/tmp/dpkg.out 2>&1
ok $? "dpkg -i (reinstall) of the packages"
check "admin drop-in outputs.d/file.conf kept" test -f /etc/vigil/outputs.d/file.conf
check "running after the reinstall" wait_for 60 is_running
PID=$(prop MainPID)
M3="vigil-proof-marker-$$-3"
/bin/sh -c "exec /bin/echo $M3" >/dev/null
check_json "after the reinstall, events still flow to the JSON file" "$M3"

# Clean stop: drains and exits 0.
systemctl stop vigild.service
ok $? "systemctl stop vigild"
check "stopped: inactive (dead)" test "$(prop ActiveState)/$(prop SubState)" = inactive/dead
check "clean exit: Result=success, status 0" \
	test "$(prop Result)/$(prop ExecMainStatus)" = success/0
check "the daemon drained on SIGTERM" sh -c \
	"journalctl -q -u vigild.service -o cat | grep -q 'Received SIGTERM'"
check "the spool/state directory exists" test -d /var/lib/vigil

# Purge removes state and the unit's enablement.
apt-get purge -y vigil-output-kafka vigil-output-http vigil >/tmp/purge.out 2>&1
ok $? "apt-get purge vigil"
check "purge removed /var/lib/vigil" test ! -e /var/lib/vigil
check "purge removed /var/log/vigil" test ! -e /var/log/vigil
check "purge removed the unit" test ! -e /lib/systemd/system/vigild.service
check "purge removed the enablement symlink" \
	test ! -e /etc/systemd/system/multi-user.target.wants/vigild.service

finish
