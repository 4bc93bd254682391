#!/usr/bin/env bash
# TCP through the tap, IPv4 and IPv6: bulk transfers both ways with checksums, iperf3 both ways, inbound
# port forwarding with the client's real address (and clients that send and half-close at once), gateway
# and guest-address mapping, many concurrent and sequential connections with the descriptor count back at
# baseline, refused connects, half-close, a server that speaks first and closes at once.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 curl jq socat iperf3 nft
TOOL="$here/tcp_tool.py"
lab_begin with-container
WORK=$(mktemp -d /tmp/pasta-test.XXXXXX); lab_track_file "$WORK"
head -c 256M /dev/urandom >"$WORK/blob"
BLOB_SHA=$(sha256sum <"$WORK/blob" | cut -d' ' -f1)

lab_serve "$LAB_INET" python3 -m http.server -d "$WORK" --bind :: 8000
lab_serve "$LAB_INET" socat -u TCP4-LISTEN:9101,reuseaddr "CREATE:$WORK/up4"
lab_serve "$LAB_INET" socat -u TCP6-LISTEN:9102,reuseaddr "CREATE:$WORK/up6"
lab_serve "$LAB_INET" python3 "$TOOL" echo-server any 7000
lab_serve "$LAB_INET" python3 "$TOOL" reply-server any 7001 1048576
lab_serve "$LAB_INET" python3 "$TOOL" who-server any 7100
lab_serve "$LAB_INET" iperf3 -s -p 5201
lab_serve "$LAB_HOST" python3 "$TOOL" echo-server 127.0.0.1 9000
lab_serve "$LAB_HOST" python3 "$TOOL" echo-server ::1 9000
lab_serve "$LAB_HOST" python3 "$TOOL" echo-server 0.0.0.0 9001
ip netns exec "$CTR" python3 -m http.server --bind :: 80 >/dev/null 2>"$WORK/ctr-http.log" &
lab_track_pid $!
lab_serve "$CTR" python3 "$TOOL" echo-server any 81
for port in 8000 9101 9102 7000 7001 7100 5201; do lab_wait_for 50 lab_listening "$LAB_INET" $port; done
lab_wait_for 50 lab_listening "$LAB_HOST" 9001; lab_wait_for 50 lab_listening "$CTR" 80; lab_wait_for 50 lab_listening "$CTR" 81

check "pasta starts with -t 8080:80,8081:81" lab_start_pasta --config-net -q -t 8080:80,8081:81 -u none -T none -U none --netns "$CTR"
in_ctr() { ip netns exec "$CTR" "$@"; }
sha_of_download() { in_ctr curl -s --max-time 60 "$1" | sha256sum | cut -d' ' -f1; }

echo "1. bulk transfers"
check "IPv4: 256 MiB download matches" [ "$(sha_of_download http://203.0.113.10:8000/blob)" = "$BLOB_SHA" ]
check "IPv6: 256 MiB download matches" [ "$(sha_of_download 'http://[2001:db8:2::10]:8000/blob')" = "$BLOB_SHA" ]
in_ctr timeout 60 socat -u "FILE:$WORK/blob" TCP4:203.0.113.10:9101
in_ctr timeout 60 socat -u "FILE:$WORK/blob" TCP6:[2001:db8:2::10]:9102
lab_wait_for 50 eval '[ "$(stat -c %s "$WORK/up6" 2>/dev/null)" = 268435456 ]'
check "IPv4: 256 MiB upload matches" [ "$(sha256sum <"$WORK/up4" | cut -d' ' -f1)" = "$BLOB_SHA" ]
check "IPv6: 256 MiB upload matches" [ "$(sha256sum <"$WORK/up6" | cut -d' ' -f1)" = "$BLOB_SHA" ]

echo "2. iperf3, 10 s each way"
iperf_ok() {
    local out; out=$(in_ctr iperf3 -c "$1" -p 5201 -t 10 -J "${@:2}" 2>/dev/null)
    jq -e '(.intervals | length) >= 10 and ([.intervals[].sum.bits_per_second] | all(. > 0))' <<<"$out" >/dev/null &&
        echo "    $(jq -r '.end.sum_received.bits_per_second / 1e9 * 100 | floor / 100' <<<"$out") Gbps"
}
check "IPv4 namespace -> internet: every interval above zero" iperf_ok 203.0.113.10
check "IPv4 internet -> namespace (-R)" iperf_ok 203.0.113.10 -R
check "IPv6 namespace -> internet" iperf_ok 2001:db8:2::10
check "IPv6 internet -> namespace (-R)" iperf_ok 2001:db8:2::10 -R

echo "3. inbound -t 8080:80"
check "IPv4: curl 198.51.100.2:8080 from the internet reaches port 80 in the namespace" \
    ip netns exec "$LAB_INET" curl -sf --max-time 5 --interface 203.0.113.10 -o /dev/null http://198.51.100.2:8080/
check "IPv6: curl [2001:db8:1::2]:8080" ip netns exec "$LAB_INET" curl -sf --max-time 5 --interface 2001:db8:2::10 -o /dev/null \
    'http://[2001:db8:1::2]:8080/'
check "the server saw 203.0.113.10 as the client" grep -q "203.0.113.10 .*GET / " "$WORK/ctr-http.log"
check "the server saw 2001:db8:2::10 as the client" grep -q "2001:db8:2::10 .*GET / " "$WORK/ctr-http.log"
# Each client sends and half-closes at once: its FIN often reaches us before the guest's SYN-ACK.
check "IPv4: 200 connections from the internet that send and half-close at once all get their echo" \
    eval '[ "$(ip netns exec "$LAB_INET" timeout 120 python3 "$TOOL" sequential 198.51.100.2 8081 200)" = "ok 200" ]'
