#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The whole test suite: install dependencies, build, run `make check` (root-only tests run when
# root, else they SKIP), the package proof (make check-packages), then the unit and plugin tests
# again under ASan+UBSan, then distcheck.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/tools/install-deps.sh"
"$top/tools/build.sh" "$top/build"

status=0
echo "=== make check-format ==="
make -C "$top/build" check-format || status=1

echo "=== make check ==="
make -C "$top/build" -j2 check || status=1

echo "=== make check-packages (root: .debs, lintian, apt install + systemd boot proof) ==="
make -C "$top/build" check-packages || status=1

echo "=== sanitizers: make check (ASan + UBSan, no root tests) ==="
"$top/tools/build.sh" "$top/build-asan" --enable-sanitizers
VIGIL_SKIP_ROOT_TESTS=1 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    make -C "$top/build-asan" -j2 check || status=1

echo "=== make distcheck (no root tests: they ran above) ==="
VIGIL_SKIP_ROOT_TESTS=1 make -C "$top/build" -j2 distcheck || status=1

# One closing line over both runs: "vigil: N passed, N failed, N skipped".
pass=0 fail=0 skip=0
for d in build build-asan; do
    log="$top/$d/test-suite.log"
    [ -f "$log" ] || continue
    p=$(sed -n 's/^# PASS: *//p' "$log"); f=$(sed -n 's/^# FAIL: *//p' "$log")
    e=$(sed -n 's/^# ERROR: *//p' "$log"); x=$(sed -n 's/^# XPASS: *//p' "$log")
    s=$(sed -n 's/^# SKIP: *//p' "$log")
    pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0} + ${e:-0} + ${x:-0})); skip=$((skip + ${s:-0}))
done
[ $status -eq 0 ] || [ $fail -gt 0 ] || fail=1
echo "vigil: $pass passed, $fail failed, $skip skipped"
exit $status
