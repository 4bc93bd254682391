#!/usr/bin/env bash
# Following the host's network while pasta runs. The lab host's uplink has no address when pasta starts
# (local mode), then gets its addresses and routes: the namespace (--config-net) takes them within 2 s
# and reaches the lab internet over TCP, UDP and ping, IPv4 and IPv6. The resolver file is replaced by
# rename: --dns-forward asks the new resolver within 1 s (not with -D). The host's address changes:
# --map-guest-addr reaches the new address within 1 s, -t still forwards, a connection that did not use
# the old address survives and one that did is reset. A "VPN" takes the default route with its own resolver, then goes. An
# IPv6 address arriving 3 s after an IPv4-only start turns IPv6 on. A link flapping 50 times in 5 s costs
# no reconfiguration, an address flapping as often one per 2 s, and neither costs descriptors or a crash.
# --no-follow-host keeps the start-time view.
#
# The lab host's /etc is an overlay in a mount namespace of this test's own (pasta runs there), so its
# resolv.conf can be replaced as resolvers do it; this machine's /etc is never written.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 jq ping rdisc6
TOOL="$here/tcp_tool.py"
lab_begin with-container
WORK=$(mktemp -d /tmp/pasta-test.XXXXXX); lab_track_file "$WORK"
CTR_DNS="$LAB_ID-dns"; CTR_V6="$LAB_ID-v6"; CTR_PINNED="$LAB_ID-pin"
# Every namespace exists before the mount namespace is made: it sees the /run/netns entries of then.
lab_add_ns "$CTR_DNS"; lab_add_ns "$CTR_V6"; lab_add_ns "$CTR_PINNED"

mkdir -p "$WORK/upper" "$WORK/overlay-work"
unshare --mount --propagation private sh -c "
    mount -t overlay overlay -o lowerdir=/etc,upperdir=$WORK/upper,workdir=$WORK/overlay-work /etc &&
    echo 'nameserver 203.0.113.53' >/etc/resolv.conf && touch $WORK/etc-ready && exec sleep 3600" &
HOLDER=$!; lab_track_pid "$HOLDER"
if ! lab_wait_for 50 test -e "$WORK/etc-ready"; then
    fail "an overlay over /etc in a mount namespace of our own"
    finish; exit
fi
in_etc() { nsenter -t "$HOLDER" -m "$@"; }
in_host() { nsenter -t "$HOLDER" -m ip netns exec "$LAB_HOST" "$@"; }
in_inet() { ip netns exec "$LAB_INET" "$@"; }
in_ctr() { ip netns exec "$CTR" "$@"; }
# replace_resolver ADDRESS: a new resolv.conf, renamed over the old one.
replace_resolver() {
    in_etc sh -c "echo 'nameserver $1' >/etc/resolv.conf.new && mv /etc/resolv.conf.new /etc/resolv.conf"
}

# The lab internet: servers, and resolvers that answer each with an address of its own.
for last in 53 54 55; do ip -n "$LAB_INET" addr add "203.0.113.$last/32" dev lo; done
lab_serve "$LAB_INET" python3 "$TOOL" dns-server 203.0.113.53 53 192.0.2.1
lab_serve "$LAB_INET" python3 "$TOOL" dns-server 203.0.113.54 53 192.0.2.2
lab_serve "$LAB_INET" python3 "$TOOL" dns-server 203.0.113.55 53 192.0.2.5
lab_serve "$LAB_INET" python3 "$TOOL" echo-server any 9000
lab_serve "$LAB_INET" python3 "$TOOL" udp-echo-server 9001 203.0.113.10 2001:db8:2::10
lab_serve "$LAB_INET" python3 "$TOOL" who-server 203.0.113.10 9200
lab_wait_for 50 lab_listening "$LAB_INET" 9000; lab_wait_for 50 lab_listening "$LAB_INET" 9200
lab_in "$LAB_HOST" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
lab_serve "$CTR" python3 "$TOOL" echo-server any 8080

# start_pasta NAMESPACE ARGUMENTS...: our pasta in the lab host (with the overlay /etc), logging to
# $WORK/NAMESPACE.log; sets PASTA_PID.
start_pasta() {
    local ns="$1"; shift
    local pidfile="$WORK/$ns.pid"
    in_host "$PASTA" -P "$pidfile" -l "$WORK/$ns.log" -I eth0 -u none -T none -U none "$@" --netns "$ns" \
        2>"$WORK/$ns.started"
    local rc=$?
    PASTA_PID=$(cat "$pidfile" 2>/dev/null)
    [ -n "$PASTA_PID" ] && lab_track_pid "$PASTA_PID"
    check "pasta starts in $ns (rc=$rc)" [ "$rc" -eq 0 ]
}

