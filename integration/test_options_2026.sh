#!/usr/bin/env bash
# The newer options of pasta, one table row each: with a valid value pasta starts and a real client sees
# the effect (udhcpc and dhclient -6 receive the host name and FQDN, --dns-forward queries reach the
# --dns-host resolver instead of resolv.conf's, a --freebind listener on an address not yet configured
# accepts once it is added, --splice-only forwards between loopbacks both ways without a tap, -a
# ADDR/PREFIX is configured as given, --stats writes to the log file, -t PORTS,auto follows only the
# listed ports); with an invalid value it exits 1 and names the problem.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 arping dhclient
TOOL="$here/tcp_tool.py"
lab_begin
WORK=$(mktemp -d /tmp/pasta-test.XXXXXX); lab_track_file "$WORK"

# The lab host's resolv.conf names one resolver; --dns-host names another. Each answers with its own address.
mkdir -p "/etc/netns/$LAB_HOST"; lab_track_file "/etc/netns/$LAB_HOST"
echo "nameserver 203.0.113.53" >"/etc/netns/$LAB_HOST/resolv.conf"
ip -n "$LAB_INET" addr add 203.0.113.53/32 dev lo
ip -n "$LAB_INET" addr add 203.0.113.54/32 dev lo
lab_serve "$LAB_INET" python3 "$TOOL" dns-server 203.0.113.53 53 192.0.2.1
lab_serve "$LAB_INET" python3 "$TOOL" dns-server 203.0.113.54 53 192.0.2.2

in_host() { ip netns exec "$LAB_HOST" "$@"; }
in_inet() { ip netns exec "$LAB_INET" "$@"; }
in_ns() { ip netns exec "$NS" "$@"; }

# Brings eth0 up and waits until its link-local address has left the tentative state.
link_up() {
    ip -n "$NS" link set eth0 up
    lab_wait_for 50 sh -c "ip -n $NS -6 addr show dev eth0 scope link | grep -q inet6 &&
                           ! ip -n $NS -6 addr show dev eth0 tentative | grep -q inet6"
}

# One check per condition, for the row being run.
expect() { check "$ROW: $1" "${@:2}"; }

