#!/usr/bin/env bash
# passt with a real VM: qemu (TCG) boots a Debian kernel and a busybox initramfs whose only NIC is a
# virtio-net on passt's UNIX socket (-netdev stream). passt runs in the lab host; the guest takes its
# address by DHCP and an IPv6 one by SLAAC, asks the lab's DNS server (UDP) for a name, pings the lab
# internet, downloads 64 MiB from it over IPv4 and over IPv6 (checksums compared here), and serves HTTP on
# port 80, which -t 8080:80 publishes on the lab host: 64 MiB the guest made are fetched from it. Then the
# lab host's address changes, and the guest, asking DHCP again, is given the new one (passt follows the
# host's network). A second VM then boots on the same passt, which must serve it as it did the first.
#
#   PASST=/path/to/passt bash integration/test_passt_vm.sh
#
# PASST defaults to ours: the passt link next to $PASTA (run-tests.sh makes it). PASST=/usr/bin/passt runs
# the same test against Debian's passt.
#
# PASST_VHOST_USER=yes runs passt with --vhost-user and connects qemu by -netdev vhost-user (guest memory
# shared with passt) instead of -netdev stream. PASST_VM_KVM=yes boots with KVM instead of TCG.
#
# PASST_OPTS adds options to passt's command line. The guest is built once into $VM_CACHE (default
# $PASTA_DEPS_DIR/vm) from the packages scripts/install-deps.sh cached; on a day it could not reach the
# mirror, the test says "skipped: package mirror unreachable (...)".
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lab.sh"; source "$here/assert.sh"
needs python3 curl cpio qemu-system-x86_64
needs_debs linux-image-cloud-amd64 busybox-static
PASST="${PASST:-$(dirname "${PASTA:-$here/../.build/release/pasta}")/passt}"
PASST_OPTS="${PASST_OPTS:-}"
PASST_VHOST_USER="${PASST_VHOST_USER:-no}"
GUEST_NIC=()
[ "${PASST_VM_KVM:-no}" = yes ] && GUEST_NIC=(--kvm)
if [ "$PASST_VHOST_USER" = yes ]; then
    PASST_OPTS="--vhost-user $PASST_OPTS"
    GUEST_NIC+=(--vhost-user)
fi
VM_CACHE="${VM_CACHE:-$PASTA_DEPS_DIR/vm}"
GUEST_DIR="$VM_CACHE/guest-cloud-amd64"
now() { date +%s%3N; }
T_START=$(now)

bash "$here/vm/build-guest.sh" "$GUEST_DIR" || { echo "  FAIL building the guest (integration/vm/build-guest.sh)"; exit 1; }
lab_begin
WORK=$(mktemp -d /tmp/passt-vm.XXXXXX); lab_track_file "$WORK"
# passt started as root changes to nobody before it writes the PID file: give it a directory it can write.
chmod 711 "$WORK"; mkdir -m 1777 "$WORK/run"
mkdir "$WORK/www"
head -c 64M /dev/urandom >"$WORK/www/blob"
BLOB_SHA=$(sha256sum <"$WORK/www/blob" | cut -d' ' -f1)
TOKEN="passt-vm-$RANDOM$RANDOM"
lab_serve "$LAB_INET" python3 -m http.server -d "$WORK/www" --bind :: 8000
lab_serve "$LAB_INET" python3 "$here/tcp_tool.py" dns-server 203.0.113.10 53 192.0.2.99
lab_wait_for 50 lab_listening "$LAB_INET" 8000
# Ping sockets for passt, which runs as nobody once sandboxed.
lab_in "$LAB_HOST" sysctl -qw net.ipv4.ping_group_range="0 2147483647"

SOCKET="$WORK/run/passt.socket"
PIDFILE="$WORK/run/passt.pid"
# The guest is told the lab's resolver (-D 203.0.113.10 -S none): the machine's own must not leak in.
# shellcheck disable=SC2086
start_passt() {
    lab_in "$LAB_HOST" "$PASST" -P "$PIDFILE" -s "$SOCKET" -t 8080:80 -D 203.0.113.10 -S none \
        -l "$WORK/run/events.log" $PASST_OPTS >"$WORK/passt.log" 2>&1 || return 1
    PASST_PID=$(cat "$PIDFILE" 2>/dev/null)
    [ -n "$PASST_PID" ] && lab_track_pid "$PASST_PID" && lab_alive "$PASST_PID" && [ -S "$SOCKET" ]
}
echo "1. passt ($PASST)"
PASST_PID=""
check "passt starts with -t 8080:80, writes its PID file and listens on its socket" start_passt
if ! lab_alive "${PASST_PID:-none}" || [ ! -S "$SOCKET" ]; then
    grep -v "Failed to send .* to syslog" "$WORK/passt.log" | tail -n 20 | sed 's/^/    passt: /'
    finish; exit
