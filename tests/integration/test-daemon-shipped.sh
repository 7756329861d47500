#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The shipped policies (conf.d/policy.d/) as installed: each is triggered and its event checked.
. "$top_srcdir/tests/integration/lib.sh"
require_root

TAG="vigilship$$"
C="$T/conf"
make_config "$C"
mkdir -p "$C/policy.d"
cp "$top_srcdir"/conf.d/policy.d/*.yaml "$C/policy.d/"
NETPROBE="$top_builddir/tests/integration/net-probe"
E="$C/events.json"
PORT=$((20000 + ($$ + 7) % 20000))
mkdir -p "$T/home/.ssh"
echo key >"$T/home/.ssh/id_ed25519"

start_vigild "$C" || { ok 1 "vigild starts"; tap_done; }
ok 0 "vigild starts with the shipped policies"
check "all three shipped policies loaded" sh -c "[ \$(grep -c \"policy '.*' loaded\" '$VIGILD_LOG') -eq 3 ]"

kp() { echo "select(.process_kprobe.policy_name? == \"$1\")"; }

# sensitive-files: reads of /etc/shadow and of a private key, a write open of /etc/passwd
# (O_APPEND without writing: the file is not changed), a write to authorized_keys.
cat /etc/shadow >/dev/null
(cd "$T/home/.ssh" && cat ./id_ed25519 >/dev/null)
sh -c ': >> /etc/passwd'
sh -c ": > '$T/home/.ssh/authorized_keys'"
echo k >"$T/home/.ssh/new_keys"
mv "$T/home/.ssh/new_keys" "$T/home/.ssh/authorized_keys"
rm "$T/home/.ssh/authorized_keys"
S="$(kp sensitive-files)"
wait_for "$E" "$S | select(.process_kprobe.args[1].string_arg == \"$T/home/.ssh/authorized_keys\")"
ok $? "write to an authorized_keys file reported"
check "read of /etc/shadow reported (cat)" sh -c "jq -e '$S | select(.process_kprobe.args[1].string_arg == \"/etc/shadow\" and .process_kprobe.process.binary == \"/usr/bin/cat\")' '$E' | grep -q ."
check "read of a private key by a relative path reported with its absolute path" sh -c "jq -e '$S | select(.process_kprobe.args[1].string_arg == \"$T/home/.ssh/id_ed25519\")' '$E' | grep -q ."
REC=$(jq -c "$S | select(.process_kprobe.args[1].string_arg == \"/etc/passwd\")" "$E" | head -n1)
check "write open of /etc/passwd reported, with its flags" sh -c "echo '$REC' | jq -e '(.process_kprobe.args[2].int_arg | . % 2048 >= 1024) and .process_kprobe.args[2].label == \"flags\"'"
is "$(jq -c "$S | select(.process_kprobe.args[1].string_arg == \"/etc/passwd\" and .process_kprobe.process.binary == \"/usr/bin/cat\")" "$E" | wc -l | tr -d ' ')" "0" "a read-only open of /etc/passwd is not (it is read by everything)"
cat /etc/passwd >/dev/null
check "rename onto authorized_keys (mv) reported" sh -c "jq -e '$S | select((.process_kprobe.function_name | test(\"rename\")) and .process_kprobe.args[0].string_arg == \"$T/home/.ssh/authorized_keys\" and .process_kprobe.args[0].label == \"to\")' '$E' | grep -q ."
check "unlink of authorized_keys reported" sh -c "jq -e '$S | select(.process_kprobe.function_name == \"__x64_sys_unlinkat\" and .process_kprobe.args[0].string_arg == \"$T/home/.ssh/authorized_keys\")' '$E' | grep -q ."

# network-connections: connect and accept over IPv4 and IPv6 with the 5-tuple and the result.
"$NETPROBE" listen 127.0.0.1 "$PORT" 2 >/dev/null &
L4=$!
"$NETPROBE" listen ::1 "$PORT" 2 >/dev/null &
L6=$!
sleep 0.3
"$NETPROBE" connect 127.0.0.1 "$PORT" >/dev/null
"$NETPROBE" connect ::1 "$PORT" >/dev/null
wait $L4 $L6
N="$(kp network-connections)"
wait_for "$E" "$N | select(.process_kprobe.function_name == \"__x64_sys_connect\" and .process_kprobe.args[1].sockaddr_arg.addr == \"::1\")"
ok $? "IPv6 connect reported"
REC=$(jq -c "$N | select(.process_kprobe.function_name == \"__x64_sys_connect\" and .process_kprobe.args[1].sockaddr_arg.addr == \"127.0.0.1\" and .process_kprobe.args[1].sockaddr_arg.port == $PORT)" "$E" | head -n1)
is "$(echo "$REC" | jq -c '[.process_kprobe.args[0].sock_arg.protocol, .process_kprobe.args[0].sock_arg.daddr, .process_kprobe.args[0].sock_arg.dport, .process_kprobe.args[0].sock_arg.saddr, .process_kprobe.return.int_arg]')" "[\"IPPROTO_TCP\",\"127.0.0.1\",$PORT,\"127.0.0.1\",0]" "connect: protocol, destination, source and result"
check "connect: the local port the kernel picked" sh -c "echo '$REC' | jq -e '.process_kprobe.args[0].sock_arg.sport > 0'"
wait_for "$E" "$N | select(.process_kprobe.function_name == \"__x64_sys_accept4\" and .process_kprobe.return.sock_arg.daddr? == \"::1\")" 5 ||
    wait_for "$E" "$N | select(.process_kprobe.function_name == \"__x64_sys_accept\" and .process_kprobe.return.sock_arg.daddr? == \"::1\")" 2
ok $? "IPv6 accept reported with the peer"
check "IPv4 accept reported with the local port" sh -c "jq -e '$N | select((.process_kprobe.function_name | test(\"accept\")) and .process_kprobe.return.sock_arg.sport == $PORT and .process_kprobe.return.sock_arg.family == \"AF_INET\")' '$E' | grep -q ."

# privilege-changes: set*id, unshare, setns, bpf().
setpriv --reuid=65534 --regid=65534 --clear-groups /bin/true
unshare --uts /bin/true
setpriv --inh-caps=-all /bin/true
# ptrace(PTRACE_PEEKDATA, itself): fails with ESRCH, changes nothing (x86-64 syscall 101)
perl -e 'syscall(101, 2, $$ + 0, 0, 0)'
nsenter --uts=/proc/$$/ns/uts /bin/true
bpftool map create "/sys/fs/bpf/vigil-test-$$" type hash key 4 value 4 entries 1 name vigiltest
bpftool map dump pinned "/sys/fs/bpf/vigil-test-$$" >/dev/null 2>&1
rm -f "/sys/fs/bpf/vigil-test-$$"
P="$(kp privilege-changes)"
wait_for "$E" "$P | select(.process_kprobe.function_name == \"__x64_sys_bpf\" and .process_kprobe.process.binary == \"/usr/sbin/bpftool\" and .process_kprobe.args[0].int_arg == 0)"
ok $? "bpf(BPF_MAP_CREATE) by bpftool reported"
is "$(jq -c "$P | select(.process_kprobe.function_name == \"__x64_sys_bpf\" and .process_kprobe.process.binary == \"/usr/sbin/bpftool\" and (.process_kprobe.args[0].int_arg == 1 or .process_kprobe.args[0].int_arg == 4))" "$E" | wc -l | tr -d ' ')" "0" "bpftool's map reads (BPF_MAP_LOOKUP_ELEM, BPF_MAP_GET_NEXT_KEY) are not reported"
check "setpriv's uid change reported with the uid" sh -c "jq -e '$P | select(.process_kprobe.process.binary == \"/usr/bin/setpriv\" and (.process_kprobe.function_name | test(\"set(res|re)?uid\")) and ([.process_kprobe.args[].int_arg] | index(65534)))' '$E' | grep -q ."
check "unshare(CLONE_NEWUTS) reported with its flags" sh -c "jq -e '$P | select(.process_kprobe.function_name == \"__x64_sys_unshare\" and .process_kprobe.args[0].int_arg == 67108864)' '$E' | grep -q ."
check "setns reported with the namespace file" sh -c "jq -e '$P | select(.process_kprobe.function_name == \"__x64_sys_setns\" and (.process_kprobe.args[0].file_arg.path | test(\"uts\")))' '$E' | grep -q ."
check "capset reported (setpriv)" sh -c "jq -e '$P | select(.process_kprobe.function_name == \"__x64_sys_capset\" and .process_kprobe.process.binary == \"/usr/bin/setpriv\")' '$E' | grep -q ."
check "ptrace reported with request, target and result" sh -c "jq -e '$P | select(.process_kprobe.function_name == \"__x64_sys_ptrace\" and .process_kprobe.args[0].int_arg == 2 and .process_kprobe.args[1].int_arg == .process_kprobe.process.pid and .process_kprobe.return.int_arg == -3)' '$E' | grep -q ."
is "$(jq -c "$P | select(.process_kprobe.process.pid == $VIGILD_PID)" "$E" | wc -l | tr -d ' ')" "0" "vigild's own bpf() calls are not reported"

stop_vigild
is "$VIGILD_STATUS" "0" "SIGTERM: exit status 0"
tap_done
