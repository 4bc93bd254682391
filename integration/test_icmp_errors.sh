#!/usr/bin/env bash
# ICMP errors reach the namespace: a router namespace and a far host behind the lab internet, the far
# link's MTU (1280) smaller than the uplink's and the tap's. UDP to a closed port of the far host fails
# with ECONNREFUSED at once, ping to an address nobody routes gets the router's "net unreachable",
# busybox traceroute (UDP and -I, IPv4 and IPv6), tracepath and mtr list the lab gateway, the router and
# the far host with their own addresses, a datagram too large for the far link teaches the namespace the path MTU, and a
# flood to closed ports gets no more errors than the relay's rate limit lets through.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 busybox ping tcpdump tracepath mtr
lab_begin with-container
WORK=$(mktemp -d /tmp/pasta-test.XXXXXX); lab_track_file "$WORK"

# lab internet (gw0 198.51.100.1) -- 192.0.2.0/30, 2001:db8:3::/64 -- router -- 192.0.2.64/26,
# 2001:db8:4::/64, MTU 1280 -- far host 192.0.2.77, 2001:db8:4::77
RTR="$LAB_ID-rtr"; FAR="$LAB_ID-far"
lab_add_ns "$RTR"; lab_add_ns "$FAR"
for ns in "$LAB_HOST" "$LAB_INET" "$RTR" "$FAR"; do
    # Errors as fast as the test asks for them: the kernel's own ICMP rate limits off in the lab. No DAD
    # on the links made below (it would hold IPv6 back for seconds).
    lab_in "$ns" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 net.ipv4.icmp_msgs_per_sec=100000 \
        net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
ip link add "$LAB_ID-ir" netns "$LAB_INET" type veth peer name "$LAB_ID-ri" netns "$RTR"
ip link add "$LAB_ID-rf" netns "$RTR" mtu 1280 type veth peer name "$LAB_ID-fr" netns "$FAR" mtu 1280
lab_in "$RTR" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip -n "$LAB_INET" addr add 192.0.2.1/30 dev "$LAB_ID-ir"; ip -n "$LAB_INET" addr add 2001:db8:3::1/64 dev "$LAB_ID-ir" nodad
ip -n "$RTR" addr add 192.0.2.2/30 dev "$LAB_ID-ri"; ip -n "$RTR" addr add 2001:db8:3::2/64 dev "$LAB_ID-ri" nodad
ip -n "$RTR" addr add 192.0.2.65/26 dev "$LAB_ID-rf"; ip -n "$RTR" addr add 2001:db8:4::1/64 dev "$LAB_ID-rf" nodad
ip -n "$FAR" addr add 192.0.2.77/26 dev "$LAB_ID-fr"; ip -n "$FAR" addr add 2001:db8:4::77/64 dev "$LAB_ID-fr" nodad
for link in "$LAB_INET $LAB_ID-ir" "$RTR $LAB_ID-ri" "$RTR $LAB_ID-rf" "$FAR $LAB_ID-fr"; do
    set -- $link; ip -n "$1" link set "$2" up
done
ip -n "$LAB_INET" route add 192.0.2.64/26 via 192.0.2.2
ip -n "$LAB_INET" -6 route add 2001:db8:4::/64 via 2001:db8:3::2
ip -n "$RTR" route add default via 192.0.2.1; ip -n "$RTR" -6 route add default via 2001:db8:3::1
ip -n "$FAR" route add default via 192.0.2.65; ip -n "$FAR" -6 route add default via 2001:db8:4::1
# The lab host's ping sockets (our echo flows) for everyone.
lab_in "$LAB_HOST" sysctl -qw net.ipv4.ping_group_range="0 2147483647"

PCAP="$WORK/tap.pcap"
check "pasta starts with --config-net" lab_start_pasta --config-net -q -t none -u none -T none -U none -p "$PCAP" --netns "$CTR"
lab_in "$CTR" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
lab_wait_for 50 eval 'lab_in "$CTR" ping -c 1 -W 1 192.0.2.77 >/dev/null 2>&1'
lab_wait_for 50 eval 'lab_in "$CTR" ping -6 -c 1 -W 1 2001:db8:4::77 >/dev/null 2>&1'

