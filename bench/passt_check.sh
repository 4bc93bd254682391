#!/usr/bin/env bash
# Shows that bench/stream_bridge carries a namespace's traffic through passt the way qemu carries a
# guest's, and measures passt that way: passt in the lab host, the bridge with tap eth0 in a namespace
# configured by passt's DHCP, then iperf3 to a server in the lab internet (203.0.113.10, behind the lab
# host's 1500-byte uplink) both ways, UDP, IPv6, and a 1-byte TCP round trip (bench/tcp_rr.c). Run as root:
#   bash bench/passt_check.sh         (PASST=/usr/bin/passt SECONDS_PER_RUN=5 RR_COUNT=20000 by default)
# PASST_OPTS adds passt options. Nothing leaves the namespaces this script creates.
set -u
cd "$(dirname "$0")/.."
PASST="${PASST:-/usr/bin/passt}"
PASST_OPTS="${PASST_OPTS:-}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-5}"
RR_COUNT="${RR_COUNT:-20000}"
[ "$(id -u)" -eq 0 ] || { echo "passt_check needs root (network namespaces, /dev/net/tun)" >&2; exit 1; }
for tool in iperf3 gcc busybox jq; do
    command -v "$tool" >/dev/null || { echo "$tool is needed (scripts/install-deps.sh)" >&2; exit 1; }
done
[ -x "$PASST" ] || { echo "no passt at $PASST" >&2; exit 1; }

LAB_ID="${LAB_ID:-pc$$}"
source integration/lab.sh
source integration/assert.sh
source bench/passt-lab.sh
lab_begin
trap 'exit 143' TERM; trap 'exit 130' INT
TOOLS=$(mktemp -d /tmp/passt-check.XXXXXX); lab_track_file "$TOOLS"
passt_lab_build_tools "$TOOLS" || { echo "can't build the bench tools" >&2; exit 1; }
RR="$TOOLS/tcp_rr"
# Servers bound to the lab internet's own addresses: a UDP server on the wildcard address would answer
# from gw0's 198.51.100.1 (the source routing picks towards 198.51.100.2), which no connected client accepts.
lab_serve "$LAB_INET" iperf3 -s -p 5201 -B 203.0.113.10
lab_serve "$LAB_INET" iperf3 -s -p 5202 -B 2001:db8:2::10
lab_serve "$LAB_INET" "$RR" server 203.0.113.10 7001
lab_serve "$LAB_INET" "$RR" server 2001:db8:2::10 7002
for port in 5201 5202 7001 7002; do lab_wait_for 50 lab_listening "$LAB_INET" $port; done

NS="$LAB_ID-guest"
echo "passt: $PASST $PASST_OPTS"
# shellcheck disable=SC2086
check "passt starts and the bridged namespace gets a DHCP lease" passt_lab_attach "$PASST" "$NS" -D none -S none $PASST_OPTS
echo "    $PASST_LAB_LEASE"
check "the lease is the lab host's address (198.51.100.2/24 via 198.51.100.1)" \
    eval '[[ "$PASST_LAB_LEASE" == "lease 198.51.100.2/24 router 198.51.100.1 "* ]]'
lab_wait_for 100 passt_lab_has_ipv6 "$NS"
check "SLAAC gives the namespace an address in 2001:db8:1::/64" passt_lab_has_ipv6 "$NS"
echo "    $(ip -n "$NS" -o link show eth0 | grep -o 'mtu [0-9]*')"

in_ns() { ip netns exec "$NS" "$@"; }
# iperf3 HOST ARGS...: prints the receiver's Gbps, the sender's retransmits and how many 1 s intervals
# stalled (UDP: what arrived, and the loss); prints nothing when iperf3 fails.
iperf() {
    local port=5201; [[ "$1" == *:* ]] && port=5202
    local out; out=$(in_ns iperf3 -c "$@" -p $port -t "$SECONDS_PER_RUN" -J 2>/dev/null) || return 1
    if jq -e '.end.sum.lost_percent' <<<"$out" >/dev/null 2>&1; then
        jq -r '.end.sum | "\(.bits_per_second * (100 - .lost_percent) / 1e11 * 100 | floor / 100) Gbps delivered, \(.lost_percent * 100 | floor / 100)% of \(.packets) datagrams lost"' <<<"$out"
    else
        jq -er '"\(.end.sum_received.bits_per_second / 1e9 * 100 | floor / 100) Gbps, \(.end.sum_sent.retransmits) retransmits" +
                ([.intervals[] | select(.sum.bits_per_second < 1e7)] | length |
                 if . > 0 then ", \(.) of the 1 s intervals below 10 Mbps (stalled)" else "" end)' <<<"$out"
    fi
}
result() {
    local what="$1"; shift
    local r; r=$("$@")
    check "$what: ${r:-no result}" [ -n "$r" ]
}
echo "iperf3, ${SECONDS_PER_RUN} s each"
result "TCP namespace -> internet (IPv4)" iperf 203.0.113.10
result "TCP internet -> namespace (IPv4, -R)" iperf 203.0.113.10 -R
result "TCP namespace -> internet (IPv6)" iperf 2001:db8:2::10
result "TCP internet -> namespace (IPv6, -R)" iperf 2001:db8:2::10 -R
result "UDP namespace -> internet (IPv4, -b 1G, 1400-byte datagrams)" iperf 203.0.113.10 -u -b 1G -l 1400
result "UDP internet -> namespace (IPv4, -R -b 1G, 1400-byte datagrams)" iperf 203.0.113.10 -u -b 1G -l 1400 -R
result "UDP namespace -> internet (IPv6, -b 1G, 1400-byte datagrams)" iperf 2001:db8:2::10 -u -b 1G -l 1400
echo "TCP_RR, $RR_COUNT round trips of 1 byte"
result "IPv4 (mean us, p99 us)" in_ns "$RR" client 203.0.113.10 7001 "$RR_COUNT"
result "IPv6 (mean us, p99 us)" in_ns "$RR" client 2001:db8:2::10 7002 "$RR_COUNT"

kill "$PASST_LAB_BRIDGE_PID" 2>/dev/null; wait "$PASST_LAB_BRIDGE_PID" 2>/dev/null
echo "    $(cat "$PASST_LAB_BRIDGE_LOG")"
check "passt survived it all" lab_alive "$PASST_LAB_PID"
finish
