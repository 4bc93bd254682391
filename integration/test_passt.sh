#!/usr/bin/env bash
# passt: the stream socket qemu connects to. A guest made of raw frames (passt_client.py) gets DHCP, ARP
# and a TCP connection to the lab internet through it, with frames split across writes and two in one
# write; bad lengths drop that client only; -1, --fd, readiness, a stale socket file; bad input.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 pgrep
CLIENT="$here/passt_client.py"
lab_begin
WORK=$(mktemp -d /tmp/pasta-test.XXXXXX); lab_track_file "$WORK"
# passt is the same binary under another name.
PASST="$WORK/passt"; ln -s "$PASTA" "$PASST"
lab_serve "$LAB_INET" python3 "$here/tcp_tool.py" echo-server any 7000
lab_wait_for 50 lab_listening "$LAB_INET" 7000
in_host() { ip netns exec "$LAB_HOST" "$@"; }

# start_passt NAME ARGS...: a daemon with a PID file of its own; sets PASST_PID. Returns passt's status.
start_passt() {
    local pidfile="$WORK/$1.pid"; shift
    in_host "$PASST" -P "$pidfile" "$@"
    local rc=$?
    PASST_PID=$(cat "$pidfile" 2>/dev/null)
    [ -n "$PASST_PID" ] && lab_track_pid "$PASST_PID"
    return $rc
}
accepts() { in_host python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])" "$1" 2>/dev/null; }

echo "ready as soon as the socket listens"
SOCK="$WORK/main.socket"
start=$(now_ms)
start_passt main -q -s "$SOCK"
rc=$?; elapsed=$(( $(now_ms) - start ))
check "passt -P F -s S exits 0 (rc=$rc)" [ "$rc" -eq 0 ]
check "... within 100 ms (${elapsed} ms)" [ "$elapsed" -le 100 ]
check "... F holds the daemon's PID, which is alive" lab_alive "${PASST_PID:-0}"
check "... S accepts connections" accepts "$SOCK"
check "S is only for our own user (mode 0600 or stricter)" eval '[ $(( 0$(stat -c %a "$SOCK") & 077 )) -eq 0 ]'

echo "a guest of raw frames"
out=$(in_host timeout 30 python3 "$CLIENT" session "$SOCK" 203.0.113.10 7000 2>&1)
rc=$?
echo "$out" | sed 's/^/    /'
check "DHCP offer of the host's address, with the DISCOVER's length split across writes" \
    grep -q "^offer 198.51.100.2 router 198.51.100.1" <<<"$out"
check "ARP reply and DHCP ACK for two frames sent in one write" \
    eval 'grep -q "^arp 198.51.100.1 is" <<<"$out" && grep -q "^ack 198.51.100.2" <<<"$out"'
check "TCP to the lab internet: 1000 bytes echoed intact, then closed" \
    eval '[ $rc -eq 0 ] && grep -q "^tcp echo intact" <<<"$out" && grep -q "^tcp closed" <<<"$out"'
check "a frame length of 70000 drops that client" eval '[ "$(in_host python3 "$CLIENT" bad-length "$SOCK" 70000)" = dropped ]'
check "a frame length of 13 drops that client" eval '[ "$(in_host python3 "$CLIENT" bad-length "$SOCK" 13)" = dropped ]'
check "the next client is served (DHCP offer)" eval 'in_host python3 "$CLIENT" dhcp "$SOCK" | grep -q "^offer 198.51.100.2"'
check "passt still runs" lab_alive "$PASST_PID"
check "SIGTERM: passt exits" eval 'kill "$PASST_PID"; lab_wait_for 20 eval "! lab_alive $PASST_PID"'
check "... and removes its socket file" lab_wait_for 10 eval '[ ! -e "$SOCK" ]'

echo "-1/--one-off"
SOCK1="$WORK/one.socket"
start_passt one -q -1 -s "$SOCK1"
in_host python3 "$CLIENT" dhcp "$SOCK1" >/dev/null
check "passt -1 exits once its client disconnects" lab_wait_for 30 eval "! lab_alive ${PASST_PID:-0}"

echo "-F/--fd: a socket connected already (qemu's -netdev passt)"
out=$(in_host python3 - "$PASST" "$CLIENT" "$WORK/fd.pid" <<'PY'
import os, socket, subprocess, sys, time
passt, client, pidfile = sys.argv[1:4]
ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
rc = subprocess.run([passt, "--quiet", "--pid", pidfile, "--fd", str(theirs.fileno())],
                    pass_fds=[theirs.fileno()]).returncode
theirs.close()
pid = int(open(pidfile).read())
print(f"rc {rc} pid {pid}", flush=True)
ok = subprocess.run([sys.executable, client, "fd-session", str(ours.fileno())], pass_fds=[ours.fileno()],
                    capture_output=True, text=True)
print(ok.stdout.strip(), flush=True)
ours.close()
for _ in range(50):
    if not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2]:
        print("exited", flush=True)
        break
    time.sleep(0.1)
