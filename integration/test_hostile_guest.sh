#!/usr/bin/env bash
# A hostile guest can't pin our resources: 200,000 mutated frames from inside the namespace (SYNs to a
# lab range that never answers, UDP to random ports, pings, DHCP, IPv6, ARP, garbage and truncations)
# while a transfer runs; then the same against a pasta with few descriptors; then the throughput of a
# transfer with and without 20,000 invalid frames a second alongside.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 curl jq iperf3 ping
FLOOD="$here/flood.py"
TOOL="$here/tcp_tool.py"
lab_begin with-container
WORK=$(mktemp -d /tmp/pasta-test.XXXXXX); lab_track_file "$WORK"
# 192.0.2.0/24 and 2001:db8:99::/48 never answer: the lab internet drops them without a word.
ip -n "$LAB_INET" route add blackhole 192.0.2.0/24
ip -n "$LAB_INET" -6 route add blackhole 2001:db8:99::/48
head -c 64M /dev/urandom >"$WORK/blob"
BLOB_SHA=$(sha256sum <"$WORK/blob" | cut -d' ' -f1)
lab_serve "$LAB_INET" python3 -m http.server -d "$WORK" --bind 203.0.113.10 8000
lab_serve "$LAB_INET" python3 "$TOOL" echo-server any 7000
lab_serve "$LAB_INET" iperf3 -s -p 5201
for port in 8000 7000 5201; do lab_wait_for 50 lab_listening "$LAB_INET" $port; done
lab_in "$LAB_HOST" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
check "pasta starts" lab_start_pasta --config-net -q -t none -u none -T none -U none --netns "$CTR"
in_ctr() { ip netns exec "$CTR" "$@"; }
fds() { ls "/proc/$1/fd" | wc -l; }
in_ctr ping -c1 -W1 198.51.100.1 >/dev/null 2>&1
GW_MAC=$(ip -n "$CTR" -j neigh show 198.51.100.1 | jq -r '.[0].lladdr // empty')
flood() { in_ctr python3 "$FLOOD" "${KIND:-flood}" eth0 "$GW_MAC" 198.51.100.2 2001:db8:1::2 "$@"; }

echo "200,000 frames while a download runs"
BASELINE=$(fds "$PASTA_PID")
in_ctr curl -s --max-time 120 --limit-rate 16M -o "$WORK/got" http://203.0.113.10:8000/blob &
CURL=$!
out=$(flood 200000); echo "    $out"
FLOOD_END=$(now_ms)
PEAK=$(fds "$PASTA_PID")
check "the flood was sent" grep -q "^sent 200000" <<<"$out"
check "pasta is still running" lab_alive "$PASTA_PID"
wait "$CURL"; rc=$?
check "the download during the flood completes intact" eval '[ $rc -eq 0 ] && [ "$(sha256sum <"$WORK/got" | cut -d" " -f1)" = "$BLOB_SHA" ]'
back() { [ "$(fds "$PASTA_PID")" -le $((BASELINE + 100)) ]; }
lab_wait_for 150 back; settled=$(( $(now_ms) - FLOOD_END ))
echo "    descriptors: $BASELINE idle, $PEAK right after the flood, $(fds "$PASTA_PID") after $settled ms"
check "descriptors back within 100 of the idle baseline within 15 s" back
check "a new connection works afterwards" eval '[ "$(in_ctr python3 "$TOOL" sequential 203.0.113.10 7000 20)" = "ok 20" ]'

echo "garbage with a unicast source address doesn't change where pasta's frames go"
# Only the guest's packets say who it is. A frame of garbage whose bytes 6-11 happen to be a unicast
# address must not become the destination of pasta's next frames: the guest would never see them (an ACK
# lost that way stalls an upload until a retransmission timeout). Each round: one such frame from the
# namespace, then a datagram from the internet to a forwarded port, which pasta sends to the guest's MAC.
CTR3="$LAB_ID-mac"; lab_add_ns "$CTR3"
lab_in "$LAB_HOST" "$PASTA" --config-net -q -t none -u 5555 -T none -U none -P "$WORK/mac.pid" --netns "$CTR3"
MAC_PID=$(cat "$WORK/mac.pid"); lab_track_pid "$MAC_PID"
ip netns exec "$CTR3" ping -c1 -W1 198.51.100.1 >/dev/null 2>&1
GW3=$(ip -n "$CTR3" -j neigh show 198.51.100.1 | jq -r '.[0].lladdr // empty')
ip netns exec "$CTR3" python3 -u -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 5555))
while True: print(s.recv(100).decode(), flush=True)' >"$WORK/mac-received" &
LISTENER=$!; lab_track_pid "$LISTENER"
lab_wait_for 50 eval 'ip netns exec "$CTR3" ss -Hlun "sport = :5555" | grep -q .'
for round in $(seq 1 20); do
    ip netns exec "$CTR3" python3 -c "
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('eth0', 0))
s.send(bytes.fromhex('$GW3'.replace(':', '')) + bytes([2, 0x66, 0, 0, 0, $round]) + b'\x88\xb5' + bytes(46))"
    lab_in "$LAB_INET" python3 -c "