# ns_shows NAMESPACE ADDRESS4 GATEWAY4 ADDRESS6 GATEWAY6: eth0 has exactly these global addresses and
# default routes ("-" for none of a family).
ns_shows() {
    local ns="$1" want4="$2" gateway4="$3" want6="$4" gateway6="$5" got4 got6 routes4 routes6
    got4=$(ip -n "$ns" -j -4 addr show dev eth0 | jq -r '[.[].addr_info[].local // empty] | join(" ")')
    got6=$(ip -n "$ns" -j -6 addr show dev eth0 scope global | jq -r '[.[].addr_info[].local // empty] | join(" ")')
    routes4=$(ip -n "$ns" -j -4 route show default | jq -r '[.[].gateway // empty] | join(" ")')
    routes6=$(ip -n "$ns" -j -6 route show default | jq -r '[.[].gateway // empty] | join(" ")')
    [ "$got4" = "${want4/-/}" ] && [ "$routes4" = "${gateway4/-/}" ] && [ "$got6" = "${want6/-/}" ] \
        && [ "$routes6" = "${gateway6/-/}" ]
}
# check_shows DESCRIPTION NAMESPACE COMMAND...: a check, with what the namespace has after it.
check_shows() {
    check "$1" "${@:3}"
    echo "    ($(ns_describe "$2"))"
}
ns_describe() {
    echo "$(ip -n "$1" -br addr show dev eth0 | tr -s ' ') / $(ip -n "$1" route show default | tr '\n' ' ')$(ip -n "$1" -6 route show default | tr '\n' ' ')"
}