fi

# The guest's part (busybox wget's own -T timeout crashes the static busybox of Debian 12, hence timeout). "guest:" lines are read by this script; the script's status is the VM's.
cat >"$WORK/test.sh" <<GUEST
ms() { read -r up _ </proc/uptime; echo "\${up%.*}\${up#*.}0"; }
n=0
while ! ip -6 addr show dev eth0 scope global | grep -v tentative | grep -q 'inet6 2001:db8:1:'; do
    [ \$n -ge 100 ] && break
    sleep 0.1; n=\$((n + 1))
done
echo "guest: ipv6 \$(ip -6 addr show dev eth0 scope global | grep -o 'inet6 [^ ]*' | grep -v tentative | head -1) at \$(ms) ms"
echo "guest: routes \$(ip route | tr '\n' ';') \$(ip -6 route | grep default | tr '\n' ';')"
echo "guest: dns \$(timeout 10 nslookup lab.example 2>&1 | grep -A1 'Name:' | sed -n 's/^Address[^:]*: *//p' | head -1)"
echo "guest: ping \$(timeout 10 ping -c 1 -W 5 203.0.113.10 >/dev/null 2>&1 && echo ok || echo failed)"
head -c 67108864 /dev/urandom >/tmp/up
echo "guest: upsha \$(sha256sum </tmp/up | cut -d' ' -f1)"
t=\$(ms); sha=\$(timeout 60 wget -q -O - http://203.0.113.10:8000/blob | sha256sum | cut -d' ' -f1)
echo "guest: sha4 \$sha in \$((\$(ms) - t)) ms"
t=\$(ms); sha=\$(timeout 60 wget -q -O - 'http://[2001:db8:2::10]:8000/blob' | sha256sum | cut -d' ' -f1)
echo "guest: sha6 \$sha in \$((\$(ms) - t)) ms"
mkdir -p /www && echo "$TOKEN" >/www/index.html && mv /tmp/up /www/up
httpd -f -vv -p 80 -h /www 2>/tmp/httpd.log &
# "ready" only once httpd answers: a connection passt forwards before it listens is reset by the guest.
n=0
until timeout 2 wget -q -O /dev/null http://127.0.0.1/ 2>/dev/null || [ \$n -ge 50 ]; do sleep 0.1; n=\$((n + 1)); done
echo "guest: httpd ready at \$(ms) ms"
n=0
while ! grep -q 'url:/done' /tmp/httpd.log && [ \$n -lt 600 ]; do sleep 0.1; n=\$((n + 1)); done
sed 's/^/guest: httpd: /' /tmp/httpd.log
kill \$!
# The lab host's address changes now: once "renew" can be fetched, the guest asks DHCP again.
n=0
until timeout 5 wget -q -O /dev/null http://203.0.113.10:8000/renew 2>/dev/null || [ \$n -ge 100 ]; do sleep 0.3; n=\$((n + 1)); done
udhcpc -i eth0 -s /usr/share/udhcpc/default.script -f -q -n -t 10 -T 1 -A 1 2>&1 | sed -n 's/^guest: lease/guest: renewed/p'
GUEST

CONSOLE="$WORK/console.log"; : >"$CONSOLE"
T_BOOT=$(now)
ip netns exec "$LAB_HOST" bash "$here/vm/run-guest.sh" --guest "$GUEST_DIR" --socket "$SOCKET" \
    --script "$WORK/test.sh" --log "$CONSOLE" --timeout 150 "${GUEST_NIC[@]}" &
VM_PID=$!
lab_track_pid "$VM_PID"
console_has() { tr -d '\r' <"$CONSOLE" | grep -q "$1"; }
console_value() { tr -d '\r' <"$CONSOLE" | sed -n "s/^guest: $1 \([^ ]*\).*/\1/p" | tail -1; }

echo "2. boot and addresses"
lab_wait_for 600 eval 'console_has "^guest: dhcp " || ! lab_alive $VM_PID'
T_LEASE=$(now)
echo "    lease after $((T_LEASE - T_BOOT)) ms from qemu's start ($(tr -d '\r' <"$CONSOLE" | grep -o 'dhcp done at [0-9]* ms' | cut -d' ' -f4) ms of guest uptime)"
check "the guest is leased 198.51.100.2/24 with router 198.51.100.1 (the lab host's own)" \
    console_has "^guest: lease 198.51.100.2/24 router 198.51.100.1 "
lab_wait_for 300 eval 'console_has "^guest: sha6 " || ! lab_alive $VM_PID'
check "the guest has a SLAAC address in 2001:db8:1::/64 from passt's router advertisement" \
    console_has "^guest: ipv6 inet6 2001:db8:1:0:5054:ff:fe12:3456/64"

echo "3. DNS, ping and 64 MiB downloads from the lab internet"
check "DNS: the lab's server answers the guest's query (UDP both ways): $(console_value dns)" [ "$(console_value dns)" = 192.0.2.99 ]
check "ping: the guest's echo request to 203.0.113.10 is answered" [ "$(console_value ping)" = ok ]
sha4=$(console_value sha4); sha6=$(console_value sha6)
check "IPv4: the guest's download matches ($(tr -d '\r' <"$CONSOLE" | grep -o 'sha4 .* in [0-9]* ms' | cut -d' ' -f3-))" [ "$sha4" = "$BLOB_SHA" ]
check "IPv6: the guest's download matches ($(tr -d '\r' <"$CONSOLE" | grep -o 'sha6 .* in [0-9]* ms' | cut -d' ' -f3-))" [ "$sha6" = "$BLOB_SHA" ]

echo "4. inbound -t 8080:80"
lab_wait_for 300 eval 'console_has "^guest: httpd ready" || ! lab_alive $VM_PID'
fetch() { local ns="$1"; shift; [ "$(ip netns exec "$ns" curl -sf --max-time 20 "$@")" = "$TOKEN" ]; }
check "curl 127.0.0.1:8080 on the lab host reaches the guest's httpd" fetch "$LAB_HOST" http://127.0.0.1:8080/
check "curl 198.51.100.2:8080 from the lab internet reaches the guest's httpd" \
    fetch "$LAB_INET" --interface 203.0.113.10 http://198.51.100.2:8080/
up=$(ip netns exec "$LAB_HOST" curl -s --max-time 60 http://127.0.0.1:8080/up | sha256sum | cut -d' ' -f1)
check "64 MiB the guest made, fetched through -t 8080:80, match the guest's checksum" [ "$up" = "$(console_value upsha)" ]
ip netns exec "$LAB_HOST" curl -s --max-time 20 -o /dev/null http://127.0.0.1:8080/done

echo "5. the lab host's address changes while the guest runs"
ip -n "$LAB_HOST" addr del 198.51.100.2/24 dev eth0
ip -n "$LAB_HOST" addr add 198.51.100.3/24 dev eth0
ip -n "$LAB_HOST" route replace default via 198.51.100.1
lab_wait_for 30 grep -q "host changed: IPv4 address 198.51.100.3/24" "$WORK/run/events.log"
touch "$WORK/www/renew"
lab_wait_for 300 eval 'console_has "^guest: renewed " || ! lab_alive $VM_PID'
check "the guest asks DHCP again and is given the host's new address: $(console_value renewed)" \
    console_has "^guest: renewed 198.51.100.3/24 router 198.51.100.1 "

echo "6. shutdown"
wait "$VM_PID"; vm_status=$?
T_END=$(now)
check "the guest's script ends with status 0 and the VM powers off (status $vm_status)" [ "$vm_status" -eq 0 ]
check "passt is still running after the VM went away (no --one-off)" lab_alive "$PASST_PID"
# A second VM on the same passt: a restarted qemu (or libvirt's reconnect) is served again.
echo 'wget -q -O /dev/null http://203.0.113.10:8000/ && echo "guest: http ok"' >"$WORK/again.sh"
SECOND_CONSOLE="$WORK/console-again.log"; : >"$SECOND_CONSOLE"
ip netns exec "$LAB_HOST" bash "$here/vm/run-guest.sh" --guest "$GUEST_DIR" --socket "$SOCKET" \
    --script "$WORK/again.sh" --log "$SECOND_CONSOLE" --timeout 100 "${GUEST_NIC[@]}" &
SECOND_VM=$!
lab_track_pid "$SECOND_VM"
wait "$SECOND_VM"; again_status=$?
check "a second VM on the same passt gets its lease (the new address) and reaches the lab internet (status $again_status)" \
    eval '[ "$again_status" -eq 0 ] && tr -d "\r" <"$SECOND_CONSOLE" | grep -q "^guest: lease 198.51.100.3/24" &&
          tr -d "\r" <"$SECOND_CONSOLE" | grep -q "^guest: http ok"'
if [ "$CHECKS_FAILED" -gt 0 ]; then
    echo "    console (last 40 lines):"; tr -d '\r' <"$CONSOLE" | tail -n 40 | sed 's/^/    | /'
    grep -v "Failed to send .* to syslog" "$WORK/passt.log" | tail -n 20 | sed 's/^/    passt: /'
    tail -n 20 "$WORK/run/events.log" | sed 's/^/    passt log: /'
fi
echo "    VM from qemu's start to power-off: $((T_END - T_BOOT)) ms; whole test: $((T_END - T_START)) ms"
finish
