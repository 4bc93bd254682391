#!/usr/bin/env bash
# The sandbox: pasta, passt and the slirp4netns drop-in started as root run as nobody (or --runas) with no
# capabilities, no new privileges, a seccomp filter, and an empty read-only tmpfs as their root, in mount,
# IPC and UTS namespaces of their own (passt in a PID namespace too), and still serve: TCP to the lab
# internet, spliced connections, -T into the namespace, auto mode, the control socket, pcap, the log file,
# the API socket; their socket files are removed at exit (by a socket janitor that is confined too). A
# system call outside the filter's list kills the process with SIGSYS. With --config-net, the namespace's
# netlink relay (addresses and routes that follow the host's) is confined too, and leaves with pasta.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 tcpdump ping pgrep
TOOL="$here/tcp_tool.py"
CLIENT="$here/passt_client.py"
lab_begin with-container
WORK=$(mktemp -d /tmp/pasta-sandbox.XXXXXX); lab_track_file "$WORK"
PASST="$WORK/passt"; ln -s "$PASTA" "$PASST"
PESTO="$WORK/pesto"; ln -s "$PASTA" "$PESTO"
SLIRP="$WORK/slirp4netns"; ln -s "$PASTA" "$SLIRP"
in_ctr() { ip netns exec "$CTR" "$@"; }
in_host() { ip netns exec "$LAB_HOST" "$@"; }
field() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }

# sandboxed PID UID GID: the status, root and mount table of a sandboxed process, as checks.
sandboxed() {
    local pid="$1" uid="$2" gid="$3"
    echo "    $(grep -E '^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' "/proc/$pid/status" | tr '\t' ' ' | tr '\n' ';')"
    check "... CapEff, CapPrm, CapAmb and CapBnd are empty" \
        eval '[ "$(field '"$pid"' CapEff)" = 0000000000000000 ] && [ "$(field '"$pid"' CapPrm)" = 0000000000000000 ] &&
              [ "$(field '"$pid"' CapAmb)" = 0000000000000000 ] && [ "$(field '"$pid"' CapBnd)" = 0000000000000000 ]'
    check "... NoNewPrivs: 1, Seccomp: 2 (filter)" \
        eval '[ "$(field '"$pid"' NoNewPrivs)" = 1 ] && [ "$(field '"$pid"' Seccomp)" = 2 ]'
    check "... every UID is $uid, every GID $gid" \
        eval '[ "$(field '"$pid"' Uid)" = "'"$uid $uid $uid $uid"'" ] && [ "$(field '"$pid"' Gid)" = "'"$gid $gid $gid $gid"'" ]'
    check "... /proc/$pid/root lists nothing" eval '[ -z "$(ls -A /proc/'"$pid"'/root)" ]'
    local mounts; mounts=$(cat "/proc/$pid/mountinfo")
    echo "    mountinfo: $mounts"
    check "... its mount table is one read-only tmpfs at /" \
        eval '[ "$(wc -l <<<"$mounts")" -eq 1 ] && awk '"'"'{ exit !($5 == "/" && $6 ~ /^ro(,|$)/ && $0 ~ / - tmpfs /) }'"'"' <<<"$mounts"'
    check "... mount, IPC and UTS namespaces of its own" \
        eval 'for ns in mnt ipc uts; do [ "$(readlink /proc/'"$pid"'/ns/$ns)" != "$(readlink /proc/self/ns/$ns)" ] || exit 1; done'
}

lab_serve "$LAB_INET" python3 "$TOOL" echo-server any 7000
lab_serve "$CTR" python3 "$TOOL" echo-server any 7001
lab_serve "$LAB_HOST" python3 "$TOOL" echo-server 127.0.0.1 7100
for p in 7000:"$LAB_INET" 7001:"$CTR" 7100:"$LAB_HOST"; do lab_wait_for 50 lab_listening "${p#*:}" "${p%%:*}"; done
lab_in "$LAB_HOST" sysctl -qw net.ipv4.ping_group_range="0 2147483647"

echo "1. pasta, started as root"
CTL="$WORK/control.sock"; LOG="$WORK/pasta.log"; PCAP="$WORK/pasta.pcap"
check "pasta starts (-t 7001 -T 7100 -U auto -c -l -p)" lab_start_pasta --config-net -t 7001 -T 7100 -u none -U auto \
    -c "$CTL" -l "$LOG" -p "$PCAP" --netns "$CTR"
