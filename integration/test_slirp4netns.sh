#!/usr/bin/env bash
# Our binary as slirp4netns, run the way Podman runs it (ready and exit pipes, --netns-type=path, -c, -6,
# --mtu, the API socket): --help names every option Podman looks for, the namespace is configured
# slirp-style, reaches the lab internet, resolves through 10.0.2.3 (forwarded to the lab host's resolver)
# and the host's loopback through 10.0.2.2 (not with --disable-host-loopback); the API against a client
# of the test's own (round trips, IPv6, errors, 20+ malformed requests, a stalled client); forwarded ports
# keep the client's address; the exit pipe ends it.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 jq
TOOL="$here/tcp_tool.py"
API="$here/slirp_api_client.py"
SLIRP="$(dirname "$PASTA")/slirp4netns"
[ -x "$SLIRP" ] || { echo "no slirp4netns link next to $PASTA (run-tests.sh makes it)"; exit 1; }
lab_begin with-container
WORK=$(mktemp -d /tmp/slirp-test.XXXXXX); lab_track_file "$WORK"
# `ip netns exec` shows this file as /etc/resolv.conf: the DNS forwarder asks the lab host's resolver.
mkdir -p "/etc/netns/$LAB_HOST"; lab_track_file "/etc/netns/$LAB_HOST"
echo "nameserver 127.0.0.1" > "/etc/netns/$LAB_HOST/resolv.conf"
in_host() { ip netns exec "$LAB_HOST" "$@"; }
in_ctr() { ip netns exec "$CTR" "$@"; }
lab_serve "$LAB_HOST" python3 "$TOOL" dns-server 127.0.0.1 53 192.0.2.53
lab_serve "$LAB_HOST" python3 "$TOOL" who-server 127.0.0.1 7200
lab_serve "$LAB_INET" python3 "$TOOL" who-server any 7100
lab_wait_for 50 lab_listening "$LAB_HOST" 7200; lab_wait_for 50 lab_listening "$LAB_INET" 7100

echo "1. command line"
help=$("$SLIRP" --help); rc=$?
check "--help exits 0" [ $rc -eq 0 ]
# Podman 4.3.1 and 5.x (checkSlirpFlags) grep for these seven; the rest are the other options by name.
for name in --disable-host-loopback --mtu --enable-sandbox --enable-seccomp --cidr --outbound-addr --enable-ipv6 \
            --configure --exit-fd --ready-fd --api-socket --netns-type --userns-path --outbound-addr6 --disable-dns \
            --macaddress --target-type; do
    grep -qF -- "$name" <<<"$help" || { fail "--help names $name"; continue; }
done
pass "--help names every option Podman looks for (and the others)"
check "--version says slirp4netns version" eval '"$SLIRP" --version | grep -q "^slirp4netns version "'
out=$("$SLIRP" --cidr=10.0.0.0/28 1234 2>&1); rc=$?
check "a bad option exits 1 with the reason ($out)" eval '[ $rc -eq 1 ] && grep -q "cidr" <<<"$out"'

echo "2. started as Podman starts it"
STATE="$WORK/state"
in_host python3 "$here/fd_launch.py" "$STATE" 3 4 -- "$SLIRP" --mtu=65520 --enable-sandbox --enable-seccomp \
    --enable-ipv6 -c -r 3 -e 4 --api-socket "$WORK/api.sock" --netns-type=path "/run/netns/$CTR" tap0 2>"$WORK/log" &
lab_track_pid $!
lab_wait_for 100 grep -qs "^ready" "$STATE"
check "it writes 1 to the ready descriptor ($(head -n 1 "$STATE" 2>/dev/null))" grep -q "^ready 1 " "$STATE"
check "tap0 has 10.0.2.100/24 and fd00::100/64, MTU 65520" \
    eval 'ip -n "$CTR" -j addr show tap0 | jq -e ".[0].mtu == 65520 and ([.[0].addr_info[] | \"\(.local)/\(.prefixlen)\"] | index(\"10.0.2.100/24\") and index(\"fd00::100/64\"))" >/dev/null'
check "default routes via 10.0.2.2 and fd00::2" \
    eval 'ip -n "$CTR" route | grep -q "^default via 10.0.2.2 dev tap0" && ip -n "$CTR" -6 route | grep -q "^default via fd00::2 dev tap0"'
