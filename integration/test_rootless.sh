#!/usr/bin/env bash
# pasta as an ordinary user, as rootless Podman runs it. A throwaway user (created and removed here) runs
# our pasta in the lab host with a private 0666 tun node bind-mounted over /dev/net/tun in a mount
# namespace of its own (the machine's node is never touched): spawn mode, a PID target (user and network
# namespaces from `unshare -rn`), --netns PATH --userns PATH, TCP/UDP/ICMP through the tap, splice -t/-T,
# auto mode both ways, following the lab host's addresses (through the netlink relay), quitting when the
# target ends, -P/-l/-p files in the user's home, and clear errors
# for what an unprivileged user may not do. Servers and clients run as root inside the lab's namespaces.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 jq ping ps pgrep
TOOL="$here/tcp_tool.py"

if [ "$(cat /proc/sys/user/max_user_namespaces)" = 0 ] ||
   [ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" = 0 ]; then
    echo "  skipped: unprivileged user namespaces are disabled on this machine"
    exit 0
fi

RL_USER="pastarl$$"
RL_HOME=$(mktemp -u /tmp/pasta-rootless-home.XXXXXX)
RL_BIN=$(mktemp -d /tmp/pasta-rootless-bin.XXXXXX)
RL_TUN_DIR=$(mktemp -d /tmp/pasta-rootless-tun.XXXXXX)  # mount point for the private tmpfs only
TUN_MODE_BEFORE=$(stat -c '%a %U %t:%T' /dev/net/tun)
export RL_USER RL_TUN_DIR

# Every process of the user, by effective or real UID.
user_processes() { [ -n "${RL_UID:-}" ] && ps -o pid= -u "$RL_UID" -U "$RL_UID" | tr -d ' '; }

# Stops everything this test started, deletes its namespaces, the user and its files: also on failure.
rootless_cleanup() {
    lab_cleanup
    local pid i
    # Processes the user started on its own (a pasta daemon, a spawned command) go by their PIDs; userdel
    # refuses to remove a user who still runs anything.
    for pid in $(user_processes); do kill -KILL "$pid" 2>/dev/null; done
    for ((i = 0; i < 50; i++)); do [ -z "$(user_processes)" ] && break; sleep 0.1; done
    id "$RL_USER" >/dev/null 2>&1 && userdel --remove "$RL_USER" 2>/dev/null
    rm -rf "$RL_HOME" "$RL_BIN"
    rmdir "$RL_TUN_DIR" 2>/dev/null
}

lab_begin
trap rootless_cleanup EXIT
trap 'exit 1' TERM INT  # a timeout or ^C still runs the clean-up
lab_in "$LAB_HOST" sysctl -qw net.ipv4.ping_group_range="0 2147483647"  # ping sockets for the user's pasta
useradd --create-home --home-dir "$RL_HOME" --user-group --shell /bin/sh "$RL_USER" || exit 1
RL_UID=$(id -u "$RL_USER"); RL_GID=$(id -g "$RL_USER")
# A copy the user can run, wherever this checkout lives (/root is not readable to others).
chmod 755 "$RL_BIN"; cp "$PASTA" "$RL_BIN/pasta"; chmod 755 "$RL_BIN/pasta"
UPASTA="$RL_BIN/pasta"
echo "rootless user $RL_USER uid $RL_UID home $RL_HOME"

# What runs in a private mount namespace before switching to the user: $1 is "tun" (a 0666 tun node of
# our own on a tmpfs that exists only in this mount namespace, bind-mounted over /dev/net/tun) or
# "no-tun" (the machine's /dev/net/tun, 0600 root).
PRIVATE_SETUP='
if [ "$1" = tun ]; then
    mount -t tmpfs -o size=16k,mode=0755 pasta-rootless-tun "$RL_TUN_DIR" &&
    mknod -m 0666 "$RL_TUN_DIR/tun" c 10 200 &&
    mount --bind "$RL_TUN_DIR/tun" /dev/net/tun || exit 125
fi
shift
exec setpriv --reuid="$RL_USER" --regid="$RL_USER" --init-groups --reset-env -- "$@"'
AS_USER=(ip netns exec "$LAB_HOST" unshare --mount --propagation private sh -c "$PRIVATE_SETUP" private-setup)
as_user() { "${AS_USER[@]}" tun "$@"; }
as_user_without_tun() { "${AS_USER[@]}" no-tun "$@"; }
# Starts a command as the user in the background; every step execs, so USER_PID is the command itself.
as_user_background() {
    ( exec "${AS_USER[@]}" tun "$@" </dev/null >/dev/null 2>&1 ) &
    USER_PID=$!
    lab_track_pid "$USER_PID"
}
# Starts `unshare -rn sleep 120` as the user (a user and network namespace, as rootless Podman makes)
# and waits until the sleep itself runs; sets SLEEPER.
start_sleeper() {
    as_user_background unshare -rn sleep 120
    SLEEPER=$USER_PID
    lab_wait_for 50 bash -c "[ \"\$(readlink /proc/$SLEEPER/exe)\" = \"\$(readlink -f \$(command -v sleep))\" ]"
}
in_target() { nsenter -t "$1" -n "${@:2}"; }
gone_within() {  # PID TENTHS: the process ended (or is a zombie) within TENTHS tenths of a second
    lab_wait_for "$2" bash -c "! [ -e /proc/$1 ] || grep -qs '^State:.*Z' /proc/$1/status"
}
NO_PORTS=(-t none -u none -T none -U none)

lab_serve "$LAB_INET" python3 "$TOOL" echo-server any 7000
lab_serve "$LAB_INET" python3 "$TOOL" udp-echo-server 7777 203.0.113.10 2001:db8:2::10
lab_serve "$LAB_HOST" python3 "$TOOL" echo-server 127.0.0.1 18090
lab_wait_for 50 lab_listening "$LAB_INET" 7000
lab_wait_for 50 lab_listening "$LAB_HOST" 18090

if [ "${ROOTLESS_ABORT_AFTER_START:-}" = 1 ]; then
    # Used by the cleanup check at the end: a run that fails with the user's processes still running.
    start_sleeper
    as_user "$UPASTA" --config-net -q "${NO_PORTS[@]}" -P "$RL_HOME/pasta.pid" "$SLEEPER"
    lab_track_pid "$(cat "$RL_HOME/pasta.pid" 2>/dev/null)"
    echo "started: sleeper $SLEEPER pasta $(cat "$RL_HOME/pasta.pid" 2>/dev/null)"
    fail "deliberate failure, to check that the user, its processes and namespaces are removed"
    exit 1
fi

echo "0. the user is unprivileged and its tun node private"
check "the user holds no capabilities" \
    eval '[ "$(as_user awk "/^CapEff:/ {print \$2}" /proc/self/status)" = 0000000000000000 ]'
check "it sees a 0666 /dev/net/tun of its own" eval '[ "$(as_user stat -c %a /dev/net/tun)" = 666 ]'
check "the machine's /dev/net/tun is untouched ($TUN_MODE_BEFORE)" \
    eval '[ "$(stat -c "%a %U %t:%T" /dev/net/tun)" = "$TUN_MODE_BEFORE" ]'

echo "1. what an ordinary user may not do: exit 1, a message naming the cause, nothing left running"
lab_add_ns "${LAB_ID}-other"                   # a network namespace of root's
ip netns exec "$LAB_HOST" unshare -n sleep 120 &  # a process of root's in a namespace of its own
ROOT_SLEEPER=$!; lab_track_pid "$ROOT_SLEEPER"
lab_wait_for 50 bash -c "[ \"\$(readlink /proc/$ROOT_SLEEPER/exe)\" = \"\$(readlink -f \$(command -v sleep))\" ]"
refused() {  # NAME PATTERN RUNNER ARGS...: exit 1, stderr matches PATTERN, no command ran, nothing left
    local name="$1" pattern="$2" runner="$3"; shift 3
    local out err rc
    err=$(mktemp); lab_track_file "$err"
    out=$($runner "$UPASTA" --config-net -q -P "$RL_HOME/refused.pid" "$@" 2>"$err")
    rc=$?
    check "$name: exits 1 (rc=$rc)" [ "$rc" -eq 1 ]
    check "$name: says '$(head -n 1 "$err")'" grep -Eq "$pattern" "$err"
    check "$name: the command did not run" [ -z "$out" ]
    check "$name: no process of the user is left" lab_wait_for 20 eval '[ -z "$(user_processes)" ]'
    check "$name: no PID file is left" [ ! -e "$RL_HOME/refused.pid" ]
}
refused "/dev/net/tun it can't open" "can't open /dev/net/tun: Permission denied" \
    as_user_without_tun "${NO_PORTS[@]}" -- echo ran
refused "-t 80" "can't bind TCP port 80 .*Permission denied.*CAP_NET_BIND_SERVICE" \
    as_user -t 80 -u none -T none -U none -- echo ran
refused "--netns of root's" "can't join network namespace /run/netns/${LAB_ID}-other: Operation not permitted \(no CAP_SYS_ADMIN" \
    as_user "${NO_PORTS[@]}" --netns "${LAB_ID}-other"
refused "a PID of root's" "process $ROOT_SLEEPER belongs to another user" \
    as_user "${NO_PORTS[@]}" "$ROOT_SLEEPER"
refused "--netns-only spawn" "can't create a network namespace for the command: Operation not permitted" \
    as_user "${NO_PORTS[@]}" --netns-only -- echo ran

echo "2. spawn mode"
# Inside: the addresses, rdisc6 makes sure our Router Advertisement arrived, then the global IPv6
# addresses (only the copied one: RA acceptance is off), the ID maps, and exit 5.
out=$(as_user timeout 60 "$UPASTA" --config-net -q "${NO_PORTS[@]}" -- sh -c '
    ip -j addr show dev eth0; echo
    rdisc6 -1 eth0 | grep -E "^ *Prefix"; sleep 0.2
    ip -j -6 addr show dev eth0 scope global; echo
    id -u; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups
    exit 5' 2>&1)
rc=$?
addresses=$(sed -n 1p <<<"$out"); globals=$(grep '^\[' <<<"$out" | sed -n 2p)
check "the command's status comes back (rc=$rc)" [ "$rc" -eq 5 ]
check "it saw 198.51.100.2/24 on eth0" \
    json_has "$addresses" '.[0].addr_info[] | select(.local=="198.51.100.2" and .prefixlen==24)'
check "and 2001:db8:1::2/64" json_has "$addresses" '.[0].addr_info[] | select(.local=="2001:db8:1::2" and .prefixlen==64)'
check "rdisc6 got our Router Advertisement with the /64 prefix" grep -Eq "Prefix +: 2001:db8:1::/64" <<<"$out"
global_list=$(jq -r '[.[0].addr_info[] | select(.local) | "\(.local)/\(.prefixlen)"] | join(" ")' <<<"$globals" 2>/dev/null)
check "after it, the only global IPv6 address is the copied one (got '$global_list')" [ "$global_list" = "2001:db8:1::2/64" ]
check "the command is root in its user namespace, mapped to the user ('0 $RL_UID 1', setgroups deny)" \
    eval 'grep -Eq "^ +0 +$RL_UID +1$" <<<"$out" && grep -Eq "^ +0 +$RL_GID +1$" <<<"$out" &&
          grep -qx deny <<<"$out" && grep -qx 0 <<<"$out"'
check "no process of the user is left" lab_wait_for 20 eval '[ -z "$(user_processes)" ]'

# The namespace made for the command lets its groups open ping sockets, as the user's own ping does.
out=$(as_user timeout 60 "$UPASTA" --config-net -q "${NO_PORTS[@]}" -- sh -c '
    cat /proc/sys/net/ipv4/ping_group_range
    python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP); print(\"ping socket ok\")"
    ping -c 1 -W 5 203.0.113.10 >/dev/null && echo "ping ok"' 2>&1)
check "the command's namespace allows ping sockets to its groups ($(head -n 1 <<<"$out" | tr -s '\t ' ' '))" \
    eval 'grep -Eq "^0[[:space:]]+0$" <<<"$out" && grep -qx "ping socket ok" <<<"$out"'
check "the command's ping 203.0.113.10 is answered" grep -qx "ping ok" <<<"$out"

out=$(as_user timeout 60 "$UPASTA" -q "${NO_PORTS[@]}" -- sh -c '
    cat /proc/sys/net/ipv6/conf/eth0/accept_ra; ip link set eth0 up
    for i in $(seq 100); do ip -6 addr show dev eth0 scope global | grep -q "inet6 2001:db8:1:" && break; sleep 0.1; done
    ip -j -6 addr show dev eth0 scope global' 2>&1)
check "without --config-net RA acceptance stays on" [ "$(head -n 1 <<<"$out")" = 1 ]
check "and the namespace configures itself with SLAAC from our RA" \
    json_has "$(tail -n 1 <<<"$out")" '.[0].addr_info[] | select((.local // "" | startswith("2001:db8:1:")) and .prefixlen==64)'

start_sleeper
out=$(as_user timeout 60 "$UPASTA" --config-net -q "${NO_PORTS[@]}" --userns "/proc/$SLEEPER/ns/user" -- sh -c '
    readlink /proc/self/ns/user; ip -br addr show dev eth0' 2>&1)
rc=$?
check "--userns: the command runs in that user namespace (rc=$rc)" \
    [ "$(head -n 1 <<<"$out")" = "$(readlink "/proc/$SLEEPER/ns/user")" ]
check "--userns: with a network namespace of its own, configured" grep -q "198.51.100.2/24" <<<"$out"
kill "$SLEEPER"; gone_within "$SLEEPER" 20

echo "3. a PID target: the user and network namespaces of unshare -rn, as rootless Podman does"
start_sleeper
U=$SLEEPER
lab_serve_target() { nsenter -t "$U" -n "$@" >/dev/null 2>&1 & lab_track_pid $!; }
lab_serve_target python3 "$TOOL" echo-server any 18080
lab_wait_for 50 bash -c "nsenter -t $U -n ss -Hltn 'sport = :18080' | grep -q ."
as_user "$UPASTA" --config-net -t 18080 -u none -T 18090 -U none \
    -P "$RL_HOME/pasta.pid" -l "$RL_HOME/pasta.log" -p "$RL_HOME/pasta.pcap" "$U"
rc=$?
PASTA_PID=$(cat "$RL_HOME/pasta.pid" 2>/dev/null); lab_track_pid "$PASTA_PID"
check "pasta starts and returns 0 (rc=$rc)" [ "$rc" -eq 0 ]
check "-P: the PID file in the user's home names a running pasta of the user's" \
    eval 'lab_alive "$PASTA_PID" && [ "$(stat -c %U "$RL_HOME/pasta.pid")" = "$RL_USER" ] &&
          [ "$(awk "/^Uid:/ {print \$2}" /proc/$PASTA_PID/status)" = "$RL_UID" ]'
check "the target's namespace got 198.51.100.2/24 and 2001:db8:1::2/64" \
    eval 'a=$(in_target "$U" ip -j addr show dev eth0) &&
          json_has "$a" ".[0].addr_info[] | select(.local==\"198.51.100.2\")" &&
          json_has "$a" ".[0].addr_info[] | select(.local==\"2001:db8:1::2\")"'
check "TCP IPv4 through the tap: 4 x 1 MiB echoed intact" \
    eval '[ "$(in_target "$U" timeout 60 python3 "$TOOL" load 203.0.113.10 7000 4 1048576)" = "ok 4" ]'
check "TCP IPv6 through the tap: the same" \
    eval '[ "$(in_target "$U" timeout 60 python3 "$TOOL" load 2001:db8:2::10 7000 4 1048576)" = "ok 4" ]'
check "UDP IPv4: a datagram comes back from the internet" \
    eval '[ "$(in_target "$U" python3 "$TOOL" udp-ask 203.0.113.10 7777 hi4)" = "hi4 203.0.113.10" ]'
check "UDP IPv6: the same" \
    eval '[ "$(in_target "$U" python3 "$TOOL" udp-ask 2001:db8:2::10 7777 hi6)" = "hi6 2001:db8:2::10" ]'
check "ICMP: ping 203.0.113.10 is answered" eval 'in_target "$U" ping -c 1 -W 5 203.0.113.10 >/dev/null'
check "ICMPv6: ping 2001:db8:2::10 is answered" eval 'in_target "$U" ping -6 -c 1 -W 5 2001:db8:2::10 >/dev/null'
check "-t 18080 from the internet reaches the target's server through the tap" \
    eval '[ "$(ip netns exec "$LAB_INET" timeout 30 python3 "$TOOL" load 198.51.100.2 18080 2 65536)" = "ok 2" ]'
tap_bytes() { in_target "$U" ip -j -s link show eth0 | jq '.[0].stats64.rx.bytes + .[0].stats64.tx.bytes'; }
before=$(tap_bytes)
check "splice -t 18080: lab host 127.0.0.1 -> target, 8 x 1 MiB echoed intact" \
    eval '[ "$(ip netns exec "$LAB_HOST" timeout 60 python3 "$TOOL" load 127.0.0.1 18080 8 1048576)" = "ok 8" ]'
check "splice -T 18090: target 127.0.0.1 -> lab host, 8 x 1 MiB echoed intact" \
    eval '[ "$(in_target "$U" timeout 60 python3 "$TOOL" load 127.0.0.1 18090 8 1048576)" = "ok 8" ]'
check "splice -t: 300 short connections one after another, each echoed" \
    eval '[ "$(ip netns exec "$LAB_HOST" timeout 60 python3 "$TOOL" sequential 127.0.0.1 18080 300)" = "ok 300" ]'
after=$(tap_bytes)
check "all of it bypassed the tap (which carried $((after - before)) bytes meanwhile)" [ $((after - before)) -lt 1000000 ]
check "-l: the log file in the user's home is the user's and has the summary" \
    eval '[ "$(stat -c %U "$RL_HOME/pasta.log")" = "$RL_USER" ] && grep -q "namespace interface: eth0" "$RL_HOME/pasta.log"'
check "-p: the pcap file is the user's, with the pcap magic and frames" \
    eval '[ "$(stat -c %U "$RL_HOME/pasta.pcap")" = "$RL_USER" ] &&
          [ "$(od -An -tx1 -N4 "$RL_HOME/pasta.pcap" | tr -d " ")" = d4c3b2a1 ] &&
          [ "$(stat -c %s "$RL_HOME/pasta.pcap")" -gt 100000 ]'
# The host's network followed: an address the lab host gains and loses, through the netlink relay (a child
# of the user's pasta that keeps CAP_NET_ADMIN over the target's namespace only).
ip -n "$LAB_HOST" addr add 198.51.100.9/24 dev eth0
check "an address the lab host gains reaches the target's namespace within 2 s" \
    lab_wait_for 20 eval 'in_target "$U" ip -o addr show dev eth0 | grep -q "198.51.100.9/24"'
ip -n "$LAB_HOST" addr del 198.51.100.9/24 dev eth0
check "and goes when the lab host's goes" lab_wait_for 20 eval '! in_target "$U" ip -o addr show dev eth0 | grep -q "198.51.100.9/24"'
RELAY=$(for child in $(pgrep -P "$PASTA_PID"); do
    [ "$(awk '/^CapEff:/ {print $2}' "/proc/$child/status")" = 0000000000001000 ] && echo "$child"; done | head -n 1)
check "its netlink relay is the user's and holds only CAP_NET_ADMIN (in the user's namespace)" \
    eval '[ -n "$RELAY" ] && [ "$(awk "/^Uid:/ {print \$2}" /proc/$RELAY/status)" = "$RL_UID" ] &&
          [ "$(awk "/^Seccomp:/ {print \$2}" /proc/$RELAY/status)" = 2 ]'
kill "$U"
ended=$(now_ms)
gone_within "$PASTA_PID" 30
elapsed=$(( $(now_ms) - ended ))
check "pasta exits within 2 s after the target ends (${elapsed} ms)" [ "$elapsed" -lt 2000 ]

echo "3b. spawn inside a user namespace of the user's that maps one ID (unshare -rUm)"
out=$(as_user unshare -rUm "$UPASTA" --config-net -q "${NO_PORTS[@]}" -- sh -c 'id -u; ip -br addr show dev eth0' 2>&1)
rc=$?
check "pasta --config-net -- CMD inside the user's unshare -rUm exits 0 (rc=$rc)" [ "$rc" -eq 0 ]
check "... the command ran as root of its namespace, on a configured eth0" \
    eval '[ "$(head -n 1 <<<"$out")" = 0 ] && grep -q "198.51.100.2/24" <<<"$out"'

echo "4. --netns PATH --userns PATH"
start_sleeper
U=$SLEEPER
as_user "$UPASTA" --config-net -q "${NO_PORTS[@]}" -P "$RL_HOME/pasta2.pid" \
    --netns "/proc/$U/ns/net" --userns "/proc/$U/ns/user"
rc=$?
PASTA_PID=$(cat "$RL_HOME/pasta2.pid" 2>/dev/null); lab_track_pid "$PASTA_PID"
check "pasta starts (rc=$rc)" [ "$rc" -eq 0 ]
check "the namespace got 198.51.100.2/24 and a default route" \
    eval 'json_has "$(in_target "$U" ip -j addr show dev eth0)" ".[0].addr_info[] | select(.local==\"198.51.100.2\")" &&
          json_has "$(in_target "$U" ip -j route)" ".[] | select(.dst==\"default\" and .gateway==\"198.51.100.1\")"'
check "TCP through the tap: 2 x 256 KiB echoed intact" \
    eval '[ "$(in_target "$U" timeout 30 python3 "$TOOL" load 203.0.113.10 7000 2 262144)" = "ok 2" ]'
kill "$U"
ended=$(now_ms)
gone_within "$PASTA_PID" 30
elapsed=$(( $(now_ms) - ended ))
check "pasta exits within 2 s after the namespace's process ends (${elapsed} ms)" [ "$elapsed" -lt 2000 ]

echo "5. auto mode both ways"
start_sleeper
U=$SLEEPER
as_user "$UPASTA" --config-net -q -P "$RL_HOME/pasta3.pid" "$U"
rc=$?
PASTA_PID=$(cat "$RL_HOME/pasta3.pid" 2>/dev/null); lab_track_pid "$PASTA_PID"
check "pasta starts with the default auto forwarding (rc=$rc)" [ "$rc" -eq 0 ]
lab_serve_target python3 "$TOOL" echo-server any 18100
lab_serve "$LAB_HOST" python3 "$TOOL" echo-server 127.0.0.1 18101
check "a server started in the target is soon reachable at the lab host's 127.0.0.1:18100" \
    lab_wait_for 50 eval '[ "$(ip netns exec "$LAB_HOST" timeout 10 python3 "$TOOL" load 127.0.0.1 18100 2 65536 2>/dev/null)" = "ok 2" ]'
check "a server on the lab host's 127.0.0.1:18101 is soon reachable from the target" \
    lab_wait_for 50 eval '[ "$(in_target "$U" timeout 10 python3 "$TOOL" load 127.0.0.1 18101 2 65536 2>/dev/null)" = "ok 2" ]'
kill "$U"
gone_within "$PASTA_PID" 30

echo "6. a failing run still removes its user, processes and namespaces"
nested=$(LAB_ID="${LAB_ID}x" ROOTLESS_ABORT_AFTER_START=1 PASTA="$PASTA" timeout 120 bash "$0" 2>&1)
nested_rc=$?
nested_user=$(sed -n 's/^rootless user \([^ ]*\) uid \([0-9]*\) home \(.*\)$/\1 \2 \3/p' <<<"$nested")
read -r n_user n_uid n_home <<<"$nested_user"
started=$(sed -n 's/^started: sleeper \([0-9]*\) pasta \([0-9]*\)$/\1 \2/p' <<<"$nested")
check "the aborted run fails (rc=$nested_rc) after starting a sleeper and a pasta ($started)" \
    eval '[ "$nested_rc" -ne 0 ] && [ -n "$n_user" ] && [ "$(wc -w <<<"$started")" = 2 ]'
check "its user $n_user is gone, with its home" eval '! id "$n_user" >/dev/null 2>&1 && [ ! -e "$n_home" ]'
check "no process of uid $n_uid runs" eval '[ -n "$n_uid" ] && [ -z "$(ps -o pid= -u "$n_uid" -U "$n_uid")" ]'
check "its lab namespaces are deleted" eval '! ip netns list | grep -q "^${LAB_ID}x-"'

echo "7. this run's own clean-up"
rootless_cleanup
check "the user is gone, with its group, also from /etc/subuid and /etc/subgid" \
    eval '! id "$RL_USER" >/dev/null 2>&1 && ! getent group "$RL_USER" >/dev/null && ! grep -qs "^$RL_USER:" /etc/subuid /etc/subgid'
check "its home, the pasta copy and the tun mount point are gone" \
    eval '[ ! -e "$RL_HOME" ] && [ ! -e "$RL_BIN" ] && [ ! -e "$RL_TUN_DIR" ]'
check "no process of uid $RL_UID runs" eval '[ -z "$(ps -o pid= -u "$RL_UID" -U "$RL_UID")" ]'
check "the lab namespaces are deleted" eval '! ip netns list | grep -q "^${LAB_ID}-"'
check "the machine's /dev/net/tun is as before ($TUN_MODE_BEFORE)" \
    eval '[ "$(stat -c "%a %U %t:%T" /dev/net/tun)" = "$TUN_MODE_BEFORE" ]'
finish