import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'round $round', ('198.51.100.2', 5555))"
done
lab_wait_for 20 eval '[ "$(wc -l <"$WORK/mac-received")" -ge 20 ]'
lab_stop "$LISTENER"; lab_stop "$MAC_PID"
check "20 datagrams sent to the guest, each right after such a frame, all arrive ($(wc -l <"$WORK/mac-received"))" \
    [ "$(wc -l <"$WORK/mac-received")" -eq 20 ]

echo "a small table: pasta with 320 descriptors, 3,000 SYNs to addresses that never answer"
CTR2="$LAB_ID-small"; lab_add_ns "$CTR2"
PIDFILE2="$WORK/small.pid"
lab_in "$LAB_HOST" prlimit --nofile=320:320 "$PASTA" --config-net -q -t none -u none -T none -U none \
    -P "$PIDFILE2" -l "$WORK/small.log" --netns "$CTR2"
SMALL_PID=$(cat "$PIDFILE2"); lab_track_pid "$SMALL_PID"
ip netns exec "$CTR2" ping -c1 -W1 198.51.100.1 >/dev/null 2>&1
GW2=$(ip -n "$CTR2" -j neigh show 198.51.100.1 | jq -r '.[0].lladdr // empty')
SYNS=$(cd "$here" && HERE="$here" ip netns exec "$CTR2" python3 -c "
import random, socket, struct, sys
from tcp_tool import tcp_frame
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('eth0', 0))
mac = s.getsockname()[4]; gw = bytes.fromhex('$GW2'.replace(':', ''))
for i in range(3000):
    s.send(tcp_frame(gw, mac, '198.51.100.2', '192.0.2.%d' % (i % 250 + 1), 20000 + i % 40000, 80 + i % 100, i, 0, 0x02))
print('sent 3000')
")
echo "    $SYNS; pasta holds $(fds "$SMALL_PID") descriptors"
check "pasta with few descriptors is still running" lab_alive "$SMALL_PID"
check "a legitimate connection right after succeeds" \
    eval '[ "$(ip netns exec "$CTR2" python3 "$TOOL" sequential 203.0.113.10 7000 5)" = "ok 5" ]'
check "one warning about making room, not one per frame ($(grep -c "running out" "$WORK/small.log") lines)" \
    eval '[ "$(grep -c "running out" "$WORK/small.log")" -eq 1 ]'

echo "throughput with and without 20,000 invalid frames a second"
# The flood's sender shares the machine's cores with iperf3 and pasta. To see what the frames cost pasta
# itself, the same flood is also sent through a veth pair in the namespace that pasta doesn't read: the
# transfer's speed then is the reference for the run with the flood through the tap.
ip -n "$CTR" link add fl0 type veth peer name fl1
ip -n "$CTR" link set fl0 up; ip -n "$CTR" link set fl1 up
gbps() { in_ctr iperf3 -c 203.0.113.10 -t 5 -J 2>/dev/null | jq -r '(.end.sum_received.bits_per_second // 0) / 1e9'; }
alongside() {  # IFACE: a 5 s transfer with 20,000 invalid frames a second sent on IFACE
    in_ctr python3 "$FLOOD" invalid "$1" "$GW_MAC" 198.51.100.2 2001:db8:1::2 130000 20000 >/dev/null &
    local flooder=$!
    sleep 0.5
    gbps
    wait "$flooder"
}
quiet=$(gbps)
elsewhere=$(alongside fl0)
through_tap=$(alongside eth0)
ratio=$(awk -v a="$through_tap" -v b="$elsewhere" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
echo "    iperf3 5 s: $quiet Gbps alone; with the flood on another interface $elsewhere Gbps, through pasta's tap $through_tap Gbps (ratio $ratio)"
# Measured 0.70-1.38 on 2 vCPUs (0.42-0.54 while garbage could change the guest's MAC address and the
# guest lost our ACKs); the bound leaves room for a loaded machine.
check "the invalid frames pasta reads cost the transfer little (ratio $ratio; 0.8 is the aim, at least 0.6 is asserted)" \
    awk -v r="$ratio" 'BEGIN {exit !(r >= 0.6)}'
check "pasta is still running" lab_alive "$PASTA_PID"
finish
