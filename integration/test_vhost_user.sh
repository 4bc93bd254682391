#!/usr/bin/env bash
# passt --vhost-user without a VM: bench/vhost_user_frontend plays qemu (guest memory in a memfd, the
# virtio-net rings, kick and call eventfds) for a tap in a lab namespace. The namespace gets DHCP from
# passt, 64 MiB cross each way (checksums compared), UDP and ping work, -t forwards inbound; the frontend
# leaves and a new one is served by the same passt; --one-off exits with its client; --fd serves one end
# of a socketpair (qemu 10.1's way); libvirt's command line is accepted; --print-capabilities.
set -u
here=$(cd "$(dirname "$0")" && pwd); source "$here/lab.sh"; source "$here/assert.sh"
needs python3 gcc curl ping busybox
PASST="${PASST:-$(dirname "${PASTA:-$here/../.build/release/pasta}")/passt}"
lab_begin
WORK=$(mktemp -d /tmp/pasta-test.XXXXXX); lab_track_file "$WORK"
chmod 711 "$WORK"; mkdir -m 1777 "$WORK/run"
source "$here/../bench/passt-lab.sh"
passt_lab_build_tools "$WORK" >/dev/null || { fail "building bench/vhost_user_frontend.c"; finish; exit; }
FRONTEND="$WORK/vhost_user_frontend"
passt_lab_dhcp_script "$WORK/udhcpc.script"
mkdir "$WORK/www"; head -c 64M /dev/urandom >"$WORK/www/blob"
BLOB_SHA=$(sha256sum <"$WORK/www/blob" | cut -d' ' -f1)
lab_serve "$LAB_INET" python3 -m http.server -d "$WORK/www" --bind :: 8000
lab_serve "$LAB_INET" python3 "$here/tcp_tool.py" udp-echo-server 7001 203.0.113.10
lab_wait_for 50 lab_listening "$LAB_INET" 8000
lab_wait_for 50 eval 'ip netns exec "$LAB_INET" ss -Hlun "sport = :7001" | grep -q .'
# Ping sockets for passt, which runs as nobody once sandboxed.
lab_in "$LAB_HOST" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
sha_of() { sha256sum | cut -d' ' -f1; }

echo "1. --print-capabilities"
caps=$("$PASST" --print-capabilities); rc=$?
check "exits 0 and prints the backend's type as JSON (rc=$rc: $(tr -d '\n ' <<<"$caps"))" \
    eval '[ "$rc" -eq 0 ] && python3 -c "import json,sys; assert json.loads(sys.argv[1])[\"type\"] == \"net\"" "$caps"'

echo "2. a guest on the rings: DHCP, 64 MiB each way, UDP, ping, inbound -t"
NS="$LAB_ID-guest"
export PASST_LAB_FRONTEND=vhost-user
# As a Linux guest drives it: offloads (partial checksums, 64 KiB TCP segments both ways) and chains split
# into a header and pieces of at most a page; an MTU of 1500, so TCP segments are cut by whoever receives
# them. The second frontend (3.) negotiates neither.
export PASST_LAB_FRONTEND_OPTS="--event-idx --offload --split"
check "passt --vhost-user starts and the frontend's namespace (offloads, split chains) gets a DHCP lease" \
    passt_lab_attach "$PASST" "$NS" -t 8081:8080 -D none -S none --mtu 1500
