#!/usr/bin/env bash
# Local traffic bypasses the tap: -t from the lab host's loopback and -T from the namespace's loopback are
# spliced (iperf3 both ways with the tap's counters still, 200 concurrent echo connections each way with
# the descriptor count back at baseline, half-close), UDP over -u/-U loopback, and auto mode following
# servers as they start and stop on either side, with exclusions.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 jq iperf3
TOOL="$here/tcp_tool.py"
lab_begin with-container
in_ctr() { ip netns exec "$CTR" "$@"; }
in_host() { ip netns exec "$LAB_HOST" "$@"; }
fd_count() { ls "/proc/$PASTA_PID/fd" | wc -l; }
# Bytes the tap (eth0 in the namespace) carried, both directions.
tap_bytes() { ip -n "$CTR" -j -s link show eth0 | jq '.[0].stats64.rx.bytes + .[0].stats64.tx.bytes'; }

lab_serve "$CTR" iperf3 -s -p 5201
lab_serve "$LAB_HOST" iperf3 -s -p 5202
lab_serve "$CTR" python3 "$TOOL" echo-server any 7000
lab_serve "$LAB_HOST" python3 "$TOOL" echo-server 127.0.0.1 7100
lab_serve "$LAB_HOST" python3 "$TOOL" echo-server ::1 7100
lab_serve "$CTR" python3 "$TOOL" reply-server any 7001 1048576
lab_serve "$CTR" python3 "$TOOL" udp-echo-server 5353
lab_serve "$CTR" python3 "$TOOL" reset-server 0.0.0.0 7002
lab_serve "$CTR" python3 "$TOOL" echo-server 127.0.0.1 7800
lab_serve "$LAB_HOST" python3 "$TOOL" udp-echo-server 5454 127.0.0.1 ::1
for port in 5201 7000 7001 7002 7800; do lab_wait_for 50 lab_listening "$CTR" $port; done
for port in 5202 7100; do lab_wait_for 50 lab_listening "$LAB_HOST" $port; done

check "pasta starts with -t 5201,7000-7002,7800 -T 5202,7100,7999 -u 5353,5600 -U 5454,5601" lab_start_pasta --config-net -q \
    -t 5201,7000-7002,7800 -T 5202,7100,7999 -u 5353,5600 -U 5454,5601 --netns "$CTR"

echo "1. iperf3 over the splice path, no tap traffic"
iperf_gbps() {
    local out; out=$("$@" -t 3 -J 2>/dev/null)
    jq -e '(.intervals | length) >= 3 and ([.intervals[].sum.bits_per_second] | all(. > 0))' <<<"$out" >/dev/null &&
        echo "    $(jq -r '.end.sum_received.bits_per_second / 1e9 * 100 | floor / 100' <<<"$out") Gbps"
}
before=$(tap_bytes)
check "lab host 127.0.0.1 -> namespace iperf3 (-t 5201)" iperf_gbps in_host iperf3 -c 127.0.0.1 -p 5201
check "namespace iperf3 -> lab host 127.0.0.1 (-t 5201 -R)" iperf_gbps in_host iperf3 -c 127.0.0.1 -p 5201 -R
check "namespace 127.0.0.1 -> lab host iperf3 (-T 5202)" iperf_gbps in_ctr iperf3 -c 127.0.0.1 -p 5202
check "lab host iperf3 -> namespace ::1 (-T 5202 -R)" iperf_gbps in_ctr iperf3 -c ::1 -p 5202 -R
after=$(tap_bytes)
check "the tap carried under 1 MB meanwhile ($((after - before)) bytes)" [ $((after - before)) -lt 1000000 ]

echo "2. 200 concurrent connections x 4 MiB each way"
in_host python3 "$TOOL" sequential 127.0.0.1 7000 3 >/dev/null  # splice workers and their pipes start
baseline=$(fd_count)
check "lab host -> namespace: 200 x 4 MiB echoed intact" \
    eval '[ "$(in_host timeout 120 python3 "$TOOL" load 127.0.0.1 7000 200 4194304)" = "ok 200" ]'
