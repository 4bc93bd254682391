#!/usr/bin/env bash
# Forwarding rules changed at run time through the control socket (-c) with our pesto client: a rule added
# is reachable within 100 ms of pesto's exit and gone once deleted; the listing is exactly what is in force;
# an update whose port is taken fails whole without losing an open connection or one waiting in a kept
# listener's queue, and a successful one keeps that listener's socket (same inode); target addresses and
# Podman's own calls; the same on passt (HOST table only, a SPLICE update refused).
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 jq
TOOL="$here/tcp_tool.py"
RAW="$here/pesto_raw_client.py"
PESTO="$(dirname "$PASTA")/pesto"
[ -x "$PESTO" ] || { echo "no pesto next to $PASTA (run-tests.sh links it)"; exit 1; }
lab_begin with-container
WORK=$(mktemp -d /tmp/pesto-test.XXXXXX); lab_track_file "$WORK"
SOCK="$WORK/control.sock"
LOG="$WORK/pasta.log"
in_host() { ip netns exec "$LAB_HOST" "$@"; }
pesto() { in_host "$PESTO" "$@"; }
listing() { pesto "$SOCK" | grep '^    ' | sed 's/^ *//' | tr '\n' ' ' | sed 's/ $//'; }
served_by() {  # EXPECTED_SERVER_ADDRESS HOST PORT
    local out; out=$(in_host timeout 10 python3 "$TOOL" who "$2" "$3" 2>&1)
    echo "    $out"; [ "${out%% *}" = "$1" ]
}
refused() { ! in_host timeout 5 python3 "$TOOL" who "$1" "$2" >/dev/null 2>&1; }
socket_inode() { in_host ss -Hltne "sport = :$1" 2>/dev/null | grep -o 'ino:[0-9]*' | head -n 1; }

check "pasta starts with -c SOCK -t none -u none -T none -U none" \
    lab_start_pasta --config-net -l "$LOG" -c "$SOCK" -t none -u none -T none -U none --netns "$CTR"
check "the control socket exists, mode 0600" eval '[ -S "$SOCK" ] && [ "$(stat -c %a "$SOCK")" = 600 ]'
lab_serve "$CTR" python3 "$TOOL" who-server any 80
lab_serve "$CTR" python3 "$TOOL" echo-server any 7000
lab_wait_for 50 lab_listening "$CTR" 80; lab_wait_for 50 lab_listening "$CTR" 7000

echo "1. add, list, delete"
check "pesto SOCK shows both tables, empty" eval '[ "$(listing)" = "none none" ]'
out=$(in_host python3 "$TOOL" reach-after 127.0.0.1,198.51.100.2 18080 "$PESTO" -A -t 18080:80 "$SOCK")
check "pesto -A -t 18080:80 SOCK exits 0" [ $? -eq 0 ]
delay4=$(awk '$1 == "127.0.0.1" {print $2}' <<<"$out"); delay_up=$(awk '$1 == "198.51.100.2" {print $2}' <<<"$out")
check "127.0.0.1:18080 reachable within 100 ms of pesto's exit (${delay4:-never} ms)" [ "${delay4:-999}" -le 100 ]
check "198.51.100.2:18080 (uplink) reachable within 100 ms of pesto's exit (${delay_up:-never} ms)" [ "${delay_up:-999}" -le 100 ]
check "127.0.0.1:18080 reaches the namespace's server on port 80" served_by 198.51.100.2 127.0.0.1 18080
check "198.51.100.2:18080 reaches it through the tap" served_by 198.51.100.2 198.51.100.2 18080
check "pesto -A -T 18085 -U 5353 SOCK exits 0" pesto -A -T 18085 -U 5353 "$SOCK"
check "pesto SOCK lists exactly the rules in force, both tables" \
    eval '[ "$(listing)" = "-t 18080:80 -T 18085 -U 5353" ]'
