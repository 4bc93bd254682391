# Lab helpers for integration tests: every test builds its own namespaces and tears them down.
# Source this file; call lab_setup, then use $LAB_HOST, $LAB_INET, and lab_cleanup runs from the trap.
#
# Topology (documentation ranges only; nothing leaves these namespaces):
#   $LAB_INET  "internet": veth 198.51.100.1/24, 2001:db8:1::1/64 (the lab host's gateway)
#              plus 203.0.113.10/24, 2001:db8:2::10/64 on a second veth pair to nowhere but itself
#   $LAB_HOST  where pasta runs: uplink eth0 198.51.100.2/24 via 198.51.100.1, 2001:db8:1::2/64 via 2001:db8:1::1

source "$(dirname "${BASH_SOURCE[0]}")/needs.sh"
LAB_ID="${LAB_ID:-l$$}"
LAB_HOST="${LAB_ID}-host"
LAB_INET="${LAB_ID}-inet"
LAB_NAMESPACES=()
LAB_PIDS=()
LAB_FILES=()

# Runs a command in a lab namespace.
lab_in() { local ns="$1"; shift; ip netns exec "$ns" "$@"; }

lab_add_ns() {
    ip netns add "$1"
    LAB_NAMESPACES+=("$1")
    ip -n "$1" link set lo up
}

lab_setup() {
    lab_add_ns "$LAB_HOST"
    lab_add_ns "$LAB_INET"
    ip link add "${LAB_ID}-u" netns "$LAB_HOST" type veth peer name "${LAB_ID}-g" netns "$LAB_INET"
    ip -n "$LAB_HOST" link set "${LAB_ID}-u" name eth0
    ip -n "$LAB_INET" link set "${LAB_ID}-g" name gw0
    lab_in "$LAB_HOST" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    lab_in "$LAB_INET" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    ip -n "$LAB_INET" addr add 198.51.100.1/24 dev gw0
    ip -n "$LAB_INET" addr add 2001:db8:1::1/64 dev gw0 nodad
    ip -n "$LAB_INET" addr add 203.0.113.10/24 dev lo
    ip -n "$LAB_INET" addr add 2001:db8:2::10/64 dev lo nodad
    ip -n "$LAB_INET" link set gw0 up
    ip -n "$LAB_HOST" link set eth0 address 02:00:00:00:00:02
    ip -n "$LAB_HOST" addr add 198.51.100.2/24 dev eth0
    ip -n "$LAB_HOST" addr add 2001:db8:1::2/64 dev eth0 nodad
    ip -n "$LAB_HOST" link set eth0 up
    ip -n "$LAB_HOST" route add default via 198.51.100.1
    ip -n "$LAB_HOST" -6 route add default via 2001:db8:1::1
}

# Builds the lab and removes it on exit. Sets $CTR, a container namespace name; "with-container"
# creates it too.
lab_begin() {
    needs ip ss sysctl
    trap lab_cleanup EXIT
    # A signal (run.sh's timeout, ^C) ends the test through its EXIT trap, so the cleanup runs then too.
    trap 'exit 143' TERM
    trap 'exit 130' INT
    lab_setup
    CTR="${LAB_ID}-ctr"
    if [ "${1:-}" = with-container ]; then lab_add_ns "$CTR"; fi
}

# Starts our pasta daemon in the lab host with a PID file of its own, and tracks it for cleanup.
# Sets PASTA_PID; returns pasta's exit status.
lab_start_pasta() {
    local pidfile; pidfile=$(mktemp -u /tmp/pasta-test.XXXXXX.pid); lab_track_file "$pidfile"
    lab_in "$LAB_HOST" "$PASTA" -P "$pidfile" "$@"
    local rc=$?
    PASTA_PID=$(cat "$pidfile" 2>/dev/null)
    [ -n "$PASTA_PID" ] && lab_track_pid "$PASTA_PID"
    return $rc
}

# Starts a background command and remembers its PID for cleanup.
lab_spawn() {
    "$@" &
    LAB_PIDS+=("$!")
}

lab_track_pid() { LAB_PIDS+=("$1"); }

# Starts a server in a namespace in the background and tracks it: `ip netns exec` execs the command, so
# $! is the server itself (a backgrounded shell function would leave a subshell's PID instead).
lab_serve() {
    local ns="$1"; shift
    ip netns exec "$ns" "$@" >/dev/null 2>&1 &
    LAB_PIDS+=("$!")
}

# Succeeds once something listens on TCP port $2 in namespace $1.
lab_listening() { ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q .; }
lab_track_file() { LAB_FILES+=("$1"); }

lab_cleanup() {
    local pid ns
    for pid in "${LAB_PIDS[@]}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null
    done
    for pid in "${LAB_PIDS[@]}"; do
        [ -n "$pid" ] && wait "$pid" 2>/dev/null
    done
    for ns in "${LAB_NAMESPACES[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    for f in "${LAB_FILES[@]}"; do rm -rf "$f"; done
    LAB_PIDS=(); LAB_NAMESPACES=(); LAB_FILES=()
}

# Waits until `cmd` succeeds, up to $1 tenths of a second.
lab_wait_for() {
    local tenths="$1"; shift
    local i
    for ((i = 0; i < tenths; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# Is a process still alive (and not a zombie)?
lab_alive() {
    [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# Stops a process by its PID and waits (up to 5 s) until it is gone, so what it held (ports, sockets) is
# free for the next one.
lab_stop() {
    kill "$1" 2>/dev/null
    lab_wait_for 50 lab_gone "$1"
}
lab_gone() { ! lab_alive "$1"; }