echo "    ${PASST_LAB_LEASE:-no lease}"
MAIN_PID="$PASST_LAB_PID"
MAIN_SOCKET=$(ls "$(dirname "$PASST_LAB_BRIDGE_LOG")"/run/passt.socket 2>/dev/null)
down=$(lab_in "$NS" curl -s --max-time 60 http://203.0.113.10:8000/blob | sha_of)
check "64 MiB downloaded from the lab internet match" [ "$down" = "$BLOB_SHA" ]
mkdir "$WORK/guest-www"; cp "$WORK/www/blob" "$WORK/guest-www/blob"
lab_serve "$NS" python3 -m http.server -d "$WORK/guest-www" --bind 0.0.0.0 8080
lab_wait_for 50 lab_listening "$NS" 8080
up=$(lab_in "$LAB_HOST" curl -s --max-time 60 http://127.0.0.1:8081/blob | sha_of)
check "64 MiB from the namespace's server through -t 8081:8080 match" [ "$up" = "$BLOB_SHA" ]
udp=$(lab_in "$NS" timeout 10 python3 "$here/tcp_tool.py" udp-ask 203.0.113.10 7001 hello-rings 2>&1 | tail -n 1)
check "UDP: the lab's echo server answers ($udp)" eval '[[ "$udp" == hello-rings* ]]'
check "ping 203.0.113.10 is answered" eval 'lab_in "$NS" ping -c 1 -W 5 203.0.113.10 >/dev/null' 

echo "3. the frontend leaves, another comes"
lab_stop "$PASST_LAB_BRIDGE_PID"
check "passt is still running after its client left (no --one-off)" lab_alive "$MAIN_PID"
ip netns exec "$NS" "$FRONTEND" --event-idx eth0 "$MAIN_SOCKET" 2>"$WORK/second.log" &
SECOND=$!; lab_track_pid "$SECOND"
lab_wait_for 50 ip -n "$NS" link show eth0 >/dev/null 2>&1
ip -n "$NS" link set eth0 up
lease=$(ip netns exec "$NS" busybox udhcpc -i eth0 -s "$WORK/udhcpc.script" -f -q -n -t 10 -T 1 2>/dev/null | grep '^lease ')
check "the second frontend gets a lease from the same passt ($lease)" [ -n "$lease" ]
down=$(lab_in "$NS" curl -s --max-time 60 http://203.0.113.10:8000/blob | sha_of)
check "... and 64 MiB arrive intact" [ "$down" = "$BLOB_SHA" ]
lab_stop "$SECOND"

echo "4. --one-off"
SOCK1="$WORK/run/one-off.socket"
lab_in "$LAB_HOST" "$PASST" --vhost-user --one-off -q -P "$WORK/run/one-off.pid" -s "$SOCK1" -D none -S none
ONE=$(cat "$WORK/run/one-off.pid" 2>/dev/null); [ -n "$ONE" ] && lab_track_pid "$ONE"
check "a frontend negotiates and sets up both rings (--check)" eval 'lab_in "$LAB_HOST" "$FRONTEND" --check x "$SOCK1" >/dev/null' 
check "passt exits once its one client is gone" lab_wait_for 50 lab_gone "${ONE:-0}"

echo "5. --fd: one end of a socketpair, as qemu 10.1 passes it"
NS2="$LAB_ID-fd"; lab_add_ns "$NS2"
cat >"$WORK/pair.py" <<'PY'
import socket, subprocess, sys
passt, frontend, host_ns, guest_ns, pidfile = sys.argv[1:6]
ours, theirs = socket.socketpair()
p = subprocess.Popen(["ip", "netns", "exec", host_ns, passt, "--vhost-user", "-f", "-q", "--fd", str(ours.fileno()),
                      "-P", pidfile, "-D", "none", "-S", "none"], pass_fds=[ours.fileno()])
f = subprocess.Popen(["ip", "netns", "exec", guest_ns, frontend, "--event-idx", "--fd", str(theirs.fileno()), "eth0"],
                     pass_fds=[theirs.fileno()], stderr=subprocess.DEVNULL)
ours.close(); theirs.close()
print(p.pid, f.pid, flush=True)
f.wait()
try:
    print("passt", p.wait(timeout=5), flush=True)
except subprocess.TimeoutExpired:
    p.kill(); print("passt still running", flush=True)
PY
python3 "$WORK/pair.py" "$PASST" "$FRONTEND" "$LAB_HOST" "$NS2" "$WORK/run/fd.pid" >"$WORK/pair.out" 2>&1 &
PAIR=$!; lab_track_pid "$PAIR"
lab_wait_for 50 eval '[ -s "$WORK/pair.out" ]'
read -r FD_PASST FD_FRONTEND <"$WORK/pair.out"
[ -n "${FD_PASST:-}" ] && lab_track_pid "$FD_PASST"; [ -n "${FD_FRONTEND:-}" ] && lab_track_pid "$FD_FRONTEND"
lab_wait_for 50 ip -n "$NS2" link show eth0 >/dev/null 2>&1
ip -n "$NS2" link set eth0 up
lease=$(ip netns exec "$NS2" busybox udhcpc -i eth0 -s "$WORK/udhcpc.script" -f -q -n -t 10 -T 1 2>/dev/null | grep '^lease ')
check "the frontend on the socketpair gets a lease ($lease)" [ -n "$lease" ]
down=$(lab_in "$NS2" curl -s --max-time 60 http://203.0.113.10:8000/blob | sha_of)
check "... and 64 MiB arrive intact" [ "$down" = "$BLOB_SHA" ]
kill "$FD_FRONTEND" 2>/dev/null
lab_wait_for 100 grep -q "^passt" "$WORK/pair.out"
check "passt exits 0 when the other end closes ($(sed -n 2p "$WORK/pair.out"))" grep -qx "passt 0" "$WORK/pair.out"

echo "6. libvirt's command line"
SOCK2="$WORK/run/libvirt.socket"
lab_in "$LAB_HOST" "$PASST" --vhost-user --one-off --socket "$SOCK2" --pid "$WORK/run/libvirt.pid" --mtu 1500 \
    --interface eth0 --log-file "$WORK/run/libvirt.log" --hostname vm1 --fqdn vm1.example \
    --address 198.51.100.7 --netmask 255.255.255.0 -t 8090
rc=$?
LV=$(cat "$WORK/run/libvirt.pid" 2>/dev/null); [ -n "$LV" ] && lab_track_pid "$LV"
check "accepted: exits 0 with the daemon's PID file written (rc=$rc)" eval '[ "$rc" -eq 0 ] && lab_alive "${LV:-0}"'
check "a frontend is served on its socket" eval 'lab_in "$LAB_HOST" "$FRONTEND" --check x "$SOCK2" >/dev/null' 
check "... and the one-off passt exits after it" lab_wait_for 50 lab_gone "${LV:-0}"
finish