check "pesto -D -t 18080:80 SOCK exits 0" pesto -D -t 18080:80 "$SOCK"
check "... 18080 is closed on the lab host" eval '! lab_listening "$LAB_HOST" 18080 && refused 127.0.0.1 18080'
check "... and the listing says so" eval '[ "$(listing)" = "none -T 18085 -U 5353" ]'
check "pesto -D of a rule not in force exits 1" eval '! pesto -D -t 18080:80 "$SOCK" 2>/dev/null'
check "pesto -A of an overlapping rule exits 1, nothing sent" eval '! pesto -A -T 18080-18090 "$SOCK" 2>/dev/null'
check "pesto -C SPLICE empties that table" eval 'pesto -C SPLICE "$SOCK" && [ "$(listing)" = "none none" ]'

echo "2. atomic updates"
check "pesto -A -t 18082:7000 -t 18084:7000" pesto -A -t 18082:7000 -t 18084:7000 "$SOCK"
# lab_serve, not a backgrounded in_host: $! must be python itself for the clean-up to stop it.
lab_serve "$LAB_HOST" python3 -c 'import socket,time; s=socket.socket(); s.bind(("0.0.0.0",18090)); s.listen(); time.sleep(300)'
blocker=${LAB_PIDS[-1]}
lab_wait_for 50 lab_listening "$LAB_HOST" 18090
inode=$(socket_inode 18082)
kept='{"proto":6,"first":18082,"to":7000},{"proto":6,"first":18084,"to":7000}'
out=$(in_host python3 "$RAW" atomic "$SOCK" "$PASTA_PID" 198.51.100.2 18082 "[{\"pif\":1,\"rules\":[$kept,{\"proto\":6,\"first\":18090}]}]" 2>&1)
echo "    $out"
check "an update adding a taken port (18090): the open connection and the queued one both still served" \
    json_has "$out" '.a_before and .a_after and .b_served'
check "... the update failed whole: the old rules stay" eval '[ "$(listing)" = "-t 18082:7000 -t 18084:7000 none" ]'
check "... pasta logged why" grep -q "can't bind TCP port 18090" "$LOG"
check "... 18082's socket is the same ($inode)" eval '[ "$(socket_inode 18082)" = "$inode" ]'
out=$(in_host python3 "$RAW" atomic "$SOCK" "$PASTA_PID" 198.51.100.2 18082 "[{\"pif\":1,\"rules\":[{\"proto\":6,\"first\":18082,\"to\":7000},{\"proto\":6,\"first\":18083,\"to\":7000}]}]" 2>&1)
echo "    $out"
check "an update adding 18083 and removing 18084: both connections still served" \
    json_has "$out" '.a_before and .a_after and .b_served'
