#!/usr/bin/env bash
# UDP, ICMP echo and DNS forwarding through the tap, IPv4 and IPv6: iperf3 UDP both ways, inbound -u
# with replies, --dns-forward to a resolver on the lab host's loopback and on an internet address (UDP and TCP; reply
# source rewritten), ping, and 2,000 flows that all expire.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 jq iperf3 ping busybox
TOOL="$here/tcp_tool.py"
lab_begin with-container
lab_in "$LAB_HOST" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
WORK=$(mktemp -d /tmp/pasta-test.XXXXXX); lab_track_file "$WORK"
lab_serve "$LAB_INET" python3 "$TOOL" udp-echo-server 7777 203.0.113.10 2001:db8:2::10
lab_serve "$LAB_INET" iperf3 -s -B 203.0.113.10 -p 5201
lab_serve "$LAB_INET" iperf3 -s -B 2001:db8:2::10 -p 5202
lab_serve "$LAB_INET" python3 "$TOOL" dns-server 203.0.113.10 53 192.0.2.54
lab_serve "$LAB_HOST" python3 "$TOOL" dns-server 127.0.0.1 53 192.0.2.53
lab_serve "$LAB_INET" python3 "$TOOL" dns-server-tcp 203.0.113.10 53 192.0.2.55
lab_wait_for 50 lab_listening "$LAB_INET" 53
lab_serve "$CTR" python3 "$TOOL" udp-echo-server 53
lab_wait_for 50 lab_listening "$LAB_INET" 5201; lab_wait_for 50 lab_listening "$LAB_INET" 5202
sleep 0.5
check "pasta starts with -u 5353:53 -D 127.0.0.1 --dns-forward 169.254.1.1" lab_start_pasta --config-net -q \
    -t none -u 5353:53 -T none -U none -D 127.0.0.1 --dns-forward 169.254.1.1 --netns "$CTR"
MAIN_PID=$PASTA_PID
in_ctr() { ip netns exec "$CTR" "$@"; }

echo "echo and iperf3"
check "IPv4: a datagram to the internet comes back" eval '[ "$(in_ctr python3 "$TOOL" udp-ask 203.0.113.10 7777 hi)" = "hi 203.0.113.10" ]'
check "IPv6: the same" eval '[ "$(in_ctr python3 "$TOOL" udp-ask 2001:db8:2::10 7777 hi)" = "hi 2001:db8:2::10" ]'
udp_iperf() {
    local out; out=$(in_ctr iperf3 -c "$1" -p "$2" -u -b 1G -l 1400 -w 4M -t 5 -J "${@:3}" 2>/dev/null)
    local loss; loss=$(jq -r '.end.sum.lost_percent' <<<"$out")
    echo "    $(jq -r '.end.sum.bits_per_second / 1e9 * 100 | floor / 100' <<<"$out") Gbps, ${loss}% lost"
    awk -v l="$loss" 'BEGIN {exit !(l != "" && l != "null" && l < 5)}'
}
# -w 4M: the receiving iperf3's own socket buffer would otherwise overflow on these 2-CPU machines.
check "IPv4: iperf3 -u -b 1G -l 1400 namespace -> internet loses under 5%" udp_iperf 203.0.113.10 5201
check "IPv4: and internet -> namespace (-R)" udp_iperf 203.0.113.10 5201 -R
check "IPv6: namespace -> internet" udp_iperf 2001:db8:2::10 5202
check "IPv6: internet -> namespace (-R)" udp_iperf 2001:db8:2::10 5202 -R

seq_transfer() {  # DESTINATION: 10 MB (7,500 x 1,400 bytes) at 200 Mbit/s, every datagram checked
    ip netns exec "$LAB_INET" python3 "$TOOL" udp-seq-receive "$1" 7800 7500 >"$WORK/seq.out" 2>&1 &
    local receiver=$!
    sleep 0.3
    in_ctr python3 "$TOOL" udp-seq-send "$1" 7800 7500 200 >/dev/null
    wait "$receiver"
    grep -q "^ok 7500$" "$WORK/seq.out" || { cat "$WORK/seq.out"; return 1; }
}
check "IPv4: 10 MB at 200 Mbit/s arrives complete (sequence checked)" seq_transfer 203.0.113.10
check "IPv6: the same" seq_transfer 2001:db8:2::10

