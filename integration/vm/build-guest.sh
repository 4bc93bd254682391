#!/usr/bin/env bash
# Builds a small guest for qemu-system-x86_64 (TCG) out of Debian packages, without installing them:
#   OUTDIR/vmlinuz     a Debian kernel (linux-image-cloud-amd64's: LZ4-compressed, fewer drivers)
#   OUTDIR/initrd.gz   busybox-static, the virtio-net modules and an /init that brings up eth0 by DHCP,
#                      enables IPv6 SLAAC, runs /test.sh and powers off
#
#   build-guest.sh OUTDIR
#
# The two .deb files come from scripts/install-deps.sh's cache ($PASTA_DEPS_DIR/debs): this uses no
# network. An OUTDIR built from the same packages and the same version of this script is reused.
# A test adds its own /test.sh with run-guest.sh --script, which appends a second cpio archive to the
# initrd (the kernel unpacks concatenated archives in order), so this image is built once.
# Exit status 77: the packages are not cached (a test's `needs_debs` says why before it gets here).
set -euo pipefail
OUT="${1:?usage: build-guest.sh OUTDIR}"
MODULES=(virtio_pci virtio_net)   # with what they depend on, resolved from modules.dep
source "$(cd "$(dirname "$0")/../.." && pwd)/scripts/deps-lib.sh"

say() { echo "build-guest: $*" >&2; }
KDEB=$(deps_cached_deb linux-image-cloud-amd64) || { say "no cached kernel package: run scripts/install-deps.sh"; exit 77; }
BBDEB=$(deps_cached_deb busybox-static) || { say "no cached busybox-static: run scripts/install-deps.sh"; exit 77; }
mkdir -p "$OUT"

STAMP="$(basename "$KDEB") $(basename "$BBDEB") $(sha256sum <"$0" | cut -c1-16)"
if [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.gz" ] && [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$STAMP" ]; then
    say "up to date: $OUT ($STAMP)"
    exit 0
fi

WORK=$(mktemp -d /tmp/build-guest.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
dpkg-deb -x "$KDEB" "$WORK/kernel"
dpkg-deb -x "$BBDEB" "$WORK/busybox"
BB="$WORK/busybox/bin/busybox"
KVER=$(ls "$WORK/kernel/lib/modules" | head -1)
[ -n "$KVER" ] && [ -f "$WORK/kernel/boot/vmlinuz-$KVER" ] || { echo "no kernel in $KDEB" >&2; exit 1; }

# modules.dep is made by depmod at install time, so the package has none: busybox's depmod writes one.
MODDIR="$WORK/kernel/lib/modules/$KVER"
"$BB" depmod -b "$WORK/kernel" "$KVER"
declare -A LOADED=()
ORDER=()
# Appends module NAME's dependencies, then NAME, to ORDER (each once), unless it is built in.
resolve() {
    local name="$1" path deps d
    path=$(awk -v n="$name" -F: '{ f = $1; sub(".*/", "", f); sub("\\.ko$", "", f); gsub("-", "_", f) }
                                   f == n { print $1; exit }' "$MODDIR/modules.dep")
    if [ -z "$path" ]; then
        grep -q "/$name.ko$" "$MODDIR/modules.builtin" 2>/dev/null && return 0
        echo "module $name is neither built in nor a module in $KVER" >&2; exit 1
    fi
    [ -n "${LOADED[$path]:-}" ] && return 0
    deps=$(awk -v p="$path" -F': *' '$1 == p { print $2; exit }' "$MODDIR/modules.dep")
    for d in $deps; do
        d=$(basename "$d" .ko); resolve "${d//-/_}"
    done
    LOADED[$path]=1
    ORDER+=("$path")
}
for m in "${MODULES[@]}"; do resolve "$m"; done

ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,sbin,etc,proc,sys,dev,tmp,run,root,www,lib/modules,usr/share/udhcpc}
cp "$BB" "$ROOT/bin/busybox"
for applet in $("$BB" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$ROOT/bin/$applet"
done
: >"$ROOT/etc/modules"
for path in "${ORDER[@]}"; do
    cp "$MODDIR/$path" "$ROOT/lib/modules/"
    echo "$(basename "$path")" >>"$ROOT/etc/modules"
done
echo "root:x:0:0:root:/root:/bin/sh" >"$ROOT/etc/passwd"
echo "root:x:0:" >"$ROOT/etc/group"

# udhcpc calls this with $1 = deconfig|bound|renew|leasefail|nak and the lease in the environment.
cat >"$ROOT/usr/share/udhcpc/default.script" <<'SCRIPT'
#!/bin/sh
case "$1" in
deconfig)
    ip -4 addr flush dev "$interface"
    ;;
bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    : >/etc/resolv.conf
    [ -n "$domain" ] && echo "search $domain" >>/etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
    echo "guest: lease $ip/${mask:-24} router ${router:-none} dns ${dns:-none} mtu ${mtu:-none}"
    ;;
esac
exit 0
SCRIPT
chmod +x "$ROOT/usr/share/udhcpc/default.script"

# /init: the guest's whole life. Lines starting with "guest:" are for the host to read; the last one is
# "guest: exit N" with the status of /test.sh.
cat >"$ROOT/init" <<'INIT'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
uptime_ms() { read -r up _ </proc/uptime; echo "${up%.*}${up#*.}0"; }
echo "guest: init at $(uptime_ms) ms"
for m in $(cat /etc/modules); do insmod "/lib/modules/$m" || echo "guest: insmod $m failed"; done
ip link set lo up
# SLAAC from the router advertisement; no forwarding, so the kernel accepts RAs.
sysctl -qw net.ipv6.conf.all.accept_ra=1 net.ipv6.conf.default.accept_ra=1 \
    net.ipv6.conf.default.autoconf=1 2>/dev/null
n=0
while ! ip link show eth0 >/dev/null 2>&1 && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
sysctl -qw net.ipv6.conf.eth0.accept_ra=1 net.ipv6.conf.eth0.autoconf=1 2>/dev/null
ip link set eth0 up
echo "guest: eth0 up at $(uptime_ms) ms"
if udhcpc -i eth0 -s /usr/share/udhcpc/default.script -f -q -n -t 10 -T 1 -A 1 >/tmp/udhcpc.log 2>&1 && grep -q '^guest: lease' /tmp/udhcpc.log; then
    grep '^guest:' /tmp/udhcpc.log
    echo "guest: dhcp done at $(uptime_ms) ms"
else
    sed 's/^/udhcpc: /' /tmp/udhcpc.log
    echo "guest: dhcp failed at $(uptime_ms) ms"
fi
status=0
if [ -f /test.sh ]; then
    sh /test.sh
    status=$?
elif grep -qw pvm.shell /proc/cmdline; then
    setsid cttyhack sh
fi
echo "guest: exit $status"
sync
poweroff -f
INIT
chmod +x "$ROOT/init"

(cd "$ROOT" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -6) >"$WORK/initrd.gz"
cp "$WORK/kernel/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
mv "$WORK/vmlinuz" "$OUT/vmlinuz"
mv "$WORK/initrd.gz" "$OUT/initrd.gz"
echo "$STAMP" >"$OUT/.stamp"
say "$OUT: kernel $KVER, modules ${ORDER[*]##*/}, initrd $(stat -c %s "$OUT/initrd.gz") bytes"
