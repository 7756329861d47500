#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# check-packages.sh TARBALL: the installation proof of docs/packaging.md. As root, on Debian 12:
#  1. builds the .debs from the release tarball (dpkg-buildpackage -us -uc -b) and runs lintian;
#     at the same time mmdebstrap creates a minimal Debian 12 root (minbase + systemd,
#     systemd-sysv, dbus) from this machine's Debian mirror;
#  2. installs the packages into that root with apt;
#  3. boots it with systemd-nspawn; packaging/test/guest-proof.sh runs inside as a service
#     (enable --now, READY, marker exec in the journal and the JSON file, reload, logrotate,
#     reinstall, stop, purge), writes TAP to a result directory and powers off;
#  4. prints the TAP and exits non-zero if anything failed.
# With VIGIL_CHECK_RPM=1 (or "check-packages.sh --rpm TARBALL": only that) it also builds the
# rpms with rpmbuild and checks their contents.
#
# Environment: VIGIL_PKG_WORKDIR (default: a new /var/tmp/vigil-pkg.XXXXXX, removed on success
# unless VIGIL_PKG_KEEP=1), VIGIL_DEBIAN_MIRROR (a URL; default: the bookworm sources configured
# in /etc/apt), VIGIL_PKG_TIMEOUT (seconds for the boot, default 240).
set -eu

only_rpm=0
if [ "${1:-}" = "--rpm" ]; then
	only_rpm=1
	shift
