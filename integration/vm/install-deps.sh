#!/usr/bin/env bash
# Installs what the passt VM test needs on the host (Debian 12, as root): qemu for x86 (TCG is enough),
# cpio and gzip for the initramfs, and the lab's own clients. The guest's kernel and busybox-static are
# not installed: build-guest.sh downloads their .deb files and unpacks them into the image (busybox-static
# conflicts with the busybox package the other tests use, and the host needs no second kernel).
# Exit status 0 when everything is there afterwards, 77 when something could not be installed.
set -u
export DEBIAN_FRONTEND=noninteractive
packages=(qemu-system-x86 cpio gzip curl iproute2 python3 passt)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
[ "$(id -u)" -eq 0 ] || { echo "skipped: ${missing[*]} missing and not root to install them" >&2; exit 77; }
echo "vm/install-deps: installing ${missing[*]}" >&2
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/vm-install-deps.log 2>&1; then
    apt-get update -q >>/tmp/vm-install-deps.log 2>&1
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/vm-install-deps.log 2>&1 || {
        echo "skipped: can't install ${missing[*]} (see /tmp/vm-install-deps.log)" >&2
        exit 77
    }
fi
rm -f /tmp/vm-install-deps.log