# dns_answer NAMESPACE: what a query through --dns-forward 169.254.1.1 gets back.
dns_answer() { ip netns exec "$1" timeout 5 python3 "$TOOL" dns-ask 169.254.1.1 www.lab.example 2>/dev/null; }
# took MILLISECONDS_SINCE: elapsed time.
took() { echo $(( $(now_ms) - $1 )); }
# followed_within LOG PATTERN SINCE_MS: pasta logged a "host changed: PATTERN" line (waiting up to 3 s),
# less than 1 s after SINCE_MS by its own timestamp (seconds.milliseconds); says how long it took. Timed
# by pasta's clock, not by the clients that check the outcome, whose start-up would count too.
followed_within() {
    local line stamp
    lab_wait_for 30 grep -q "host changed: $2" "$1" || { echo "    (no 'host changed: $2' in the log)"; return 1; }
    line=$(grep -m1 "host changed: $2" "$1")
    stamp=${line%% *}
    FOLLOWED_MS=$(( ${stamp%.*} * 1000 + 10#${stamp#*.} - $3 ))
    echo "    (pasta followed after $FOLLOWED_MS ms)"
    [ "$FOLLOWED_MS" -lt 1000 ]
}

echo "1. local mode at start, then the uplink gets its addresses and routes"
ip -n "$LAB_HOST" addr flush dev eth0 scope global
ip -n "$LAB_HOST" route flush default 2>/dev/null
ip -n "$LAB_HOST" -6 route flush default 2>/dev/null
start_pasta "$CTR" --config-net -t 8080 --dns-forward 169.254.1.1 --map-guest-addr 169.254.1.2
MAIN_PID=$PASTA_PID
start_pasta "$CTR_DNS" --config-net -t none --dns-forward 169.254.1.1 -D 203.0.113.53
check "pasta says it runs in local mode" grep -q "no usable host interface: running in local mode" "$WORK/$CTR.log"
check_shows "the namespace has the local-mode address 169.254.2.1" "$CTR" ns_shows "$CTR" 169.254.2.1 169.254.2.2 - fe80::1
since=$(now_ms)
ip -n "$LAB_HOST" addr add 198.51.100.2/24 dev eth0
ip -n "$LAB_HOST" addr add 2001:db8:1::2/64 dev eth0 nodad
ip -n "$LAB_HOST" route add default via 198.51.100.1 metric 100
ip -n "$LAB_HOST" -6 route add default via 2001:db8:1::1 metric 100
check "within 2 s the namespace has the uplink's addresses and routes instead" \
    lab_wait_for 20 ns_shows "$CTR" 198.51.100.2 198.51.100.1 2001:db8:1::2 2001:db8:1::1
echo "    ($(took "$since") ms; $(ns_describe "$CTR"))"
check "the log says local mode ended" grep -q "host changed: local mode ends: addresses and routes of eth0" "$WORK/$CTR.log"
check "TCP to the lab internet, IPv4" eval '[ "$(in_ctr timeout 10 python3 "$TOOL" sequential 203.0.113.10 9000 2)" = "ok 2" ]'
check "TCP to the lab internet, IPv6" eval '[ "$(in_ctr timeout 10 python3 "$TOOL" sequential 2001:db8:2::10 9000 2)" = "ok 2" ]'
check "UDP to the lab internet, IPv4" \
    eval '[ "$(in_ctr timeout 10 python3 "$TOOL" udp-ask 203.0.113.10 9001 four)" = "four 203.0.113.10" ]'
check "UDP to the lab internet, IPv6" \
    eval '[ "$(in_ctr timeout 10 python3 "$TOOL" udp-ask 2001:db8:2::10 9001 six)" = "six 2001:db8:2::10" ]'
check "ping, IPv4" eval 'in_ctr ping -c 1 -W 3 203.0.113.10 >/dev/null'
check "ping, IPv6" eval 'in_ctr ping -6 -c 1 -W 3 2001:db8:2::10 >/dev/null'

echo "2. the resolver file replaced by rename"
check "DNS through --dns-forward goes to resolv.conf's resolver" eval '[ "$(dns_answer "$CTR")" = "192.0.2.1 169.254.1.1" ]'
since=$(now_ms)
replace_resolver 203.0.113.54
check "within 1 s pasta follows: resolvers 203.0.113.54 (were 203.0.113.53)" \
    followed_within "$WORK/$CTR.log" "resolvers: 203.0.113.54 (were 203.0.113.53)" "$since"
check "and DNS goes to the new resolver" lab_wait_for 20 eval '[ "$(dns_answer "$CTR")" = "192.0.2.2 169.254.1.1" ]'
sleep 0.5
check "with -D given, DNS still goes to the resolver -D named" eval '[ "$(dns_answer "$CTR_DNS")" = "192.0.2.1 169.254.1.1" ]'

echo "3. the host's address changes"
start_pasta "$CTR_PINNED" --config-net -t none --no-follow-host
# A connection that doesn't use the old address: IPv6 to the lab internet (only IPv4 changes first).
in_ctr python3 "$TOOL" hold 2001:db8:2::10 9000 "$WORK/gate6" >"$WORK/hold6.out" 2>&1 &
lab_track_pid $!
lab_wait_for 50 eval 'in_ctr ss -Htn state established "dst [2001:db8:2::10]:9000" | grep -q .'
# And one that does: IPv4 from 198.51.100.2, whose host socket pasta must abort once the address is gone.
in_ctr python3 "$TOOL" hold 203.0.113.10 9000 "$WORK/gate-old" >"$WORK/hold-old.out" 2>&1 &
lab_track_pid $!
old_connection() { in_host ss -Htn state established "src 198.51.100.2 and dst 203.0.113.10:9000" | grep -q .; }
lab_wait_for 50 old_connection
since=$(now_ms)
ip -n "$LAB_HOST" addr del 198.51.100.2/24 dev eth0
ip -n "$LAB_HOST" addr add 198.51.100.3/24 dev eth0
ip -n "$LAB_HOST" route replace default via 198.51.100.1 metric 100
lab_serve "$LAB_HOST" python3 "$TOOL" who-server 198.51.100.3 9100
lab_wait_for 50 lab_listening "$LAB_HOST" 9100
check "within 1 s pasta follows the new address" \
    followed_within "$WORK/$CTR.log" "IPv4 address 198.51.100.3/24 (was 198.51.100.2/24)" "$since"
check "and --map-guest-addr reaches a server on the new host address" \
    lab_wait_for 20 eval 'in_ctr timeout 2 python3 "$TOOL" who 169.254.1.2 9100 2>/dev/null | grep -q "^198.51.100.3 "'
check_shows "the namespace has 198.51.100.3" "$CTR" lab_wait_for 10 ns_shows "$CTR" 198.51.100.3 198.51.100.1 2001:db8:1::2 2001:db8:1::1
check "-t still forwards from the lab internet to the new address" \
    eval '[ "$(in_inet timeout 10 python3 "$TOOL" sequential 198.51.100.3 8080 2)" = "ok 2" ]'
check "the connection from the old address is reset on the host's side" lab_wait_for 20 eval '! old_connection'
touch "$WORK/gate-old"
check "and in the namespace" lab_wait_for 50 grep -q "^broken: .*reset" "$WORK/hold-old.out"
echo "    (it says: $(cat "$WORK/hold-old.out"))"
touch "$WORK/gate6"
check "the established IPv6 connection survived" lab_wait_for 50 grep -qx ok "$WORK/hold6.out"
echo "    (it says: $(cat "$WORK/hold6.out"))"
check_shows "with --no-follow-host the namespace keeps 198.51.100.2" "$CTR_PINNED" ns_shows "$CTR_PINNED" 198.51.100.2 198.51.100.1 2001:db8:1::2 2001:db8:1::1
check "and its log says nothing changed" eval '! grep -q "host changed" "$WORK/$CTR_PINNED.log"'
kill "$PASTA_PID"
# And one over IPv4, from the new address, while IPv6 changes.
in_ctr python3 "$TOOL" hold 203.0.113.10 9000 "$WORK/gate4" >"$WORK/hold4.out" 2>&1 &
lab_track_pid $!
lab_wait_for 50 eval 'in_ctr ss -Htn state established "dst 203.0.113.10:9000" | grep -q .'
since=$(now_ms)
ip -n "$LAB_HOST" -6 addr del 2001:db8:1::2/64 dev eth0
ip -n "$LAB_HOST" -6 addr add 2001:db8:1::3/64 dev eth0 nodad
ip -n "$LAB_HOST" -6 route replace default via 2001:db8:1::1 metric 100
check "within 1 s the namespace has 2001:db8:1::3" \
    lab_wait_for 10 ns_shows "$CTR" 198.51.100.3 198.51.100.1 2001:db8:1::3 2001:db8:1::1
echo "    ($(took "$since") ms)"
check "-t still forwards to the new IPv6 address" \
    eval '[ "$(in_inet timeout 10 python3 "$TOOL" sequential 2001:db8:1::3 8080 2)" = "ok 2" ]'
touch "$WORK/gate4"
check "the established IPv4 connection survived the IPv6 change" lab_wait_for 50 grep -qx ok "$WORK/hold4.out"
echo "    (it says: $(cat "$WORK/hold4.out"))"

echo "4. a VPN takes the default route, with its own resolver, then goes"
check "before, the lab internet sees the uplink's address" \
    eval '[ "$(in_ctr timeout 5 python3 "$TOOL" who 203.0.113.10 9200)" = "203.0.113.10 198.51.100.3" ]'
ip link add "$LAB_ID-v" netns "$LAB_HOST" type veth peer name "$LAB_ID-w" netns "$LAB_INET"
ip -n "$LAB_HOST" link set "$LAB_ID-v" name vpn0
ip -n "$LAB_INET" addr add 192.0.2.1/24 dev "$LAB_ID-w"
ip -n "$LAB_INET" link set "$LAB_ID-w" up
ip -n "$LAB_HOST" addr add 192.0.2.66/24 dev vpn0
ip -n "$LAB_HOST" link set vpn0 up
ip -n "$LAB_HOST" route add default via 192.0.2.1 dev vpn0 metric 50
replace_resolver 203.0.113.55
check "new connections leave through the VPN" \
    lab_wait_for 20 eval '[ "$(in_ctr timeout 5 python3 "$TOOL" who 203.0.113.10 9200)" = "203.0.113.10 192.0.2.66" ]'
check "DNS goes to the VPN's resolver" lab_wait_for 20 eval '[ "$(dns_answer "$CTR")" = "192.0.2.5 169.254.1.1" ]'
check_shows "the namespace has the VPN's address and gateway" "$CTR" lab_wait_for 20 ns_shows "$CTR" 192.0.2.66 192.0.2.1 2001:db8:1::3 2001:db8:1::1
ip -n "$LAB_HOST" link del vpn0
replace_resolver 203.0.113.54
check "when it goes, the uplink serves again" \
    lab_wait_for 20 eval '[ "$(in_ctr timeout 5 python3 "$TOOL" who 203.0.113.10 9200)" = "203.0.113.10 198.51.100.3" ]'
check "and DNS goes to the uplink's resolver" lab_wait_for 20 eval '[ "$(dns_answer "$CTR")" = "192.0.2.2 169.254.1.1" ]'
check_shows "the namespace has the uplink's address again" "$CTR" lab_wait_for 20 ns_shows "$CTR" 198.51.100.3 198.51.100.1 2001:db8:1::3 2001:db8:1::1

echo "5. an IPv6 address 3 s after an IPv4-only start"
ip -n "$LAB_HOST" -6 addr del 2001:db8:1::3/64 dev eth0
ip -n "$LAB_HOST" -6 route flush default 2>/dev/null
lab_serve "$CTR_V6" python3 "$TOOL" echo-server any 8081
start_pasta "$CTR_V6" --config-net -t 8081
check "IPv4 only at start ($(ns_describe "$CTR_V6"))" ns_shows "$CTR_V6" 198.51.100.3 198.51.100.1 - -
sleep 3
since=$(now_ms)
ip -n "$LAB_HOST" -6 addr add 2001:db8:1::3/64 dev eth0 nodad
ip -n "$LAB_HOST" -6 route add default via 2001:db8:1::1 metric 100
check "within 2 s the namespace has the IPv6 address and route" \
    lab_wait_for 20 ns_shows "$CTR_V6" 198.51.100.3 198.51.100.1 2001:db8:1::3 2001:db8:1::1
echo "    ($(took "$since") ms)"
check "our Router Advertisement carries the /64 prefix" \
    eval 'ip netns exec "$CTR_V6" rdisc6 -1 eth0 2>&1 | grep -Eq "Prefix +: 2001:db8:1::/64"'
check "ping over IPv6" eval 'ip netns exec "$CTR_V6" ping -6 -c 1 -W 3 2001:db8:2::10 >/dev/null'
check "-t 8081 listens on IPv6 now too: the lab internet reaches it at [2001:db8:1::3]:8081" \
    eval '[ "$(in_inet timeout 10 python3 "$TOOL" sequential 2001:db8:1::3 8081 2)" = "ok 2" ]'
check "TCP over IPv6" \
    eval '[ "$(ip netns exec "$CTR_V6" timeout 10 python3 "$TOOL" sequential 2001:db8:2::10 9000 2)" = "ok 2" ]'

echo "6. a flapping uplink"
lab_in "$LAB_HOST" sysctl -qw net.ipv6.conf.eth0.keep_addr_on_down=1
descriptors_before=$(ls "/proc/$MAIN_PID/fd" | wc -l)
# reconfigurations_since LINE: how many times pasta reconfigured after the log's first LINE lines (the
# lines of one reconfiguration share its timestamp).
reconfigurations_since() { tail -n +"$(( $1 + 1 ))" "$WORK/$CTR.log" | grep "host changed" | cut -d' ' -f1 | sort -u | wc -l; }
# The link down and up 50 times in 5 s, its routes put back each time as a network manager does.
log_lines=$(wc -l <"$WORK/$CTR.log")
for _ in $(seq 50); do
    ip -n "$LAB_HOST" link set eth0 down
    ip -n "$LAB_HOST" link set eth0 up
    ip -n "$LAB_HOST" route replace default via 198.51.100.1 metric 100
    ip -n "$LAB_HOST" -6 route replace default via 2001:db8:1::1 metric 100
    sleep 0.06
done
sleep 1
check "the link flapping 50 times in 5 s and back as it was: no reconfiguration ($(reconfigurations_since "$log_lines"))" \
    [ "$(reconfigurations_since "$log_lines")" -eq 0 ]
# An address coming and going every 100 ms: each settled state would change the namespace, but the
# notifications never pause for 200 ms, so it is read every 2 s at most, then once it settles.
log_lines=$(wc -l <"$WORK/$CTR.log")
for _ in $(seq 25); do
    ip -n "$LAB_HOST" addr add 198.51.100.9/24 dev eth0
    sleep 0.1
    ip -n "$LAB_HOST" addr del 198.51.100.9/24 dev eth0
    sleep 0.1
done
sleep 1
reconfigurations=$(reconfigurations_since "$log_lines")
check "an address flapping 50 times in 5 s: at most one reconfiguration per 2 s and one settled ($reconfigurations)" \
    [ "$reconfigurations" -le 4 ]
descriptors_after=$(ls "/proc/$MAIN_PID/fd" | wc -l)
check "pasta is still running" lab_alive "$MAIN_PID"
check "no descriptor growth ($descriptors_before before, $descriptors_after after)" \
    [ "$descriptors_after" -le "$descriptors_before" ]
check_shows "the namespace has what it had, without the flapping address" "$CTR" \
    lab_wait_for 20 ns_shows "$CTR" 198.51.100.3 198.51.100.1 2001:db8:1::3 2001:db8:1::1
check "and reaches the lab internet" eval '[ "$(in_ctr timeout 10 python3 "$TOOL" sequential 203.0.113.10 9000 2)" = "ok 2" ]'

[ -n "${FOLLOW_DEBUG:-}" ] && cp -r "$WORK" "$FOLLOW_DEBUG"
finish