check "IPv6: the same" \
    eval '[ "$(ip netns exec "$LAB_INET" timeout 120 python3 "$TOOL" sequential 2001:db8:1::2 8081 200)" = "ok 200" ]'

echo "4. gateway and guest-address mapping"
echo_via() { [ "$(in_ctr_ns "$1" python3 "$TOOL" sequential "$2" "$3" 1 2>/dev/null)" = "ok 1" ]; }
in_ctr_ns() { local ns="$1"; shift; ip netns exec "$ns" "$@"; }
check "the gateway 198.51.100.1:9000 reaches the lab host's 127.0.0.1:9000" echo_via "$CTR" 198.51.100.1 9000
check "the gateway 2001:db8:1::1 reaches the lab host's [::1]:9000" echo_via "$CTR" 2001:db8:1::1 9000
CTR2="$LAB_ID-nogw"; lab_add_ns "$CTR2"
lab_start_pasta --config-net -q -t none -u none -T none -U none --no-map-gw --netns "$CTR2"
check "with --no-map-gw it does not" eval '! echo_via "$CTR2" 198.51.100.1 9000'
CTR3="$LAB_ID-guest"; lab_add_ns "$CTR3"
lab_start_pasta --config-net -q -t none -u none -T none -U none --map-guest-addr 169.254.1.2 --netns "$CTR3"
check "--map-guest-addr 169.254.1.2 reaches the host at its own address (server on 0.0.0.0:9001)" \
    echo_via "$CTR3" 169.254.1.2 9001
check "... but not services bound to the host's loopback only (127.0.0.1:9000)" eval '! echo_via "$CTR3" 169.254.1.2 9000'

echo "5. many connections"
fd_count() { ls "/proc/$PASTA_MAIN/fd" | wc -l; }
PASTA_MAIN=$(lab_in "$LAB_HOST" ss -Hltnp "sport = :8080" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
BASELINE=$(fd_count)
check "IPv4: 500 concurrent connections move 1 MiB each way intact" \
    eval '[ "$(in_ctr python3 "$TOOL" load 203.0.113.10 7000 500 1048576)" = "ok 500" ]'
check "IPv6: 500 concurrent connections move 1 MiB each way intact" \
    eval '[ "$(in_ctr python3 "$TOOL" load 2001:db8:2::10 7000 500 1048576)" = "ok 500" ]'
check "IPv4: 10,000 sequential short connections" \
    eval '[ "$(in_ctr python3 "$TOOL" sequential 203.0.113.10 7000 10000)" = "ok 10000" ]'
check "IPv6: 10,000 sequential short connections" \
    eval '[ "$(in_ctr python3 "$TOOL" sequential 2001:db8:2::10 7000 10000)" = "ok 10000" ]'
check "pasta's descriptors are back at the idle baseline ($BASELINE)" lab_wait_for 100 eval '[ "$(fd_count)" -le "$BASELINE" ]'

echo "6. refused connects and half-close"
refused_fast() {
    local start=$(now_ms) out
    out=$(in_ctr curl -s --max-time 5 "$1" 2>&1); local rc=$?
    [ $rc -eq 7 ] && [ $(( $(now_ms) - start )) -lt 1000 ]
}
check "IPv4: a closed port is refused within 1 s" refused_fast http://203.0.113.10:9/
check "IPv6: a closed port is refused within 1 s" refused_fast 'http://[2001:db8:2::10]:9/'
check "IPv4: after shutting down its write side the client still gets the whole 1 MiB reply" \
    eval '[ "$(in_ctr python3 "$TOOL" half-close 203.0.113.10 7001 1048576)" = "ok 1048576" ]'
check "IPv6: the same" eval '[ "$(in_ctr python3 "$TOOL" half-close 2001:db8:2::10 7001 1048576)" = "ok 1048576" ]'

echo "7. a server that speaks first and closes at once"
# Its data and FIN come in one wake-up: both must reach the guest, or the client waits forever.
who_answers() { [ "$(in_ctr timeout 5 python3 "$TOOL" who "$1" 7100 2>/dev/null | cut -d' ' -f1)" = "$1" ]; }
many_who_answers() { for _ in $(seq 1 20); do who_answers "$1" || return 1; done; }
check "IPv4: 20 connections each get the answer and the end of stream" many_who_answers 203.0.113.10
check "IPv6: the same" many_who_answers 2001:db8:2::10
# The guest's last handshake ACK is held back once per connection (conntrack counts its packets): by the
# time the SYN-ACK is resent and acknowledged, the server has sent its answer and closed.
in_ctr sysctl -qw net.netfilter.nf_conntrack_acct=1
in_ctr nft -f - <<'NFT'
table inet hold_ack {
    chain out {
        type filter hook output priority 0
        tcp dport 7100 tcp flags & (syn | ack | fin | rst) == ack ct original packets 2 drop
    }
}
NFT
check "IPv4: the answer and the end of stream after a held handshake ACK" who_answers 203.0.113.10
check "IPv6: the same" who_answers 2001:db8:2::10
in_ctr nft delete table inet hold_ack

check "pasta is still running" lab_alive "$PASTA_MAIN"
finish