fi
[ $# -eq 1 ] || { echo "usage: $0 [--rpm] vigil-VERSION.tar.gz" >&2; exit 2; }
TARBALL=$(readlink -f "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
SUITE=bookworm
T0=$(date +%s)

say() { echo "check-packages [$(($(date +%s) - T0))s]: $*"; }
die() { say "FAIL: $*"; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found (apt-get install $2)"; }

[ -f "$TARBALL" ] || die "no tarball '$1' (make dist)"
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP needs root (mmdebstrap, systemd-nspawn)"; exit 77; }
[ -z "${VIGIL_SKIP_ROOT_TESTS:-}" ] || { echo "1..0 # SKIP VIGIL_SKIP_ROOT_TESTS is set"; exit 77; }

base=$(basename "$TARBALL" .tar.gz)
VERSION=${base#vigil-}
W=${VIGIL_PKG_WORKDIR:-$(mktemp -d /var/tmp/vigil-pkg.XXXXXX)}
mkdir -p "$W"
say "work directory $W"

# ---- rpm ----------------------------------------------------------------------------------
build_rpm() {
	need rpmbuild rpm
	R=$W/rpm
	mkdir -p "$R/SOURCES"
	cp "$TARBALL" "$R/SOURCES/"
	tar -xzOf "$TARBALL" "$base/packaging/rpm/vigil.spec" >"$R/vigil.spec"
	# Debian's rpm has no rpm database of the build dependencies: --nodeps. The test suite
	# (%check) runs in make check, not again here: --nocheck.
	if ! rpmbuild -bb --nodeps --nocheck --define "_topdir $R" --define "_smp_mflags -j$(nproc)" \
		"$R/vigil.spec" >"$R/rpmbuild.log" 2>&1; then
		tail -n 40 "$R/rpmbuild.log"
		die "rpmbuild failed (log: $R/rpmbuild.log)"
	fi
	for p in vigil vigil-output-kafka vigil-output-http; do
		f=$(ls "$R"/RPMS/*/"$p-$VERSION"-*.rpm 2>/dev/null | head -n 1)
		[ -n "$f" ] || die "rpm $p was not built"
		say "built $(basename "$f")"
	done
	main=$(ls "$R"/RPMS/*/"vigil-$VERSION"-*.rpm)
	rpm -qp --configfiles "$main" | grep -qx /etc/logrotate.d/vigil ||
		die "vigil.rpm: /etc/logrotate.d/vigil is not %config"
	rpm -qpl "$main" | grep -qx /usr/lib/systemd/system/vigild.service ||
		die "vigil.rpm: no vigild.service in the unit directory"
	rpm -qpl "$main" | grep -qx /usr/lib/vigil/out_file.so || die "vigil.rpm: no out_file.so"
	for verb in preset disable try-restart; do
		rpm -qp --scripts "$main" | grep -q "systemctl.* $verb.* vigild.service" ||
			die "vigil.rpm: no 'systemctl $verb vigild.service' scriptlet"
	done
	rpm -qpl "$(ls "$R"/RPMS/*/vigil-output-kafka-"$VERSION"-*.rpm)" |
		grep -qx /usr/lib/vigil/out_kafka.so || die "vigil-output-kafka.rpm: no out_kafka.so"
	say "rpm OK"
}
if [ $only_rpm -eq 1 ]; then
	build_rpm
	[ -n "${VIGIL_PKG_KEEP:-}" ] || [ -n "${VIGIL_PKG_WORKDIR:-}" ] || rm -rf "$W"
	exit 0
fi

need dpkg-buildpackage dpkg-dev
need dh debhelper
need lintian lintian
need mmdebstrap mmdebstrap
need systemd-nspawn systemd-container

# ---- the Debian root, in the background -----------------------------------------------------
# The machine's configured Debian sources for the suite (one-line and deb822 formats).
mirrors() {
	if [ -n "${VIGIL_DEBIAN_MIRROR:-}" ]; then
		echo "deb $VIGIL_DEBIAN_MIRROR $SUITE main"
		return
	fi
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -n "s/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) \(${SUITE}[^ ]*\) \(.*\)/deb \2 \3 \4/p" "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v suite="$SUITE" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && enabled != "no")
					for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
						if (s[j] ~ "^" suite) print "deb " u[i] " " s[j] " " comps
				types = ""; enabled = ""; nu = 0; ns = 0; comps = "main"
			}
			BEGIN { comps = "main" }
			/^[ \t]*$/ { flush(); next }
			/^Types:/ { types = $0; sub(/^Types:[ \t]*/, "", types) }
			/^Enabled:/ { enabled = tolower($2) }
			/^URIs:/ { nu = split(substr($0, 6), u, " ") }
			/^Suites:/ { ns = split(substr($0, 8), s, " ") }
			/^Components:/ { comps = $0; sub(/^Components:[ \t]*/, "", comps) }
			END { flush() }' "$f"
	done
}
mirrors >"$W/sources.list"
[ -s "$W/sources.list" ] || die "no Debian $SUITE source in /etc/apt (set VIGIL_DEBIAN_MIRROR)"
say "Debian sources: $(tr '\n' ';' <"$W/sources.list")"

rm -rf "$W/root"
(
	# shellcheck disable=SC2046
	mmdebstrap --variant=minbase --include=systemd,systemd-sysv,dbus,jq,logrotate \
		--skip=cleanup/apt/lists "$SUITE" "$W/root" - <"$W/sources.list" \
		>"$W/mmdebstrap.log" 2>&1
	echo $? >"$W/mmdebstrap.rc"
) &
MMPID=$!
trap 'kill $MMPID 2>/dev/null || true' EXIT

# ---- the .debs --------------------------------------------------------------------------------
rm -rf "$W/src" "$W/debs"
mkdir -p "$W/src" "$W/debs"
tar -xzf "$TARBALL" -C "$W/src"
S=$W/src/$base
cp -a "$S/packaging/deb/debian" "$S/debian"
dver=$(dpkg-parsechangelog -l "$S/debian/changelog" -S Version)
[ "${dver%-*}" = "$VERSION" ] ||
	die "debian/changelog says $dver but the tarball is $VERSION: add a changelog entry"
say "dpkg-buildpackage ($dver)"
if ! (cd "$S" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	dpkg-buildpackage -us -uc -b >"$W/dpkg-buildpackage.log" 2>&1); then
	tail -n 40 "$W/dpkg-buildpackage.log"
	die "dpkg-buildpackage failed (log: $W/dpkg-buildpackage.log)"
fi
cp "$W"/src/*.deb "$W/debs/"
rm -f "$W"/debs/*-dbgsym_*.deb
ARCH=$(dpkg --print-architecture)
for p in vigil vigil-output-kafka vigil-output-http; do
	[ -f "$W/debs/${p}_${dver}_$ARCH.deb" ] || die "$p was not built"
done
say "built: $(cd "$W/debs" && echo *.deb)"

say "lintian"
lrc=0
lintian --fail-on error,warning --display-info "$W"/src/*.changes >"$W/lintian.log" 2>&1 || lrc=$?
sed 's/^/  lintian: /' "$W/lintian.log"
[ $lrc -eq 0 ] || die "lintian reported errors or warnings"

[ -z "${VIGIL_CHECK_RPM:-}" ] || build_rpm

# ---- install into the root --------------------------------------------------------------------
wait $MMPID || true
[ "$(cat "$W/mmdebstrap.rc")" = 0 ] || { tail -n 30 "$W/mmdebstrap.log"; die "mmdebstrap failed"; }
say "Debian root ready, installing the packages with apt"
NSPAWN="systemd-nspawn -q -D $W/root --register=no --keep-unit"
if ! $NSPAWN --pipe --bind-ro="$W/debs:/srv/vigil-debs" \
	env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	/srv/vigil-debs/vigil_"$dver"_"$ARCH".deb /srv/vigil-debs/vigil-output-kafka_"$dver"_"$ARCH".deb \
	/srv/vigil-debs/vigil-output-http_"$dver"_"$ARCH".deb >"$W/apt.log" 2>&1; then
	tail -n 30 "$W/apt.log"
	die "apt-get install of the packages failed (log: $W/apt.log)"
fi

install -m 0755 "$HERE/test/guest-proof.sh" "$W/root/usr/local/sbin/vigil-proof"
cat >"$W/root/etc/systemd/system/vigil-proof.service" <<EOU
[Unit]
Description=vigil installation proof
After=multi-user.target

[Service]
Type=simple
ExecStart=/usr/local/sbin/vigil-proof
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
EOU
mkdir -p "$W/root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/vigil-proof.service \
	"$W/root/etc/systemd/system/multi-user.target.wants/vigil-proof.service"
# The postinst enabled vigild (dh_installsystemd); the proof enables it itself, so undo that.
[ -L "$W/root/etc/systemd/system/multi-user.target.wants/vigild.service" ] ||
	die "the postinst did not enable vigild.service"
rm -f "$W/root/etc/systemd/system/multi-user.target.wants/vigild.service"

# ---- boot -------------------------------------------------------------------------------------
rm -rf "$W/result"
mkdir -p "$W/result"
say "booting the container"
brc=0
timeout "${VIGIL_PKG_TIMEOUT:-240}" $NSPAWN -b --console=pipe --capability=all \
	--system-call-filter='bpf perf_event_open' --bind-ro=/sys/kernel/tracing \
	--bind="$W/result:/vigil-result" --bind-ro="$W/debs:/srv/vigil-debs" \
	>"$W/boot.log" 2>&1 </dev/null || brc=$?
say "container exited ($brc)"
if ! grep -q '^# done' "$W/result/result.tap" 2>/dev/null; then
	tail -n 40 "$W/boot.log"
	[ -f "$W/result/guest.log" ] && tail -n 40 "$W/result/guest.log"
	die "the proof did not finish (boot log: $W/boot.log)"
fi
cat "$W/result/result.tap"
if grep -q '^not ok' "$W/result/result.tap"; then
	sed 's/^/  vigild: /' "$W/result/vigild.journal" | tail -n 40
	die "the proof failed (guest log: $W/result/guest.log)"
fi
say "PASS: built, lintian-clean, installed, enabled, events, reload, rotate, stop, purge"
[ -n "${VIGIL_PKG_KEEP:-}" ] || [ -n "${VIGIL_PKG_WORKDIR:-}" ] || rm -rf "$W"
exit 0
