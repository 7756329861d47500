# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers for the shell integration tests: TAP output, a private config directory,
# starting the real vigild under notify-recorder and waiting for READY=1.
#
# Environment (set by tests/local.mk): top_srcdir, top_builddir, VIGILD, PLUGIN_DIR.

set -u
: "${top_srcdir:?}" "${top_builddir:?}" "${VIGILD:?}" "${PLUGIN_DIR:?}"
NOTIFY_RECORDER="$top_builddir/tests/integration/notify-recorder"

TAP_N=0
TAP_FAILED=0

ok() { # ok COND-EXIT-STATUS NAME
    TAP_N=$((TAP_N + 1))
    if [ "$1" -eq 0 ]; then echo "ok $TAP_N - $2"; else echo "not ok $TAP_N - $2"; TAP_FAILED=1; fi
}
check() { # check NAME CMD...: runs CMD, ok if it succeeds
    name=$1; shift
    if "$@" >/dev/null 2>&1; then ok 0 "$name"; else ok 1 "$name"; echo "# failed: $*"; fi
}
is() { # is GOT EXPECTED NAME
    if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"; echo "#   got: '$1'"; echo "#   expected: '$2'"; fi
}
diag() { echo "# $*"; }
skip_all() { echo "1..0 # SKIP $*"; exit 77; }
tap_done() { echo "1..$TAP_N"; exit $TAP_FAILED; }  # trailing plan

require_root() {
    [ "$(id -u)" -eq 0 ] || skip_all "needs root (BPF)"
    [ -z "${VIGIL_SKIP_ROOT_TESTS:-}" ] || skip_all "VIGIL_SKIP_ROOT_TESTS is set"
    [ -r /sys/kernel/btf/vmlinux ] || skip_all "kernel has no BTF"
    if ! command -v jq >/dev/null; then
        # In CI a missing tool is a broken install step, not a reason to skip.
        [ -z "${CI:-}" ] || { echo "1..1"; echo "not ok 1 - jq is not installed (tools/install-deps.sh)"; exit 1; }
        skip_all "jq not installed"
    fi
}

# A scratch directory removed at exit; vigild is stopped at exit too.
T=$(mktemp -d /tmp/vigil-test.XXXXXX)
VIGILD_PID=""
cleanup() {
    if [ -n "$VIGILD_PID" ] && kill -0 "$VIGILD_PID" 2>/dev/null; then
        kill -TERM "$VIGILD_PID" 2>/dev/null; wait "$VIGILD_PID" 2>/dev/null
    fi
    [ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# make_config DIR: a config directory with one JSON file output to $DIR/events.json.
make_config() {
    mkdir -p "$1/outputs.d" "$1/vigild.conf.d"
    cat >"$1/vigild.conf" <<EOC
[Daemon]
NodeName=testnode
StatusIntervalSec=1s
# Tests run in parallel: none binds the metrics port unless it asks for it.
MetricsListen=no
[Sensor]
CloneEvents=yes
EOC
    cat >"$1/outputs.d/file.conf" <<EOC
[Output]
Plugin=file
[File]
Path=$1/events.json
Format=json
EOC
}

# start_vigild CONFDIR [ARGS...]: start in the background, wait for READY=1 (20 s).
start_vigild() {
    confdir=$1; shift
    NOTIFY_LOG="$confdir/notify.log"
    VIGILD_LOG="$confdir/vigild.log"
    : >"$NOTIFY_LOG"
    STATE_DIRECTORY="$confdir/state" RUNTIME_DIRECTORY="$confdir/run" \
        "$NOTIFY_RECORDER" "$NOTIFY_LOG" "$VIGILD" --config-dir "$confdir" \
        --plugin-dir "$PLUGIN_DIR" "$@" 2>"$VIGILD_LOG" &
    VIGILD_PID=$!
    i=0
    while ! grep -q '^READY=1' "$NOTIFY_LOG" 2>/dev/null; do
        if ! kill -0 "$VIGILD_PID" 2>/dev/null; then
            diag "vigild exited before READY=1:"; sed 's/^/#   /' "$VIGILD_LOG"
            return 1
        fi
        i=$((i + 1))
        [ $i -lt 200 ] || { diag "no READY=1 after 20 s"; return 1; }
        sleep 0.1
    done
}

# stop_vigild: SIGTERM, wait at most 20 s (then SIGKILL and status 124); sets VIGILD_STATUS.
stop_vigild() {
    kill -TERM "$VIGILD_PID"
    i=0
    while kill -0 "$VIGILD_PID" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$VIGILD_PID" 2>/dev/null; then
        diag "vigild did not exit within 20 s of SIGTERM"
        pkill -KILL -P "$VIGILD_PID" 2>/dev/null; kill -KILL "$VIGILD_PID" 2>/dev/null
        wait "$VIGILD_PID" 2>/dev/null; VIGILD_STATUS=124
    else
        wait "$VIGILD_PID"; VIGILD_STATUS=$?
    fi
    VIGILD_PID=""
}

# wait_for FILE JQ-FILTER [TIMEOUT-SECONDS]: until some JSON line of FILE matches (select()).
wait_for() {
    i=0; limit=$(( ${3:-10} * 10 ))
    while [ $i -lt $limit ]; do
        if [ -s "$1" ] && jq -c "$2" "$1" 2>/dev/null | grep -q .; then return 0; fi
        i=$((i + 1)); sleep 0.1
    done
    return 1
}
