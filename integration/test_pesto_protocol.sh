#!/usr/bin/env bash
# The control socket against a pesto protocol client of the test's own (pesto_raw_client.py, its own
# encoder): the hello bytes, the table dump (count, caps, rule layout, byte order); malformed updates each
# rejected whole while pasta keeps forwarding; a client that stalls (silent, or half a rule) is dropped after
# the 5 s deadline without delaying a concurrent TCP transfer, and the next client waits for it in the backlog.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 jq
TOOL="$here/tcp_tool.py"
RAW="$here/pesto_raw_client.py"
PESTO="$(dirname "$PASTA")/pesto"
lab_begin with-container
WORK=$(mktemp -d /tmp/pesto-test.XXXXXX); lab_track_file "$WORK"
SOCK="$WORK/control.sock"
LOG="$WORK/pasta.log"
in_host() { ip netns exec "$LAB_HOST" "$@"; }

check "pasta starts with -c SOCK -t 0.0.0.0/8080:80 -t 9000-9001 -u none -T 9090 -U none" \
    lab_start_pasta --config-net -l "$LOG" -c "$SOCK" -t 0.0.0.0/8080:80 -t 9000-9001 -u none -T 9090 -U none --netns "$CTR"
lab_serve "$CTR" python3 "$TOOL" echo-server any 80
lab_serve "$CTR" python3 "$TOOL" echo-server any 9000
lab_wait_for 50 lab_listening "$CTR" 80; lab_wait_for 50 lab_listening "$CTR" 9000

echo "1. hello and table dump"
g=$(in_host python3 "$RAW" greeting "$SOCK")
check "hello: magic \"basil:s\\0\", version 2, pif_name_size 128, ifnamsiz 16" \
    json_has "$g" '.hello == {"magic": "626173696c3a7300", "version": 2, "pif_name_size": 128, "ifnamsiz": 16}'
check "two tables: pif 1 HOST and pif 3 SPLICE, names NUL-terminated, nothing after the final 0" \
    json_has "$g" '[.tables[] | [.pif, .name, .name_nul]] == [[1, "HOST", true], [3, "SPLICE", true]] and .trailing == 0'
check "caps: IPv4, IPv6, TCP, UDP, scan, ifname (63)" json_has "$g" '[.tables[].caps] == [63, 63]'
check "HOST count 2, SPLICE count 1" json_has "$g" '[.tables[].count] == [2, 1]'
check "0.0.0.0/8080:80: IPv4-mapped address, automatic target, ports big-endian, proto 6, no flags" \
    json_has "$g" '.tables[0].rules[0] | .addr == "0.0.0.0" and .taddr == "::" and .first == 8080 and .last == 8080
                   and .to == 80 and .proto == 6 and .flags == 0 and .ifname == "" and .ifname_nul
                   and (.hex | startswith("00000000000000000000ffff00000000")) and (.hex | endswith("1f901f9000500600"))'
check "9000-9001: any address of both families (:: with flag 1)" \
    json_has "$g" '.tables[0].rules[1] | .addr == "::" and .first == 9000 and .last == 9001 and .to == 9000 and .flags == 1'
check "SPLICE 9090: flag 1, proto 6" json_has "$g" '.tables[1].rules[0] | .first == 9090 and .flags == 1 and .proto == 6'

echo "2. malformed updates"
out=$(in_host timeout 120 python3 "$RAW" malformed "$SOCK" 2>&1); rc=$?
grep -v "^rejected truncated" <<<"$out" | sed 's/^/    /'
echo "    ($(grep -c "^rejected truncated" <<<"$out") truncations rejected)"
count=$(sed -n 's/^ok //p' <<<"$out")
check "every malformed update is rejected, tables unchanged after each (${count:-0} cases)" \
    eval '[ $rc -eq 0 ] && [ "${count:-0}" -ge 20 ]'
check "pasta logged each rejection" eval '[ "$(grep -c "update rejected" "$LOG")" -ge "${count:-20}" ]'
check "pasta keeps forwarding (8080 echoes 4 x 1 MiB)" \
    eval '[ "$(in_host timeout 30 python3 "$TOOL" load 198.51.100.2 8080 4 1048576)" = "ok 4" ]'
check "a valid raw update takes effect" \
    eval 'in_host python3 "$RAW" send "$SOCK" "[{\"pif\":1,\"rules\":[{\"proto\":6,\"first\":9000,\"last\":9001}]}]" &&
          [ "$(in_host "$PESTO" "$SOCK" | grep -c "^    -t")" = 1 ] && ! lab_listening "$LAB_HOST" 8080'

echo "3. stalled clients"
transfer_ms() {
    local start; start=$(now_ms)
    [ "$(in_host timeout 60 python3 "$TOOL" load 198.51.100.2 9000 4 8388608)" = "ok 4" ] || { echo 99999; return; }
    echo $(( $(now_ms) - start ))
}
baseline=$(transfer_ms)
silent_out="$WORK/silent.out"
in_host python3 "$RAW" silent "$SOCK" 10 >"$silent_out" 2>&1 & silent=$!; lab_track_pid $silent
sleep 0.2
pesto_start=$(now_ms)
in_host "$PESTO" "$SOCK" >/dev/null 2>&1 & waiting=$!; lab_track_pid $waiting
stalled=$(transfer_ms)
echo "    32 MiB echoed through the tap: ${baseline} ms alone, ${stalled} ms beside a silent client"
check "a silent client does not delay a concurrent TCP transfer by the deadline (5 s)" \
    [ $(( stalled - baseline )) -lt 5000 ]
wait $silent
closed_after=$(cat "$silent_out")
check "the silent client is dropped at the deadline (${closed_after} s)" \
    awk -v t="$closed_after" 'BEGIN { exit !(t >= 4.5 && t <= 6.5) }'
wait $waiting; rc=$?; waited=$(( $(now_ms) - pesto_start ))
check "a pesto client behind it waited in the backlog and was served then (${waited} ms, exit $rc)" \
    eval '[ $rc -eq 0 ] && [ $waited -ge 4000 ] && [ $waited -le 7000 ]'
before=$(in_host python3 "$RAW" greeting "$SOCK" | jq -c .tables)
half=$(printf '01000000010000000000000000000000ffff')
closed_after=$(in_host python3 "$RAW" silent "$SOCK" 10 "$half")
check "a client stalling after half a rule is dropped at the deadline too (${closed_after} s)" \
    awk -v t="$closed_after" 'BEGIN { exit !(t >= 4.5 && t <= 6.5) }'
check "... and nothing changed" eval '[ "$(in_host python3 "$RAW" greeting "$SOCK" | jq -c .tables)" = "$before" ]'
check "pasta is still running" lab_alive "$PASTA_PID"
finish
