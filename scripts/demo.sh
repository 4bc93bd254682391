#!/usr/bin/env bash
# Demo, in a lab of its own: a lab host with a veth uplink (198.51.100.2/24, 2001:db8:1::2/64) next to a
# lab "internet" (203.0.113.10), and a container namespace that our pasta connects with --config-net;
# then a virtual machine (qemu, TCG) connected by our passt. Run as root on Debian 12. Nothing leaves the
# namespaces this script creates. `scripts/demo.sh --no-vm` leaves the VM out.
set -u
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
echo "### installing what the demo needs (scripts/install-deps.sh: Debian packages, up to 10 minutes)"
bash scripts/install-deps.sh || exit 1
echo "### building (swift build: about two minutes the first time)"
swift build 2>&1 | tail -n 1
PASTA="$PWD/.build/debug/pasta"
ln -sf pasta .build/debug/passt

LAB_ID="demo$$"
source integration/lab.sh
needs python3 curl tcpdump ping busybox
lab_begin with-container
PIDFILE="/tmp/$LAB_ID.pid"; lab_track_file "$PIDFILE"
PCAP="/tmp/$LAB_ID.pcap"; lab_track_file "$PCAP"

echo
echo "### pasta --config-net -D 203.0.113.53 -S lab.example -t none -u none -T none -U none -p $PCAP -P $PIDFILE --netns $CTR"
lab_in "$LAB_HOST" "$PASTA" --config-net -D 203.0.113.53 -S lab.example -t none -u none -T none -U none -p "$PCAP" -P "$PIDFILE" --netns "$CTR" || exit 1
lab_track_pid "$(cat "$PIDFILE")"
echo
echo "### inside the container namespace: the uplink's addresses and routes, MTU 65520"
ip -n "$CTR" -br addr
ip -n "$CTR" route
ip -n "$CTR" -6 route | grep -v fe80
echo
echo "### TCP from the container: an HTTP download from the lab internet (203.0.113.10), checksums compared"
WEB="/tmp/$LAB_ID-web"; mkdir -p "$WEB"; lab_track_file "$WEB"
head -c 64M /dev/urandom >"$WEB/file"
lab_serve "$LAB_INET" python3 -m http.server -d "$WEB" --bind :: 8000
lab_wait_for 50 lab_listening "$LAB_INET" 8000
start=$(date +%s%N)
got=$(lab_in "$CTR" curl -s http://203.0.113.10:8000/file | sha256sum | cut -d' ' -f1)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$got" = "$(sha256sum <"$WEB/file" | cut -d' ' -f1)" ] && echo "64 MiB over IPv4 in $ms ms, sha256 matches"
got=$(lab_in "$CTR" curl -s 'http://[2001:db8:2::10]:8000/file' | sha256sum | cut -d' ' -f1)
[ "$got" = "$(sha256sum <"$WEB/file" | cut -d' ' -f1)" ] && echo "the same over IPv6"
echo "(the capture shows the TCP handshake:)"
tcpdump -n -r "$PCAP" tcp 2>/dev/null | head -n 3
echo
echo "### ICMP echo through ping sockets, and UDP"
lab_in "$LAB_HOST" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
lab_in "$CTR" ping -c 2 -i 0.2 203.0.113.10 | tail -n 2
lab_serve "$LAB_INET" python3 integration/tcp_tool.py udp-echo-server 7777 203.0.113.10
sleep 0.3
lab_in "$CTR" python3 integration/tcp_tool.py udp-ask 203.0.113.10 7777 "hello over UDP"
echo
echo "### a second namespace, WITHOUT --config-net: busybox udhcpc gets the same address from pasta's DHCP server"
CTR2="$LAB_ID-dhcp"; lab_add_ns "$CTR2"
PIDFILE2="/tmp/$LAB_ID-2.pid"; lab_track_file "$PIDFILE2"
lab_in "$LAB_HOST" "$PASTA" -q -t none -u none -T none -U none -P "$PIDFILE2" --netns "$CTR2" || exit 1
lab_track_pid "$(cat "$PIDFILE2")"
ip -n "$CTR2" link set eth0 up
SCRIPT="/tmp/$LAB_ID-udhcpc"; lab_track_file "$SCRIPT"
printf '%s\n' '#!/bin/sh' '[ "$1" = bound ] || exit 0' 'ip addr add "$ip/$mask" dev "$interface"' \
    'ip route add default via "$router"' >"$SCRIPT"
chmod +x "$SCRIPT"
lab_in "$CTR2" busybox udhcpc -i eth0 -n -q -f -t 3 -T 2 -s "$SCRIPT" 2>&1 | grep -i lease
ip -n "$CTR2" -br -4 addr show eth0
ip -n "$CTR2" -4 route
echo
echo "### a third namespace with pasta's defaults (auto mode): ports follow what is bound, local traffic is spliced"
CTR3="$LAB_ID-auto"; lab_add_ns "$CTR3"
PIDFILE3="/tmp/$LAB_ID-3.pid"; lab_track_file "$PIDFILE3"
lab_in "$LAB_HOST" "$PASTA" --config-net -q -P "$PIDFILE3" --netns "$CTR3" || exit 1
lab_track_pid "$(cat "$PIDFILE3")"
lab_serve "$CTR3" python3 -m http.server -d "$WEB" --bind 0.0.0.0 8080
lab_wait_for 50 lab_listening "$CTR3" 8080
start=$(date +%s%N)
lab_wait_for 30 lab_in "$LAB_HOST" curl -sf -o /dev/null http://127.0.0.1:8080/ &&
    echo "a web server started in the namespace answers on the lab host's 127.0.0.1:8080 after $(( ($(date +%s%N) - start) / 1000000 )) ms"
got=$(lab_in "$LAB_HOST" curl -s http://127.0.0.1:8080/file | sha256sum | cut -d' ' -f1)
[ "$got" = "$(sha256sum <"$WEB/file" | cut -d' ' -f1)" ] && echo "64 MiB from it through splice(), sha256 matches"
lab_serve "$LAB_HOST" python3 integration/tcp_tool.py echo-server 127.0.0.1 9090
lab_wait_for 50 lab_listening "$LAB_HOST" 9090
lab_wait_for 30 eval '[ "$(lab_in "$CTR3" python3 integration/tcp_tool.py sequential 127.0.0.1 9090 1 2>/dev/null)" = "ok 1" ]' &&
    echo "and the lab host's echo server on 127.0.0.1:9090 answers the namespace's 127.0.0.1:9090"
echo
echo "### ip netns del $CTR: pasta notices and exits"
pid=$(cat "$PIDFILE")
ip netns del "$CTR"
lab_wait_for 20 bash -c "! [ -e /proc/$pid ] || grep -q '^State:.*Z' /proc/$pid/status" && echo "pasta ($pid) exited"

[ "${1:-}" = --no-vm ] && exit 0
echo
echo "### passt: a virtual machine (qemu, TCG, a Debian kernel and a busybox initramfs) on our passt's socket"
needs qemu-system-x86_64 cpio
needs_debs linux-image-cloud-amd64 busybox-static
GUEST="$PASTA_DEPS_DIR/vm/guest-cloud-amd64"
echo "(building the guest's kernel and initramfs from the cached packages, once: a few seconds)"
bash integration/vm/build-guest.sh "$GUEST" 2>/dev/null || { echo "building the guest failed (integration/vm/build-guest.sh)"; exit 1; }
RUN="/tmp/$LAB_ID-vm"; mkdir -m 711 "$RUN"; lab_track_file "$RUN"
echo "passt -P $RUN/passt.pid -s $RUN/passt.socket -t 8088:80 -D none -S none"
lab_in "$LAB_HOST" "$PWD/.build/debug/passt" -P "$RUN/passt.pid" -s "$RUN/passt.socket" -t 8088:80 -D none -S none 2>&1 |
    sed -n "/UNIX domain socket/,\$p; /rror/p"
[ -s "$RUN/passt.pid" ] || { echo "passt did not start"; exit 1; }
lab_track_pid "$(cat "$RUN/passt.pid")"
cat >"$RUN/guest.sh" <<'GUEST'
echo "guest: eth0 $(ip -4 addr show eth0 | grep -o 'inet [^ ]*')"
sha=$(timeout 60 wget -q -O - http://203.0.113.10:8000/file | sha256sum | cut -d' ' -f1)
echo "guest: downloaded 64 MiB from the lab internet, sha256 $sha"
mkdir -p /www && echo "hello from the VM" >/www/index.html
httpd -p 80 -h /www
sleep 3
GUEST
echo "(booting the VM under TCG, no KVM: waiting up to 60 s for its lease and download)"
lab_in "$LAB_HOST" bash integration/vm/run-guest.sh --guest "$GUEST" --socket "$RUN/passt.socket" \
    --script "$RUN/guest.sh" --log "$RUN/console.log" --timeout 150 >/dev/null 2>&1 &
VM=$!; lab_track_pid "$VM"
lab_wait_for 600 eval 'grep -q "^guest: downloaded" "$RUN/console.log" 2>/dev/null || ! kill -0 $VM 2>/dev/null'
tr -d '\r' <"$RUN/console.log" | grep '^guest:' | sed 's/^guest: /    /'
echo "    (the file's sha256 here: $(sha256sum <"$WEB/file" | cut -d' ' -f1))"
lab_wait_for 50 eval 'lab_in "$LAB_HOST" curl -sf --max-time 2 http://127.0.0.1:8088/ >/dev/null' &&
    echo "the lab host's 127.0.0.1:8088 (-t 8088:80) reaches the VM's web server: $(lab_in "$LAB_HOST" curl -s http://127.0.0.1:8088/)"
wait "$VM"
