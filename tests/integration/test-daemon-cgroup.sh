#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Enrichment from the cgroup v2 path: container id/runtime from a docker-style scope, systemd
# unit and slice from system.slice/NAME.service. Uses the real daemon and real cgroups.
. "$top_srcdir/tests/integration/lib.sh"
require_root
CG=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$CG" ] || skip_all "no cgroup2 mount"

TAG="vigilcg$$"
CID=$(printf '%064x' $$ | sed 's/^0/a/')   # 64 hex digits, unique per run
DOCKER="$CG/system.slice/docker-$CID.scope"
UNIT="$CG/system.slice/vigiltest-$$.service"
mkdir -p "$DOCKER" "$UNIT" || skip_all "cannot create cgroups under $CG"
cleanup_cg() { rmdir "$DOCKER" "$UNIT" 2>/dev/null; true; }
trap 'cleanup; cleanup_cg' EXIT

C="$T/conf"; make_config "$C"; E="$C/events.json"
start_vigild "$C" || { ok 1 "vigild starts"; tap_done; }

sh -c "echo \$\$ > '$DOCKER/cgroup.procs' && exec /bin/true '$TAG-docker'"
sh -c "echo \$\$ > '$UNIT/cgroup.procs' && exec /bin/true '$TAG-unit'"
wait_for "$E" "select(.process_exec.process.argv[1]? == \"$TAG-unit\")"
ok $? "exec records from both cgroups arrive"

D=$(jq -c "select(.process_exec.process.argv[1]? == \"$TAG-docker\") | .process_exec.process" "$E" | head -n1)
is "$(echo "$D" | jq -r '.container.id')" "$CID" "full container id from docker-<id>.scope"
is "$(echo "$D" | jq -r '.container.runtime')" "docker" "container runtime docker"
is "$(echo "$D" | jq -r '.docker')" "$(echo "$CID" | cut -c1-31)" "Tetragon's 31-character docker field"
is "$(echo "$D" | jq -r '.cgroup')" "/system.slice/docker-$CID.scope" "cgroup path"

U=$(jq -c "select(.process_exec.process.argv[1]? == \"$TAG-unit\") | .process_exec.process" "$E" | head -n1)
is "$(echo "$U" | jq -r '.unit')" "vigiltest-$$.service" "systemd unit from system.slice/NAME.service"
is "$(echo "$U" | jq -r '.slice')" "system.slice" "slice"
is "$(echo "$U" | jq -r '.container')" "null" "no container outside containers"
stop_vigild
is "$VIGILD_STATUS" "0" "clean exit"
tap_done