check "... it took effect" eval '[ "$(listing)" = "-t 18082:7000 -t 18083:7000 none" ] && ! lab_listening "$LAB_HOST" 18084'
check "... 18082's listening socket is untouched (same inode $inode)" eval '[ "$(socket_inode 18082)" = "$inode" ]'
check "... and still open in pasta (/proc/PID/fd)" eval 'ls -l /proc/$PASTA_PID/fd | grep -q "socket:\[${inode#ino:}\]"'
out=$(pesto -A -t 18090 "$SOCK" 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "pesto -A -t 18090 (taken) exits 1 and says the rule is not in force" \
    eval '[ $rc -eq 1 ] && grep -q "18090 is not in force" <<<"$out"'
kill $blocker; wait $blocker 2>/dev/null

echo "3. target addresses"
ip -n "$CTR" addr add 192.0.2.10/32 dev eth0
ip -n "$CTR" addr add 10.88.0.5/32 dev eth0
ip -n "$CTR" addr add fd00::5/128 dev eth0 nodad
check "pesto -A -t 18081:192.0.2.10/80" pesto -A -t 18081:192.0.2.10/80 "$SOCK"
check "the uplink's 18081 reaches 192.0.2.10:80 in the namespace" served_by 192.0.2.10 198.51.100.2 18081
check "127.0.0.1:18081 reaches it too (spliced)" served_by 192.0.2.10 127.0.0.1 18081
check "Podman's call: pesto --add -t 0.0.0.0/18086:10.88.0.5/80 -t [::]/18086:[fd00::5]/80" \
    pesto --add -t 0.0.0.0/18086:10.88.0.5/80 -t '[::]/18086:[fd00::5]/80' "$SOCK"
check "... IPv4 reaches 10.88.0.5:80" served_by 10.88.0.5 198.51.100.2 18086
check "... IPv6 reaches [fd00::5]:80" served_by fd00::5 2001:db8:1::2 18086
check "... the same call again is no change (exit 0)" \
    pesto --add -t 0.0.0.0/18086:10.88.0.5/80 -t '[::]/18086:[fd00::5]/80' "$SOCK"
check "Podman's --delete exits 0" pesto --delete -t 0.0.0.0/18086:10.88.0.5/80 -t '[::]/18086:[fd00::5]/80' "$SOCK"
check "... 18086 is closed" eval '! lab_listening "$LAB_HOST" 18086'
check "the guest's own address still serves rules without a target" \
    eval 'pesto -A -t 18088:80 "$SOCK" && served_by 198.51.100.2 198.51.100.2 18088' 
check "pasta is still running" lab_alive "$PASTA_PID"
kill "$PASTA_PID"; lab_wait_for 50 eval '! lab_alive "$PASTA_PID"'
check "the control socket is removed at exit" eval '[ ! -e "$SOCK" ]'

echo "4. passt"
PASST="$WORK/passt"; ln -s "$PASTA" "$PASST"
PSOCK="$WORK/passt.sock"; PCTL="$WORK/passt-control.sock"; PLOG="$WORK/passt.log"
in_host "$PASST" -P "$WORK/passt.pid" -l "$PLOG" -s "$PSOCK" -c "$PCTL" -t none
check "passt starts with -c" eval '[ -S "$PCTL" ]'
PASST_PID=$(cat "$WORK/passt.pid" 2>/dev/null); [ -n "$PASST_PID" ] && lab_track_pid "$PASST_PID"
guest_out="$WORK/guest.out"
in_host python3 "$here/passt_client.py" inbound-syn "$PSOCK" 1 >"$guest_out" 2>&1 & guest=$!; lab_track_pid $guest
lab_wait_for 100 grep -qs ready "$guest_out"
check "pesto shows passt's single table" eval '[ "$(in_host "$PESTO" "$PCTL" | grep -c ":$")" = 1 ] && in_host "$PESTO" "$PCTL" | grep -q "^HOST"'
check "pesto -A -t 18087:192.0.2.10/80 on passt" in_host "$PESTO" -A -t 18087:192.0.2.10/80 "$PCTL"
in_host timeout 3 python3 "$TOOL" who 198.51.100.2 18087 >/dev/null 2>&1 &
check "a connection to 18087 reaches the guest as a SYN to 192.0.2.10 port 80" \
    eval 'wait $guest; grep -q "^syn 192.0.2.10 80$" "$guest_out"'
before=$(in_host python3 "$RAW" greeting "$PCTL" | jq -c .tables)
in_host python3 "$RAW" send "$PCTL" '[{"pif":3,"rules":[{"proto":6,"first":9999}]}]'
check "a raw SPLICE update is rejected by passt (tables unchanged)" \
    eval '[ "$(in_host python3 "$RAW" greeting "$PCTL" | jq -c .tables)" = "$before" ]'
check "... and logged" grep -q "no SPLICE table" "$PLOG"
check "pesto -A -T 80 on passt exits 1" eval '! in_host "$PESTO" -A -T 80 "$PCTL" 2>/dev/null'
check "pesto -D -t 18087:192.0.2.10/80 on passt closes the port" \
    eval 'in_host "$PESTO" -D -t 18087:192.0.2.10/80 "$PCTL" && ! lab_listening "$LAB_HOST" 18087'
finish