check "namespace -> lab host: 200 x 4 MiB echoed intact" \
    eval '[ "$(in_ctr timeout 120 python3 "$TOOL" load 127.0.0.1 7100 200 4194304)" = "ok 200" ]'
check "IPv6 namespace ::1 -> lab host ::1: 50 x 1 MiB" \
    eval '[ "$(in_ctr timeout 60 python3 "$TOOL" load ::1 7100 50 1048576)" = "ok 50" ]'
check "pasta's descriptors back to baseline ($baseline)" lab_wait_for 50 eval '[ "$(fd_count)" -le "$baseline" ]'
check "half-close: the whole 1 MiB reply arrives" \
    eval '[ "$(in_host timeout 10 python3 "$TOOL" half-close 127.0.0.1 7001 1048576)" = "ok 1048576" ]'
closed_quickly() { in_ctr timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/7999; cat <&3' >/dev/null 2>&1; [ $? != 124 ]; }
check "-T 7999 with nothing listening on the host: the client is closed at once" closed_quickly
check "a reset by the namespace's server reaches the lab host's client" \
    eval '[ "$(in_host timeout 10 python3 "$TOOL" expect-reset 127.0.0.1 7002)" = reset ]'
check "a server on the namespace's loopback only is not reachable through -t (guest address is the target)" \
    eval '! in_host timeout 5 python3 "$TOOL" sequential 127.0.0.1 7800 1 >/dev/null 2>&1'
check "pasta is still running" lab_alive "$PASTA_PID"

echo "3. UDP over loopback"
check "lab host 127.0.0.1 -> namespace echo (-u 5353)" \
    eval '[ "$(in_host python3 "$TOOL" udp-ask 127.0.0.1 5353 hello4)" = "hello4 127.0.0.1" ]'
check "lab host ::1 -> namespace echo (-u 5353)" \
    eval '[ "$(in_host python3 "$TOOL" udp-ask ::1 5353 hello6)" = "hello6 ::1" ]'
check "namespace 127.0.0.1 -> lab host echo (-U 5454)" \
    eval '[ "$(in_ctr python3 "$TOOL" udp-ask 127.0.0.1 5454 back4)" = "back4 127.0.0.1" ]'
check "namespace ::1 -> lab host echo (-U 5454)" \
    eval '[ "$(in_ctr python3 "$TOOL" udp-ask ::1 5454 back6)" = "back6 ::1" ]'
seq_transfer() {  # RECEIVER_NS RECEIVER_ADDRESS SENDER_NS PORT: 7,500 numbered datagrams at 200 Mbit/s
    local out; out=$(mktemp); lab_track_file "$out"
    ip netns exec "$1" python3 "$TOOL" udp-seq-receive "$2" "$4" 7500 >"$out" 2>&1 &
    local receiver=$!
    sleep 0.3
    ip netns exec "$3" python3 "$TOOL" udp-seq-send 127.0.0.1 "$4" 7500 200 >/dev/null
    wait "$receiver"
    grep -q "^ok 7500$" "$out" || { head -c 300 "$out"; return 1; }
}
check "10 MB of numbered datagrams, lab host 127.0.0.1 -> namespace (-u 5600), all arrive" \
    seq_transfer "$CTR" 198.51.100.2 "$LAB_HOST" 5600
check "10 MB of numbered datagrams, namespace 127.0.0.1 -> lab host (-U 5601), all arrive" \
    seq_transfer "$LAB_HOST" 127.0.0.1 "$CTR" 5601
check "the tap carried none of it" [ $(( $(tap_bytes) - after )) -lt 100000 ]

echo "4. auto mode (defaults), with -t auto,~7600"
kill "$PASTA_PID"; lab_wait_for 50 eval '! lab_alive "$PASTA_PID"'
check "pasta starts with auto forwarding" lab_start_pasta --config-net -q -t auto,~7600 --netns "$CTR"
check "ports already bound in the namespace are forwarded at start (7000)" \
    eval '[ "$(in_host python3 "$TOOL" sequential 127.0.0.1 7000 1)" = "ok 1" ]'
# Reachable within 2 s of the server starting, and the port released within 2 s of it stopping.
reach_within_2s() {  # NS-of-client NS-of-server PORT
    local start=$(now_ms)
    lab_wait_for 25 eval "[ \"\$(ip netns exec $1 python3 $TOOL sequential 127.0.0.1 $3 1 2>/dev/null)\" = 'ok 1' ]" || return 1
    local took=$(( $(now_ms) - start )); echo "    reachable after $took ms"; [ "$took" -le 2000 ]
}
released_within_2s() {  # NS-where-we-listened PORT
    local start=$(now_ms)
    lab_wait_for 25 eval "! lab_listening $1 $2" || return 1
    local took=$(( $(now_ms) - start )); echo "    released after $took ms"; [ "$took" -le 2000 ]
}
ip netns exec "$CTR" python3 "$TOOL" echo-server any 7300 >/dev/null 2>&1 & server=$!; lab_track_pid $server
lab_wait_for 50 lab_listening "$CTR" 7300
check "a namespace server started later is reached from the lab host's 127.0.0.1 within 2 s" \
    reach_within_2s "$LAB_HOST" "$CTR" 7300
kill $server; wait $server 2>/dev/null
check "once it stops, port 7300 is free on the lab host within 2 s" released_within_2s "$LAB_HOST" 7300
ip netns exec "$LAB_HOST" python3 "$TOOL" echo-server 127.0.0.1 7400 >/dev/null 2>&1 & server=$!; lab_track_pid $server
lab_wait_for 50 lab_listening "$LAB_HOST" 7400
check "a lab host server started later is reached from the namespace's 127.0.0.1 within 2 s" \
    reach_within_2s "$CTR" "$LAB_HOST" 7400
kill $server; wait $server 2>/dev/null
check "once it stops, port 7400 is free in the namespace within 2 s" released_within_2s "$CTR" 7400
ip netns exec "$CTR" python3 "$TOOL" echo-server any 7600 >/dev/null 2>&1 & server=$!; lab_track_pid $server
lab_wait_for 50 lab_listening "$CTR" 7600; sleep 2.5
check "an excluded port (~7600) is not forwarded" eval '! lab_listening "$LAB_HOST" 7600'
kill $server; wait $server 2>/dev/null
check "a server on the host port we forward is not forwarded back into the namespace" \
    eval '[ "$(ip netns exec "$CTR" ss -Hltn "sport = :5201" | wc -l)" = 1 ]'
check "UDP: a namespace UDP server started later answers the lab host's 127.0.0.1 within 2 s" \
    eval 'ip netns exec "$CTR" python3 "$TOOL" udp-echo-server 5700 >/dev/null 2>&1 & lab_track_pid $!;
          lab_wait_for 25 eval "[ \"\$(in_host python3 $TOOL udp-ask 127.0.0.1 5700 auto 2>/dev/null)\" = \"auto 127.0.0.1\" ]"'
check "pasta is still running" lab_alive "$PASTA_PID"

echo "5. --host-lo-to-ns-lo and --no-splice"
kill "$PASTA_PID"; lab_wait_for 50 eval '! lab_alive "$PASTA_PID"'
check "pasta starts with --host-lo-to-ns-lo -t 7800" lab_start_pasta --config-net -q --host-lo-to-ns-lo -t 7800 \
    -u none -T none -U none --netns "$CTR"
check "the namespace's loopback-only server is reached" \
    eval '[ "$(in_host python3 "$TOOL" sequential 127.0.0.1 7800 1)" = "ok 1" ]'
kill "$PASTA_PID"; lab_wait_for 50 eval '! lab_alive "$PASTA_PID"'
check "pasta starts with --no-splice -t 7000" lab_start_pasta --config-net -q --no-splice -t 7000 -u none -T none \
    -U none --netns "$CTR"
before=$(tap_bytes)
check "lab host 127.0.0.1 -> namespace: 20 x 1 MiB echoed through the tap" \
    eval '[ "$(in_host timeout 60 python3 "$TOOL" load 127.0.0.1 7000 20 1048576)" = "ok 20" ]'
check "the tap carried it ($(( $(tap_bytes) - before )) bytes)" [ $(( $(tap_bytes) - before )) -gt 40000000 ]
finish
