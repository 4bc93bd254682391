#!/usr/bin/env bash
# Target addresses on the command line (-t PORT:ADDR/PORT): connections and datagrams go to that address in
# the namespace (added to its interface here) rather than the guest's own, through the tap and spliced;
# a rule without one still reaches the guest's own address afterwards.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3
TOOL="$here/tcp_tool.py"
lab_begin with-container
in_host() { ip netns exec "$LAB_HOST" "$@"; }

check "pasta starts with -t 18081:192.0.2.10/80,7000 -t [::]/18083:[2001:db8:9::10]/80 -u 18082:192.0.2.10/5353" \
    lab_start_pasta --config-net -q -t 18081:192.0.2.10/80,7000 -t '[::]/18083:[2001:db8:9::10]/80' \
    -u 18082:192.0.2.10/5353 -T none -U none --netns "$CTR"
ip -n "$CTR" addr add 192.0.2.10/32 dev eth0
ip -n "$CTR" addr add 2001:db8:9::10/128 dev eth0 nodad
lab_serve "$CTR" python3 "$TOOL" who-server 192.0.2.10 80
lab_serve "$CTR" python3 "$TOOL" who-server 2001:db8:9::10 80
lab_serve "$CTR" python3 "$TOOL" who-server 198.51.100.2 7000
lab_serve "$CTR" python3 "$TOOL" udp-echo-server 5353 192.0.2.10
lab_wait_for 50 lab_listening "$CTR" 80; lab_wait_for 50 lab_listening "$CTR" 7000

# who prints "SERVER_ADDRESS CLIENT_ADDRESS" as the server saw them.
served_by() {  # EXPECTED_SERVER_ADDRESS HOST PORT
    local out; out=$(in_host timeout 10 python3 "$TOOL" who "$2" "$3" 2>&1)
    echo "    $out"; [ "${out%% *}" = "$1" ]
}
check "through the tap: the uplink address's port 18081 reaches 192.0.2.10:80" served_by 192.0.2.10 198.51.100.2 18081
check "spliced: 127.0.0.1:18081 reaches 192.0.2.10:80" served_by 192.0.2.10 127.0.0.1 18081
check "IPv6 through the tap: [2001:db8:1::2]:18083 reaches [2001:db8:9::10]:80" served_by 2001:db8:9::10 2001:db8:1::2 18083
check "spliced IPv6: [::1]:18083 reaches [2001:db8:9::10]:80" served_by 2001:db8:9::10 ::1 18083
check "a rule without a target still reaches the guest's own address (7000)" served_by 198.51.100.2 198.51.100.2 7000
check "UDP through the tap: 18082 reaches 192.0.2.10:5353 and the reply comes back" \
    eval '[ "$(in_host python3 "$TOOL" udp-ask 198.51.100.2 18082 hello4)" = "hello4 198.51.100.2" ]'
check "UDP spliced: 127.0.0.1:18082 reaches 192.0.2.10:5353" \
    eval '[ "$(in_host python3 "$TOOL" udp-ask 127.0.0.1 18082 hello5)" = "hello5 127.0.0.1" ]'
check "an IPv4 target makes its rule listen on IPv4 only" \
    eval '[ "$(in_host ss -Hltn "sport = :18081" | awk "{print \$4}")" = "0.0.0.0:18081" ]'
check "the IPv6 rule listens on [::] only" \
    eval '[ "$(in_host ss -Hltn "sport = :18083" | awk "{print \$4}")" = "[::]:18083" ]'
check "pasta is still running" lab_alive "$PASTA_PID"
finish
