# Helpers for measuring passt without a VM: passt runs in the lab host (integration/lab.sh), and a lab
# namespace stands in for the guest, its tap joined to passt's socket by bench/stream_bridge (the framing
# of qemu's -netdev stream). Source integration/lab.sh, call lab_begin, then source this file.
#
#   passt_lab_build_tools DIR            builds DIR/stream_bridge, DIR/tcp_rr and DIR/vhost_user_frontend
#                                        (needs gcc)
#   passt_lab_attach PASST NS [OPTS...]  starts PASST in $LAB_HOST with OPTS on a socket of its own,
#                                        creates namespace NS with tap eth0 bridged to that socket and
#                                        configures eth0 by DHCP from passt (busybox udhcpc), IPv6 by SLAAC;
#                                        with PASST_LAB_FRONTEND=vhost-user, passt runs with --vhost-user
#                                        and bench/vhost_user_frontend plays qemu instead of stream_bridge
# After passt_lab_attach: PASST_LAB_PID (passt), PASST_LAB_BRIDGE_PID, PASST_LAB_BRIDGE_LOG (the bridge's
# counters, written when it stops), PASST_LAB_LEASE (the lease line). Everything is tracked for lab_cleanup.
PASST_LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PASST_LAB_TOOLS=""

passt_lab_build_tools() {
    PASST_LAB_TOOLS="$1"
    gcc -O2 -Wall -o "$PASST_LAB_TOOLS/stream_bridge" "$PASST_LAB_DIR/stream_bridge.c" &&
        gcc -O2 -o "$PASST_LAB_TOOLS/tcp_rr" "$PASST_LAB_DIR/tcp_rr.c" &&
        gcc -O2 -Wall -o "$PASST_LAB_TOOLS/vhost_user_frontend" "$PASST_LAB_DIR/vhost_user_frontend.c"
}

# udhcpc's script for a lab namespace: address, MTU and default route from the lease; the machine's
# /etc/resolv.conf is left alone (the namespace shares it).
passt_lab_dhcp_script() {
    cat >"$1" <<'SCRIPT'
#!/bin/sh
case "$1" in
deconfig) ip -4 addr flush dev "$interface" ;;
bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    echo "lease $ip/${mask:-24} router ${router:-none} mtu ${mtu:-none}"
    ;;
esac
exit 0
SCRIPT
    chmod +x "$1"
}

passt_lab_attach() {
    local passt="$1" ns="$2"; shift 2
    local dir; dir=$(mktemp -d /tmp/passt-lab.XXXXXX); lab_track_file "$dir"
    # passt started as root changes to nobody before it writes its PID file.
    chmod 711 "$dir"; mkdir -m 1777 "$dir/run"
    local socket="$dir/run/passt.socket" pidfile="$dir/run/passt.pid"
    PASST_LAB_PID=""; PASST_LAB_BRIDGE_PID=""; PASST_LAB_LEASE=""
    PASST_LAB_BRIDGE_LOG="$dir/bridge.log"
    local -a bridge=("$PASST_LAB_TOOLS/stream_bridge") mode=()
    if [ "${PASST_LAB_FRONTEND:-stream}" = vhost-user ]; then
        bridge=("$PASST_LAB_TOOLS/vhost_user_frontend" ${PASST_LAB_FRONTEND_OPTS:---event-idx})
        mode=(--vhost-user)
    fi
    if ! lab_in "$LAB_HOST" "$passt" "${mode[@]}" -P "$pidfile" -s "$socket" "$@" >"$dir/passt.log" 2>&1; then
        echo "passt failed:" >&2; grep -v "to syslog" "$dir/passt.log" >&2; return 1
    fi
    PASST_LAB_PID=$(cat "$pidfile" 2>/dev/null)
    [ -n "$PASST_LAB_PID" ] || { echo "passt wrote no PID file" >&2; return 1; }
    lab_track_pid "$PASST_LAB_PID"
    lab_wait_for 50 test -S "$socket" || { echo "passt's socket $socket never appeared" >&2; return 1; }

    lab_add_ns "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_ra=1 net.ipv6.conf.default.autoconf=1
    ip netns exec "$ns" "${bridge[@]}" eth0 "$socket" 2>"$PASST_LAB_BRIDGE_LOG" &
    PASST_LAB_BRIDGE_PID=$!
    lab_track_pid "$PASST_LAB_BRIDGE_PID"
    lab_wait_for 50 ip -n "$ns" link show eth0 >/dev/null 2>&1 ||
        { echo "no tap eth0 in $ns: $(tr '\n' ' ' <"$PASST_LAB_BRIDGE_LOG")" >&2; return 1; }
    ip -n "$ns" link set eth0 up
    passt_lab_dhcp_script "$dir/udhcpc.script"
    PASST_LAB_LEASE=$(ip netns exec "$ns" busybox udhcpc -i eth0 -s "$dir/udhcpc.script" -f -q -n -t 10 -T 1 \
        2>/dev/null | grep '^lease ')
    [ -n "$PASST_LAB_LEASE" ] || { echo "no DHCP lease from passt in $ns" >&2; return 1; }
}

# Succeeds once namespace $1 has a global IPv6 address that passed DAD.
passt_lab_has_ipv6() { ip -n "$1" -6 addr show dev eth0 scope global | grep -v tentative | grep -q inet6; }