NOBODY_UID=$(id -u nobody); NOBODY_GID=$(id -g nobody)
echo "  nobody is $NOBODY_UID:$NOBODY_GID"
sandboxed "$PASTA_PID" "$NOBODY_UID" "$NOBODY_GID"
check "... TCP from the namespace to the lab internet through the tap: 64 x 64 KiB echoed" \
    eval 'in_ctr python3 "$TOOL" load 203.0.113.10 7000 64 65536 | grep -q "^ok 64"'
check "... spliced: lab host 127.0.0.1:7001 reaches the namespace's server (-t)" \
    eval 'in_host python3 "$TOOL" load 127.0.0.1 7001 16 1048576 | grep -q "^ok 16"'
check "... spliced: the namespace's 127.0.0.1:7100 reaches the lab host's server (-T)" \
    eval 'in_ctr python3 "$TOOL" load 127.0.0.1 7100 16 1048576 | grep -q "^ok 16"'
lab_serve "$LAB_HOST" python3 "$TOOL" udp-echo-server 7200 127.0.0.1
check "... auto mode: a UDP server started later on the lab host answers the namespace within 3 s" \
    lab_wait_for 30 eval 'in_ctr timeout 1 python3 "$TOOL" udp-ask 127.0.0.1 7200 hi 2>/dev/null | grep -q hi'
check "... the control socket: pesto adds -t 7300:7001" eval '"$PESTO" --add -t 7300:7001 "$CTL" >/dev/null'
check "... and 7300 is served" eval 'in_host python3 "$TOOL" load 127.0.0.1 7300 4 65536 | grep -q "^ok 4"'
check "... ping from the namespace reaches the lab internet" in_ctr ping -c 1 -W 2 203.0.113.10
check "... still running after all that (not killed by the filter)" lab_alive "$PASTA_PID"
# Its helpers, told apart by the one capability set each keeps: the socket janitor (CAP_DAC_OVERRIDE and
# CAP_FOWNER) and, with --config-net following the host, the namespace's netlink relay (CAP_NET_ADMIN).
helper_with() { local child; for child in $(pgrep -P "$PASTA_PID"); do
    [ "$(field "$child" CapEff)" = "$1" ] && echo "$child"; done | head -n 1; }
JANITOR=$(helper_with 000000000000000a)
RELAY=$(helper_with 0000000000001000)
echo "    socket janitor $JANITOR: $(grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):' "/proc/$JANITOR/status" 2>/dev/null | tr '\t' ' ' | tr '\n' ';')"
check "... its socket janitor holds only CAP_DAC_OVERRIDE and CAP_FOWNER, under a filter of its own" \
    eval '[ -n "$JANITOR" ] && [ "$(field "$JANITOR" CapEff)" = 000000000000000a ] && [ "$(field "$JANITOR" CapBnd)" = 000000000000000a ] &&
          [ "$(field "$JANITOR" Seccomp)" = 2 ] && [ "$(field "$JANITOR" NoNewPrivs)" = 1 ]'
check "... and no descriptor but its socket and the control socket's directory" \
    eval '[ "$(ls "/proc/$JANITOR/fd" | wc -l)" -eq 5 ] && [ "$(readlink "/proc/$JANITOR/fd/0")" = /dev/null ]'
echo "    netlink relay $RELAY: $(grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):' "/proc/$RELAY/status" 2>/dev/null | tr '\t' ' ' | tr '\n' ';')"
check "... its netlink relay holds only CAP_NET_ADMIN, under a filter of its own" \
    eval '[ -n "$RELAY" ] && [ "$(field "$RELAY" CapBnd)" = 0000000000001000 ] &&
          [ "$(field "$RELAY" Seccomp)" = 2 ] && [ "$(field "$RELAY" NoNewPrivs)" = 1 ]'
check "... and no descriptor but standard ones, its socket to us and the namespace's rtnetlink socket" \
    eval '[ "$(ls "/proc/$RELAY/fd" | wc -l)" -eq 5 ] && readlink "/proc/$RELAY/fd/"* | grep -q "^socket:"'
kill "$PASTA_PID"; lab_wait_for 50 eval '! lab_alive "$PASTA_PID"'
check "... SIGTERM: gone, its control socket removed" eval '! lab_alive "$PASTA_PID" && [ ! -e "$CTL" ]'
check "... and its netlink relay with it" lab_wait_for 30 eval '! lab_alive "$RELAY"'
check "... the log file has its exit" grep -q "exiting" "$LOG"
check "... the capture decodes and has the TCP traffic" \
    eval 'tcpdump -n -r "$PCAP" 2>/dev/null | grep -q "203.0.113.10.7000"'