else:
    os.kill(pid, 15)
PY
)
echo "$out" | sed 's/^/    /'
check "passt --fd N daemonises and exits 0" grep -q "^rc 0 pid" <<<"$out"
check "... serves the guest on that socket (DHCP offer)" grep -q "^offer 198.51.100.2" <<<"$out"
check "... and exits when it closes" grep -q "^exited" <<<"$out"

echo "libvirt's command line"
SOCK3="$WORK/libvirt.socket"
start_passt libvirt --one-off --socket "$SOCK3" --mac-addr 52:54:00:aa:bb:cc --mtu 9000 --interface eth0 \
    --log-file "$WORK/libvirt.log" --address 198.51.100.50 --netmask 255.255.255.0 --tcp-ports 8081:80 --udp-ports 5353
rc=$?
check "passt starts with libvirt's options (rc=$rc)" [ "$rc" -eq 0 ]
check "... the guest is offered the --address given" \
    eval 'in_host python3 "$CLIENT" dhcp "$SOCK3" | grep -q "^offer 198.51.100.50 "'
check "... and passt exits with its one client (--one-off)" lab_wait_for 30 eval "! lab_alive ${PASST_PID:-0}"

echo "a socket file left by a passt killed with SIGKILL"
SOCK2="$WORK/stale.socket"
start_passt stale1 -q -s "$SOCK2"
kill -9 "$PASST_PID"; lab_wait_for 20 eval "! lab_alive $PASST_PID"
check "the dead passt's socket file is still there" [ -S "$SOCK2" ]
check "a new passt on the same path starts" start_passt stale2 -q -s "$SOCK2"
check "... and serves a guest" eval 'in_host python3 "$CLIENT" dhcp "$SOCK2" | grep -q "^offer"'
check "a second passt on a path in use fails clearly" \
    eval 'in_host "$PASST" -q -f -s "$SOCK2" 2>&1 | grep -q "in use by another process"'
kill "$PASST_PID" 2>/dev/null

echo "default socket path: the first free /tmp/passt_N.socket"
DEFAULT_LOG="$WORK/default.log"
first_free=""
for n in $(seq 1 64); do [ -e "/tmp/passt_$n.socket" ] || { first_free=$n; break; }; done
if [ -n "$first_free" ]; then
    start_passt default -l "$DEFAULT_LOG"
    check "without -s, passt listens on /tmp/passt_$first_free.socket" \
        eval 'grep -q "socket bound at /tmp/passt_$first_free.socket" "$DEFAULT_LOG" && accepts /tmp/passt_$first_free.socket'
    kill "$PASST_PID" 2>/dev/null
    lab_wait_for 20 eval "[ ! -e /tmp/passt_$first_free.socket ]"
else
    fail "the default socket path can't be checked: /tmp/passt_1..64.socket all exist (left by something else)"
fi

echo "bad input"
# Each row: expected stderr pattern (extended regex) | arguments (word-split; WORK is the test's directory).
CASES=$(cat <<'ROWS'
No such file or directory|-f -s /nonexistent/dir/passt.socket
UNIX socket paths are 1 to 107 bytes|-s /tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.socket
the file exists|-f -s WORK/regular-file
not a stream socket|-F 0
descriptor 99 is not open|-F 99
not a file descriptor number|-F abc
UNIX socket paths are 1 to 107 bytes|--socket=
only valid in pasta mode|-T 80
only valid in pasta mode|-U 53
only valid in pasta mode|--netns /run/netns/x
only valid in pasta mode|--config-net
'auto' is only valid for pasta|-t auto
unrecognized option '--bogus'|--bogus
-m value '70000'|-m 70000 -s WORK/y.socket
invalid port '0'|-t 0 -s WORK/y.socket
can't open PID file|-P /nonexistent/dir/x.pid -s WORK/y.socket
ROWS
)
: >"$WORK/regular-file"
while IFS='|' read -r pattern arguments; do
    [ -n "$pattern" ] || continue
    args=${arguments//WORK/$WORK}
    # shellcheck disable=SC2086
    err=$(in_host timeout 5 "$PASST" $args 2>&1 </dev/null)
    rc=$?
    check "passt $arguments: exit 1, says '$pattern'" eval '[ $rc -eq 1 ] && grep -Eq -- "$pattern" <<<"$err"'
done <<<"$CASES"
check "no passt left running from the bad input" eval '! pgrep -f "^$PASST " >/dev/null'
check "no socket file left from the bad input" eval '[ ! -e "$WORK/y.socket" ] && [ ! -e "$WORK/x.socket" ]'
finish
