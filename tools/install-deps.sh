#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install what building and testing vigil needs on Debian 12 (bookworm). Needs root.
set -eu
PKGS="build-essential autoconf automake libtool pkg-config make
clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
libsystemd-dev libmsgpack-dev libyaml-dev librdkafka-dev libcurl4-openssl-dev
libjson-c-dev libxxhash-dev libmicrohttpd-dev python3 nodejs prometheus
systemd util-linux procps jq xz-utils clang-format git curl
dpkg-dev debhelper lintian mmdebstrap systemd-container rpm"
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps.sh: must run as root (apt-get)" >&2
    exit 1
fi
# npm (for the kafkajs consumer in the Kafka tests) ships inside some nodejs builds (NodeSource);
# Debian's own nodejs needs the npm package.
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $missing
fi