echo "2. --runas"
check "pasta --runas 4321:4322 starts" lab_start_pasta --config-net -q --runas 4321:4322 -t none -u none -T none -U none --netns "$CTR"
check "... runs as 4321:4322 with nothing" \
    eval '[ "$(field "$PASTA_PID" Uid)" = "4321 4321 4321 4321" ] && [ "$(field "$PASTA_PID" Gid)" = "4322 4322 4322 4322" ] &&
          [ "$(field "$PASTA_PID" CapEff)" = 0000000000000000 ] && [ "$(field "$PASTA_PID" Seccomp)" = 2 ]'
check "... and serves the namespace" eval 'in_ctr python3 "$TOOL" load 203.0.113.10 7000 4 65536 | grep -q "^ok 4"'
kill "$PASTA_PID"; lab_wait_for 50 eval '! lab_alive "$PASTA_PID"'

echo "3. passt, started as root"
SOCK="$WORK/passt.socket"
in_host "$PASST" -q -s "$SOCK" -P "$WORK/passt.pid"
PASST_PID=$(cat "$WORK/passt.pid" 2>/dev/null); lab_track_pid "$PASST_PID"
check "passt starts" lab_alive "${PASST_PID:-none}"
sandboxed "$PASST_PID" "$NOBODY_UID" "$NOBODY_GID"
check "... in a PID namespace of its own, as its PID 1" \
    eval '[ "$(field "$PASST_PID" NSpid | awk "{print \$NF}")" = 1 ]'
check "... serves a guest: DHCP, ARP, TCP to the lab internet" \
    eval 'in_host python3 "$CLIENT" session "$SOCK" 203.0.113.10 7000 >/dev/null'
check "... still running" lab_alive "$PASST_PID"
kill "$PASST_PID"; lab_wait_for 50 eval '! lab_alive "$PASST_PID"'
check "... SIGTERM: gone, its socket file removed" eval '! lab_alive "$PASST_PID" && [ ! -e "$SOCK" ]'

echo "4. the slirp4netns drop-in, started as root"
API="$WORK/api.sock"
lab_add_ns "${LAB_ID}-sl"
ip netns exec "$LAB_HOST" "$SLIRP" --configure --mtu 65520 --api-socket "$API" --netns-type=path "/run/netns/${LAB_ID}-sl" tap0 \
    >"$WORK/slirp.out" 2>&1 &
SLIRP_PID=$!; lab_track_pid "$SLIRP_PID"
check "slirp4netns's API socket appears, and the sandbox is in place" \
    lab_wait_for 50 eval '[ -S "$API" ] && [ "$(field "$SLIRP_PID" Seccomp)" = 2 ]'
sandboxed "$SLIRP_PID" "$NOBODY_UID" "$NOBODY_GID"
check "... the API answers list_hostfwd" \
    eval 'in_host python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b\"{\\\"execute\\\": \\\"list_hostfwd\\\"}\"); s.shutdown(socket.SHUT_WR); print(s.recv(4096).decode())" "$API" | grep -q return'
check "... the namespace reaches the lab internet" \
    eval 'ip netns exec "${LAB_ID}-sl" python3 "$TOOL" load 203.0.113.10 7000 4 65536 | grep -q "^ok 4"'
kill "$SLIRP_PID"; lab_wait_for 50 eval '! lab_alive "$SLIRP_PID"'
check "... SIGTERM: gone, its API socket removed" eval '! lab_alive "$SLIRP_PID" && [ ! -e "$API" ]'

echo "5. a system call outside the list kills with SIGSYS"
PASTA_TEST_FORBIDDEN_SYSCALL=1 lab_in "$LAB_HOST" timeout 20 "$PASTA" -f -q --config-net -t none -u none -T none -U none \
    --netns "$CTR" >/dev/null 2>&1
rc=$?
check "pasta in the foreground dies by SIGSYS (status $rc = 128 + 31)" [ "$rc" -eq 159 ]
PASTA_TEST_FORBIDDEN_SYSCALL=1 lab_in "$LAB_HOST" timeout 20 "$PASST" -f -q -s "$WORK/kill.socket" >/dev/null 2>&1
rc=$?
check "passt in the foreground dies by SIGSYS (status $rc)" [ "$rc" -eq 159 ]
PASTA_TEST_FORBIDDEN_SYSCALL=1 lab_start_pasta --config-net -q -t none -u none -T none -U none --netns "$CTR"
check "a pasta daemon is gone within 5 s of the call" eval 'lab_alive "$PASTA_PID" && lab_wait_for 50 eval "! lab_alive $PASTA_PID"'
finish