check "the API socket is there, mode 0600" eval '[ "$(stat -c %a "$WORK/api.sock")" = 600 ]'
served_from() {  # NS EXPECTED_SERVER HOST PORT
    local out; out=$(ip netns exec "$1" timeout 10 python3 "$TOOL" who "$3" "$4" 2>&1)
    echo "    $out"; [ "${out%% *}" = "$2" ]
}
check "the lab internet (203.0.113.10) is reached" served_from "$CTR" 203.0.113.10 203.0.113.10 7100
check "... over IPv6 too (2001:db8:2::10)" served_from "$CTR" 2001:db8:2::10 2001:db8:2::10 7100
check "names resolve through 10.0.2.3 (the lab host's resolver answers)" \
    eval '[ "$(in_ctr python3 "$TOOL" dns-ask 10.0.2.3 example.test)" = "192.0.2.53 10.0.2.3" ]'
check "the gateway 10.0.2.2 reaches the lab host's 127.0.0.1" served_from "$CTR" 127.0.0.1 10.0.2.2 7200

echo "3. the API"
out=$(in_host timeout 120 python3 "$API" suite "$WORK/api.sock" 18090 2>&1); rc=$?
grep -v "^ok malformed" <<<"$out" | sed 's/^/    /'
echo "    ($(grep -c "^ok malformed" <<<"$out") malformed requests answered with an error)"
check "add/list/remove, IPv6 entries, errors, malformed requests ($(tail -n 1 <<<"$out"))" \
    eval '[ $rc -eq 0 ] && [ "$(grep -c "^ok malformed" <<<"$out")" -ge 20 ]'
lab_serve "$CTR" python3 "$TOOL" who-server any 80
lab_wait_for 50 lab_listening "$CTR" 80
check "18090 (added through the API) reaches the namespace's server, which sees the client's own address" \
    eval 'out=$(in_host python3 "$TOOL" who 198.51.100.2 18090) && echo "    $out" && [ "$out" = "10.0.2.100 198.51.100.2" ]'
check "18091 over IPv6 reaches it too" \
    eval 'out=$(in_host python3 "$TOOL" who 2001:db8:1::2 18091) && echo "    $out" && [ "${out%% *}" = fd00::100 ]'
in_host python3 "$API" stall "$WORK/api.sock" 10 '{"execute": "list_' >"$WORK/stall" & stalled=$!; lab_track_pid $stalled
sleep 0.2
start=$(now_ms)
check "a request beside a stalled client is answered at once" \
    eval 'in_host python3 "$API" request "$WORK/api.sock" "{\"execute\":\"list_hostfwd\"}" | grep -q entries &&
          [ $(( $(now_ms) - start )) -lt 1000 ]'
wait $stalled
check "the stalled client is dropped at the 5 s deadline ($(cat "$WORK/stall") s)" \
    awk -v t="$(cat "$WORK/stall")" 'BEGIN { exit !(t >= 4.5 && t <= 6.5) }'

echo "4. the exit descriptor"
touch "$STATE.stop"
lab_wait_for 50 grep -qs "^exited" "$STATE"
check "closing the exit pipe ends it with status 0 within 2 s ($(tail -n 1 "$STATE"))" \
    eval 'read -r _ status ms < <(tail -n 1 "$STATE") && [ "$status" = 0 ] && [ "$ms" -le 2000 ]'
check "the API socket is removed" eval '[ ! -e "$WORK/api.sock" ]'

echo "5. --disable-host-loopback, --cidr, PID target"
sleep_pid=$(ip netns exec "$CTR" sh -c 'sleep 60 >/dev/null 2>&1 & echo $!'); lab_track_pid "$sleep_pid"
ip -n "$CTR" link del tap0 2>/dev/null
STATE2="$WORK/state2"
in_host python3 "$here/fd_launch.py" "$STATE2" 3 4 -- "$SLIRP" --disable-host-loopback --cidr=10.9.0.0/16 -c -r 3 -e 4 \
    "$sleep_pid" tap1 2>"$WORK/log2" &
lab_track_pid $!
lab_wait_for 100 grep -qs "^ready" "$STATE2"
check "started for a PID with --cidr=10.9.0.0/16: tap1 has 10.9.0.100/16 via 10.9.0.2" \
    eval 'ip -n "$CTR" addr show tap1 | grep -q "inet 10.9.0.100/16" && ip -n "$CTR" route | grep -q "^default via 10.9.0.2 dev tap1"'
check "with --disable-host-loopback the gateway does not reach the lab host's 127.0.0.1" \
    eval '! in_ctr timeout 5 python3 "$TOOL" who 10.9.0.2 7200 >/dev/null 2>&1'
check "the lab internet is still reached" served_from "$CTR" 203.0.113.10 203.0.113.10 7100
touch "$STATE2.stop"
lab_wait_for 50 grep -qs "^exited" "$STATE2"
check "it exits 0 when its exit pipe closes" eval 'tail -n 1 "$STATE2" | grep -q "^exited 0 "'
finish