# Hex of an FQDN in wire format, as udhcpc shows unknown options (optNN=hex).
wire_hex() {
    local label out=""
    for label in ${1//./ }; do out+=$(printf '%02x' "${#label}")$(printf '%s' "$label" | od -An -tx1 | tr -d ' \n'); done
    echo "${out}00"
}

# --- What each valid row must show. $NS is a fresh namespace pasta serves; $STARTED holds pasta's stderr.

verify_hostname() {
    cat >"$WORK/udhcpc-script" <<SCRIPT
#!/bin/sh
[ "\$1" = bound ] && env >"$WORK/udhcpc-env"
exit 0
SCRIPT
    chmod +x "$WORK/udhcpc-script"
    link_up
    expect "udhcpc gets a lease" eval "timeout 15 ip netns exec $NS busybox udhcpc -i eth0 -n -q -f -t 3 -T 2 \
        -O hostname -O 81 -s $WORK/udhcpc-script >$WORK/udhcpc.log 2>&1"
    expect "udhcpc received host name ctr-one (option 12)" grep -qx "hostname=ctr-one" "$WORK/udhcpc-env"
    # Option 81: flags N and E (0c), RCODE1 and RCODE2 255, the name in wire format.
    expect "udhcpc received FQDN ctr-one.lab.example (option 81)" \
        grep -qx "opt81=0cffff$(wire_hex ctr-one.lab.example)" "$WORK/udhcpc-env"
    expect "the summary shows the host name" grep -q "hostname: ctr-one" "$STARTED"
}

verify_fqdn() {
    mkdir -p "/etc/netns/$NS"; lab_track_file "/etc/netns/$NS"; echo "# lab" >"/etc/netns/$NS/resolv.conf"
    link_up
    # In the foreground (-d), so the PID we track is dhclient's own: once it has daemonised, the PID in its
    # -pf file is not always the process that stays.
    ip netns exec "$NS" dhclient -6 -d -v -1 -lf "$WORK/dhclient6.leases" -pf "$WORK/dhclient6.pid" eth0 \
        >"$WORK/dhclient6.log" 2>&1 &
    local client=$!
    lab_track_pid "$client"
    expect "dhclient -6 gets a lease" \
        lab_wait_for 200 eval 'grep -q "iaaddr 2001:db8:1::2" "$WORK/dhclient6.leases" 2>/dev/null'
    expect "dhclient -6 received FQDN ctr-two.lab.example (option 39)" \
        grep -q 'option fqdn.fqdn "ctr-two.lab.example";' "$WORK/dhclient6.leases"
    expect "dhclient -6 was told we update no DNS records (flag N)" \
        grep -q 'option dhcp6.fqdn 4:' "$WORK/dhclient6.leases"
    kill "$client" 2>/dev/null; wait "$client" 2>/dev/null
}

verify_dns_host() {
    local answer
    answer=$(in_ns timeout 5 python3 "$TOOL" dns-ask 192.0.2.250 www.lab.example 2>&1)
    expect "the query to 192.0.2.250 is answered by the --dns-host resolver ($answer)" \
        [ "$answer" = "192.0.2.2 192.0.2.250" ]
    expect "the summary names the --dns-host resolver" grep -q "DNS forwarding: 192.0.2.250 to 203.0.113.54" "$STARTED"
}

verify_freebind() {
    lab_serve "$NS" python3 "$TOOL" echo-server any 8080
    lab_wait_for 50 lab_listening "$NS" 8080
    expect "pasta listens on 198.51.100.77:8080 before the address exists" \
        eval 'in_host ss -Hltn "sport = :8080" | grep -q 198.51.100.77'
    expect "198.51.100.77 is not configured yet" eval '! ip -n "$LAB_HOST" addr show 2>/dev/null | grep -q 198.51.100.77'
    # A frame from the namespace first, so pasta knows its MAC address before the connection arrives.
    ip netns exec "$NS" arping -c 1 -w 2 -I eth0 198.51.100.1 >/dev/null 2>&1
    ip -n "$LAB_HOST" addr add 198.51.100.77/24 dev eth0
    expect "once added, a connection from the lab internet to 198.51.100.77:8080 reaches the namespace" \
        eval '[ "$(in_inet timeout 10 python3 "$TOOL" sequential 198.51.100.77 8080 1)" = "ok 1" ]'
    ip -n "$LAB_HOST" addr del 198.51.100.77/24 dev eth0
}

verify_splice_only() {
    expect "the summary says splice-only" grep -q "Splice-only mode: no tap device" "$STARTED"
    expect "no tap: lo is the namespace's only interface" \
        eval '[ "$(ip -n "$NS" -j link show | jq -r "[.[].ifname] | join(\",\")")" = lo ]'
    lab_serve "$NS" python3 "$TOOL" echo-server 127.0.0.1 8081
    lab_serve "$LAB_HOST" python3 "$TOOL" echo-server 127.0.0.1 9091
    lab_serve "$NS" python3 "$TOOL" udp-echo-server 5355 127.0.0.1
    lab_wait_for 50 lab_listening "$NS" 8081; lab_wait_for 50 lab_listening "$LAB_HOST" 9091
    expect "lab host 127.0.0.1:8081 -> namespace loopback (-t)" \
        eval '[ "$(in_host timeout 10 python3 "$TOOL" sequential 127.0.0.1 8081 3)" = "ok 3" ]'
    expect "namespace 127.0.0.1:9091 -> lab host loopback (-T)" \
        eval '[ "$(in_ns timeout 10 python3 "$TOOL" sequential 127.0.0.1 9091 3)" = "ok 3" ]'
    expect "lab host 127.0.0.1:5355 -> namespace loopback (-u)" \
        eval '[ "$(in_host timeout 10 python3 "$TOOL" udp-ask 127.0.0.1 5355 hello)" = "hello 127.0.0.1" ]'
    expect "-t listens on the lab host's loopback only" \
        eval '! in_host ss -Hltn "sport = :8081" | grep -vq -e "127.0.0.1:8081" -e "\[::1\]:8081"'
}

verify_address_prefix() {
    expect "198.51.100.9/25 is configured on eth0" json_has "$(ip -n "$NS" -j -4 addr show dev eth0)" \
        '.[].addr_info[] | select(.local=="198.51.100.9" and .prefixlen==25)'
    expect "the summary shows mask 255.255.255.128" grep -q "mask: 255.255.255.128" "$STARTED"
}

verify_stats() {
    local lines
    expect "statistics appear in the log file" \
        lab_wait_for 40 eval '[ "$(grep -c "stats: [0-9]* events in" "$WORK/stats.log")" -ge 2 ]'
    lines=$(grep "stats:" "$WORK/stats.log" | head -n 1)
    expect "they count events by kind ($lines)" grep -q "periodicTimer [0-9]" <<<"$lines"
}

verify_auto_ranges() {
    lab_serve "$NS" python3 "$TOOL" echo-server any 8005
    lab_serve "$NS" python3 "$TOOL" echo-server any 8020
    lab_wait_for 50 lab_listening "$NS" 8005; lab_wait_for 50 lab_listening "$NS" 8020
    expect "port 8005, bound in the namespace and listed, is forwarded within 3 s" \
        lab_wait_for 30 eval '[ "$(in_host python3 "$TOOL" sequential 127.0.0.1 8005 1 2>/dev/null)" = "ok 1" ]'
    sleep 1.5
    expect "port 8020, bound but not listed, is not forwarded" eval '! lab_listening "$LAB_HOST" 8020'
    expect "port 8003, listed but not bound, is not forwarded" eval '! lab_listening "$LAB_HOST" 8003'
}

# Each row: name | valid arguments | verifier | invalid arguments | expected message (extended regex).
# WORK stands for the work directory; every command line gets --netns NS of a namespace of its own.
ROWS=$(cat <<'ROWS'
hostname|-H ctr-one --fqdn ctr-one.lab.example -t none -u none -T none -U none|verify_hostname|-H bad..name|invalid -H value 'bad..name'
fqdn|--fqdn ctr-two.lab.example -t none -u none -T none -U none|verify_fqdn|--fqdn x..example|invalid --fqdn value 'x..example'
dns-host|--config-net --dns-forward 192.0.2.250 --dns-host 203.0.113.54 -t none -u none -T none -U none|verify_dns_host|--dns-host 192.0.2.256|invalid --dns-host value '192.0.2.256'
freebind|--config-net --freebind -t 198.51.100.77/8080 -u none -T none -U none|verify_freebind|--freebind=yes|option '--freebind' doesn't allow an argument
splice-only|--splice-only --config-net -t 8081 -u 5355 -T 9091 -U none|verify_splice_only|--splice-only -a 198.51.100.9|-a needs a tap device: it can't be combined with --splice-only
address|--config-net -a 198.51.100.9/25 -t none -u none -T none -U none|verify_address_prefix|-a 198.51.100.9/33|IPv4 prefix lengths are 1 to 32
stats|--stats 1 -l WORK/stats.log -t none -u none -T none -U none|verify_stats|--stats 0|invalid --stats value '0'
auto-ranges|--config-net -t 8000-8010,auto -u none -T none -U none|verify_auto_ranges|-t 8000-8010:9000-9010,auto|'auto' forwards each port to the same port
ROWS
)

row_number=0
while IFS='|' read -r ROW valid verifier invalid pattern; do
    [ -z "$ROW" ] && continue
    row_number=$((row_number + 1))
    echo "$ROW"
    NS="$LAB_ID-n$row_number"; lab_add_ns "$NS"
    STARTED="$WORK/$ROW.stderr"
    # shellcheck disable=SC2086 # the table's arguments are word-split on purpose
    if lab_start_pasta ${valid//WORK/$WORK} --netns "$NS" 2>"$STARTED"; then
        pass "$ROW: pasta starts with $valid"
        "$verifier"
        expect "pasta is still running" lab_alive "$PASTA_PID"
        kill "$PASTA_PID"; lab_wait_for 50 eval '! lab_alive "$PASTA_PID"'
    else
        fail "$ROW: pasta starts with $valid: $(head -c 300 "$STARTED")"
    fi
    # shellcheck disable=SC2086
    lab_in "$LAB_HOST" "$PASTA" -f $invalid --netns "$NS" >"$WORK/invalid.out" 2>&1
    rc=$?
    expect "'$invalid' exits 1 (got $rc)" [ "$rc" -eq 1 ]
    expect "'$invalid' says: $pattern" grep -Eq -- "$pattern" "$WORK/invalid.out"
done <<<"$ROWS"

echo "freebind, the other way round"
NS="$LAB_ID-nf"; lab_add_ns "$NS"
lab_in "$LAB_HOST" "$PASTA" -f -t 198.51.100.78/8080 -u none -T none -U none --netns "$NS" >"$WORK/nofree.out" 2>&1
rc=$?
check "without --freebind, -t 198.51.100.78/8080 exits 1 (got $rc)" [ "$rc" -eq 1 ]
check "and says the address can't be assigned" grep -q "can't bind TCP port 8080 (198.51.100.78).*Cannot assign requested address" \
    "$WORK/nofree.out"

echo "dns-forward without --dns-host goes to resolv.conf's resolver"
NS="$LAB_ID-nd"; lab_add_ns "$NS"
check "pasta starts with --dns-forward alone" lab_start_pasta -q --config-net --dns-forward 192.0.2.250 -t none -u none \
    -T none -U none --netns "$NS"
answer=$(ip netns exec "$NS" timeout 5 python3 "$TOOL" dns-ask 192.0.2.250 www.lab.example 2>&1)
check "the query is answered by 203.0.113.53 from resolv.conf ($answer)" [ "$answer" = "192.0.2.1 192.0.2.250" ]
finish
