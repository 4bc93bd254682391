#!/usr/bin/env bash
# A guest configured by SLAAC alone (no --config-net, as a passt VM or a container that configures itself)
# takes our Router Advertisement's link-local source as its default router. That address maps to the
# host as the gateway does: TCP and UDP to it reach servers on the lab host's loopback. With
# --no-map-gw it doesn't.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3
TOOL="$here/tcp_tool.py"
lab_begin
lab_serve "$LAB_HOST" python3 "$TOOL" echo-server ::1 9500
lab_serve "$LAB_HOST" python3 "$TOOL" udp-echo-server 9501 ::1
lab_wait_for 50 lab_listening "$LAB_HOST" 9500

# slaac NS: eth0 up, router advertisements taken; prints the default router's link-local address.
slaac() {
    local ns="$1" router=""
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_ra=1 net.ipv6.conf.eth0.autoconf=1 net.ipv6.conf.eth0.accept_dad=0
    ip -n "$ns" link set eth0 up
    for _ in $(seq 100); do
        router=$(ip -n "$ns" -6 route show default | sed -n 's/.*via \(fe80::[0-9a-f:]*\) dev eth0.*/\1/p' | head -n 1)
        [ -n "$router" ] && break
        sleep 0.1
    done
    echo "$router"
}

for variant in mapped no-map-gw; do
    ns="$LAB_ID-$variant"; lab_add_ns "$ns"
    extra=(); [ "$variant" = no-map-gw ] && extra=(--no-map-gw)
    check "$variant: pasta starts without --config-net" lab_start_pasta -q -t none -u none -T none -U none "${extra[@]}" --netns "$ns"
    router=$(slaac "$ns")
    echo "    default router: ${router:-none}"
    check "$variant: SLAAC gave the namespace a default route through a link-local router" [ -n "$router" ]
    tcp=$(ip netns exec "$ns" timeout 10 python3 "$TOOL" sequential "$router%eth0" 9500 1 2>&1 | tail -n 1)
    udp=$(ip netns exec "$ns" timeout 10 python3 "$TOOL" udp-ask "$router%eth0" 9501 hello 2>&1 | tail -n 1)
    echo "    TCP: $tcp; UDP: $udp"
    if [ "$variant" = mapped ]; then
        check "TCP to the router's link-local address reaches the lab host's [::1]:9500" [ "$tcp" = "ok 1" ]
        check "UDP too: the echo server on [::1]:9501 answers" eval '[[ "$udp" == hello* ]]'
    else
        check "--no-map-gw: TCP to it does not reach the host" [ "$tcp" != "ok 1" ]
        check "--no-map-gw: nor UDP" eval '[[ "$udp" != hello* ]]'
    fi
    lab_stop "$PASTA_PID"
done
finish
