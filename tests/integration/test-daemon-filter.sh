#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# In-kernel exec filtering: [Sensor] ExcludeBinaries= and ExcludeCgroups= drop exec, exit and
# clone events before they reach user space; children that exec something else come back.
. "$top_srcdir/tests/integration/lib.sh"
require_root

CG2=$(grep ' - cgroup2 ' /proc/self/mountinfo | awk '{ print $5 }' | head -n1)
[ -n "$CG2" ] || skip_all "no cgroup v2 hierarchy"
TAG="vigilflt$$"
C="$T/conf"
make_config "$C"
E="$C/events.json"
mkdir -p "$T/quiet" "$T/loud"
cp /bin/sh "$T/quiet/qsh"
cp /bin/true "$T/loud/true"
CGNAME="vigil-filter-test-$$"
mkdir "$CG2/$CGNAME"
mkdir "$CG2/$CGNAME/inner"
trap 'rmdir "$CG2/$CGNAME/inner" "$CG2/$CGNAME" 2>/dev/null; cleanup' EXIT
cat >>"$C/vigild.conf" <<EOC
ExcludeBinaries=$T/quiet/
ExcludeCgroups=$CGNAME
EOC

start_vigild "$C" || { ok 1 "vigild starts"; tap_done; }
ok 0 "vigild starts with ExcludeBinaries= and ExcludeCgroups="

# An excluded binary forks (a subshell) and its child execs a binary that is not excluded.
"$T/quiet/qsh" -c "( true ); $T/loud/true $TAG-child; exit 0" "$TAG-quiet"
# A process in the excluded cgroup (in a sub-cgroup of it, to check ancestors are matched).
sh -c "echo \$\$ > '$CG2/$CGNAME/inner/cgroup.procs'; exec $T/loud/true $TAG-incg"
# Control: the same binary outside the cgroup.
"$T/loud/true" "$TAG-control"
wait_for "$E" "select(.process_exec.process.argv[1]? == \"$TAG-control\")"
ok $? "a process that is not excluded is reported"
sleep 0.3
cnt() { jq -c "$1" "$E" | wc -l | tr -d ' '; }
is "$(cnt "select(.process_exec.process.binary? == \"$T/quiet/qsh\")")" "0" "exec of an excluded binary is not reported"
is "$(cnt "select(.process_exit.process.binary? == \"$T/quiet/qsh\")")" "0" "nor its exit"
is "$(cnt "select(.process_clone.parent.binary? == \"$T/quiet/qsh\" or .process_clone.process.binary? == \"$T/quiet/qsh\")")" "0" "nor the forks it makes"
is "$(cnt "select(.process_exec.process.argv[1]? == \"$TAG-child\")")" "1" "its child that execs another binary is reported again"
is "$(cnt "select(.process_exec.process.argv[1]? == \"$TAG-incg\")")" "0" "exec in (a sub-cgroup of) an excluded cgroup is not reported"
is "$(cnt "select(.process_exit.process.argv[1]? == \"$TAG-incg\")")" "0" "nor its exit"
is "$(cnt "select(.process_exit.process.argv[1]? == \"$TAG-control\")")" "1" "the control process's exit is reported"

stop_vigild
is "$VIGILD_STATUS" "0" "SIGTERM: exit status 0"

printf '[Sensor]\nExcludeBinaries=relative/path\n' >"$C/vigild.conf.d/90-bad.conf"
"$VIGILD" --validate --config-dir "$C" --plugin-dir "$PLUGIN_DIR" >"$T/v.out" 2>&1
is "$?" "78" "a relative ExcludeBinaries= prefix is a config error (exit 78)"
check "the error names file, line and value" grep -q "90-bad.conf:2: Invalid value 'relative/path' for ExcludeBinaries=" "$T/v.out"
tap_done
