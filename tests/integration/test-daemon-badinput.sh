#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Bad input fails early and clearly: exit status, and a message naming the culprit.
. "$top_srcdir/tests/integration/lib.sh"

run() { # run CONFDIR [ARGS...]: sets RC and OUT (stderr+stdout)
    d=$1; shift
    OUT=$(STATE_DIRECTORY="$d/state" RUNTIME_DIRECTORY="$d/run" "$VIGILD" --config-dir "$d" \
        --plugin-dir "$PLUGIN_DIR" "$@" 2>&1); RC=$?
}

# Malformed value: exit 78 (EX_CONFIG) naming file and line.
C="$T/bad-value"; make_config "$C"
printf '[Sensor]\nRingBufferSize=lots\n' >"$C/vigild.conf.d/50-bad.conf" 2>/dev/null || {
    mkdir -p "$C/vigild.conf.d"; printf '[Sensor]\nRingBufferSize=lots\n' >"$C/vigild.conf.d/50-bad.conf"; }
run "$C" --validate
is "$RC" "78" "bad value: --validate exits 78"
check "bad value: message names file:line and value" sh -c "echo \"\$0\" | grep -q '50-bad.conf:2.*lots'" "$OUT"
run "$C"
is "$RC" "78" "bad value: daemon start exits 78"

# Unknown key: warning with did-you-mean; --validate fails.
C="$T/unknown-key"; make_config "$C"
printf '[Sensor]\nRingBuferSize=8M\n' >"$C/vigild.conf.d/50-typo.conf"
run "$C" --validate
check "unknown key: --validate exits non-zero" test "$RC" -ne 0
check "unknown key: did-you-mean" sh -c "echo \"\$0\" | grep -q \"50-typo.conf:2.*RingBuferSize.*RingBufferSize\"" "$OUT"

# Syntax error.
C="$T/syntax"; make_config "$C"
printf '[Sensor\n' >"$C/vigild.conf.d/50-syntax.conf"
run "$C" --validate
check "syntax error: non-zero exit" test "$RC" -ne 0
check "syntax error: names file:line" sh -c "echo \"\$0\" | grep -q '50-syntax.conf:1'" "$OUT"

# --cat-config shows every file with a header.
C="$T/cat"; make_config "$C"
printf '[Sensor]\nArgvMaxBytes=4096\n' >"$C/vigild.conf.d/50-argv.conf"
run "$C" --cat-config
is "$RC" "0" "--cat-config succeeds"
check "--cat-config prints # /path headers" sh -c "echo \"\$0\" | grep -q '^# $C/vigild.conf.d/50-argv.conf'" "$OUT"

if [ "$(id -u)" -eq 0 ] && [ -z "${VIGIL_SKIP_ROOT_TESTS:-}" ]; then
    # Unknown plugin.
    C="$T/noplugin"; make_config "$C"
    printf '[Output]\nPlugin=nosuch\n' >"$C/outputs.d/x.conf"
    run "$C"
    check "unknown plugin: non-zero exit" test "$RC" -ne 0
    check "unknown plugin: message names it" sh -c "echo \"\$0\" | grep -q \"nosuch\"" "$OUT"

    run "$C" --validate
    check "unknown plugin: --validate exits non-zero" test "$RC" -ne 0
    check "unknown plugin: --validate names it" sh -c "echo \"\$0\" | grep -q \"Plugin 'nosuch' not found\"" "$OUT"

    # Typo in a plugin section: --validate warns with file:line and a suggestion.
    # (Plugin sections are checked by loading the plugin, which must be root-owned: root only.)
    C="$T/plugin-typo"; make_config "$C"
    printf '[Output]\nPlugin=file\n[File]\nPth=/x\nPath=%s/typo.json\n' "$C" >"$C/outputs.d/typo.conf"
    run "$C" --validate
    check "plugin section typo: --validate exits non-zero" test "$RC" -ne 0
    check "plugin section typo: file:line and did-you-mean" sh -c "echo \"\$0\" | grep -q \"outputs.d/typo.conf:4: Unknown key 'Pth' in section \\[File\\].*Did you mean 'Path'\"" "$OUT"
    check "plugin section typo: --validate created nothing" test ! -e "$C/typo.json" -a ! -e "$C/state"

    # A clean config with outputs validates (the plugins load, init() is not called).
    C="$T/clean"; make_config "$C"
    cp "$top_srcdir/conf.d/outputs.d/stdout.conf" "$C/outputs.d/"
    run "$C" --validate
    is "$RC" "0" "clean config with file and stdout outputs: --validate exits 0"
    check "clean config: --validate did not open the output file" test ! -e "$C/events.json"

    # A plugin built for another ABI major, among copies of the real plugins.
    FAKE_DIR="$top_builddir/tests/plugins/fake/.libs"
    if [ -f "$FAKE_DIR/out_badmajor.so" ]; then
        C="$T/badabi"; make_config "$C"; P="$T/badabi-plugins"; mkdir -p "$P"
        cp "$PLUGIN_DIR"/*.so "$P/"; cp "$FAKE_DIR/out_badmajor.so" "$P/"; chmod 0755 "$P"/*.so
        printf '[Output]\nPlugin=badmajor\n' >"$C/outputs.d/bad.conf"
        OUT=$(STATE_DIRECTORY="$C/state" RUNTIME_DIRECTORY="$C/run" "$VIGILD" --config-dir "$C" \
            --plugin-dir "$P" --validate 2>&1); RC=$?
        check "wrong ABI major: --validate exits non-zero" test "$RC" -ne 0
        check "wrong ABI major: --validate says ABI" sh -c "echo \"\$0\" | grep -q 'out_badmajor.so.*ABI 2.x, this daemon 1.x'" "$OUT"
        OUT=$(STATE_DIRECTORY="$C/state" RUNTIME_DIRECTORY="$C/run" timeout 30 "$VIGILD" \
            --config-dir "$C" --plugin-dir "$P" 2>&1); RC=$?
        check "wrong ABI major: vigild refuses to start" test "$RC" -ne 0 -a "$RC" -ne 124
        check "wrong ABI major: message says ABI" sh -c "echo \"\$0\" | grep -q 'ABI'" "$OUT"
    else
        ok 1 "fake plugin out_badmajor.so not built in $FAKE_DIR"
    fi

    # Unwritable output path.
    C="$T/unwritable"; make_config "$C"
    sed -i "s|^Path=.*|Path=/proc/vigil-cannot-write/events.json|" "$C/outputs.d/file.conf"
    run "$C"
    check "unwritable output path: non-zero exit" test "$RC" -ne 0
    check "unwritable output path: message names the path" sh -c "echo \"\$0\" | grep -q '/proc/vigil-cannot-write/events.json'" "$OUT"

    # Not root: BPF cannot load; a clear message, non-zero exit.
    if command -v setpriv >/dev/null; then
        C="$T/nonroot"; make_config "$C"; chmod -R a+rwx "$T"
        OUT=$(STATE_DIRECTORY="$C/state" setpriv --reuid=65534 --regid=65534 --clear-groups \
            --inh-caps=-all --bounding-set=-all "$VIGILD" --config-dir "$C" --plugin-dir "$PLUGIN_DIR" 2>&1); RC=$?
        check "not root: non-zero exit" test "$RC" -ne 0
        check "not root: says root/CAP_BPF is needed" sh -c "echo \"\$0\" | grep -qi 'root\\|CAP_BPF'" "$OUT"
    fi
fi
tap_done
