#!/usr/bin/env bash
# Installs what the Podman hook tests need on Debian 12 (run as root): Podman with runc (crun fails on
# these machines' hybrid cgroups), uidmap for the rootless run, and busybox-static's .deb, unpacked by
# the tests into an image. busybox-static conflicts with the busybox package the other tests use, so it
# is only downloaded, never installed. Prints where the .deb is; exits non-zero when anything is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
CACHE="${PODMAN_TEST_CACHE:-/var/cache/pasta-podman-tests}"
packages=(podman runc conmon uidmap)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
updated=0
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -q >&2; updated=1
    # Without recommends: no buildah, fuse-overlayfs or slirp4netns; the tests use vfs storage and no network.
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
mkdir -p "$CACHE"
deb=$(ls "$CACHE"/busybox-static_*.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
    [ "$updated" = 1 ] || apt-get update -q >&2
    # apt downloads as _apt, which may not write here: this one file is fetched as root.
    (cd "$CACHE" && apt-get download -q -o APT::Sandbox::User=root busybox-static >&2)
    deb=$(ls "$CACHE"/busybox-static_*.deb | head -n 1)
fi
echo "$deb"