echo "1. UDP to a closed port, ping to an address nobody routes"
# Prints the error and the milliseconds until it came (or "timeout").
cat >"$WORK/udp_refused.py" <<'PY'
import socket, sys, time
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
s.connect((sys.argv[1], int(sys.argv[2])))
s.settimeout(3)
start = time.monotonic()
s.send(b"anyone there?")
try:
    s.recv(100)
    print("answered")
except socket.timeout:
    print("timeout")
except OSError as e:
    print(f"{e.strerror} {int((time.monotonic() - start) * 1000)}")
PY
for target in 192.0.2.77 2001:db8:4::77; do
    out=$(lab_in "$CTR" python3 "$WORK/udp_refused.py" "$target" 9)
    ms=${out##* }
    check "UDP to $target port 9 (closed): ECONNREFUSED within 100 ms ($out)" \
        eval '[[ "$out" == "Connection refused "* ]] && [ "$ms" -lt 100 ]'
done
out=$(lab_in "$CTR" ping -c 1 -W 2 192.0.2.200 2>&1)
check "ping 192.0.2.200 (no route in the lab internet): the lab gateway's unreachable arrives ($(grep -m1 From <<<"$out"))" \
    grep -q "From 198.51.100.1 .*Unreachable" <<<"$out"
out=$(lab_in "$CTR" ping -6 -c 1 -W 2 2001:db8:5::1 2>&1)
check "ping 2001:db8:5::1: the same for IPv6 ($(grep -m1 From <<<"$out"))" \
    grep -q "From 2001:db8:1::1 .*[Uu]nreachable" <<<"$out"

echo "2. traceroute"
hops() {  # the addresses traceroute printed, one line
    awk '$1 ~ /^[0-9]+$/ && $2 != "*" {print $2}' | tr '\n' ' ' | sed 's/ $//'
}
for mode in "" "-I"; do
    out=$(lab_in "$CTR" timeout 30 busybox traceroute -n -q 1 -w 2 -m 6 $mode 192.0.2.77 2>&1)
    got=$(hops <<<"$out")
    check "traceroute ${mode:-(UDP)} 192.0.2.77: 198.51.100.1 192.0.2.2 192.0.2.77 (got '$got')" \
        [ "$got" = "198.51.100.1 192.0.2.2 192.0.2.77" ]
    out=$(lab_in "$CTR" timeout 30 busybox traceroute6 -n -q 1 -w 2 -m 6 $mode 2001:db8:4::77 2>&1)
    got=$(hops <<<"$out")
    check "traceroute6 ${mode:-(UDP)} 2001:db8:4::77: 2001:db8:1::1 2001:db8:3::2 2001:db8:4::77 (got '$got')" \
        [ "$got" = "2001:db8:1::1 2001:db8:3::2 2001:db8:4::77" ]
done

hops_tracepath() {  # tracepath's hop addresses, each once, in order
    awk '$1 ~ /^[0-9]+:$/ && $2 != "no" && $2 != "[LOCALHOST]" {print $2}' | awk '!seen[$0]++' | tr '\n' ' ' | sed 's/ $//'
}
out=$(lab_in "$CTR" timeout 30 tracepath -n -m 6 192.0.2.77 2>&1)
got=$(hops_tracepath <<<"$out")
check "tracepath -n 192.0.2.77: 198.51.100.1 192.0.2.2 192.0.2.77 (got '$got')" [ "$got" = "198.51.100.1 192.0.2.2 192.0.2.77" ]
out=$(lab_in "$CTR" timeout 30 tracepath -n -m 6 2001:db8:4::77 2>&1)
got=$(hops_tracepath <<<"$out")
check "tracepath -n 2001:db8:4::77: 2001:db8:1::1 2001:db8:3::2 2001:db8:4::77 (got '$got')" \
    [ "$got" = "2001:db8:1::1 2001:db8:3::2 2001:db8:4::77" ]
# mtr --report's hops: "MODE TARGET HOP1 HOP2", MODE "icmp" or "tcp" (closed port 81 of the far host).
mtr_hops() {
    local mode="$1" target="$2" out got
    local -a args=(-c 3); [ "$mode" = tcp ] && args=(-c 2 --tcp --port 81)
    out=$(lab_in "$CTR" timeout 60 mtr --report -n "${args[@]}" "$target" 2>&1)
    got=$(awk '$1 ~ /^[0-9]+\.\|--$/ {print $2}' <<<"$out" | tr '\n' ' ' | sed 's/ $//')
    check "mtr --report ${args[*]} $target: $3 $4 $target (got '$got')" [ "$got" = "$3 $4 $target" ]
}
mtr_hops icmp 192.0.2.77 198.51.100.1 192.0.2.2
mtr_hops icmp 2001:db8:4::77 2001:db8:1::1 2001:db8:3::2

echo "2b. TCP: a connect an ICMP error ends gets that error; traceroute over TCP"
cat >"$WORK/tcp_connect.py" <<'PY'
import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.settimeout(5)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("connected")
except OSError as e:
    print(e.strerror or e)
PY
for target in 192.0.2.200 2001:db8:5::1; do
    out=$(lab_in "$CTR" python3 "$WORK/tcp_connect.py" "$target" 80)
    check "TCP connect to $target (nobody routes it): the router's unreachable, not a reset ($out)" \
        eval '[ "$out" = "Network is unreachable" ] || [ "$out" = "No route to host" ]'
done
out=$(lab_in "$CTR" python3 "$WORK/tcp_connect.py" 192.0.2.77 81)
check "TCP connect to a closed port of 192.0.2.77: still refused ($out)" [ "$out" = "Connection refused" ]
mtr_hops tcp 192.0.2.77 198.51.100.1 192.0.2.2
mtr_hops tcp 2001:db8:4::77 2001:db8:1::1 2001:db8:3::2

echo "3. path MTU"
cat >"$WORK/df_send.py" <<'PY'
import socket, sys, time
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
if family == socket.AF_INET:
    s.setsockopt(socket.IPPROTO_IP, 10, 2)       # IP_MTU_DISCOVER: IP_PMTUDISC_DO
else:
    s.setsockopt(socket.IPPROTO_IPV6, 23, 2)     # IPV6_MTU_DISCOVER: IPV6_PMTUDISC_DO
s.connect((sys.argv[1], 9))
for _ in range(3):
    try:
        s.send(b"x" * 1400)
    except OSError as e:
        print(e.strerror)
    time.sleep(0.2)
PY
for target in 192.0.2.77 2001:db8:4::77; do
    lab_in "$CTR" python3 "$WORK/df_send.py" "$target" >/dev/null 2>&1
    route=$(lab_in "$CTR" ip route get "$target" 2>&1 | tr -s ' \n' ' ')
    check "a 1400-byte DF datagram to $target: the namespace learns the path MTU 1280 ($route)" grep -q "mtu 1280" <<<"$route"
done

echo "4. a flood to closed ports"
cat >"$WORK/flood.py" <<'PY'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
start = time.monotonic()
for port in range(20000, 20400):
    s.sendto(b"x", ("192.0.2.77", port))
time.sleep(0.5)
print(f"{time.monotonic() - start:.3f}")
PY
lab_in "$CTR" timeout 20 tcpdump -i eth0 -n -w "$WORK/flood.pcap" 'icmp' >/dev/null 2>&1 &
DUMP=$!; lab_track_pid "$DUMP"
sleep 1
seconds=$(lab_in "$CTR" python3 "$WORK/flood.py")
sleep 0.5; kill -INT "$DUMP"; wait "$DUMP" 2>/dev/null
errors=$(tcpdump -n -r "$WORK/flood.pcap" 2>/dev/null | grep -c "udp port 2[0-9]* unreachable")
limit=$(awk -v s="$seconds" 'BEGIN {printf "%d", 20 + 100 * (s + 1.5) + 5}')
check "400 datagrams to closed ports in ${seconds}s: $errors port unreachables, at least one and at most $limit" \
    eval '[ "$errors" -ge 1 ] && [ "$errors" -le "$limit" ]'

finish
