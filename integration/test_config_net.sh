#!/usr/bin/env bash
# Done-when 1 and 2: --config-net copies the uplink's addresses and routes into a named netns, the
# daemon writes its PID file, and it exits when the namespace is deleted (unless --no-netns-quit).
set -u
here=$(dirname "$0"); source "$here/lab.sh"; source "$here/assert.sh"
needs jq rdisc6
lab_begin with-container
PIDFILE=$(mktemp -u /tmp/pasta-test.XXXXXX.pid); lab_track_file "$PIDFILE"

start=$(now_ms)
lab_in "$LAB_HOST" "$PASTA" --config-net -t none -u none -T none -U none -P "$PIDFILE" --netns "$CTR" 2>/tmp/$LAB_ID.err
rc=$?
elapsed=$(( $(now_ms) - start ))
check "pasta exits 0 (rc=$rc)" [ "$rc" -eq 0 ]
check "pasta returns in under 1 s (${elapsed} ms)" [ "$elapsed" -lt 1000 ]
pid=$(cat "$PIDFILE" 2>/dev/null)
lab_track_pid "$pid"
check "PID file holds a running pasta ($pid)" lab_alive "$pid"
check "the daemon is our pasta binary" [ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$PASTA")" ]
check "summary names the interfaces" grep -q "Outbound interface: eth0, namespace interface: eth0" /tmp/$LAB_ID.err
rm -f /tmp/$LAB_ID.err

addr_json=$(ip -n "$CTR" -j addr show dev eth0)
check "eth0 has 198.51.100.2/24" json_has "$addr_json" '.[0].addr_info[] | select(.family=="inet" and .local=="198.51.100.2" and .prefixlen==24)'
check "eth0 has 2001:db8:1::2/64" json_has "$addr_json" '.[0].addr_info[] | select(.family=="inet6" and .local=="2001:db8:1::2" and .prefixlen==64)'
check "eth0 MTU is 65520" [ "$(jq '.[0].mtu' <<<"$addr_json")" = 65520 ]
check "eth0 is up" json_has "$addr_json" '.[0].flags | index("UP")'
check "IPv6 address is not tentative (DAD skipped)" bash -c "! ip -n $CTR -6 addr show dev eth0 | grep -q tentative"
check "lo is up" json_has "$(ip -n "$CTR" -j link show dev lo)" '.[0].flags | index("UP")'
check "default route via 198.51.100.1 dev eth0" json_has "$(ip -n "$CTR" -j route)" '.[] | select(.dst=="default" and .gateway=="198.51.100.1" and .dev=="eth0")'
check "default route via 2001:db8:1::1 dev eth0" json_has "$(ip -n "$CTR" -j -6 route)" '.[] | select(.dst=="default" and .gateway=="2001:db8:1::1" and .dev=="eth0")'
# Our Router Advertisements still answer a solicitation, but the namespace ignores them: no SLAAC
# address next to the copied one.
check "accept_ra is 0 on eth0" [ "$(lab_in "$CTR" cat /proc/sys/net/ipv6/conf/eth0/accept_ra)" = 0 ]
check "rdisc6 gets our Router Advertisement with the /64 prefix" \
    bash -c "ip netns exec $CTR rdisc6 -1 eth0 2>&1 | grep -Eq 'Prefix +: 2001:db8:1::/64'"
globals=$(ip -n "$CTR" -j -6 addr show dev eth0 scope global | jq -r '[.[0].addr_info[] | select(.local) | "\(.local)/\(.prefixlen)"] | join(" ")')
check "after it, eth0's only global IPv6 address is the copied one (got '$globals')" [ "$globals" = "2001:db8:1::2/64" ]

start=$(now_ms)
ip netns del "$CTR"
lab_wait_for 15 bash -c "! [ -e /proc/$pid ] || grep -q '^State:.*Z' /proc/$pid/status"
elapsed=$(( $(now_ms) - start ))
check "pasta exits within 1 s of ip netns del (${elapsed} ms)" [ "$elapsed" -lt 1000 ]

# --no-netns-quit keeps it running.
lab_add_ns "$CTR"
rm -f "$PIDFILE"
lab_in "$LAB_HOST" "$PASTA" --config-net -q --no-netns-quit -t none -u none -T none -U none -P "$PIDFILE" --netns "$CTR"
pid=$(cat "$PIDFILE" 2>/dev/null)
lab_track_pid "$pid"
ip netns del "$CTR"
sleep 1.5
check "with --no-netns-quit pasta keeps running after deletion" lab_alive "$pid"
kill "$pid"
check "SIGTERM stops it" lab_wait_for 10 bash -c "! [ -e /proc/$pid ] || grep -q '^State:.*Z' /proc/$pid/status"
finish
