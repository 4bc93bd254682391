#!/usr/bin/env bash
# Installs what the build, the demo and the tests need on Debian 12 (run as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(iproute2 jq tcpdump iputils-ping util-linux procps
          busybox isc-dhcp-client ndisc6 iputils-arping curl socat iperf3 nftables python3 passt gcc
          passwd slirp4netns)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -q
    apt-get install -y -q "${missing[@]}"
fi
command -v swift >/dev/null || [ -x /opt/swift/usr/bin/swift ] || {
    echo "Swift 6 is needed (expected at /opt/swift/usr/bin)" >&2
    exit 1
}