echo "inbound -u 5353:53"
check "IPv4: the internet reaches the namespace's port 53 at 198.51.100.2:5353 and gets the reply" \
    eval '[ "$(ip netns exec "$LAB_INET" python3 "$TOOL" udp-ask 198.51.100.2 5353 ping4)" = "ping4 198.51.100.2" ]'
check "IPv6: at [2001:db8:1::2]:5353" \
    eval '[ "$(ip netns exec "$LAB_INET" python3 "$TOOL" udp-ask 2001:db8:1::2 5353 ping6)" = "ping6 2001:db8:1::2" ]'

echo "DNS forwarding"
check "a query to 169.254.1.1 is answered by the resolver on the lab host's loopback, from 169.254.1.1" \
    eval '[ "$(in_ctr python3 "$TOOL" dns-ask 169.254.1.1 test.lab)" = "192.0.2.53 169.254.1.1" ]'
check "busybox nslookup through 169.254.1.1 gets the answer" \
    eval 'in_ctr busybox nslookup test.lab 169.254.1.1 2>&1 | grep -q "192.0.2.53"'
CTR2="$LAB_ID-dns"; lab_add_ns "$CTR2"
lab_start_pasta --config-net -q -t none -u none -T none -U none -D 203.0.113.10 --dns-forward 169.254.1.1 --netns "$CTR2"
check "with -D 203.0.113.10 (an internet resolver) the answer comes from there, via 169.254.1.1" \
    eval '[ "$(ip netns exec "$CTR2" python3 "$TOOL" dns-ask 169.254.1.1 test.lab)" = "192.0.2.54 169.254.1.1" ]'
# DNS over TCP (a client retrying a truncated answer) reaches the same resolver; other ports are refused.
check "a TCP query to 169.254.1.1 port 53 is answered by the resolver at 203.0.113.10 over TCP" \
    eval '[ "$(ip netns exec "$CTR2" python3 "$TOOL" dns-ask-tcp 169.254.1.1 test.lab)" = "192.0.2.55" ]'
refused_ms=$(ip netns exec "$CTR2" python3 -c '
import socket, time
s = socket.socket(); s.settimeout(3); start = time.monotonic()
try:
    s.connect(("169.254.1.1", 80)); print("connected")
except ConnectionRefusedError:
    print(int((time.monotonic() - start) * 1000))
except OSError as e:
    print(e)')
check "a TCP connect to 169.254.1.1 port 80 is refused at once (${refused_ms} ms)" \
    eval '[[ "$refused_ms" =~ ^[0-9]+$ ]] && [ "$refused_ms" -lt 100 ]'

echo "ping"
check "IPv4: ping -c 3 203.0.113.10" in_ctr ping -c 3 -i 0.2 -W 1 203.0.113.10
check "IPv6: ping -6 -c 3 2001:db8:2::10" in_ctr ping -6 -c 3 -i 0.2 -W 1 2001:db8:2::10

echo "2,000 flows expire"
fd_count() { ls "/proc/$MAIN_PID/fd" | wc -l; }
BASELINE=$(fd_count)
check "2,000 datagrams from distinct source ports" eval '[ "$(in_ctr python3 "$TOOL" udp-send 203.0.113.10 7000 2000)" = "ok 2000" ]'
PEAK=$(fd_count)
check "they opened flows ($PEAK descriptors, baseline $BASELINE)" [ "$PEAK" -ge $((BASELINE + 2000)) ]
check "all expire after the 10 s timeout for flows nobody answered" lab_wait_for 200 eval '[ "$(fd_count)" -le "$BASELINE" ]'
check "pasta is still running" lab_alive "$MAIN_PID"
finish
