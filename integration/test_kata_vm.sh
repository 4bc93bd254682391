#!/usr/bin/env bash
# kata-passt-endpoint with a real VM: attach in the lab host, then qemu (TCG) started with exactly the
# qemuArgs attach printed boots the guest of integration/vm/ (Debian kernel, busybox initramfs), which takes
# a DHCP lease and fetches a file from the lab internet; detach while the VM runs stops passt within 1 s.
# The guest image comes from the VM harness (integration/vm/build-guest.sh, built once into $VM_CACHE,
# default $PASTA_DEPS_DIR/vm, from the packages scripts/install-deps.sh cached); on a day it could not
# reach the mirror, the test says "skipped: package mirror unreachable (...)".
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/assert.sh"; source "$here/lab.sh"
needs python3 jq cpio qemu-system-x86_64
needs_debs linux-image-cloud-amd64 busybox-static
KATA="${KATA:-$(dirname "$PASTA")/kata-passt-endpoint}"
VM_CACHE="${VM_CACHE:-$PASTA_DEPS_DIR/vm}"
GUEST_DIR="$VM_CACHE/guest-cloud-amd64"
INDEX=7

bash "$here/vm/build-guest.sh" "$GUEST_DIR" 2>/dev/null || { fail "building the guest (integration/vm/build-guest.sh)"; finish; exit; }
lab_begin  # its traps stop qemu and passt on any way out, signals included
WORK=$(mktemp -d /tmp/kata-vm.XXXXXX); lab_track_file "$WORK"
mkdir "$WORK/run" "$WORK/www" "$WORK/extra"
TOKEN="kata-vm-$RANDOM$RANDOM"
echo "$TOKEN" >"$WORK/www/token"
lab_serve "$LAB_INET" python3 -m http.server -d "$WORK/www" --bind 203.0.113.10 8000
lab_wait_for 50 lab_listening "$LAB_INET" 8000

echo "attach"
# No resolver for the guest (-D none -S none): the machine's own must not leak into the lab.
OUT=$(ip netns exec "$LAB_HOST" "$KATA" attach --index "$INDEX" --dir "$WORK/run" -- -q -D none -S none)
RC=$?
PID=$(jq -r '.pid // empty' <<<"$OUT" 2>/dev/null)
[ -n "$PID" ] && lab_track_pid "$PID"
MAC=$(jq -r '.mac // empty' <<<"$OUT" 2>/dev/null)
mapfile -t QEMU_ARGS < <(jq -r '.qemuArgs[]?' <<<"$OUT" 2>/dev/null)
check "attach --index $INDEX: exit 0, a live passt, four qemu arguments with the MAC (rc=$RC)" \
    eval '[ $RC -eq 0 ] && lab_alive "${PID:-none}" && [ ${#QEMU_ARGS[@]} -eq 4 ] && [[ "${QEMU_ARGS[3]}" == *",mac=$MAC" ]]'
[ "$CHECKS_FAILED" -eq 0 ] || { echo "    $OUT"; finish; exit; }

# The guest's /init runs /test.sh once eth0 has its lease; "guest:" lines on the console are for us.
cat >"$WORK/extra/test.sh" <<'GUEST'
echo "guest: mac $(cat /sys/class/net/eth0/address)"
echo "guest: fetched $(timeout 30 wget -q -O - http://203.0.113.10:8000/token)"
sleep 600  # until the host stops qemu, after detaching passt under it
GUEST
# The kernel unpacks concatenated cpio archives in order: test.sh is added without rebuilding the image.
(cd "$WORK/extra" && echo test.sh | cpio -o -H newc --quiet | gzip -1) | cat "$GUEST_DIR/initrd.gz" - >"$WORK/initrd.gz"
CONSOLE="$WORK/console.log"; : >"$CONSOLE"
BIOS=()
for rom in /usr/share/qemu/qboot.rom /usr/share/qemu-firmware/qboot.rom; do
    [ -f "$rom" ] && { BIOS=(-bios "$rom"); break; }
done
echo "boot with: ${QEMU_ARGS[*]}"
# -global ...romfile= only spares qemu the NIC's PXE ROM (package ipxe-qemu); the NIC itself is the printed one.
ip netns exec "$LAB_HOST" qemu-system-x86_64 -machine pc,accel=tcg "${BIOS[@]}" -cpu max -smp 1 -m 256 \
    -nodefaults -no-user-config -nographic -no-reboot -serial "file:$CONSOLE" -monitor none \
    -kernel "$GUEST_DIR/vmlinuz" -initrd "$WORK/initrd.gz" -append "console=ttyS0 quiet panic=-1 mitigations=off" \
    -global virtio-net-pci.romfile= "${QEMU_ARGS[@]}" </dev/null >"$WORK/qemu.out" 2>&1 &
QEMU_PID=$!
lab_track_pid "$QEMU_PID"
console_has() { tr -d '\r' <"$CONSOLE" | grep -q "$1"; }

lab_wait_for 900 eval 'console_has "^guest: dhcp " || ! lab_alive $QEMU_PID'
check "the guest is leased 198.51.100.2/24 with router 198.51.100.1 over passt" \
    console_has "^guest: lease 198.51.100.2/24 router 198.51.100.1 "
lab_wait_for 600 eval 'console_has "^guest: fetched" || ! lab_alive $QEMU_PID'
check "the guest's NIC has the MAC attach printed ($MAC)" console_has "^guest: mac $MAC$"
check "the guest fetched a file from the lab internet (203.0.113.10)" console_has "^guest: fetched $TOKEN$"

echo "detach while the VM runs"
start=$(now_ms)
OUT=$(ip netns exec "$LAB_HOST" "$KATA" detach --index "$INDEX" --dir "$WORK/run")
RC=$?
elapsed=$(( $(now_ms) - start ))
check "detach: exit 0, passt $PID was running and stopped by SIGQUIT" \
    eval '[ $RC -eq 0 ] && jq -e --argjson pid "$PID" ".previousState == \"running\" and .stoppedPid == \$pid and .signal == \"SIGQUIT\"" <<<"$OUT" >/dev/null'
check "... within 1 s (${elapsed} ms), and passt is gone" eval '[ "$elapsed" -le 1000 ] && ! lab_alive "$PID"'
check "... its PID file and socket are removed" \
    eval '[ ! -e "$WORK/run/kata-passt-$INDEX.pid" ] && [ ! -e "$WORK/run/kata-passt-$INDEX.socket" ]'
check "... and qemu was left alone (still running)" lab_alive "$QEMU_PID"
kill "$QEMU_PID" 2>/dev/null; wait "$QEMU_PID" 2>/dev/null
if [ "$CHECKS_FAILED" -gt 0 ]; then
    echo "    console (last 30 lines):"; tr -d '\r' <"$CONSOLE" | tail -n 30 | sed 's/^/    | /'
    sed 's/^/    qemu: /' "$WORK/qemu.out" | tail -n 10
fi
finish
